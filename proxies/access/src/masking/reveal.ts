// `affidavit reveal`: a key holder opens one encrypted original, with a reason, and the
// opening itself becomes evidence (a MaskedValueOpened event).
import type { Clock } from '@affidavit/common';
import type { Actor, DataMasked, MaskedValueOpened } from '@affidavit/schemas';
import { MaskRevealInvalidError, MaskSealedMalformedError } from './errors.ts';
import type { KeyProvider } from './key-provider.ts';
import { openOriginal, openSealedOriginals } from './seal.ts';

/** MAX_REASON_LENGTH bounds a reveal's reason (it is stored in the ledger). */
export const MAX_REASON_LENGTH = 1024;

/** RevealRequest asks to open the original of `event.masks[index]`. */
export type RevealRequest = {
  readonly event: DataMasked;
  readonly index: number;
  /** opener is the verified identity of who asks. */
  readonly opener: Actor;
  /** reason MUST be given (a ticket, an incident); it is kept in the audit trail. */
  readonly reason: string;
  readonly keys: KeyProvider;
  readonly clock: Clock;
};

/** RevealAudit records who opened which value, when and why. */
export type RevealAudit = {
  readonly maskedEventId: string;
  readonly index: number;
  readonly sessionId: string;
  readonly commandId: string;
  readonly column: string;
  readonly row: number;
  readonly ruleId: string;
  readonly keyId: string;
  readonly reason: string;
  readonly opener: Actor;
  /** openedAt is the clock's time in milliseconds. */
  readonly openedAt: number;
};

/** RevealResult is the clear value and the audit record to publish. */
export type RevealResult = { readonly value: string; readonly audit: RevealAudit };

/**
 * revealMaskedValue opens the encrypted original of one masked value of a DataMasked event,
 * from whichever form the event carries: the value's own `original` (events written before
 * chunks), else the `sealedOriginals` chunk covering `index`. The context (session, command,
 * and the column and row of the value, or of every value of its chunk, and the chunk's place)
 * is taken from the event itself, so a ciphertext moved into another event or slot does not
 * open (MaskContextMismatchError). MUST fail with MaskRevealInvalidError on an empty reason,
 * an opener without a subject, an index out of range or a value that no form covers; with
 * MaskSealedMalformedError when the covering chunk reaches past the event's masks; and with
 * the errors of openOriginal / openSealedOriginals (unknown key id, tampered ciphertext). Only
 * the asked value is returned. The caller MUST publish `maskedValueOpenedEvent(audit, …)`
 * before showing the value.
 */
export async function revealMaskedValue(req: RevealRequest): Promise<RevealResult> {
  const reason = typeof req.reason === 'string' ? req.reason.trim() : '';
  if (reason === '') throw new MaskRevealInvalidError('a reason is required to reveal a masked value');
  if (reason.length > MAX_REASON_LENGTH) throw new MaskRevealInvalidError(`the reason is longer than ${MAX_REASON_LENGTH} characters`);
  if (!req.opener || typeof req.opener.subject !== 'string' || req.opener.subject === '')
    throw new MaskRevealInvalidError('the opener must be an authenticated identity');
  const { event, index } = req;
  if (!Number.isInteger(index) || index < 0 || index >= event.masks.length)
    throw new MaskRevealInvalidError(`index ${index} is outside the event's ${event.masks.length} masked values`);
  const mv = event.masks[index];
  const { value, keyId } = await openAt(event, index, req.keys);
  const audit: RevealAudit = Object.freeze({
    maskedEventId: event.eventId,
    index,
    sessionId: event.sessionId,
    commandId: event.commandId,
    column: mv.column,
    row: mv.row,
    ruleId: mv.ruleId,
    keyId,
    reason,
    opener: req.opener,
    openedAt: req.clock.now(),
  });
  return { value, audit };
}

/** openAt opens masks[index] from its own original or from the chunk covering it. */
async function openAt(event: DataMasked, index: number, keys: KeyProvider): Promise<{ value: string; keyId: string }> {
  const mv = event.masks[index];
  if (mv.original !== null) {
    const value = await openOriginal(mv.original, keys, { sessionId: event.sessionId, commandId: event.commandId, column: mv.column, row: mv.row });
    return { value, keyId: mv.original.keyId };
  }
  // `?? []`: an event built in memory by older code may lack the field the codec defaults.
  const chunk = (event.sealedOriginals ?? []).find((c) => c.first <= index && index < c.first + c.count);
  if (!chunk) throw new MaskRevealInvalidError(`masked value ${index} carries no encrypted original`);
  if (!Number.isSafeInteger(chunk.first) || !Number.isSafeInteger(chunk.count) || chunk.first < 0 || chunk.first + chunk.count > event.masks.length) {
    throw new MaskSealedMalformedError(
      `the chunk covering value ${index} claims masks ${chunk.first}..${chunk.first + chunk.count - 1} of ${event.masks.length}`,
    );
  }
  const positions = event.masks.slice(chunk.first, chunk.first + chunk.count).map((m) => ({ column: m.column, row: m.row }));
  const values = await openSealedOriginals(chunk, keys, { sessionId: event.sessionId, commandId: event.commandId, first: chunk.first, positions });
  return { value: values[index - chunk.first], keyId: chunk.keyId };
}

/** MaskedValueOpenedEnvelope is the envelope of the opener's session (the CLI's). */
export type MaskedValueOpenedEnvelope = Pick<MaskedValueOpened, 'eventId' | 'sessionId' | 'seq' | 'source' | 'target' | 'feeder'>;

/** maskedValueOpenedEvent builds the MaskedValueOpened event of a reveal; the actor is the opener. */
export function maskedValueOpenedEvent(audit: RevealAudit, envelope: MaskedValueOpenedEnvelope): MaskedValueOpened {
  return {
    eventId: envelope.eventId,
    type: 'MaskedValueOpened',
    occurredAt: audit.openedAt * 1000,
    sessionId: envelope.sessionId,
    seq: envelope.seq,
    actor: audit.opener,
    source: envelope.source,
    target: envelope.target,
    feeder: envelope.feeder,
    maskedEventId: audit.maskedEventId,
    index: audit.index,
    keyId: audit.keyId,
    reason: audit.reason,
  };
}
