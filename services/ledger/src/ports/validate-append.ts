import { DuplicateEventIdError, LedgerInputInvalidError } from '../store-errors.ts';
import type { AppendBatch, NewEntry, TileId } from './ledger-store.ts';
import { MAX_CHECKPOINT_BYTES } from './ledger-store.ts';

/** MAX_EVENT_ID_LENGTH bounds an eventId (a UUID is 36 characters; rejected ids carry a topic name). */
export const MAX_EVENT_ID_LENGTH = 400;
/** MAX_ENTRY_BYTES bounds one entry's bytes (the Avro codec refuses events over 1 MiB by default). */
export const MAX_ENTRY_BYTES = 16 * 1024 * 1024;
const MAX_OFFSET = 2n ** 63n - 1n;
const HASH_SIZE = 32;
const LOG_ID = /^[A-Za-z0-9._:-]{1,200}$/;

const bad = (msg: string): never => {
  throw new LedgerInputInvalidError(msg);
};

/** assertLogId throws LedgerInputInvalidError unless `id` is 1..200 characters of `[A-Za-z0-9._:-]`. */
export function assertLogId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !LOG_ID.test(id)) bad(`bad log id ${JSON.stringify(String(id).slice(0, 50))}: want 1..200 of [A-Za-z0-9._:-]`);
}

/** assertSize throws LedgerInputInvalidError unless `n` is a safe integer >= 0. */
export function assertSize(n: unknown, what: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) bad(`${what} must be a safe integer >= 0, got ${String(n)}`);
}

/** assertRange checks readEntries' arguments: safe integers with 0 <= from <= to. */
export function assertRange(from: unknown, to: unknown): void {
  assertSize(from, 'from');
  assertSize(to, 'to');
  if ((from as number) > (to as number)) bad(`from (${from}) must be <= to (${to})`);
}

/** assertEventIds throws LedgerInputInvalidError unless `ids` is an array of strings. */
export function assertEventIds(ids: unknown): asserts ids is readonly string[] {
  if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'string')) bad('ids must be an array of strings');
}

/** assertTileId throws LedgerInputInvalidError unless level is 0..63, index a safe integer >= 0 and width 1..256. */
export function assertTileId(id: TileId): void {
  const ok =
    id !== null &&
    typeof id === 'object' &&
    Number.isSafeInteger(id.level) &&
    id.level >= 0 &&
    id.level <= 63 &&
    Number.isSafeInteger(id.index) &&
    id.index >= 0 &&
    Number.isSafeInteger(id.width) &&
    id.width >= 1 &&
    id.width <= 256;
  if (!ok) bad(`bad tile id ${JSON.stringify(id)}`);
}

/** tileKey is the `L/N` key of a tile's level and index (one stored tile per key, whatever its width). */
export function tileKey(level: number, index: number): string {
  return `${level}/${index}`;
}

// A source is usually the same topic entry after entry: its name is checked once per run.
let checkedTopic: string | undefined;

function assertSource(s: NewEntry['source'], i: number): void {
  if (s === null) return;
  if (typeof s !== 'object' || typeof s.topic !== 'string') bad(`entries[${i}].source.topic must be a Kafka topic name`);
  if (s.topic !== checkedTopic) {
    if (s.topic.length === 0 || s.topic.length > 249) bad(`entries[${i}].source.topic must be a Kafka topic name`);
    if (s.topic.includes(':')) bad(`entries[${i}].source.topic must not contain ':'`);
    checkedTopic = s.topic;
  }
  if (!Number.isInteger(s.partition) || s.partition < 0 || s.partition > 2 ** 31 - 1) bad(`entries[${i}].source.partition must be 0..2^31-1`);
  if (typeof s.offset !== 'bigint' || s.offset < 0n || s.offset > MAX_OFFSET) bad(`entries[${i}].source.offset must be a bigint 0..2^63-1`);
}

/**
 * assertAppend validates an append's arguments before any I/O, so a bad batch never reaches
 * the store. It MUST reject: an entirely empty batch, malformed entries, an eventId repeated
 * within the batch (DuplicateEventIdError), tiles whose data is not width * 32 bytes, two
 * tiles with the same level and index, and a checkpoint that is empty or over 64 KiB.
 */
export function assertAppend(batch: AppendBatch, expectedSize: number): void {
  assertSize(expectedSize, 'expectedSize');
  if (batch === null || typeof batch !== 'object' || !Array.isArray(batch.entries)) bad('batch.entries must be an array');
  const tiles = batch.tiles ?? [];
  if (!Array.isArray(tiles)) bad('batch.tiles must be an array');
  if (batch.checkpoint !== undefined) {
    if (typeof batch.checkpoint !== 'string' || batch.checkpoint.length === 0) bad('checkpoint must be a non-empty string');
    if (Buffer.byteLength(batch.checkpoint) > MAX_CHECKPOINT_BYTES) bad(`checkpoint is over ${MAX_CHECKPOINT_BYTES} bytes`);
  }
  if (batch.entries.length === 0 && tiles.length === 0 && batch.checkpoint === undefined) bad('empty batch');
  if (!Number.isSafeInteger(expectedSize + batch.entries.length)) bad('log would grow past 2^53-1 entries');
  const ids = new Set<string>();
  const entries = batch.entries;
  // A plain loop, and the entry's name only built for a message: this runs for every entry of
  // every append (on both sides of the worker store), thousands per batch.
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e === null || typeof e !== 'object') bad(`entries[${i}] must be an object`);
    if (typeof e.eventId !== 'string' || e.eventId.length === 0 || e.eventId.length > MAX_EVENT_ID_LENGTH) {
      bad(`entries[${i}].eventId must be a string of 1..${MAX_EVENT_ID_LENGTH} characters`);
    }
    if (ids.has(e.eventId)) throw new DuplicateEventIdError(`eventId ${e.eventId} appears twice in the batch`);
    ids.add(e.eventId);
    if (e.kind !== 'event' && e.kind !== 'rejected') bad(`entries[${i}].kind must be 'event' or 'rejected'`);
    if (!(e.bytes instanceof Uint8Array)) bad(`entries[${i}].bytes must be a Uint8Array`);
    if (e.bytes.length > MAX_ENTRY_BYTES) bad(`entries[${i}].bytes is over ${MAX_ENTRY_BYTES} bytes`);
    if (!Number.isSafeInteger(e.appendedAt) || e.appendedAt < 0) bad(`entries[${i}].appendedAt must be epoch milliseconds`);
    const s = e.source;
    if (s !== null) assertSource(s, i);
  }
  const keys = new Set<string>();
  tiles.forEach((t, i) => {
    if (t === null || typeof t !== 'object') bad(`tiles[${i}] must be an object`);
    assertTileId(t.id);
    if (!(t.data instanceof Uint8Array) || t.data.length !== t.id.width * HASH_SIZE) {
      bad(`tiles[${i}] (${tileKey(t.id.level, t.id.index)}) must hold width * 32 = ${t.id.width * HASH_SIZE} bytes`);
    }
    const k = tileKey(t.id.level, t.id.index);
    if (keys.has(k)) bad(`tile ${k} appears twice in the batch`);
    keys.add(k);
  });
}
