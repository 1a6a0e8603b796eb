// The in-process bus adapter (embedded mode): same semantics as the Kafka adapter, checked
// by the same contract suite. A bus is one client; buses sharing a MemoryBroker see one
// set of topics and groups (like two processes talking to one Kafka).
import { ConfigInvalidError, ShutdownError, systemClock, validateOptions, type Clock, type Logger } from '@affidavit/common';
import { BusTopicUnknownError, BusUnavailableError } from '../../errors.ts';
import { DEFAULT_MAX_VALUE_BYTES, DEFAULT_RETRY_BACKOFF_MS, sleep } from '../../options.ts';
import { partitionForKey } from '../../partition.ts';
import type { Bus, BusBatch, OutgoingRecord, PublishOptions, SubscribeOptions, Subscription } from '../../ports/bus.ts';
import { assertPartitions, assertRecords, assertTopicName } from '../../validate.ts';
import { createMemoryBroker, tp, type MemoryBroker, type MemoryRetentionOptions, type StoredRecord } from './memory-broker.ts';

/** MemoryBusOptions configures the in-process bus. */
export type MemoryBusOptions = {
  /** maxBatchRecords caps the records of one handler call. Default 500. */
  maxBatchRecords?: number;
  /** retryBackoffMs is the pause before a failed handler call is retried. Default 200. */
  retryBackoffMs?: number;
  /** maxValueBytes bounds one record's value. Default 1 MiB. */
  maxValueBytes?: number;
  /**
   * retention bounds each partition of the bus's own broker (see MemoryRetentionOptions: records
   * are released once every subscribed group committed them; a lagging group makes publish fail
   * with BackpressureError instead of losing records). Only valid when no `deps.broker` is given.
   */
  retention?: MemoryRetentionOptions;
};

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxBatchRecords: { type: 'integer', minimum: 1, maximum: 100_000, default: 500 },
    retryBackoffMs: { type: 'integer', minimum: 0, maximum: 60_000, default: DEFAULT_RETRY_BACKOFF_MS },
    maxValueBytes: { type: 'integer', minimum: 1, maximum: 64 * 1024 * 1024, default: DEFAULT_MAX_VALUE_BYTES },
    // Validated in full by createMemoryBroker.
    retention: { type: 'object' },
  },
};

/**
 * createMemoryBus returns an in-process Bus. `deps.broker` shares a broker between buses
 * (default: a new private one, bounded by `retention`); `deps.clock` stamps record timestamps;
 * `deps.logger` receives the private broker's retention warnings.
 */
export function createMemoryBus(input: MemoryBusOptions = {}, deps: { broker?: MemoryBroker; clock?: Clock; logger?: Logger } = {}): Bus {
  const opts = validateOptions<Required<MemoryBusOptions>>(schema, input, { name: 'memory bus options' });
  if (deps.broker && input.retention)
    throw new ConfigInvalidError('invalid memory bus options: retention belongs to the shared broker passed as deps.broker; set it there');
  const broker = deps.broker ?? createMemoryBroker({ clock: deps.clock ?? systemClock, logger: deps.logger, retention: input.retention });
  const subscriptions = new Set<Subscription>();
  const partitions = new PartitionCache();
  const knownTopics = new Set<string>();
  let closed = false;

  const open = () => {
    if (closed) throw new ShutdownError('the bus is closed');
  };
  const partitionsOrThrow = (topic: string) => {
    const n = broker.partitions(topic);
    if (n === undefined) throw new BusTopicUnknownError(`topic ${topic} does not exist; create it with ensureTopic()`);
    return n;
  };

  // store is publish done within the call (the broker is in this process); publish rejects
  // with what it throws.
  const store = (topic: string, records: readonly OutgoingRecord[], popts?: PublishOptions): void => {
    open();
    // A topic name is checked once: only names of existing topics are remembered (bounded).
    if (!knownTopics.has(topic)) assertTopicName(topic);
    assertRecords(records, opts.maxValueBytes);
    if (!broker.available) throw new BusUnavailableError('the in-process broker is unavailable');
    const n = partitionsOrThrow(topic);
    knownTopics.add(topic);
    // The broker keeps its own copy of every value and Buffer header (like Kafka, which never
    // shares the producer's buffers): one slab per call, sliced, instead of one allocation
    // each. String headers are kept as they are: a string cannot change.
    const transfer = popts?.transfer === true;
    const slab = new SlabWriter(records, transfer);
    // Group by partition keeping call order: per-key order follows from per-partition order.
    const byPartition: Array<Array<Pick<StoredRecord, 'key' | 'value' | 'headers'>> | undefined> = new Array(n);
    for (const r of records) {
      const p = partitions.of(r.key, n);
      const stored = { key: r.key, value: transfer ? r.value : slab.copy(r.value), headers: r.headers ? copyHeaders(r.headers, slab) : NO_HEADERS };
      // Push in place: copying the list per record made a batch quadratic in its size.
      const list = byPartition[p];
      if (list) list.push(stored);
      else byPartition[p] = [stored];
    }
    // Every partition is checked before any is written: a refused publish stored nothing.
    for (let p = 0; p < n; p++) if (byPartition[p]) broker.assertRoom(topic, p);
    for (let p = 0; p < n; p++) {
      const rs = byPartition[p];
      if (rs) broker.append(topic, p, rs);
    }
  };

  return {
    async publish(topic: string, records: readonly OutgoingRecord[], popts?: PublishOptions) {
      store(topic, records, popts);
    },

    async subscribe(sub: SubscribeOptions) {
      open();
      for (const t of sub.topics) {
        assertTopicName(t);
        partitionsOrThrow(t);
      }
      const s = subscribeMember(broker, sub, opts);
      subscriptions.add(s);
      return {
        close: async () => {
          subscriptions.delete(s);
          await s.close();
        },
      };
    },

    async ensureTopic(topic: string, partitions: number) {
      open();
      assertTopicName(topic);
      assertPartitions(partitions);
      broker.createTopic(topic, partitions);
    },

    async partitionsOf(topic: string) {
      open();
      assertTopicName(topic);
      return partitionsOrThrow(topic);
    },

    async close() {
      closed = true;
      await Promise.all([...subscriptions].map((s) => s.close()));
      subscriptions.clear();
    },
  };
}

