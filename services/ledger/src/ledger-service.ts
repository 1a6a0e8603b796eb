import type { Bus, BusBatch, Subscription } from '@affidavit/bus';
import { BackpressureError, ShutdownError, validateOptions } from '@affidavit/common';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Clock, Logger } from '@affidavit/common';
import { codec as defaultCodec, TOPICS } from '@affidavit/schemas';
import type { EventCodec } from '@affidavit/schemas';
import { formatCheckpoint, hashLeaf, integrate, signNote } from '@affidavit/tlog';
import type { CompactRange, Hash, NoteSigner, Tile, TileReader } from '@affidavit/tlog';
import { checkpointDue } from './core/checkpoint-schedule.ts';
import { admit, parseBatch, rejectedId } from './core/ingest.ts';
import type { Parsed, SourceRecord } from './core/ingest.ts';
import { sourceKey } from './ports/index.ts';
import { BatchTooLargeError, DuplicateEventIdError, ExpectedSizeConflictError, LedgerInputInvalidError } from './store-errors.ts';
import { publishDeadLetters } from './dead-letters.ts';
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
  /**
   * maxAppendEntries caps the entries of one store append (one transaction, one fsync). Records
   * that queued up while the previous append ran are written together up to this many (group
   * commit). A store that refuses a batch for its size (AFF_E_LEDGER_BATCH_TOO_LARGE) gets it
   * split in halves instead.
   */
  maxAppendEntries: number;
  /**
   * maxPendingEntries bounds the records handed over by the bus and not yet durable, per log;
   * past it the bus handler waits (backpressure), so memory stays bounded.
   */
  maxPendingEntries: number;
  /**
   * maxPendingBytes bounds the value bytes of those records, per log: a burst of large records
   * (up to 1 MiB each) waits for room long before maxPendingEntries of them are queued.
   */
  maxPendingBytes: number;
  /** retryBackoffMs is the pause before a failed append is tried again. */
  retryBackoffMs: number;
};

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [
    'origin',
    'topic',
    'group',
    'dlqTopic',
    'checkpointsTopic',
    'checkpointEveryEntries',
    'checkpointEveryMs',
    'ephemeralBus',
    'maxAppendEntries',
    'maxPendingEntries',
    'maxPendingBytes',
    'retryBackoffMs',
  ],
  properties: {
    origin: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\s+]+$' },
    topic: { type: 'string', minLength: 1 },
    group: { type: 'string', minLength: 1 },
    dlqTopic: { type: 'string', minLength: 1 },
    checkpointsTopic: { type: 'string', minLength: 1 },
    checkpointEveryEntries: { type: 'integer', minimum: 1 },
    checkpointEveryMs: { type: 'integer', minimum: 10 },
    ephemeralBus: { type: 'boolean' },
    maxAppendEntries: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    maxPendingEntries: { type: 'integer', minimum: 1, maximum: 10_000_000 },
    maxPendingBytes: { type: 'integer', minimum: 1, maximum: 2 ** 40 },
    retryBackoffMs: { type: 'integer', minimum: 0, maximum: 60_000 },
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
  maxAppendEntries: 4_096,
  maxPendingEntries: 32_768,
  maxPendingBytes: 64 * 1024 * 1024,
  retryBackoffMs: 200,
});

/** ROOM_WAIT_MS bounds how long the bus handler waits for room in a full queue before refusing with BackpressureError. */
const ROOM_WAIT_MS = 1_000;

/** waitForRoom resolves when the writer frees room in the queue, or after `ms`. */
function waitForRoom(st: { room: Array<() => void> }, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      const i = st.room.indexOf(done);
      if (i >= 0) st.room.splice(i, 1);
      resolve();
    }, ms);
    function done() {
      clearTimeout(timer);
      resolve();
    }
    st.room.push(done);
  });
}

/** logIdFor names the log of one source partition (one log per Kafka partition). */
export const logIdFor = (topic: string, partition: number) => `${topic}:${partition}`;

