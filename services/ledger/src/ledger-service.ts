import type { Bus, BusBatch, Subscription } from '@affidavit/bus';
import { ShutdownError, validateOptions } from '@affidavit/common';
import type { Clock, Logger } from '@affidavit/common';
import { codec as defaultCodec, TOPICS } from '@affidavit/schemas';
import type { EventCodec } from '@affidavit/schemas';
import { formatCheckpoint, hashLeaf, integrate, signNote } from '@affidavit/tlog';
import type { Hash, NoteSigner, Tile, TileReader } from '@affidavit/tlog';
import { checkpointDue } from './core/checkpoint-schedule.ts';
import { admit, parseBatch } from './core/ingest.ts';
import type { SourceRecord } from './core/ingest.ts';
import { sourceKey } from './ports/index.ts';
import type { LedgerStore, LogStore, NewEntry } from './ports/index.ts';

/** LedgerOptions configures the ledger service. */
export type LedgerOptions = {
  /** origin prefix of every log's checkpoints; a log's origin is `<origin>/<logId>`. */
  origin: string;
  topic: string;
  group: string;
  dlqTopic: string;
  checkpointsTopic: string;
  checkpointEveryEntries: number;
  checkpointEveryMs: number;
  /**
   * ephemeralBus: the bus forgets everything when the process ends (the embedded in-process
   * bus), so offsets recorded by an earlier run mean nothing in this one: read each partition
   * from its start (duplicates are still dropped by eventId). Kafka: false.
   */
  ephemeralBus: boolean;
};

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['origin', 'topic', 'group', 'dlqTopic', 'checkpointsTopic', 'checkpointEveryEntries', 'checkpointEveryMs', 'ephemeralBus'],
  properties: {
    origin: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\s+]+$' },
    topic: { type: 'string', minLength: 1 },
    group: { type: 'string', minLength: 1 },
    dlqTopic: { type: 'string', minLength: 1 },
    checkpointsTopic: { type: 'string', minLength: 1 },
    checkpointEveryEntries: { type: 'integer', minimum: 1 },
    checkpointEveryMs: { type: 'integer', minimum: 10 },
    ephemeralBus: { type: 'boolean' },
  },
};

/** DEFAULT_LEDGER_OPTIONS are the documented defaults. */
export const DEFAULT_LEDGER_OPTIONS: Omit<LedgerOptions, 'origin'> = Object.freeze({
  topic: TOPICS.sessionEvents,
  group: 'affidavit-ledger',
  dlqTopic: TOPICS.sessionEventsDlq,
  checkpointsTopic: TOPICS.checkpoints,
  checkpointEveryEntries: 10_000,
  checkpointEveryMs: 5_000,
  ephemeralBus: false,
});

/** logIdFor names the log of one source partition (one log per Kafka partition). */
export const logIdFor = (topic: string, partition: number) => `${topic}:${partition}`;

type LogState = {
  id: string;
  origin: string;
  store: LogStore;
  size: number;
  root?: Hash;
  checkpointedSize: number;
  checkpointedAt: number;
  /** Serializes writes to this log: the single writer. */
  chain: Promise<unknown>;
  /** The newest stored tile per tile level (the tree's right edge), so integrate() rarely reads the store. */
  edge: Map<number, Tile>;
  /** readTiles answers from `edge`, and from the store for anything else; what integrate() is given. */
  readTiles: TileReader;
};

/**
 * edgeReader serves tile reads from the tiles this ledger last wrote per level (only ever tiles of
 * appends that resolved), falling back to the store. Correct because a stored tile only ever
 * grows with its prefix unchanged (the tile rule the store enforces): a cached tile at least as
 * wide as the id holds exactly the hashes the store would return. Saves the SQLite reads of the
 * right-edge tiles integrate() needs on every batch.
 */
function edgeReader(store: LogStore, edge: Map<number, Tile>): TileReader {
  return async (ids) => {
    const out: (Uint8Array | undefined)[] = new Array(ids.length);
    const missing: number[] = [];
    ids.forEach((id, i) => {
      const t = edge.get(id.level);
      if (t && t.id.index === id.index && t.id.width >= id.width) out[i] = t.data.subarray(0, id.width * 32);
      else missing.push(i);
    });
    if (missing.length > 0) {
      const got = await store.readTiles(missing.map((i) => ids[i]));
      missing.forEach((i, k) => (out[i] = got[k]));
    }
    return out;
  };
}

/** LedgerStats is a snapshot for metrics, tests and benchmarks. */
export type LedgerStats = { appended: number; duplicates: number; rejected: number; checkpoints: number; logs: Record<string, number> };

