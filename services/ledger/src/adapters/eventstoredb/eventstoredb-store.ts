// EventStoreDB adapter of the ledger store port.
//
// Layout: ONE stream per log, `<streamPrefix><logId>` (default prefix `affidavit-ledger-`). Every
// `append` is ONE `appendToStream` call, which EventStoreDB commits atomically, holding:
//   - one event per entry, type `affidavit.ledger.entry` (or `.input-rejected`), binary data = the
//     entry's exact bytes, JSON metadata {i: index, id: eventId, at, src: {t, p, o}}; the ESDB event
//     id is the eventId when it is a UUID (feeders send UUIDv7), otherwise a name-based UUID;
//   - then one trailer event, type `affidavit.ledger.batch`, JSON data {from, count, tiles, checkpoint}.
// Tiles and checkpoints ride in the trailer instead of companion streams because ESDB is atomic only
// within one stream: a companion-stream write could survive a crash without its entries (or the
// reverse), which the port forbids. The price: stream revisions are not entry indexes, so the adapter
// fences with the stream revision it last saw (expected revision, NO_STREAM for a new log) and keeps
// a small index→revision table (one row per batch).
//
// In-memory index, built on open by reading the whole stream once and caught up incrementally:
//   - every eventId (for hasEventIds and the duplicate backstop): about 100 bytes per entry in V8
//     (a 36-character string plus Set overhead), i.e. ~1 GB for 10 million entries — roll logs
//     (one per partition, per period) well before that;
//   - per batch: first index and revision (3 numbers); per tile key: width and the trailer's
//     revision (tile bytes are read on demand); every checkpoint note (a few hundred bytes each);
//   - highest offset per source partition.
// Opening a log therefore reads all its entry bytes once (ESDB always returns event data).
import { randomUUID } from 'node:crypto';
import { EventStoreDBClient, ErrorType, FORWARDS, NO_STREAM, START, binaryEvent, jsonEvent, type EventData } from '@eventstore/db-client';
import { ShutdownError, validateOptions } from '@affidavit/common';
import { DuplicateEventIdError, ExpectedSizeConflictError, StoreUnreadableError, TileConflictError } from '../../store-errors.ts';
import type { AppendBatch, Entry, LedgerStore, LogStore, LogTail, TileId } from '../../ports/ledger-store.ts';
import { sourceKey } from '../../ports/ledger-store.ts';
import { assertAppend, assertEventIds, assertLogId, assertRange, assertTileId, tileKey } from '../../ports/validate-append.ts';
import { BATCH_TYPE, ENTRY_TYPES, entryMetadata, esdbEventId, kindOfType, parseEntryMetadata, parseTrailer, trailerFor, trailerId } from './esdb-events.ts';
import { translateEsdbError } from './esdb-errors.ts';

/** EsdbClient is the part of the EventStoreDB client the adapter uses (a fake can stand in for unit tests). */
export type EsdbClient = Pick<EventStoreDBClient, 'appendToStream' | 'readStream' | 'dispose'>;

/** EventStoreLedgerStoreOptions: a connection string (the store owns and disposes the client) or a client (the caller owns it). */
export type EventStoreLedgerStoreOptions = {
  connectionString?: string;
  client?: EsdbClient;
  /** streamPrefix is prepended to the log id to name its stream. */
  streamPrefix?: string;
};

/** DEFAULT_STREAM_PREFIX names log streams `affidavit-ledger-<logId>`. */
export const DEFAULT_STREAM_PREFIX = 'affidavit-ledger-';

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    connectionString: { type: 'string', pattern: '^(esdb|esdb\\+discover)://', maxLength: 4096 },
    streamPrefix: { type: 'string', pattern: '^[A-Za-z0-9._-]{0,100}$', default: DEFAULT_STREAM_PREFIX },
  },
};

/**
 * openEventStoreLedgerStore returns a LedgerStore on EventStoreDB. It does not contact the server
 * until a log is opened.
 */
