// How one ledger batch is laid out as EventStoreDB events (pure: no client calls here).
import { createHash } from 'node:crypto';
import { StoreUnreadableError } from '../../store-errors.ts';
import type { AppendBatch, EntryKind, NewEntry, SourcePosition } from '../../ports/ledger-store.ts';

/** ENTRY_TYPES are the ESDB event types of entries, by kind. Data = the entry's exact bytes. */
export const ENTRY_TYPES = { event: 'affidavit.ledger.entry', rejected: 'affidavit.ledger.input-rejected' } as const;
/** BATCH_TYPE is the ESDB event type of the trailer every append ends with (tiles, checkpoint). */
export const BATCH_TYPE = 'affidavit.ledger.batch';

/** EntryMetadata is an entry event's JSON metadata. Offsets are decimal strings: JSON numbers lose bits past 2^53. */
export type EntryMetadata = { i: number; id: string; at: number; src: { t: string; p: number; o: string } | null };

/** BatchTrailer is the trailer event's JSON data. `h` is the tile's hashes in base64. */
export type BatchTrailer = { from: number; count: number; tiles: { l: number; n: number; w: number; h: string }[]; checkpoint?: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * nameUuid derives a deterministic UUID (version 8, RFC 9562 §5.8) from a name, for ESDB event ids
 * of entries whose eventId is not a UUID and for batch trailers. Deterministic ids let ESDB
 * recognise a retried identical append as already written (its idempotent-append check).
 */
export function nameUuid(name: string): string {
  const b = createHash('sha256').update(name).digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80; // version 8
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** esdbEventId is the ESDB event id of an entry: its eventId when that is a UUID, else a name-based UUID. */
export function esdbEventId(logId: string, eventId: string): string {
  return UUID.test(eventId) ? eventId.toLowerCase() : nameUuid(`affidavit-ledger:${logId}:${eventId}`);
}

/** entryMetadata builds an entry event's metadata for index `i`. */
export function entryMetadata(e: NewEntry, i: number): EntryMetadata {
  const s = e.source;
  return { i, id: e.eventId, at: e.appendedAt, src: s ? { t: s.topic, p: s.partition, o: s.offset.toString() } : null };
}

/** trailerFor builds the trailer of a batch appended at `from`. */
export function trailerFor(batch: AppendBatch, from: number): BatchTrailer {
  const t: BatchTrailer = {
    from,
    count: batch.entries.length,
    tiles: (batch.tiles ?? []).map((x) => ({
      l: x.id.level,
      n: x.id.index,
      w: x.id.width,
      h: Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength).toString('base64'),
    })),
  };
  if (batch.checkpoint !== undefined) t.checkpoint = batch.checkpoint;
  return t;
}

/** trailerId is the deterministic ESDB id of a batch's trailer, from the log, position and content. */
export function trailerId(logId: string, from: number, batch: AppendBatch): string {
  const h = createHash('sha256').update(`${logId}\n${from}\n`);
  for (const e of batch.entries) h.update(e.eventId).update('\n');
  for (const t of batch.tiles ?? []) h.update(`${t.id.level}/${t.id.index}/${t.id.width}`).update(t.data);
  h.update(batch.checkpoint ?? '');
  return nameUuid(`affidavit-ledger-batch:${h.digest('hex')}`);
}

const corrupt = (why: string): never => {
  throw new StoreUnreadableError(`the ledger stream is inconsistent: ${why}`);
};

/** kindOfType maps an ESDB event type back to an entry kind, or undefined for the trailer; any other type is corruption. */
export function kindOfType(type: string): EntryKind | undefined {
  if (type === ENTRY_TYPES.event) return 'event';
  if (type === ENTRY_TYPES.rejected) return 'rejected';
  if (type === BATCH_TYPE) return undefined;
  return corrupt(`unexpected event type ${JSON.stringify(type.slice(0, 100))}`);
}

/** parseEntryMetadata checks an entry event's metadata (written by this adapter, but read defensively). */
export function parseEntryMetadata(m: unknown): { index: number; eventId: string; appendedAt: number; source: SourcePosition | null } {
  const md = m as EntryMetadata;
  if (!md || typeof md !== 'object' || !Number.isSafeInteger(md.i) || typeof md.id !== 'string' || !Number.isSafeInteger(md.at)) corrupt('bad entry metadata');
  let source: SourcePosition | null = null;
  if (md.src !== null) {
    if (typeof md.src !== 'object' || typeof md.src.t !== 'string' || !Number.isInteger(md.src.p) || !/^[0-9]{1,19}$/.test(String(md.src.o)))
      corrupt('bad entry source');
    source = { topic: md.src.t, partition: md.src.p, offset: BigInt(md.src.o) };
  }
  return { index: md.i, eventId: md.id, appendedAt: md.at, source };
}

/** parseTrailer checks a trailer event's data. */
export function parseTrailer(d: unknown): BatchTrailer {
  const t = d as BatchTrailer;
  if (!t || typeof t !== 'object' || !Number.isSafeInteger(t.from) || !Number.isSafeInteger(t.count) || !Array.isArray(t.tiles)) corrupt('bad batch trailer');
  if (t.checkpoint !== undefined && typeof t.checkpoint !== 'string') corrupt('bad checkpoint in trailer');
  for (const x of t.tiles) {
    if (!x || !Number.isSafeInteger(x.l) || !Number.isSafeInteger(x.n) || !Number.isSafeInteger(x.w) || typeof x.h !== 'string') corrupt('bad tile in trailer');
  }
  return t;
}
