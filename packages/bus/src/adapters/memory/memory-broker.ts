// An in-process broker with Kafka's model: topics of partitions, offsets per partition,
// consumer groups whose members split the partitions, committed offsets per group.
// Used by the embedded mode and as the reference adapter in the bus contract tests.
//
// Retention (the broker lives as long as the process, so it MUST NOT keep every record):
// - A record is released once every consumer group that ever subscribed to its topic (in this
//   broker's life) committed past it. Memory goes back in whole segments (see partition-log.ts),
//   so up to two segments of already-consumed records stay readable (a group may re-read a little
//   behind its committed offset, as the ledger's startOffsets hook does).
// - A partition of a topic that some group subscribed to never drops an unconsumed record: past
//   the bound, publish is refused with BackpressureError (see assertRoom) and the caller — the
//   recorder — treats the events as not recorded (sync mode refuses the command, async mode
//   buffers, then refuses). An audit record is refused, never silently lost.
// - A topic no group has ever subscribed to (in embedded mode: the DLQ and checkpoint topics,
//   whose durable copies live in the ledger's store) is kept up to the bound, then its OLDEST
//   sealed segments are dropped, counted in stats() and logged (see MemoryRetentionOptions).
// Releasing on commit is safe for the embedded ledger although its handler resolves (and the bus
// commits) before the SQLite append: the ledger keeps the delivered records (its own copies) in
// its pending queue until they are durable, flushes them on stop(), and the embedded recorder's
// acknowledgement waits for ledger.appended(). A crash loses the in-memory bus either way.
import { BackpressureError, createLogger, validateOptions, type Clock, type Logger } from '@affidavit/common';
import { PartitionLog, recordBytes, type StoredRecord } from './partition-log.ts';

export type { StoredRecord } from './partition-log.ts';

/**
 * MemoryRetentionOptions bounds what one partition of the in-process broker holds.
 *
 * Security note: the bounds never cost an audit record that a consumer is meant to read. On a
 * topic some group has subscribed to, a partition at the bound refuses further publishes
 * (BackpressureError, retriable: the proxies fail closed) until the slowest group catches up.
 * Only on a topic NO group has ever subscribed to are the oldest records dropped past the bound
 * — nobody in this process would ever read them — and every drop is counted
 * (stats().droppedUnread) and logged at warn level (the first drop, then once per `dropLogEvery`
 * dropped records), so a drop is never silent. A group subscribing later starts at the oldest
 * retained record and its subscriber logs how many it missed.
 */
export type MemoryRetentionOptions = {
  /** maxRetainedBytes bounds the accounted bytes (key + value + headers + ~128 B overhead per record) of one partition. Default 64 MiB. */
  maxRetainedBytes?: number;
  /** maxRetainedRecords bounds the records of one partition. Default 1 000 000. */
  maxRetainedRecords?: number;
  /** dropLogEvery logs a warning every this many records dropped from unsubscribed topics (the first drop is always logged). Default 10 000. */
  dropLogEvery?: number;
};

/** DEFAULT_MAX_RETAINED_BYTES is the default per-partition byte bound of the in-process broker. */
export const DEFAULT_MAX_RETAINED_BYTES = 64 * 1024 * 1024;
/** DEFAULT_MAX_RETAINED_RECORDS is the default per-partition record bound of the in-process broker. */
export const DEFAULT_MAX_RETAINED_RECORDS = 1_000_000;

const retentionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxRetainedBytes: { type: 'integer', minimum: 1024, maximum: 2 ** 40, default: DEFAULT_MAX_RETAINED_BYTES },
    maxRetainedRecords: { type: 'integer', minimum: 1, maximum: 2 ** 40, default: DEFAULT_MAX_RETAINED_RECORDS },
    dropLogEvery: { type: 'integer', minimum: 1, maximum: 2 ** 40, default: 10_000 },
  },
};

/** MemoryBrokerStats counts what retention did since the broker was created. */
export type MemoryBrokerStats = {
  /** released is how many records were freed after every subscribed group committed past them. */
  released: number;
  /** droppedUnread is how many records of never-subscribed topics were dropped at the bound. */
  droppedUnread: number;
  /** refusedPublishes is how many publishes were refused because a partition was at its bound. */
  refusedPublishes: number;
};