export async function openEventStoreLedgerStore(options: EventStoreLedgerStoreOptions): Promise<LedgerStore> {
  const { client: given, ...rest } = options;
  const opts = validateOptions<{ connectionString?: string; streamPrefix: string }>(optionsSchema, rest, {
    name: 'eventstoredb ledger store options',
    rules: [(o) => ((o.connectionString === undefined) === (given === undefined) ? 'give exactly one of connectionString and client' : undefined)],
  });
  const client: EsdbClient = given ?? EventStoreDBClient.connectionString(opts.connectionString!);
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw new ShutdownError('the ledger store is closed');
  };
  // The registry stream names every log, so export and verify can find them without scanning
  // all streams. An entry may repeat (two openers racing); listLogs keeps the first.
  const registry = `${opts.streamPrefix}$logs`;
  const listLogs = async (): Promise<string[]> => {
    const ids: string[] = [];
    try {
      for await (const r of client.readStream(registry, { fromRevision: START, direction: FORWARDS })) {
        const id = (r.event?.data as { logId?: unknown } | undefined)?.logId;
        if (typeof id === 'string' && !ids.includes(id)) ids.push(id);
      }
    } catch (e) {
      if ((e as { type?: string }).type !== ErrorType.STREAM_NOT_FOUND) throw translateEsdbError(e, `reading stream ${registry}`);
    }
    return ids;
  };
  return {
    async openLog(logId: string): Promise<LogStore> {
      ensureOpen();
      assertLogId(logId);
      const log = new EsdbLog(client, logId, `${opts.streamPrefix}${logId}`, ensureOpen);
      await log.lock(() => log.catchUp());
      if (!(await listLogs()).includes(logId)) {
        try {
          await client.appendToStream(registry, jsonEvent({ type: 'LogOpened', data: { logId } }));
        } catch (e) {
          throw translateEsdbError(e, `registering log ${logId}`);
        }
      }
      return log.handle();
    },
    async listLogs(): Promise<string[]> {
      ensureOpen();
      return listLogs();
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (!given) await client.dispose();
    },
  };
}

/** EsdbLog holds one log handle's view of its stream. */
class EsdbLog {
  private readonly client: EsdbClient;
  private readonly logId: string;
  private readonly stream: string;
  private readonly ensureOpen: () => void;
  /** revision of the last event seen in the stream; -1 when the stream does not exist yet. */
  private revision = -1;
  private size = 0;
  private readonly ids = new Set<string>();
  private readonly lastSource = new Map<string, bigint>();
  /** Batches with entries: first index and the revision of their first entry event, ascending. */
  private readonly segFrom: number[] = [];
  private readonly segRev: number[] = [];
  private readonly tiles = new Map<string, { width: number; rev: number }>();
  private readonly notes: string[] = [];
  /** The last trailer read for its tiles, so integrate's edge reads cost one round trip per batch. */
  private trailerCache: { rev: number; tiles: Map<string, Buffer> } | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(client: EsdbClient, logId: string, stream: string, ensureOpen: () => void) {
    this.client = client;
    this.logId = logId;
    this.stream = stream;
    this.ensureOpen = ensureOpen;
  }

  /** lock runs `fn` after every earlier locked call of this handle (state updates never interleave). */
  lock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** read yields resolved events from `from` forwards; a stream that does not exist yields nothing. */
  private async *read(from: number, maxCount?: number) {
    const events = this.client.readStream(this.stream, {
      fromRevision: from <= 0 ? START : BigInt(from),
      direction: FORWARDS,
      ...(maxCount === undefined ? {} : { maxCount: BigInt(maxCount) }),
    });
    try {
      for await (const r of events) {
        if (!r.event) throw new StoreUnreadableError(`stream ${this.stream} holds a link or an unresolvable event`);
        yield r.event;
      }
    } catch (e) {
      if ((e as { type?: string }).type === ErrorType.STREAM_NOT_FOUND) return;
      throw translateEsdbError(e, `reading stream ${this.stream}`);
    }
  }

