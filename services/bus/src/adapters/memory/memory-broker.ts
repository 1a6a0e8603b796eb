// An in-process broker with Kafka's model: topics of partitions, offsets per partition,
// consumer groups whose members split the partitions, committed offsets per group.
// Used by the embedded mode and as the reference adapter in the bus contract tests.
import type { Clock } from '@affidavit/common';

/** StoredRecord is a record as the memory broker keeps it. */
export type StoredRecord = {
  readonly offset: bigint;
  readonly key: string;
  readonly value: Buffer;
  readonly timestamp: number;
  readonly headers: Readonly<Record<string, Buffer>>;
};

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
  /** available is false after setAvailable(false): publishes fail as if the broker were down. */
  readonly available: boolean;
  setAvailable(up: boolean): void;
  createTopic(topic: string, partitions: number): void;
  partitions(topic: string): number | undefined;
  append(topic: string, partition: number, records: ReadonlyArray<Omit<StoredRecord, 'offset' | 'timestamp'>>): void;
  read(topic: string, partition: number, from: bigint, max: number): readonly StoredRecord[];
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

const tp = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** createMemoryBroker returns an empty in-process broker. */
export function createMemoryBroker(opts: { clock: Clock }): MemoryBroker {
  const topics = new Map<string, StoredRecord[][]>();
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

  return {
    clock: opts.clock,
    get available() {
      return available;
    },
    setAvailable(up) {
      available = up;
      notify();
    },
    createTopic(topic, partitions) {
      if (topics.has(topic)) return;
      topics.set(topic, Array.from({ length: partitions }, () => []));
      // Members subscribed before the topic existed get its partitions now (Kafka: metadata refresh).
      for (const g of groups.values()) if ([...g.members.values()].some((m) => m.topics.includes(topic))) rebalance(g);
    },
    partitions: (topic) => topics.get(topic)?.length,
    append(topic, partition, records) {
      const log = topics.get(topic)![partition];
      const timestamp = opts.clock.now();
      for (const r of records) log.push({ key: r.key, value: r.value, headers: r.headers, offset: BigInt(log.length), timestamp });
      notify();
    },
    read(topic, partition, from, max) {
      const log = topics.get(topic)?.[partition] ?? [];
      const start = Number(from < 0n ? 0n : from);
      return log.slice(start, start + max);
    },
    onAppend(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    join(group, member) {
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
    },
    async lock(group, topic, partition, fn) {
      const g = groupOf(group);
      const k = tp(topic, partition);
      const prev = g.locks.get(k) ?? Promise.resolve();
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