/** PartitionBounds describes what one partition retains; offsets are absolute. */
export type PartitionBounds = { readonly start: bigint; readonly end: bigint; readonly records: number; readonly bytes: number };

/** GroupMember is one subscriber as the group coordinator sees it. */
export type GroupMember = {
  readonly id: number;
  readonly topics: readonly string[];
  /** assigned is called with the member's new partitions after every rebalance. */
  assigned(partitions: ReadonlyArray<readonly [topic: string, partition: number]>, generation: number): void;
};

type Group = {
  generation: number;
  readonly members: Map<number, GroupMember>;
  readonly committed: Map<string, bigint>;
  /** locks serialise delivery of a partition across members during a hand-over. */
  readonly locks: Map<string, Promise<void>>;
};

/** MemoryBroker is the shared state behind one or more memory buses (one per "client"). */
export type MemoryBroker = {
  readonly clock: Clock;
  /** logger receives retention warnings (drops, resumes below the retained start). */
  readonly logger: Logger;
  /** available is false after setAvailable(false): publishes fail as if the broker were down. */
  readonly available: boolean;
  setAvailable(up: boolean): void;
  createTopic(topic: string, partitions: number): void;
  partitions(topic: string): number | undefined;
  append(topic: string, partition: number, records: ReadonlyArray<Pick<StoredRecord, 'key' | 'value' | 'headers'>>): void;
  /**
   * read returns up to `max` records from offset `from`. A `from` below the partition's retained
   * start reads from the start (Kafka's auto.offset.reset=earliest): check the first offset.
   */
  read(topic: string, partition: number, from: bigint, max: number): readonly StoredRecord[];
  /** bounds returns what one partition retains (start/end offsets, records, accounted bytes). */
  bounds(topic: string, partition: number): PartitionBounds;
  /** end is the offset after the partition's last record (0 for an unknown partition): a consumer is caught up at it. */
  end(topic: string, partition: number): number;
  /**
   * assertRoom throws BackpressureError when `partition` of a topic that some group subscribed to
   * is at its retention bound (its slowest group has not consumed it). Publishers call it for
   * every partition BEFORE appending anything, so a refused publish wrote nothing.
   */
  assertRoom(topic: string, partition: number): void;
  /** stats returns the retention counters. */
  stats(): MemoryBrokerStats;
  /** onAppend registers a listener called after every append (and availability change); returns its remover. */
  onAppend(fn: () => void): () => void;
  join(group: string, member: GroupMember): void;
  leave(group: string, memberId: number): void;
  committed(group: string, topic: string, partition: number): bigint | undefined;
  commit(group: string, topic: string, partition: number, next: bigint): void;
  /** lock runs `fn` while holding the group's lock on one partition (FIFO). */
  lock<T>(group: string, topic: string, partition: number, fn: () => Promise<T>): Promise<T>;
  nextMemberId(): number;
};

const tpCache = new Map<string, string[]>();
/**
 * tp is the map key of a (topic, partition): built once per pair and reused, since building a
 * fresh string (and hashing it) on every lock, commit and delivery showed in the proxy's profile.
 * Bounded: past 10 000 topics it starts over.
 */
export function tp(topic: string, partition: number): string {
  let keys = tpCache.get(topic);
  if (keys === undefined) {
    if (tpCache.size >= 10_000) tpCache.clear();
    tpCache.set(topic, (keys = []));
  }
  return (keys[partition] ??= `${topic}\u0000${partition}`);
}

/**
 * createMemoryBroker returns an empty in-process broker. `opts.retention` bounds each partition
 * (see MemoryRetentionOptions); `opts.logger` defaults to a logger named "memory-broker",
 * created on first use.
 */