  /** catchUp applies every event after `revision`: whole batches only (entries, then their trailer). */
  async catchUp(): Promise<void> {
    this.ensureOpen();
    let pending: { id: string; source: ReturnType<typeof parseEntryMetadata>['source'] }[] = [];
    let firstRev = -1;
    for await (const ev of this.read(this.revision + 1)) {
      const rev = Number(ev.revision);
      const kind = kindOfType(ev.type);
      if (kind !== undefined) {
        const md = parseEntryMetadata(ev.metadata);
        if (md.index !== this.size + pending.length)
          throw new StoreUnreadableError(`stream ${this.stream}: entry at revision ${rev} has index ${md.index}, want ${this.size + pending.length}`);
        if (pending.length === 0) firstRev = rev;
        pending.push({ id: md.eventId, source: md.source });
        continue;
      }
      const t = parseTrailer(ev.data);
      if (t.from !== this.size || t.count !== pending.length)
        throw new StoreUnreadableError(`stream ${this.stream}: batch trailer at revision ${rev} does not match its entries`);
      for (const p of pending) {
        this.ids.add(p.id);
        if (p.source) this.noteSource(p.source.topic, p.source.partition, p.source.offset);
      }
      if (pending.length > 0) {
        this.segFrom.push(this.size);
        this.segRev.push(firstRev);
      }
      for (const x of t.tiles) this.tiles.set(tileKey(x.l, x.n), { width: x.w, rev });
      if (t.checkpoint !== undefined) this.notes.push(t.checkpoint);
      this.size += pending.length;
      this.revision = rev;
      pending = [];
    }
    // ESDB appends are atomic and every append ends with its trailer, so a dangling entry is corruption.
    if (pending.length > 0) throw new StoreUnreadableError(`stream ${this.stream} ends with entries that have no batch trailer`);
  }

  private noteSource(topic: string, partition: number, offset: bigint): void {
    const k = sourceKey(topic, partition);
    const cur = this.lastSource.get(k);
    if (cur === undefined || offset > cur) this.lastSource.set(k, offset);
  }

  /** tileBytes reads the stored bytes of a tile from the trailer that last wrote it. */
  private async tileBytes(key: string): Promise<Buffer | undefined> {
    const where = this.tiles.get(key);
    if (!where) return undefined;
    if (this.trailerCache?.rev !== where.rev) {
      const map = new Map<string, Buffer>();
      for await (const ev of this.read(where.rev, 1)) {
        if (ev.type !== BATCH_TYPE) throw new StoreUnreadableError(`stream ${this.stream}: revision ${where.rev} is not a batch trailer`);
        for (const x of parseTrailer(ev.data).tiles) map.set(tileKey(x.l, x.n), Buffer.from(x.h, 'base64'));
      }
      this.trailerCache = { rev: where.rev, tiles: map };
    }
    const b = this.trailerCache.tiles.get(key);
    if (!b || b.length !== where.width * 32) throw new StoreUnreadableError(`stream ${this.stream}: tile ${key} missing from its trailer`);
    return b;
  }

  private async append(batch: AppendBatch, expectedSize: number): Promise<void> {
    if (expectedSize !== this.size) await this.catchUp();
    if (expectedSize !== this.size) {
      throw new ExpectedSizeConflictError(`log ${this.logId} has ${this.size} entries, the writer expected ${expectedSize}`);
    }
    const dups = batch.entries.filter((e) => this.ids.has(e.eventId)).map((e) => e.eventId);
    if (dups.length > 0) throw new DuplicateEventIdError(`log ${this.logId} already holds eventId ${dups.slice(0, 3).join(', ')}; nothing was written`);
    for (const t of batch.tiles ?? []) {
      const key = tileKey(t.id.level, t.id.index);
      const old = await this.tileBytes(key);
      if (!old) continue;
      const prefixSame = t.data.length >= old.length && Buffer.compare(Buffer.from(t.data.buffer, t.data.byteOffset, old.length), old) === 0;
      if (!prefixSame)
        throw new TileConflictError(
          `log ${this.logId}: tile ${key} of width ${t.id.width} does not extend the stored width ${old.length / 32}; nothing was written`,
        );
    }
    const events: EventData[] = batch.entries.map((e, i) =>
      binaryEvent({ id: esdbEventId(this.logId, e.eventId), type: ENTRY_TYPES[e.kind], data: e.bytes, metadata: entryMetadata(e, expectedSize + i) }),
    );
    const trailer = trailerFor(batch, expectedSize);
    events.push(jsonEvent({ id: trailerId(this.logId, expectedSize, batch), type: BATCH_TYPE, data: trailer }));
    let next: bigint;
    try {
      const res = await this.client.appendToStream(this.stream, events, { expectedRevision: this.revision < 0 ? NO_STREAM : BigInt(this.revision) });
      next = res.nextExpectedRevision;
    } catch (e) {
      const err = translateEsdbError(e, `appending to log ${this.logId}`);
      // Learn what the other writer wrote, so tail() and the next attempt see it.
      if (err instanceof ExpectedSizeConflictError) await this.catchUp().catch(() => undefined);
      throw err;
    }
    const firstRev = this.revision + 1;
    if (Number(next) !== this.revision + events.length) {
      throw new StoreUnreadableError(`stream ${this.stream}: append ended at revision ${next}, want ${this.revision + events.length}`);
    }
    batch.entries.forEach((e) => {
      this.ids.add(e.eventId);
      if (e.source) this.noteSource(e.source.topic, e.source.partition, e.source.offset);
    });
    if (batch.entries.length > 0) {
      this.segFrom.push(expectedSize);
      this.segRev.push(firstRev);
    }
    const trailerRev = Number(next);
    for (const t of batch.tiles ?? []) this.tiles.set(tileKey(t.id.level, t.id.index), { width: t.id.width, rev: trailerRev });
    if (batch.checkpoint !== undefined) this.notes.push(batch.checkpoint);
    this.size += batch.entries.length;
    this.revision = trailerRev;
  }