/**
 * Ledger consumes session events from the bus and appends them, exactly once, to one log per
 * source partition, under a Merkle tree with signed checkpoints.
 *
 * Guarantees: an entry is durable (store.append resolved) before anything treats it as done;
 * on (re)assignment a partition resumes at the offset after the highest one its log recorded,
 * never at committed consumer offsets; an event whose id is already in the log is dropped;
 * malformed input is appended as an InputRejected entry and its raw bytes published to the DLQ
 * topic before the entry is written; a checkpoint is written every `checkpointEveryEntries`
 * entries or `checkpointEveryMs`, and at `stop()`, and published to the checkpoints topic.
 */
export class Ledger {
  readonly options: Readonly<LedgerOptions>;
  readonly #bus: Bus;
  readonly #store: LedgerStore;
  readonly #signer: NoteSigner;
  readonly #clock: Clock;
  readonly #codec: EventCodec;
  readonly #log?: Logger;
  readonly #logs = new Map<string, Promise<LogState>>();
  readonly #schedule: { everyEntries: number; everyMs: number };
  #sub?: Subscription;
  #timer?: NodeJS.Timeout;
  #stopped = false;
  readonly #stats: LedgerStats = { appended: 0, duplicates: 0, rejected: 0, checkpoints: 0, logs: {} };
  readonly #unpublished: Array<{ key: string; note: string }> = [];
  readonly #waiters = new Map<string, () => void>();

  constructor(
    options: Partial<LedgerOptions> & { origin: string },
    deps: { bus: Bus; store: LedgerStore; signer: NoteSigner; clock: Clock; codec?: EventCodec; logger?: Logger },
  ) {
    this.options = validateOptions<LedgerOptions>(SCHEMA, { ...DEFAULT_LEDGER_OPTIONS, ...options }, { name: 'ledger' });
    this.#schedule = { everyEntries: this.options.checkpointEveryEntries, everyMs: this.options.checkpointEveryMs };
    this.#bus = deps.bus;
    this.#store = deps.store;
    this.#signer = deps.signer;
    this.#clock = deps.clock;
    this.#codec = deps.codec ?? defaultCodec();
    this.#log = deps.logger;
  }

