// The messages between the worker-backed SQLite store (worker-store.ts, main thread) and its
// worker (sqlite-worker.ts). Entries cross the thread boundary packed in columns: one ArrayBuffer
// of all entries' bytes plus typed arrays, all transferred, so a group of thousands of entries is
// a handful of transfers instead of a structured clone per entry (and never a clone of the whole
// bus buffer an entry's bytes happen to be a view of).
import { BackpressureError, ConfigInvalidError, ShutdownError, TimeoutError } from '@affidavit/common';
import {
  BatchTooLargeError,
  DuplicateEventIdError,
  ExpectedSizeConflictError,
  LedgerImmutableError,
  LedgerInputInvalidError,
  StoreUnavailableError,
  StoreUnreadableError,
  TileConflictError,
} from '../../store-errors.ts';
import type { Entry, EntryKind, NewEntry, SourcePosition, TileWrite } from '../../ports/ledger-store.ts';

/** WorkerOp names a request the worker answers. */
export type WorkerOp = 'openLog' | 'listLogs' | 'close' | 'tail' | 'append' | 'hasEventIds' | 'readPage' | 'readTiles' | 'checkpoints' | 'latestCheckpoint';

/** WorkerRequest is one call: `id` pairs it with its response; `log` names the log for per-log ops. */
export type WorkerRequest = { readonly id: number; readonly op: WorkerOp; readonly log?: string; readonly args: readonly unknown[] };

/** SerializedError is a typed error as it crosses the thread boundary: rebuilt by `reviveError`. */
export type SerializedError = { readonly name: string; readonly code?: string; readonly message: string };

/** WorkerResponse answers one request: a value, or an error to rebuild as the same typed class. */
export type WorkerResponse =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError };

/**
 * PackedEntries are entries in columns. `topic[i]` is an index into `topics`, or -1 for an entry
 * without a source; entry i's bytes are `bytes[ends[i-1] .. ends[i])`; `index` (stored entries
 * only) is the first entry's log index.
 */
export type PackedEntries = {
  readonly eventIds: string[];
  readonly kinds: Uint8Array;
  readonly topics: string[];
  readonly topic: Int32Array;
  readonly partitions: Int32Array;
  readonly offsets: BigInt64Array;
  readonly appendedAt: Float64Array;
  readonly ends: Uint32Array;
  readonly bytes: ArrayBuffer;
};

/** packEntries copies entries into columns; `transfer` lists the buffers to move rather than clone. */
export function packEntries(entries: readonly Omit<NewEntry, 'bytes'>[] & readonly { bytes: Uint8Array }[]): {
  packed: PackedEntries;
  transfer: ArrayBuffer[];
} {
  const n = entries.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += entries[i].bytes.byteLength;
  const bytes = new Uint8Array(total);
  const ends = new Uint32Array(n);
  const kinds = new Uint8Array(n);
  const topic = new Int32Array(n);
  const partitions = new Int32Array(n);
  const offsets = new BigInt64Array(n);
  const appendedAt = new Float64Array(n);
  const eventIds: string[] = new Array(n);
  const topics: string[] = [];
  let lastTopic: string | undefined;
  let lastRef = -1;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const e = entries[i];
    eventIds[i] = e.eventId;
    kinds[i] = e.kind === 'rejected' ? 1 : 0;
    bytes.set(e.bytes, at);
    at += e.bytes.byteLength;
    ends[i] = at;
    appendedAt[i] = e.appendedAt;
    const s = e.source;
    if (s === null) {
      topic[i] = -1;
      continue;
    }
    if (s.topic !== lastTopic) {
      lastTopic = s.topic;
      lastRef = topics.indexOf(s.topic);
      if (lastRef < 0) lastRef = topics.push(s.topic) - 1;
    }
    topic[i] = lastRef;
    partitions[i] = s.partition;
    offsets[i] = s.offset;
  }
  const packed = { eventIds, kinds, topics, topic, partitions, offsets, appendedAt, ends, bytes: bytes.buffer };
  return { packed, transfer: [bytes.buffer, ends.buffer, kinds.buffer, topic.buffer, partitions.buffer, offsets.buffer, appendedAt.buffer] };
}

type Unpacked = { eventId: string; kind: EntryKind; bytes: Buffer; source: SourcePosition | null; appendedAt: number };

/**
 * unpackEntries rebuilds entries from columns; their bytes are Buffer views of the one received
 * buffer (no copy). With `indexes` (one per entry), they are the log's stored entries.
 */
export function unpackEntries(p: PackedEntries): Unpacked[];
export function unpackEntries(p: PackedEntries, indexes: Float64Array): Entry[];
export function unpackEntries(p: PackedEntries, indexes?: Float64Array): Unpacked[] | Entry[] {
  const n = p.eventIds.length;
  if (indexes !== undefined && indexes.length !== n) throw new StoreUnavailableError(`a page of ${n} entries came with ${indexes.length} indexes`);
  const out = new Array(n);
  const all = Buffer.from(p.bytes);
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = p.ends[i];
    const t = p.topic[i];
    const eventId = p.eventIds[i];
    const kind = p.kinds[i] === 1 ? 'rejected' : 'event';
    const bytes = all.subarray(start, end);
    const source = t < 0 ? null : { topic: p.topics[t], partition: p.partitions[i], offset: p.offsets[i] };
    const appendedAt = p.appendedAt[i];
    out[i] = indexes === undefined ? { eventId, kind, bytes, source, appendedAt } : { index: indexes[i], eventId, kind, bytes, source, appendedAt };
    start = end;
  }
  return out;
}

/** copyTiles gives each tile its own small buffer, so cloning it never copies a larger buffer it is a view of. */
export function copyTiles(tiles: readonly TileWrite[] | undefined): TileWrite[] | undefined {
  return tiles?.map((t) => ({ id: { level: t.id.level, index: t.id.index, width: t.id.width }, data: new Uint8Array(t.data) }));
}

/** serializeError keeps what `reviveError` needs: the class name, the Affidavit code and the message. */
export function serializeError(e: unknown): SerializedError {
  const err = e as { name?: unknown; code?: unknown; message?: unknown };
  return {
    name: typeof err?.name === 'string' ? err.name : 'Error',
    ...(typeof err?.code === 'string' ? { code: err.code } : {}),
    message: typeof err?.message === 'string' ? err.message : String(e),
  };
}

/** The typed errors a store call can raise, by code; anything else comes back as StoreUnavailableError. */
const CLASSES = new Map<string, new (message: string) => Error>(
  [
    DuplicateEventIdError,
    ExpectedSizeConflictError,
    LedgerImmutableError,
    LedgerInputInvalidError,
    StoreUnavailableError,
    StoreUnreadableError,
    TileConflictError,
    BatchTooLargeError,
    ShutdownError,
    BackpressureError,
    ConfigInvalidError,
    TimeoutError,
  ].map((c) => [c.code, c]),
);

/** reviveError rebuilds a worker's error as the same typed class (same code and message), so callers' `instanceof` and code checks work. */
export function reviveError(s: SerializedError, context: string): Error {
  const C = s.code === undefined ? undefined : CLASSES.get(s.code);
  if (C) return new C(s.message);
  return new StoreUnavailableError(`${context}: ${s.name}: ${s.message}`);
}