type LogState = {
  id: string;
  origin: string;
  store: LogStore;
  size: number;
  root?: Hash;
  /** The tree's compact range at `size` (from the first integrate on): new roots come from it, not from tiles. */
  range?: CompactRange;
  checkpointedSize: number;
  checkpointedAt: number;
  /**
   * eventIds the store reported as already logged when it refused an append of them
   * (DuplicateEventIdError); the writer drops them from the group and appends it again.
   */
  knownDuplicates: Set<string>;
  /**
   * The highest seq appended per session (durable appends only), at most MAX_TRACKED_SESSIONS,
   * least recently seen dropped first: what a seq anomaly is judged against (see admit).
   */
  seqs: Map<string, number>;
  /**
   * Offsets of records the store refused as invalid when appended alone (a check parseBatch
   * missed): the next attempt appends them as InputRejected instead of retrying forever.
   */
  refused: Map<bigint, string>;
  /** A checkpoint the writer writes once nothing is pending: 'due' when the schedule says so, 'force' whenever entries are unsigned. */
  wantCheckpoint?: 'due' | 'force';
  /** The newest stored tile per tile level (the tree's right edge), so integrate() rarely reads the store. */
  edge: Map<number, Tile>;
  /** readTiles answers from `edge`, and from the store for anything else; what integrate() is given. */
  readTiles: TileReader;
  /** Runs of records the bus handed over, in offset order, not yet durable (see #accept). */
  pending: SourceRecord[][];
  /** Records in `pending`. */
  pendingCount: number;
  /** Bytes of the values of the records in `pending`. */
  pendingBytes: number;
  /** Entries of one append; halved when the store refuses a batch for its size. */
  appendLimit: number;
  /** The running writer loop, if any (see #drain). */
  writer?: Promise<void>;
  /** Handlers waiting for room in `pending`. */
  room: Array<() => void>;
};

/**
 * View is the log state a group is computed against: the durable state, or the state after the
 * groups in flight (`inflightIds` their eventIds, one set per group; `tiles` the newest tile per
 * level they wrote: the tree's right edge, which is all integrate() reads).
 */
type View = {
  size: number;
  root?: Hash;
  range?: CompactRange;
  checkpointedSize: number;
  checkpointedAt: number;
  inflightIds: readonly { size: number; ids: Set<string>; seqs: Map<string, number> }[];
  tiles: Map<number, Tile>;
};

/** Inflight is a prepared group whose append was issued (or needs none: only duplicates), not yet settled. */
type Inflight = { group: SourceRecord[]; prep: Prepared; append: Promise<void> };

/**
 * PIPELINE_DEPTH is how many appends a writer keeps issued to a store that orders them
 * (LogStore.ordersAppends): the store starts group N+1 the moment N committed, without waiting
 * for this thread to hear of it, while this thread prepares N+2.
 */
const PIPELINE_DEPTH = 2;

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * MAX_GROUP_BYTES bounds the value bytes of one append (at least one record): with
 * maxPendingBytes and PIPELINE_DEPTH it bounds the ledger's memory in bytes, whatever the
 * records' sizes.
 */
const MAX_GROUP_BYTES = 16 * 1024 * 1024;

const valueBytes = (records: readonly { value: Buffer }[]): number => {
  let n = 0;
  for (let i = 0; i < records.length; i++) n += records[i].value.length;
  return n;
};

/** MAX_TRACKED_SESSIONS bounds the per-log map of the highest seq per session (memory stays bounded under many sessions). */
const MAX_TRACKED_SESSIONS = 65_536;

/** Prepared is a group computed against its view, ready to append: the entries, tiles, checkpoint and the state after it. */
type Prepared = {
  view: View;
  parsed: Parsed[];
  duplicates: number;
  rejected: number;
  anomalies: number;
  seqs: Map<string, number>;
  now: number;
  entries: NewEntry[];
  tiles: readonly Tile[];
  size: number;
  root?: Hash;
  range?: CompactRange;
  checkpoint?: string;
};

/**
 * edgeReader serves tile reads from `edge`, the newest tile per level, and asks `fallback` for
 * the rest. As a log's reader, `edge` holds the tiles this ledger last wrote (only ever tiles of
 * appends that resolved) and the fallback is the store; #prepare layers the tiles of the groups
 * still in flight over that reader the same way. Correct because a stored tile only ever
 * grows with its prefix unchanged (the tile rule the store enforces): a cached tile at least as
 * wide as the id holds exactly the hashes the store would return. Saves the SQLite reads of the
 * right-edge tiles integrate() needs on every batch.
 */