const key = tp;

/** PARTITION_CACHE_KEYS bounds PartitionCache: past it the cache starts over (keys are session ids). */
export const PARTITION_CACHE_KEYS = 65_536;

/**
 * PartitionCache remembers partitionForKey per key: a session publishes many events under one
 * key, and murmur2 over its UTF-8 bytes (plus the Buffer made for them) was paid per record.
 * It MUST answer exactly what partitionForKey answers.
 */
export class PartitionCache {
  #n = 0;
  readonly #byKey = new Map<string, number>();

  /** of returns the partition of `key` among `n` partitions. */
  of(key: string, n: number): number {
    if (n !== this.#n) {
      this.#byKey.clear();
      this.#n = n;
    }
    let p = this.#byKey.get(key);
    if (p === undefined) {
      if (this.#byKey.size >= PARTITION_CACHE_KEYS) this.#byKey.clear();
      p = partitionForKey(key, n);
      this.#byKey.set(key, p);
    }
    return p;
  }
}

const NO_HEADERS: Readonly<Record<string, Buffer | string>> = Object.freeze({});

/** copyHeaders returns the broker's own copy of a record's headers: strings as they are (immutable), Buffers into the slab. */
function copyHeaders(h: Readonly<Record<string, Buffer | string>>, slab: SlabWriter): Record<string, Buffer | string> {
  let strings = true;
  for (const k in h) if (typeof h[k] !== 'string') strings = false;
  // All strings (the recorder's case): a shallow copy is a full one.
  if (strings) return { ...h };
  const out: Record<string, Buffer | string> = {};
  for (const k in h) {
    const v = h[k];
    out[k] = typeof v === 'string' ? v : slab.copy(v);
  }
  return out;
}

/** SlabWriter copies the values and headers of one publish call into a single buffer, handing out views. */
class SlabWriter {
  readonly #buf: Buffer;
  #at = 0;

  /** `transfer`: values are kept as given (PublishOptions), only Buffer headers are copied. */
  constructor(records: readonly OutgoingRecord[], transfer: boolean) {
    let size = 0;
    for (const r of records) {
      if (!transfer) size += r.value.length;
      if (r.headers)
        for (const k of Object.keys(r.headers)) {
          const v = r.headers[k];
          if (typeof v !== 'string') size += v.length;
        }
    }
    this.#buf = Buffer.allocUnsafe(size);
  }

