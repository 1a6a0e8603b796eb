// The reveal application service: a key holder opens one encrypted original, and the opening is
// durably on the record before the value leaves. Orchestration over ports: the caller finds the
// event and authorises the opener; the opening is published by the adapter the root wires.
import { isAffidavitError } from '@affidavit/common';
import type { AffidavitError, Clock, Logger } from '@affidavit/common';
import type { Actor, DataMasked, Feeder, MaskedValueOpened, Source } from '@affidavit/schemas';
import type { KeyProvider } from './key-provider.ts';
import { maskedValueOpenedEvent, revealMaskedValue } from './reveal.ts';

/** RevealAsk names the value to open (the caller read `event` from the ledger), who opens it (verified by the caller) and why. */
export type RevealAsk = { readonly event: DataMasked; readonly index: number; readonly reason: string; readonly opener: Actor };

/** Revealed is the clear value and where it sat; `recordedAs` is the MaskedValueOpened event's id. */
export type Revealed = { readonly value: string; readonly column: string; readonly row: number; readonly recordedAs: string };

/** MaskedValueRevealService opens masked values. */
export type MaskedValueRevealService = {
  /** reveal resolves to `{ error }` (AFF_E_MASK_*) when the value cannot be opened; nothing is then recorded. */
  reveal(ask: RevealAsk): Promise<Revealed | { readonly error: AffidavitError }>;
};

/** RevealServiceDeps are the service's ports. */
export type RevealServiceDeps = {
  readonly keys: KeyProvider;
  /** publish MUST NOT resolve before the event is durably in the ledger. */
  readonly publish: (e: MaskedValueOpened) => Promise<void>;
  readonly newId: () => string;
  readonly clock: Clock;
  readonly feeder: Feeder;
  readonly source: Source;
  readonly logger?: Logger;
};

/**
 * maskedValueRevealService opens `masks[index]` of a DataMasked event for an opener the caller
 * authorised, and MUST publish the MaskedValueOpened event (who, which value, which key, why)
 * and see it acknowledged before it returns the value: fail closed, a value is never shown
 * without its opening on the record.
 */
export function maskedValueRevealService(deps: RevealServiceDeps): MaskedValueRevealService {
  return {
    async reveal({ event, index, reason, opener }) {
      try {
        const { value, audit } = await revealMaskedValue({ event, index, opener, reason, keys: deps.keys, clock: deps.clock });
        const opened = maskedValueOpenedEvent(audit, {
          eventId: deps.newId(),
          // The opening is the key holder's own act, recorded in a stream of its own.
          sessionId: `reveal-${audit.maskedEventId}-${audit.index}-${audit.openedAt}`,
          seq: 0,
          source: deps.source,
          target: event.target,
          feeder: deps.feeder,
        });
        await deps.publish(opened);
        deps.logger?.info({ maskedEventId: event.eventId, index, opener: opener.subject, keyId: audit.keyId }, 'masked value opened');
        return { value, column: audit.column, row: audit.row, recordedAs: opened.eventId };
      } catch (e) {
        if (isAffidavitError(e)) return { error: e };
        throw e;
      }
    },
  };
}
