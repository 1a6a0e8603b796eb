// One consumer-group member on kafkajs, with the startOffsets hook applied by seek.
import type { Logger } from '@affidavit/common';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { sleep } from '../../options.ts';
import type { BusBatch, BusRecord, SubscribeOptions, Subscription } from '../../ports/bus.ts';
import type { ResolvedKafkaBusOptions } from './kafka-options.ts';
import { withDeadline } from './translate-error.ts';

const key = (t: string, p: number) => `${t}\u0000${p}`;

const NO_HEADERS: Readonly<Record<string, Buffer>> = Object.freeze({});

function headersOf(h: IHeaders | undefined): Readonly<Record<string, Buffer>> {
  let out: Record<string, Buffer> | undefined;
  // for-in, not Object.entries: most records (every session event) carry no headers at all.
  for (const k in h) {
    const v = h[k];
    const one = Array.isArray(v) ? v[0] : v;
    if (one !== undefined) (out ??= {})[k] = Buffer.isBuffer(one) ? one : Buffer.from(one);
  }
  return out ?? NO_HEADERS;
}

function toRecord(topic: string, partition: number, m: KafkaMessage): BusRecord {
  return {
    topic,
    partition,
    offset: BigInt(m.offset),
    key: m.key?.toString('utf8') ?? '',
    value: m.value ?? Buffer.alloc(0),
    timestamp: Number(m.timestamp),
    headers: headersOf(m.headers),
  };
}

/**
 * subscribeKafka joins the group and resolves once this member received its first
 * assignment (bounded by adminTimeoutMs), so a caller that publishes right after
 * subscribe() knows the member is in the group.
 *
 * Start offsets: on every group join, the hook is asked for each assigned partition and the
 * answer is applied with consumer.seek(). Until that seek is applied, batches of the
 * partition are dropped (kafkajs marks them stale) and fetched again from the new offset,
 * so the handler never sees a record before the offset the hook named.
 */
/** CLOSE_WAIT_MS bounds how long close() waits for kafkajs to leave the group. */
const CLOSE_WAIT_MS = 10_000;

export async function subscribeKafka(kafka: Kafka, sub: SubscribeOptions, opts: ResolvedKafkaBusOptions, log: Logger): Promise<Subscription> {
  const consumer: Consumer = kafka.consumer({
    groupId: sub.group,
    sessionTimeout: opts.sessionTimeoutMs,
    heartbeatInterval: opts.heartbeatIntervalMs,
    rebalanceTimeout: opts.rebalanceTimeoutMs,
    maxWaitTimeInMs: opts.maxWaitTimeMs,
    allowAutoTopicCreation: false,
  });
  let closing = false;
  // Hook answers of the current generation; replaced on every join.
  let hooks = new Map<string, Promise<bigint | undefined>>();

  const askHook = (topic: string, partition: number): Promise<bigint | undefined> => {
    const hook = sub.startOffsets;
    if (!hook) return Promise.resolve(undefined);
    const answer = hook(topic, partition).then((offset) => {
      if (offset !== undefined && !closing) consumer.seek({ topic, partition, offset: offset.toString() });
      return offset;
    });
    answer.catch(() => {});
    return answer;
  };

  let joined!: () => void;
  const firstJoin = new Promise<void>((r) => (joined = r));
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const next = new Map<string, Promise<bigint | undefined>>();
    for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
      for (const p of partitions) next.set(key(topic, p), askHook(topic, p));
    }
    hooks = next;
    joined();
  });

  const eachBatch = async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload) => {
    const { topic, partition } = batch;
    if (closing || !isRunning() || isStale()) return;
    let from: bigint | undefined;
    if (sub.startOffsets) {
      let answer = hooks.get(key(topic, partition));
      if (!answer) hooks.set(key(topic, partition), (answer = askHook(topic, partition)));
      try {
        from = await answer;
      } catch (err) {
        // Ask again on the next batch; returning without resolving makes kafkajs fetch it again.
        hooks.delete(key(topic, partition));
        sub.onError?.(err, { topic, partition });
        await sleep(opts.retryBackoffMs);
        return;
      }
      // A seek is pending: this batch was fetched from the old position.
      if (isStale()) return;
    }
    const messages = from === undefined ? batch.messages : batch.messages.filter((m) => BigInt(m.offset) >= from);
    if (messages.length > 0) {
      const b: BusBatch = { topic, partition, records: messages.map((m) => toRecord(topic, partition, m)) };
      for (;;) {
        try {
          await sub.handler(b);
          break;
        } catch (err) {
          sub.onError?.(err, { topic, partition });
          await sleep(opts.retryBackoffMs);
          // Revoked or closing: leave the batch unresolved; its next owner gets it again.
          if (closing || !isRunning() || isStale()) return;
          await heartbeat().catch(() => {});
        }
      }
    }
    resolveOffset(batch.lastOffset());
    await commitOffsetsIfNecessary();
    await heartbeat();
  };

  try {
    await withDeadline(
      (async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: [...sub.topics], fromBeginning: true });
        await consumer.run({ autoCommit: true, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
        await firstJoin;
      })(),
      opts.adminTimeoutMs,
      `joining group ${sub.group}`,
    );
  } catch (e) {
    closing = true;
    await consumer.disconnect().catch(() => {});
    throw e;
  }
  consumer.on(consumer.events.CRASH, (e) => log.error({ err: e.payload.error, group: sub.group, restart: e.payload.restart }, 'kafka consumer crashed'));

  let closed: Promise<void> | undefined;
  return {
    // kafkajs's disconnect() stops the fetch loop, waits for the running eachBatch to
    // return, commits resolved offsets and leaves the group.
    // A member asked to leave while it is still joining its group can wait in kafkajs for a
    // rebalance that never finishes (seen on SIGTERM right after start). Leaving is a courtesy
    // (the group drops a silent member after its session timeout, and the ledger resumes from
    // its own log, not from committed offsets), so close waits a bounded time, then moves on.
    close: () =>
      (closed ??= (async () => {
        closing = true;
        let timer: NodeJS.Timeout | undefined;
        const left = consumer.disconnect().then(
          () => true,
          (err: unknown) => {
            log.warn({ err }, 'leaving the consumer group failed');
            return true;
          },
        );
        const gaveUp = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS);
        });
        const done = await Promise.race([left, gaveUp]);
        clearTimeout(timer);
        if (!done) log.warn({ waitedMs: CLOSE_WAIT_MS }, 'the consumer did not leave its group in time; closing without it');
      })()),
  };
}
