// Builders from maskRow's output to the DataMasked event of the contract (schemas/).
// Pure: ids, clock and key come from the caller.
import type { DataMasked, MaskedValue, SealedOriginals } from '@affidavit/schemas';
import type { DataKey } from './key-provider.ts';
import type { MaskedCell } from './mask-row.ts';
import { createSealer, type Sealer } from './seal.ts';

/** NULL_TEXT stands for SQL NULL in MaskedValue.masked (a string field): PostgreSQL COPY's `\N`. */
export const NULL_TEXT = '\\N';

/** DEFAULT_MAX_MASKED_VALUES caps the values one DataMasked event carries (events are capped at 1 MiB). */
export const DEFAULT_MAX_MASKED_VALUES = 1000;

/** MaskedAt says where a row's masked cells came from: the session, command and row index. */
export type MaskedAt = { readonly sessionId: string; readonly commandId: string; readonly row: number };

/**
 * sealMaskedCells turns one row's masked cells into the event's MaskedValue records, each
 * original sealed on its own under `key` (or a Sealer made once per result) and bound to
 * (session, command, column name, row): the per-value form of events written before
 * `sealedOriginals`. New writers use createMaskedValueCollector (one GCM operation per chunk). The clear originals MUST NOT be kept by the caller after this.
 * `nonce` is for tests only.
 */
export function sealMaskedCells(cells: readonly MaskedCell[], at: MaskedAt, key: DataKey | Sealer, nonce?: () => Uint8Array): MaskedValue[] {
  const sealer = 'seal' in key ? key : createSealer(key, nonce);
  return cells.map((c) => ({
    column: c.columnName,
    row: at.row,
    ruleId: c.ruleId,
    detector: c.detector,
    masked: c.masked ?? NULL_TEXT,
    original: sealer.seal(c.original, { sessionId: at.sessionId, commandId: at.commandId, column: c.columnName, row: at.row }),
  }));
}

/** DataMaskedEnvelope is the envelope the session's recorder provides. */
export type DataMaskedEnvelope = Pick<DataMasked, 'eventId' | 'occurredAt' | 'sessionId' | 'seq' | 'actor' | 'source' | 'target' | 'feeder'>;

/**
 * dataMaskedEvent builds the DataMasked event of one command. `count` (default
 * `values.length`) is how many values were masked in all; at most `maxValues` of them are
 * carried, and `truncated` says when some were left out. `sealedOriginals` are the chunks
 * sealing the values' originals (a collector's); only chunks wholly inside the carried
 * values are kept, since a chunk cut short would not open.
 */
export function dataMaskedEvent(
  envelope: DataMaskedEnvelope,
  commandId: string,
  values: readonly MaskedValue[],
  opts: { readonly count?: number; readonly maxValues?: number; readonly sealedOriginals?: readonly SealedOriginals[] } = {},
): DataMasked {
  const max = opts.maxValues ?? DEFAULT_MAX_MASKED_VALUES;
  const count = Math.max(opts.count ?? values.length, values.length);
  const masks = values.slice(0, max);
  const sealedOriginals = (opts.sealedOriginals ?? []).filter((c) => c.first + c.count <= masks.length);
  return {
    eventId: envelope.eventId,
    type: 'DataMasked',
    occurredAt: envelope.occurredAt,
    sessionId: envelope.sessionId,
    seq: envelope.seq,
    actor: envelope.actor,
    source: envelope.source,
    target: envelope.target,
    feeder: envelope.feeder,
    commandId,
    count,
    masks,
    truncated: count > masks.length,
    sealedOriginals,
  };
}