  /** revisionOf maps an entry index (< size) to its event's stream revision. */
  private revisionOf(index: number): number {
    let lo = 0;
    let hi = this.segFrom.length - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.segFrom[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.segRev[lo] + (index - this.segFrom[lo]);
  }

  private async *entries(from: number, to: number): AsyncIterable<Entry> {
    this.ensureOpen();
    assertRange(from, to);
    await this.lock(() => this.catchUp());
    const end = Math.min(to, this.size);
    if (from >= end) return;
    const startRev = this.revisionOf(from);
    const endRev = this.revisionOf(end - 1);
    let index = from;
    // The client's StreamingRead is a Readable: iterating it pulls with backpressure, so memory stays bounded.
    for await (const ev of this.read(startRev, endRev - startRev + 1)) {
      const kind = kindOfType(ev.type);
      if (kind === undefined) continue;
      const md = parseEntryMetadata(ev.metadata);
      if (md.index !== index) throw new StoreUnreadableError(`stream ${this.stream}: revision ${ev.revision} holds index ${md.index}, want ${index}`);
      const data = ev.data as Uint8Array;
      yield {
        index,
        eventId: md.eventId,
        kind,
        bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        source: md.source,
        appendedAt: md.appendedAt,
      };
      index++;
      this.ensureOpen();
    }
    if (index !== end) throw new StoreUnreadableError(`stream ${this.stream}: read ended at index ${index}, want ${end}`);
  }

  /** handle is the LogStore this log exposes. */
  handle(): LogStore {
    const run = <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        this.ensureOpen();
      } catch (e) {
        return Promise.reject(e);
      }
      return this.lock(fn);
    };
    return {
      logId: this.logId,
      tail: () =>
        run(async () => {
          await this.catchUp();
          return { size: this.size, lastSource: new Map(this.lastSource) } satisfies LogTail;
        }),
      append: (batch, expectedSize) => {
        try {
          assertAppend(batch, expectedSize);
        } catch (e) {
          return Promise.reject(e);
        }
        return run(() => this.append(batch, expectedSize));
      },
      // hasEventIds and readTiles answer from this handle's view without a round trip: for the log's
      // single writer that view is complete (it saw its own appends; others are fenced out).
      hasEventIds: (ids) =>
        run(async () => {
          assertEventIds(ids);
          return new Set(ids.filter((id) => this.ids.has(id)));
        }),
      readEntries: (from, to) => this.entries(from, to),
      readTiles: (ids: readonly TileId[]) =>
        run(async () => {
          ids.forEach(assertTileId);
          const out: (Uint8Array | undefined)[] = [];
          for (const id of ids) {
            const key = tileKey(id.level, id.index);
            const w = this.tiles.get(key);
            if (!w || w.width < id.width) {
              out.push(undefined);
              continue;
            }
            out.push((await this.tileBytes(key))!.subarray(0, id.width * 32));
          }
          return out;
        }),
      checkpoints: () =>
        run(async () => {
          await this.catchUp();
          return [...this.notes];
        }),
      latestCheckpoint: () =>
        run(async () => {
          await this.catchUp();
          return this.notes.at(-1);
        }),
    };
  }
}

/** uniqueStreamPrefix returns a stream prefix no other test run uses (tests share one server). */
export function uniqueStreamPrefix(): string {
  return `affidavit-test-${randomUUID().slice(0, 8)}-`;
}