  /** copy returns a copy of `v` inside the slab. */
  copy(v: Buffer): Buffer {
    const start = this.#at;
    this.#at += v.copy(this.#buf, start);
    return this.#buf.subarray(start, this.#at);
  }
}

/**
 * resumeAtRetained moves a start position below the partition's retained start up to it
 * (Kafka's auto.offset.reset=earliest) and MUST say so, never silently: records this group
 * never consumed (dropped at the bound of a topic no group had subscribed to yet) and records it
 * had committed but asks for again (released after every group committed them: a consumer that
 * resumes from its own state behind its committed offset) are logged apart, both at warn level.
 */
function resumeAtRetained(broker: MemoryBroker, group: string, t: string, p: number, pos: bigint, committed: bigint | undefined): bigint {
  const { start } = broker.bounds(t, p);
  if (pos >= start) return pos;
  const unseen = start - (committed !== undefined && committed > pos ? committed : pos);
  const where = { group, topic: t, partition: p, requested: pos, committed, retainedStart: start };
  if (unseen > 0n)
    broker.logger.warn(
      { ...where, unseen },
      'in-process bus: records this group never consumed were dropped before it subscribed; starting at the oldest retained record',
    );
  else
    broker.logger.warn(
      where,
      'in-process bus: records below the retained start were released after every group committed them; starting at the oldest retained record',
    );
  return start;
}

/**
 * subscribeMember runs one group member: a single loop over its assigned partitions (like
 * one Kafka fetcher), so handler calls of one member never overlap.
 */
function subscribeMember(broker: MemoryBroker, sub: SubscribeOptions, opts: Readonly<Required<MemoryBusOptions>>): Subscription {
  const id = broker.nextMemberId();
  let assignment: ReadonlyArray<readonly [string, number]> = [];
  let generation = 0;
  // Positions are per generation: after every (re)assignment the start offset is asked anew.
  let positions = new Map<string, bigint>();
  let closed = false;
  let dirty = false;
  let wake: () => void = () => {};
  // A member wakes at most once per turn of the event loop, after the turn's I/O callbacks
  // (setImmediate): publishes made meanwhile (a fail-closed proxy publishes per command) are
  // delivered as one batch per partition instead of one delivery, handler call and commit each.
  let wakePending = false;
  const wakeNow = () => {
    wakePending = false;
    wake();
  };
  const poke = () => {
    dirty = true;
    if (!wakePending) {
      wakePending = true;
      setImmediate(wakeNow);
    }
  };

  const stillMine = (t: string, p: number, gen: number) => !closed && gen === generation && assignment.some(([at, ap]) => at === t && ap === p);

  /** deliverOnce delivers at most one batch of (t, p); returns 'worked' | 'idle' | 'failed'. */
  const deliverOnce = (t: string, p: number, gen: number) =>
    broker.lock(sub.group, t, p, async (): Promise<'worked' | 'idle' | 'failed'> => {
      if (!stillMine(t, p, gen) || !broker.available) return 'idle';
      // Keep this generation's map: a rebalance during the handler MUST NOT leak our position into the next one.
      const pmap = positions;
      let pos = pmap.get(key(t, p));
      if (pos === undefined) {
        let fromHook: bigint | undefined;
        try {
          fromHook = sub.startOffsets ? await sub.startOffsets(t, p) : undefined;
        } catch (err) {
          sub.onError?.(err, { topic: t, partition: p });
          return 'failed';
        }
        // Read the committed offset under the lock: a previous owner's last batch is committed by now.
        const committed = broker.committed(sub.group, t, p);
        pos = fromHook ?? committed ?? 0n;
        if (!stillMine(t, p, gen)) return 'idle';
        pos = resumeAtRetained(broker, sub.group, t, p, pos, committed);
        pmap.set(key(t, p), pos);
      }
      const stored = broker.read(t, p, pos, opts.maxBatchRecords);
      if (stored.length === 0) return 'idle';
      const batch: BusBatch = {
        topic: t,
        partition: p,
        // The stored records themselves, shared by every group: read-only for handlers (Bus
        // contract). A copy per record per group cost more than delivering it.
        records: stored,
      };
      for (;;) {
        try {
          await sub.handler(batch);
          break;
        } catch (err) {
          sub.onError?.(err, { topic: t, partition: p });
          if (!stillMine(t, p, gen)) return 'idle';
          await sleep(opts.retryBackoffMs);
          if (!stillMine(t, p, gen)) return 'idle';
        }
      }
      // From the records themselves: a read below the retained start began at the start.
      const next = stored[stored.length - 1].offset + 1n;
      pmap.set(key(t, p), next);
      broker.commit(sub.group, t, p, next);
      return 'worked';
    });

  const loop = async () => {
    while (!closed) {
      dirty = false;
      let worked = false;
      let failed = false;
      const gen = generation;
      for (const [t, p] of assignment) {
        if (closed || gen !== generation) break;
        // Caught up on this partition: nothing to deliver, and no lock to take (most partitions
        // on most wakes, since every publish wakes every member).
        const pos = positions.get(key(t, p));
        if (pos !== undefined && Number(pos) >= broker.end(t, p)) continue;
        const r = await deliverOnce(t, p, gen);
        worked ||= r === 'worked';
        failed ||= r === 'failed';
      }
      if (closed) break;
      if (failed) await sleep(opts.retryBackoffMs);
      else if (!worked && !dirty) await new Promise<void>((r) => (wake = r));
      wake = () => {};
    }
  };

  const removeListener = broker.onAppend(poke);
  broker.join(sub.group, {
    id,
    topics: [...sub.topics],
    assigned(parts, gen) {
      assignment = parts;
      generation = gen;
      positions = new Map();
      poke();
    },
  });
  const running = loop();
  let closing: Promise<void> | undefined;

  return {
    close: () =>
      (closing ??= (async () => {
        closed = true;
        poke();
        await running;
        removeListener();
        broker.leave(sub.group, id);
      })()),
  };
}