function edgeReader(fallback: TileReader, edge: ReadonlyMap<number, Tile>): TileReader {
  return async (ids) => {
    const out: (Uint8Array | undefined)[] = new Array(ids.length);
    const missing: number[] = [];
    ids.forEach((id, i) => {
      const t = edge.get(id.level);
      if (t && t.id.index === id.index && t.id.width >= id.width) out[i] = t.data.subarray(0, id.width * 32);
      else missing.push(i);
    });
    if (missing.length > 0) {
      const got = await fallback(missing.map((i) => ids[i]));
      missing.forEach((i, k) => (out[i] = got[k]));
    }
    return out;
  };
}

/**
 * LedgerStats is a snapshot for metrics, tests and benchmarks. `pending` counts records the bus
 * handed over that are not yet durable (queued or being appended).
 */
export type LedgerStats = {
  appended: number;
  duplicates: number;
  rejected: number;
  anomalies: number;
  checkpoints: number;
  pending: number;
  logs: Record<string, number>;
};

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
  /** Set when stop() begins: handlers waiting for room in a full queue give up. */
  #closing = false;
  /** Set once the subscription is closed: the handler refuses batches and a failing writer gives up. */
  #stopping = false;
  readonly #stats: LedgerStats = { appended: 0, duplicates: 0, rejected: 0, anomalies: 0, checkpoints: 0, pending: 0, logs: {} };
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
      handler: (batch) => this.#accept(batch),
      onError: (err, batch) =>
        err instanceof ShutdownError
          ? this.#log?.debug({ topic: batch.topic, partition: batch.partition }, 'ledger stopping; batch left to the next start')
          : err instanceof BackpressureError
            ? this.#log?.warn(
                { topic: batch.topic, partition: batch.partition, pending: this.#stats.pending },
                'ledger is behind (appends slow or failing); the bus will deliver the batch again',
              )
            : this.#log?.error({ err, topic: batch.topic, partition: batch.partition }, 'ledger could not take the batch; the bus will deliver it again'),
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
          knownDuplicates: new Set(),
          seqs: new Map(),
          refused: new Map(),
          edge,
          readTiles: edgeReader((ids) => store.readTiles(ids), edge),
          pending: [],
          pendingCount: 0,
          pendingBytes: 0,
          appendLimit: this.options.maxAppendEntries,
          room: [],
        };
      })();
      this.#logs.set(id, p);
      p.catch(() => this.#logs.delete(id));
    }
    return p;
  }

  /**
   * #accept is the bus handler: it queues the batch's records for the log's writer and returns,
   * so the bus fetches the next batch while the writer appends (and what queued meanwhile is
   * appended together: group commit that grows with the backlog). It waits while the log already
   * holds `maxPendingEntries` records not yet durable, at most ROOM_WAIT_MS: then it refuses the
   * batch with BackpressureError, so the bus retries it later and keeps its group membership
   * alive meanwhile (a Kafka member blocked in its handler would miss its heartbeats).
   *
   * Resolving before the records are durable is sound because nothing treats a record as done
   * on the bus's word: the ledger resumes each partition from its own log tail (not committed
   * offsets), counts and `appended()` waiters settle only after the store append resolved, and
   * a record delivered twice (a redelivery after a rebalance, a restart) is dropped by eventId.
   */
  async #accept(batch: BusBatch): Promise<void> {
    if (this.#stopping) throw new ShutdownError('ledger is stopping');
    const st = await this.#open(batch.topic, batch.partition);
    const deadline = this.#clock.now() + ROOM_WAIT_MS;
    while (st.pendingCount >= this.options.maxPendingEntries || st.pendingBytes >= this.options.maxPendingBytes) {
      const left = deadline - this.#clock.now();
      if (left <= 0) throw new BackpressureError(`log ${st.id} holds ${st.pendingCount} records not yet appended`);
      await waitForRoom(st, left);
      if (this.#closing) throw new ShutdownError('ledger is stopping');
    }
    if (batch.records.length === 0) return;
    // A BusRecord is a SourceRecord (topic, partition, offset, key, value): no copy per record.
    st.pending.push(batch.records as readonly SourceRecord[] as SourceRecord[]);
    st.pendingCount += batch.records.length;
    st.pendingBytes += valueBytes(batch.records);
    this.#stats.pending += batch.records.length;
    this.#drain(st);
  }

  /**
   * #takeGroup removes up to `limit` of the oldest pending records, and at most MAX_GROUP_BYTES
   * of values (at least one record), whole runs where they fit: a burst of large records is
   * appended in several groups, so what is in flight stays bounded in bytes too.
   */
  #takeGroup(st: LogState, limit: number): SourceRecord[] {
    let n = 0;
    let bytes = 0;
    let runs = 0;
    let cut = 0;
    scan: for (; runs < st.pending.length; runs++) {
      const run = st.pending[runs];
      for (let i = 0; i < run.length; i++) {
        const size = run[i].value.length;
        if (n > 0 && (n >= limit || bytes + size > MAX_GROUP_BYTES)) {
          cut = i;
          break scan;
        }
        n++;
        bytes += size;
      }
    }
    let group: SourceRecord[];
    if (runs === 0) {
      group = st.pending[0].slice(0, cut);
      st.pending[0] = st.pending[0].slice(cut);
    } else {
      const whole = st.pending.splice(0, runs);
      if (cut > 0) {
        whole.push(st.pending[0].slice(0, cut));
        st.pending[0] = st.pending[0].slice(cut);
      }
      group = whole.length === 1 ? whole[0] : whole.flat();
    }
    st.pendingCount -= n;
    st.pendingBytes -= bytes;
    return group;
  }

  /** #putBack returns a group that was not written to the head of the queue, to be tried again. */
  #putBack(st: LogState, group: SourceRecord[]): void {
    st.pending.unshift(group);
    st.pendingCount += group.length;
    st.pendingBytes += valueBytes(group);
  }

  #wakeRoom(st: LogState): void {
    if ((st.pendingCount >= this.options.maxPendingEntries || st.pendingBytes >= this.options.maxPendingBytes) && !this.#closing) return;
    for (const w of st.room.splice(0)) w();
  }

  /**
   * #drain starts the log's writer unless it runs: it appends the pending records in offset
   * order, as many per append as are queued (up to `appendLimit`), until none are left; then
   * it writes the checkpoint asked for in `wantCheckpoint`, if any. The writer is the only code
   * that appends to a log.
   *
   * Pipelined: group N+1 is parsed, deduplicated, hashed and integrated against the state AFTER
   * the groups in flight (#viewAfter) while they are being written; their eventIds, not in the
   * store yet, are checked in memory, stored ones by the store itself (DuplicateEventIdError,
   * see #failed). A store that orders appends (LogStore.ordersAppends) gets up to PIPELINE_DEPTH
   * of them issued at once, any other store one at a time. State, counters and `appended()`
   * waiters move only as each append resolves, in order.
   *
   * A failure (of an append, or of preparing a group) puts back every group not yet durable, in
   * order (later groups were derived from the failed one; a later append fails by its
   * expectedSize without writing), and the writer goes on from the last durable state: at once
   * after duplicates were identified, after `retryBackoffMs` otherwise (the queue stays full, so
   * the bus handler waits: fail-closed). After stop() began, a failure ends the writer instead,
   * and the records it held are read from the bus again on the next start.
   */
  #drain(st: LogState): void {
    if (st.writer) return;
    st.writer = (async () => {
      const depth = st.store.ordersAppends === true ? PIPELINE_DEPTH : 1;
      const inflight: Inflight[] = [];
      let ready: { group: SourceRecord[]; prep: Prepared } | undefined;
      for (;;) {
        let failure: { err: unknown } | undefined;
        if (!ready && st.pendingCount > 0) {
          // One event-loop turn before a group that is not full yet, when nothing is being
          // written: deliveries the bus has ready land first, so a backlog goes out in few large
          // appends (several times fewer commits for a backlog in bench/ledger.ts), at the cost of
          // one turn of latency for a lone event.
          if (inflight.length === 0 && st.pendingCount < st.appendLimit) await nextTurn();
          const view = inflight.length > 0 ? this.#viewAfter(st, inflight[inflight.length - 1].prep) : this.#durableView(st);
          const untilCheckpoint = this.#schedule.everyEntries - (view.size - view.checkpointedSize);
          const group = this.#takeGroup(st, Math.max(1, Math.min(st.appendLimit, untilCheckpoint)));
          try {
            ready = { group, prep: await this.#prepare(st, group, view) };
          } catch (err) {
            this.#putBack(st, group);
            failure = { err };
          }
        }
        if (!failure && ready && inflight.length < depth) {
          const { group, prep } = ready;
          ready = undefined;
          inflight.push({ group, prep, append: prep.entries.length === 0 && !prep.checkpoint ? RESOLVED : this.#issue(st, prep) });
          continue;
        }
        if (!failure && inflight.length === 0) {
          // Nothing pending, nothing in flight: the checkpoint asked for, if still needed.
          const prep = await this.#checkpointGroup(st).catch((err: unknown) => {
            failure = { err };
            return undefined;
          });
          if (prep) {
            inflight.push({ group: [], prep, append: this.#issue(st, prep) });
            continue;
          }
          if (!failure) break;
        }
        if (!failure) {
          const done = inflight[0];
          try {
            await done.append;
            inflight.shift();
            this.#applied(st, done.prep, done.group.length);
            continue;
          } catch (err) {
            failure = { err };
          }
        }
        // Everything not durable goes back to the head of the queue, in order; the ready group
        // was taken last, so it goes back first. Appends still in flight settle first: one
        // issued before the failure may still have succeeded.
        if (ready) this.#putBack(st, ready.group);
        ready = undefined;
        const back: Inflight[] = [];
        for (const x of inflight.splice(0)) {
          if (back.length === 0) {
            const ok = await x.append.then(
              () => true,
              () => false,
            );
            if (ok) {
              this.#applied(st, x.prep, x.group.length);
              continue;
            }
          } else {
            await x.append.catch(() => {});
          }
          back.push(x);
        }
        for (let i = back.length - 1; i >= 0; i--) {
          const b = back[i];
          if (b.group.length > 0) this.#putBack(st, b.group);
          // A checkpoint-only append that did not land is asked for again.
          else if (b.prep.checkpoint) st.wantCheckpoint ??= 'force';
        }
        if (await this.#failed(st, failure.err, back)) continue;
        break;
      }
    })().finally(() => {
      st.writer = undefined;
      this.#wakeRoom(st);
      // A record (or a checkpoint request) that came between the loop's last check and here.
      if ((st.pendingCount > 0 || st.wantCheckpoint) && !this.#stopping) this.#drain(st);
    });
  }

  /** #issue hands a prepared group to the store. */
  #issue(st: LogState, p: Prepared): Promise<void> {
    return st.store.append({ entries: p.entries, tiles: p.tiles, ...(p.checkpoint ? { checkpoint: p.checkpoint } : {}) }, p.view.size);
  }

  /**
   * #failed handles a failed group: true to go on (retry, split, or drop duplicates the store
   * named), false to end the writer (stopping). `back` are the groups put back, oldest first.
   */
  async #failed(st: LogState, err: unknown, back: readonly Inflight[]): Promise<boolean> {
    const first = back[0];
    if (err instanceof BatchTooLargeError && first && first.group.length > 1) {
      st.appendLimit = Math.ceil(first.group.length / 2);
      this.#log?.warn({ log: st.id, entries: first.group.length, limit: st.appendLimit }, 'the store refused an append for its size; splitting it');
      return true;
    }
    if (err instanceof LedgerInputInvalidError && first && !this.#stopping) {
      // Deterministic: the same group fails the same way forever. Narrow it down to the record
      // (halving), then append that record as InputRejected: a record never stalls a partition.
      if (first.group.length > 1) {
        st.appendLimit = Math.ceil(first.group.length / 2);
        this.#log?.warn({ err, log: st.id, entries: first.group.length, limit: st.appendLimit }, 'the store refused an append as invalid; narrowing it down');
        return true;
      }
      const r = first.group[0];
      if (r && !st.refused.has(r.offset) && first.prep.entries.some((e) => e.kind === 'event')) {
        st.refused.set(r.offset, (err as Error).message);
        st.appendLimit = this.options.maxAppendEntries;
        this.#log?.warn({ err, log: st.id, offset: String(r.offset) }, 'the store refused the entry of this record; appending it as InputRejected');
        return true;
      }
    }
    if (err instanceof DuplicateEventIdError && first && !this.#stopping) {
      // The store holds some of these ids (a producer retry, a redelivery): learn which, and
      // append the group again without them. Rare, so the common path asks the store nothing.
      const found = await st.store.hasEventIds(first.prep.parsed.map((p) => p.eventId)).catch(() => new Set<string>());
      for (const id of found) st.knownDuplicates.add(id);
      if (found.size > 0) {
        this.#log?.info({ log: st.id, duplicates: found.size }, 'dropping events the log already holds');
        return true;
      }
    }
    this.#log?.error({ err, log: st.id, pending: st.pendingCount }, 'ledger append failed; the records will be retried');
    if (this.#stopping) {
      this.#log?.warn({ log: st.id, dropped: st.pendingCount }, 'stopping: records not appended are read from the bus again on the next start');
      this.#stats.pending -= st.pendingCount;
      st.pending.length = 0;
      st.pendingCount = 0;
      st.pendingBytes = 0;
      st.wantCheckpoint = undefined;
      return false;
    }
    if (err instanceof ExpectedSizeConflictError)
      await this.#resync(st).catch((e: unknown) => this.#log?.error({ err: e, log: st.id }, 'could not re-read the log'));
    await sleep(this.options.retryBackoffMs);
    return true;
  }

  /**
   * #resync re-reads the log's state from the store after it was found at another size than
   * this writer thought (an append whose outcome was unknown did land, or, wrongly, a second
   * writer appended): the retry is then computed against what is really stored, and events
   * already there are dropped as duplicates by the store's check.
   */
  async #resync(st: LogState): Promise<void> {
    const tail = await st.store.tail();
    st.edge.clear();
    const { root, range } = await integrate(st.readTiles, tail.size, []);
    const latest = await st.store.latestCheckpoint();
    this.#log?.warn({ log: st.id, thought: st.size, stored: tail.size }, 'the log is not at the size this writer expected; continuing from the stored state');
    st.size = tail.size;
    st.root = root;
    st.range = range;
    st.checkpointedSize = latest ? Number(latest.split('\n')[1]) : 0;
    this.#stats.logs[st.id] = st.size;
  }

  /** #flush resolves once the log's writer has nothing left (written, or dropped at stop). */
  async #flush(st: LogState): Promise<void> {
    while (st.writer) await st.writer;
  }

  /** #durableView is the log's state as of its last append that resolved. */
  #durableView(st: LogState): View {
    return {
      size: st.size,
      root: st.root,
      range: st.range,
      checkpointedSize: st.checkpointedSize,
      checkpointedAt: st.checkpointedAt,
      inflightIds: [],
      tiles: new Map(),
    };
  }

  /** #viewAfter is the log's state once `prep`'s append (and every one before it) resolves: what the next group is computed against. */
  #viewAfter(st: LogState, prep: Prepared): View {
    const tiles = new Map(prep.view.tiles);
    for (const t of prep.tiles) {
      const had = tiles.get(t.id.level);
      if (!had || t.id.index > had.id.index || (t.id.index === had.id.index && t.id.width >= had.id.width)) tiles.set(t.id.level, t);
    }
    const ids = new Set<string>();
    for (const e of prep.entries) ids.add(e.eventId);
    const seqs = prep.seqs;
    return {
      size: prep.size,
      root: prep.root,
      range: prep.range,
      checkpointedSize: prep.checkpoint ? prep.size : prep.view.checkpointedSize,
      checkpointedAt: prep.checkpoint ? prep.now : prep.view.checkpointedAt,
      // Only groups not durable yet: the store's own check covers the others.
      inflightIds: [...prep.view.inflightIds.filter((g) => g.size > st.size), ...(ids.size > 0 ? [{ size: prep.size, ids, seqs }] : [])],
      tiles,
    };
  }

  /** #prepare computes a group's append against its view: parse, dedupe, DLQ, leaves, tiles, checkpoint. Writes nothing to the store. */
  async #prepare(st: LogState, group: SourceRecord[], view: View): Promise<Prepared> {
    const parsed = parseBatch(group, this.#codec);
    if (st.refused.size > 0) {
      for (let i = 0; i < parsed.length; i++) {
        const why = st.refused.get(parsed[i].record.offset);
        if (why !== undefined)
          parsed[i] = { record: parsed[i].record, eventId: rejectedId(parsed[i].record), failure: { code: 'AFF_E_LEDGER_ENTRY_REFUSED', reason: why } };
      }
    }
    // Ids of the groups in flight are not in the store yet; stored ones the store named earlier.
    const known = new Set<string>();
    const groups = view.inflightIds;
    if (groups.length > 0 || st.knownDuplicates.size > 0) {
      for (let i = 0; i < parsed.length; i++) {
        const id = parsed[i].eventId;
        let dup = st.knownDuplicates.has(id);
        for (let g = 0; g < groups.length && !dup; g++) dup = groups[g].ids.has(id);
        if (dup) known.add(id);
      }
    }
    const now = this.#clock.now();
    // The highest seq per session: the groups in flight (newest first), then what is durable.
    const lastSeq = (session: string): number | undefined => {
      for (let g = groups.length - 1; g >= 0; g--) {
        const v = groups[g].seqs.get(session);
        if (v !== undefined) return v;
      }
      return st.seqs.get(session);
    };
    const { admitted, duplicates, anomalies, seqs } = admit(parsed, this.#codec, known, now, lastSeq);
    const base = { view, parsed, duplicates, anomalies, seqs, now, size: view.size, root: view.root, range: view.range };
    if (admitted.length === 0) return { ...base, entries: [], tiles: [], rejected: 0 };
    const rejected = admitted.filter((a) => a.raw !== undefined);
    if (rejected.length > 0) {
      // Raw bytes (or, when the DLQ cannot take them, their digest and a prefix) reach the DLQ
      // before the entry that names them is written; a retry may publish twice, never zero times.
      await publishDeadLetters(this.#bus, this.options.dlqTopic, rejected, this.#log);
    }
    // Admitted records are NewEntry-shaped (admit builds them so): no second object per entry.
    const entries: NewEntry[] = admitted;
    const leaves: Hash[] = new Array(admitted.length);
    for (let i = 0; i < admitted.length; i++) leaves[i] = hashLeaf(admitted[i].bytes);
    // The groups in flight wrote the tree's right edge; the store (and `edge`) do not have it yet.
    const reader: TileReader = view.tiles.size === 0 ? st.readTiles : edgeReader(st.readTiles, view.tiles);
    const result = await integrate(reader, view.size, leaves, view.range);
    const due = checkpointDue({ size: result.size, checkpointedSize: view.checkpointedSize, checkpointedAt: view.checkpointedAt }, now, this.#schedule);
    const checkpoint = due ? await this.#sign(st, result.size, result.root) : undefined;
    return {
      ...base,
      entries,
      tiles: result.tiles,
      rejected: rejected.length,
      size: result.size,
      root: result.root,
      range: result.range,
      ...(checkpoint ? { checkpoint } : {}),
    };
  }

  /** #checkpointGroup is the entry-less append of the checkpoint `wantCheckpoint` asks for, or undefined when none is needed now. */
  async #checkpointGroup(st: LogState): Promise<Prepared | undefined> {
    const want = st.wantCheckpoint;
    st.wantCheckpoint = undefined;
    if (want === undefined) return undefined;
    const now = this.#clock.now();
    const state = { size: st.size, checkpointedSize: st.checkpointedSize, checkpointedAt: st.checkpointedAt };
    if (want === 'force' ? st.size <= st.checkpointedSize : !checkpointDue(state, now, this.#schedule)) return undefined;
    try {
      const { root, range } = st.root && st.range ? { root: st.root, range: st.range } : await integrate(st.readTiles, st.size, []);
      const checkpoint = await this.#sign(st, st.size, root);
      return {
        view: this.#durableView(st),
        parsed: [],
        duplicates: 0,
        rejected: 0,
        anomalies: 0,
        seqs: new Map(),
        now,
        entries: [],
        tiles: [],
        size: st.size,
        root,
        range,
        checkpoint,
      };
    } catch (err) {
      st.wantCheckpoint ??= want; // asked again on the retry
      throw err;
    }
  }

  /** #applied moves the log's state, counters, queue room and waiters once `p`'s append resolved (durable); `taken` records left the queue with it. */
  #applied(st: LogState, p: Prepared, taken: number): void {
    st.size = p.size;
    st.root = p.root;
    st.range = p.range;
    for (const t of p.tiles) st.edge.set(t.id.level, t);
    this.#stats.appended += p.entries.length;
    this.#stats.rejected += p.rejected;
    this.#stats.duplicates += p.duplicates;
    this.#stats.anomalies += p.anomalies;
    for (const [session, seq] of p.seqs) {
      st.seqs.delete(session);
      st.seqs.set(session, seq);
      if (st.seqs.size > MAX_TRACKED_SESSIONS) st.seqs.delete(st.seqs.keys().next().value!);
    }
    if (st.refused.size > 0) for (const r of p.parsed) st.refused.delete(r.record.offset);
    this.#stats.logs[st.id] = st.size;
    if (p.checkpoint) this.#checkpointed(st, p.checkpoint, p.now);
    if (st.knownDuplicates.size > 0) for (const x of p.parsed) st.knownDuplicates.delete(x.eventId);
    this.#stats.pending -= taken;
    this.#wakeRoom(st);
    this.#settle(p.parsed);
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
   * appended resolves once every given event id has been durably appended by this ledger AFTER
   * the call: call it before publishing the events (an id appended earlier never resolves it).
   * The embedded mode acknowledges a command's event with it: an in-process bus is not durable,
   * the ledger's SQLite file is. Rejects after `timeoutMs`.
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
      await this.#bus.publish(
        this.options.checkpointsTopic,
        batch.map((c) => ({ key: c.key, value: Buffer.from(c.note) })),
      );
    } catch (err) {
      // Kept and retried on the next tick: the copy outside the system is what makes a rollback detectable.
      this.#unpublished.unshift(...batch);
      this.#log?.warn({ err, pending: this.#unpublished.length }, 'checkpoint publication failed; will retry');
    }
  }

  /**
   * checkpointNow has every log with entries since its last checkpoint write one (`force`), or
   * only those the schedule says are due, and resolves once each log's writer is done. The writer
   * writes it (it is the only code that appends), after what is queued.
   */
  async checkpointNow(force = true): Promise<void> {
    for (const p of this.#logs.values()) {
      const st = await p.catch(() => undefined);
      if (!st) continue;
      st.wantCheckpoint = force ? 'force' : (st.wantCheckpoint ?? 'due');
      this.#drain(st);
      await this.#flush(st);
    }
  }

  /**
   * #checkpointDueLogs (the timer) asks idle writers for the checkpoints the schedule says are
   * due; a busy writer checkpoints on schedule as it prepares groups.
   */
  async #checkpointDueLogs(): Promise<void> {
    const now = this.#clock.now();
    for (const p of this.#logs.values()) {
      const st = await p.catch(() => undefined);
      if (!st || st.writer || this.#stopping) continue;
      if (!checkpointDue({ size: st.size, checkpointedSize: st.checkpointedSize, checkpointedAt: st.checkpointedAt }, now, this.#schedule)) continue;
      st.wantCheckpoint ??= 'due';
      this.#drain(st);
    }
    await this.#publishCheckpoints();
  }

  /**
   * stop stops consuming, appends every record already handed over (a failing append is tried
   * once more, then left to the next start), writes a final checkpoint per log and publishes it.
   */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#closing = true;
    // Handlers waiting for room give up (the bus delivers those records again on the next start).
    for (const p of this.#logs.values()) {
      const st = await p.catch(() => undefined);
      if (st) this.#wakeRoom(st);
    }
    await this.#sub?.close();
    this.#stopping = true;
    // Everything the bus handed over is appended before the final checkpoint.
    for (const p of this.#logs.values()) {
      const st = await p.catch(() => undefined);
      if (st) await this.#flush(st);
    }
    await this.checkpointNow(true);
    await this.#publishCheckpoints();
  }
}