export function createMemoryBroker(opts: { clock: Clock; logger?: Logger; retention?: MemoryRetentionOptions }): MemoryBroker {
  const retention = validateOptions<Required<MemoryRetentionOptions>>(retentionSchema, opts.retention ?? {}, { name: 'memory broker retention options' });
  let logger = opts.logger;
  const log = () => (logger ??= createLogger({ name: 'memory-broker' }));
  const topics = new Map<string, PartitionLog[]>();
  // Groups that ever subscribed to a topic (never forgotten: a group that left may come back
  // and resume from its committed offset, so its records MUST stay until it committed them).
  const subscribers = new Map<string, Set<string>>();
  const stats: MemoryBrokerStats = { released: 0, droppedUnread: 0, refusedPublishes: 0 };
  let droppedAtLastLog = 0;
  const groups = new Map<string, Group>();
  const listeners = new Set<() => void>();
  let available = true;
  let memberSeq = 0;
  const notify = () => {
    // Copied so a listener may remove itself; skipped when nobody listens (a publish-only bus).
    if (listeners.size > 0) for (const fn of [...listeners]) fn();
  };

  const groupOf = (name: string): Group => {
    let g = groups.get(name);
    if (!g) {
      g = { generation: 0, members: new Map(), committed: new Map(), locks: new Map() };
      groups.set(name, g);
    }
    return g;
  };

  // Assignment: every partition of every subscribed topic, in (topic, partition) order,
  // dealt round-robin to the members that subscribe to its topic, members in join order.
  const rebalance = (g: Group) => {
    g.generation++;
    const members = [...g.members.values()].sort((a, b) => a.id - b.id);
    const out = new Map<number, Array<readonly [string, number]>>(members.map((m) => [m.id, []]));
    const allTopics = [...new Set(members.flatMap((m) => m.topics))].sort();
    for (const t of allTopics) {
      const n = topics.get(t)?.length ?? 0;
      const candidates = members.filter((m) => m.topics.includes(t));
      for (let p = 0; p < n; p++) out.get(candidates[p % candidates.length].id)!.push([t, p]);
    }
    for (const m of members) m.assigned(out.get(m.id)!, g.generation);
  };

  const logOf = (topic: string, partition: number): PartitionLog => {
    const l = topics.get(topic)?.[partition];
    if (!l) throw new RangeError(`no partition ${partition} of topic ${topic}`);
    return l;
  };

  /** slowest returns the subscribed group with the lowest committed offset of (topic, partition), and that offset. */
  const slowest = (topic: string, partition: number, groupNames: ReadonlySet<string>): [string, number] => {
    let name = '';
    let low = Infinity;
    const k = tp(topic, partition);
    for (const gname of groupNames) {
      const c = groups.get(gname)?.committed.get(k);
      const at = c === undefined ? 0 : Number(c);
      if (at < low) {
        low = at;
        name = gname;
      }
    }
    return [name, low];
  };

  /** release frees the segments of (topic, partition) that every subscribed group has committed past. */
  const release = (topic: string, partition: number, committedNext: bigint) => {
    const names = subscribers.get(topic);
    const l = topics.get(topic)?.[partition];
    // Cheap exit first: nothing is releasable unless this commit passed the oldest sealed segment.
    if (!names || !l || Number(committedNext) < l.firstSealedEnd()) return;
    stats.released += l.releaseBefore(slowest(topic, partition, names)[1]);
  };

  /** dropUnread enforces the bound on a topic no group ever subscribed to: oldest sealed segments go, counted and logged. */
  const dropUnread = (topic: string, partition: number, l: PartitionLog) => {
    let dropped = 0;
    while (l.bytes > retention.maxRetainedBytes || l.records > retention.maxRetainedRecords) {
      const n = l.dropOldestSealed();
      if (n === 0) break;
      dropped += n;
    }
    if (dropped === 0) return;
    const first = stats.droppedUnread === 0;
    stats.droppedUnread += dropped;
    if (first || stats.droppedUnread - droppedAtLastLog >= retention.dropLogEvery) {
      droppedAtLastLog = stats.droppedUnread;
      log().warn(
        {
          topic,
          partition,
          droppedTotal: stats.droppedUnread,
          retainedStart: l.start,
          maxRetainedBytes: retention.maxRetainedBytes,
          maxRetainedRecords: retention.maxRetainedRecords,
        },
        'in-process bus: dropped the oldest records of a topic no consumer group has subscribed to (retention bound reached)',
      );
    }
  };

  return {
    clock: opts.clock,
    get logger() {
      return log();
    },
    get available() {
      return available;
    },
    setAvailable(up) {
      available = up;
      notify();
    },
    createTopic(topic, partitions) {
      if (topics.has(topic)) return;
      topics.set(
        topic,
        Array.from({ length: partitions }, (_, p) => new PartitionLog(topic, p)),
      );
      // Members subscribed before the topic existed get its partitions now (Kafka: metadata refresh).
      for (const g of groups.values()) if ([...g.members.values()].some((m) => m.topics.includes(topic))) rebalance(g);
    },
    partitions: (topic) => topics.get(topic)?.length,
    append(topic, partition, records) {
      const l = logOf(topic, partition);
      const timestamp = opts.clock.now();
      for (const r of records) l.append(r.key, r.value, r.headers, timestamp, recordBytes(r));
      if (!subscribers.has(topic)) dropUnread(topic, partition, l);
      notify();
    },
    read(topic, partition, from, max) {
      const l = topics.get(topic)?.[partition];
      return l ? l.read(Number(from < 0n ? 0n : from), max) : [];
    },
    end(topic, partition) {
      return topics.get(topic)?.[partition]?.end ?? 0;
    },
    bounds(topic, partition) {
      const l = logOf(topic, partition);
      return { start: BigInt(l.start), end: BigInt(l.end), records: l.records, bytes: l.bytes };
    },
    assertRoom(topic, partition) {
      const names = subscribers.get(topic);
      // Unsubscribed topics make room by dropping (dropUnread); nothing to refuse.
      if (!names) return;
      const l = logOf(topic, partition);
      // Fast path: what is retained (a superset of the backlog) is within the bounds.
      if (l.bytes < retention.maxRetainedBytes && l.records < retention.maxRetainedRecords) return;
      // The bound is on the UNCONSUMED backlog: consumed records waiting for their segment to be
      // released (at most two segments) do not count against it.
      const [group, at] = slowest(topic, partition, names);
      const records = l.end - Math.max(at, l.start);
      const bytes = l.bytesFrom(at);
      if (bytes < retention.maxRetainedBytes && records < retention.maxRetainedRecords) return;
      stats.refusedPublishes++;
      throw new BackpressureError(
        `partition ${partition} of ${topic} holds ${records} records (${bytes} bytes; bounds ${retention.maxRetainedRecords} records, ${retention.maxRetainedBytes} bytes) that consumer group ${group} has not consumed (committed ${at}, end ${l.end}); refused rather than dropped`,
      );
    },
    stats: () => ({ ...stats }),
    onAppend(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    join(group, member) {
      for (const t of member.topics) {
        let names = subscribers.get(t);
        if (!names) subscribers.set(t, (names = new Set()));
        names.add(group);
      }
      const g = groupOf(group);
      g.members.set(member.id, member);
      rebalance(g);
    },
    leave(group, memberId) {
      const g = groupOf(group);
      if (g.members.delete(memberId)) rebalance(g);
    },
    committed: (group, topic, partition) => groupOf(group).committed.get(tp(topic, partition)),
    commit(group, topic, partition, next) {
      groupOf(group).committed.set(tp(topic, partition), next);
      release(topic, partition, next);
    },
    async lock(group, topic, partition, fn) {
      const g = groupOf(group);
      const k = tp(topic, partition);
      const prev = g.locks.get(k);
      if (prev === undefined) {
        // Uncontended (the common case: one member per group): no chain to wait on.
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        g.locks.set(k, held);
        try {
          return await fn();
        } finally {
          release();
          if (g.locks.get(k) === held) g.locks.delete(k);
        }
      }
      let release!: () => void;
      const mine = new Promise<void>((r) => (release = r));
      const chained = prev.then(() => mine);
      g.locks.set(k, chained);
      await prev;
      try {
        return await fn();
      } finally {
        release();
        if (g.locks.get(k) === chained) g.locks.delete(k);
      }
    },
    nextMemberId: () => ++memberSeq,
  };
}