  /** start subscribes to the session-events topic; batches are appended as they arrive. */
  async start(): Promise<void> {
    this.#sub = await this.#bus.subscribe({
      group: this.options.group,
      topics: [this.options.topic],
      startOffsets: async (topic, partition) => {
        const st = await this.#open(topic, partition);
        if (this.options.ephemeralBus) return 0n;
        const tail = await st.store.tail();
        const last = tail.lastSource.get(sourceKey(topic, partition));
        return last === undefined ? 0n : last + 1n;
      },
      handler: (batch) => this.#append(batch),
      onError: (err, batch) => this.#log?.error({ err, topic: batch.topic, partition: batch.partition }, 'ledger append failed; the batch will be retried'),
    });
    const tick = Math.max(10, Math.min(1_000, Math.floor(this.options.checkpointEveryMs / 2)));
    this.#timer = setInterval(() => void this.#checkpointDueLogs().catch((err) => this.#log?.error({ err }, 'checkpoint failed')), tick);
    this.#timer.unref();
  }

  /** stats returns counters. */
  stats(): LedgerStats {
    return structuredClone(this.#stats);
  }

  #open(topic: string, partition: number): Promise<LogState> {
    const id = logIdFor(topic, partition);
    let p = this.#logs.get(id);
    if (!p) {
      p = (async () => {
        const store = await this.#store.openLog(id);
        const tail = await store.tail();
        const latest = await store.latestCheckpoint();
        const checkpointedSize = latest ? Number(latest.split('\n')[1]) : 0;
        this.#stats.logs[id] = tail.size;
        this.#log?.info({ log: id, size: tail.size, checkpointedSize }, 'log opened');
        const edge = new Map<number, Tile>();
        return {
          id,
          origin: `${this.options.origin}/${id}`,
          store,
          size: tail.size,
          checkpointedSize,
          checkpointedAt: this.#clock.now(),
          chain: Promise.resolve(),
          edge,
          readTiles: edgeReader(store, edge),
        };
      })();
      this.#logs.set(id, p);
      p.catch(() => this.#logs.delete(id));
    }
    return p;
  }

  #serialized<T>(st: LogState, fn: () => Promise<T>): Promise<T> {
    const run = st.chain.then(fn, fn);
    st.chain = run.catch(() => {});
    return run;
  }

  async #append(batch: BusBatch): Promise<void> {
    if (this.#stopped) throw new ShutdownError('ledger is stopping');
    const st = await this.#open(batch.topic, batch.partition);
    await this.#serialized(st, async () => {
      // A BusRecord is a SourceRecord (topic, partition, offset, value): no copy per record.
      const records: readonly SourceRecord[] = batch.records;
      const parsed = parseBatch(records, this.#codec);
      const known = await st.store.hasEventIds(parsed.map((p) => p.eventId));
      const now = this.#clock.now();
      const { admitted, duplicates } = admit(parsed, this.#codec, known, now);
      this.#stats.duplicates += duplicates;
      if (admitted.length === 0) {
        this.#settle(parsed);
        return;
      }
      const rejected = admitted.filter((a) => a.kind === 'rejected');
      if (rejected.length > 0) {
        // Raw bytes reach the DLQ before the entry that names them is written; a retry may publish twice, never zero times.
        await this.#bus.publish(
          this.options.dlqTopic,
          rejected.map((a) => ({ key: a.eventId, value: a.raw!, headers: { reason: a.eventId, 'source-offset': String(a.source.offset) } })),
        );
      }
      const entries: NewEntry[] = new Array(admitted.length);
      const leaves: Hash[] = new Array(admitted.length);
      admitted.forEach((a, i) => {
        entries[i] = { eventId: a.eventId, kind: a.kind, bytes: a.bytes, source: a.source, appendedAt: now };
        leaves[i] = hashLeaf(a.bytes);
      });
      const result = await integrate(st.readTiles, st.size, leaves);
      const due = checkpointDue({ size: result.size, checkpointedSize: st.checkpointedSize, checkpointedAt: st.checkpointedAt }, now, this.#schedule);
      const checkpoint = due ? await this.#sign(st, result.size, result.root) : undefined;
      await st.store.append({ entries, tiles: result.tiles, ...(checkpoint ? { checkpoint } : {}) }, st.size);
      st.size = result.size;
      st.root = result.root;
      for (const t of result.tiles) st.edge.set(t.id.level, t);
      this.#stats.appended += entries.length;
      this.#stats.rejected += rejected.length;
      this.#stats.logs[st.id] = st.size;
      if (checkpoint) this.#checkpointed(st, checkpoint, now);
      this.#settle(parsed);
    });
  }

  #settle(parsed: readonly { eventId: string }[]): void {
    if (this.#waiters.size === 0) return;
    for (const p of parsed) {
      const w = this.#waiters.get(p.eventId);
      if (w) {
        this.#waiters.delete(p.eventId);
        w();
      }
    }
  }

  /**
   * appended resolves once every given event id is durably in the ledger (appended now or
   * earlier). The embedded mode acknowledges a command's event with it: an in-process bus is
   * not durable, the ledger's SQLite file is. Rejects after `timeoutMs`.
   */
  appended(eventIds: readonly string[], timeoutMs = 10_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let left = eventIds.length;
      if (left === 0) return resolve();
      const timer = setTimeout(() => {
        for (const id of eventIds) this.#waiters.delete(id);
        reject(new ShutdownError(`${left} events not appended to the ledger within ${timeoutMs} ms`));
      }, timeoutMs);
      for (const id of eventIds) {
        this.#waiters.set(id, () => {
          if (--left === 0) {
            clearTimeout(timer);
            resolve();
          }
        });
      }
    });
  }

  async #sign(st: LogState, size: number, root: Hash): Promise<string> {
    return signNote(formatCheckpoint({ origin: st.origin, size, root, extensions: [] }), [this.#signer]);
  }

  #checkpointed(st: LogState, note: string, now: number): void {
    st.checkpointedSize = st.size;
    st.checkpointedAt = now;
    this.#stats.checkpoints++;
    this.#unpublished.push({ key: st.origin, note });
    void this.#publishCheckpoints();
  }

  async #publishCheckpoints(): Promise<void> {
    const batch = this.#unpublished.splice(0);
    if (batch.length === 0) return;
    try {
      await this.#bus.publish(this.options.checkpointsTopic, batch.map((c) => ({ key: c.key, value: Buffer.from(c.note) })));
    } catch (err) {
      // Kept and retried on the next tick: the copy outside the system is what makes a rollback detectable.
      this.#unpublished.unshift(...batch);
      this.#log?.warn({ err, pending: this.#unpublished.length }, 'checkpoint publication failed; will retry');
    }
  }

  /** checkpointNow writes a checkpoint for every log with entries since its last one. */
  async checkpointNow(force = true): Promise<void> {
    const now = this.#clock.now();
    for (const p of this.#logs.values()) {
      const st = await p;
      await this.#serialized(st, async () => {
        const due = force ? st.size > st.checkpointedSize : checkpointDue({ size: st.size, checkpointedSize: st.checkpointedSize, checkpointedAt: st.checkpointedAt }, now, this.#schedule);
        if (!due) return;
        const root = st.root ?? (await integrate(st.readTiles, st.size, [])).root;
        const note = await this.#sign(st, st.size, root);
        await st.store.append({ entries: [], checkpoint: note }, st.size);
        this.#checkpointed(st, note, now);
      });
    }
  }

  async #checkpointDueLogs(): Promise<void> {
    await this.checkpointNow(false);
    await this.#publishCheckpoints();
  }

  /** stop stops consuming (after the in-flight batch), writes a final checkpoint per log and publishes it. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sub?.close();
    this.#stopped = true;
    await this.checkpointNow(true);
    await this.#publishCheckpoints();
  }
}
