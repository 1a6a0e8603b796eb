// The Kafka bus adapter (kafkajs). kafkajs appears only in this folder (STYLE rule 1).
import { createLogger, ShutdownError, type Logger } from '@affidavit/common';
import { Kafka, logLevel, Partitioners, type Admin, type LogEntry, type Producer } from 'kafkajs';
import { BusTopicUnknownError } from '../../errors.ts';
import { sleep } from '../../options.ts';
import type { Bus, OutgoingRecord, SubscribeOptions, Subscription } from '../../ports/bus.ts';
import { assertPartitions, assertRecords, assertTopicName } from '../../validate.ts';
import { resolveKafkaBusOptions, type KafkaBusOptions, type ResolvedKafkaBusOptions } from './kafka-options.ts';
import { subscribeKafka } from './kafka-subscriber.ts';
import { translateKafkaError, withDeadline } from './translate-error.ts';

export type { KafkaBusOptions } from './kafka-options.ts';

/** kafkaLogCreator routes kafkajs's log lines to pino at the matching level. */
function kafkaLogCreator(log: Logger) {
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...rest } = entry;
      if (level === logLevel.ERROR) log.error(rest, message);
      else if (level === logLevel.WARN) log.warn(rest, message);
      else if (level === logLevel.INFO) log.debug(rest, message);
      else log.trace(rest, message);
    };
}

/**
 * createKafkaBus returns a Bus on Apache Kafka: an idempotent producer with acks=all
 * (-1), records keyed by the caller's key (the session id) and partitioned with Kafka's
 * default murmur2 partitioner, consumer groups via kafkajs, topics created by ensureTopic.
 * Connections are opened lazily, so creating the bus never blocks or fails on a dead broker.
 */
export function createKafkaBus(input: KafkaBusOptions, deps: { logger?: Logger } = {}): Bus {
  const opts: ResolvedKafkaBusOptions = resolveKafkaBusOptions(input);
  const log = deps.logger ?? createLogger({ name: 'bus.kafka' });
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: [...opts.brokers],
    connectionTimeout: opts.connectionTimeoutMs,
    requestTimeout: opts.requestTimeoutMs,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(log),
    // Back off briefly; the publish deadline, not the retry count, bounds a call.
    retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 8 },
  });

  let closed = false;
  let producer: Promise<Producer> | undefined;
  let admin: Promise<Admin> | undefined;
  const partitionCounts = new Map<string, number>();
  const subscriptions = new Set<Subscription>();

  const open = () => {
    if (closed) throw new ShutdownError('the bus is closed');
  };

  const getProducer = () => {
    if (!producer) {
      const p = kafka.producer({
        idempotent: true,
        // kafkajs allows exactly one in-flight request for an idempotent producer, which is
        // also what keeps records of one key in order across retries.
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        // Unlimited retries inside one producer session keep idempotence sound (kafkajs warns
        // otherwise); publishTimeoutMs bounds the call and a timed-out producer is dropped.
        retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: Number.MAX_SAFE_INTEGER },
      });
      const connecting = p.connect().then(() => p);
      producer = connecting;
      connecting.catch(() => {
        if (producer === connecting) producer = undefined;
        void p.disconnect().catch(() => {});
      });
    }
    return producer;
  };

  /** dropProducer discards a producer that timed out, so the next publish starts a fresh one (new producer id). */
  const dropProducer = (which: Promise<Producer> | undefined) => {
    if (which && producer === which) producer = undefined;
    which?.then((p) => p.disconnect()).catch(() => {});
  };

  const getAdmin = () => {
    if (!admin) {
      const a = kafka.admin();
      const connecting = a.connect().then(() => a);
      admin = connecting;
      connecting.catch(() => {
        if (admin === connecting) admin = undefined;
        void a.disconnect().catch(() => {});
      });
    }
    return admin;
  };

  const partitionsOf = async (topic: string): Promise<number> => {
    const known = partitionCounts.get(topic);
    if (known !== undefined) return known;
    const meta = await withDeadline(
      getAdmin().then((a) => a.fetchTopicMetadata({ topics: [topic] })),
      opts.adminTimeoutMs,
      `reading metadata of topic ${topic}`,
    );
    const n = meta.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
    if (n === 0) throw new BusTopicUnknownError(`topic ${topic} does not exist; create it with ensureTopic()`);
    partitionCounts.set(topic, n);
    return n;
  };

  return {
    async publish(topic: string, records: readonly OutgoingRecord[]) {
      open();
      assertTopicName(topic);
      assertRecords(records, opts.maxValueBytes);
      if (records.length === 0) return;
      const started = Date.now();
      // A topic is looked up once, so publishing to a missing topic fails fast and typed
      // instead of retrying until the deadline.
      if (!partitionCounts.has(topic)) {
        await withDeadline(partitionsOf(topic), opts.publishTimeoutMs, `publishing to ${topic}`);
      }
      const current = getProducer();
      const send = current.then((p) =>
        p.send({
          topic,
          acks: -1,
          timeout: opts.requestTimeoutMs,
          messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers ? { ...r.headers } : undefined })),
        }),
      );
      try {
        // Resolves only when the broker answered the produce request with acks=all for every
        // partition of the call (kafkajs send resolves after all per-broker requests).
        await withDeadline(send, Math.max(1, opts.publishTimeoutMs - (Date.now() - started)), `publishing ${records.length} record(s) to ${topic}`);
      } catch (e) {
        const err = translateKafkaError(e, `publishing to ${topic}`);
        if (err.retriable) dropProducer(current);
        throw err;
      }
    },

    async subscribe(sub: SubscribeOptions) {
      open();
      for (const t of sub.topics) assertTopicName(t);
      const s = await subscribeKafka(kafka, sub, opts, log);
      const wrapped: Subscription = {
        close: async () => {
          subscriptions.delete(wrapped);
          await s.close();
        },
      };
      subscriptions.add(wrapped);
      return wrapped;
    },

    async ensureTopic(topic: string, partitions: number) {
      open();
      assertTopicName(topic);
      assertPartitions(partitions);
      await withDeadline(
        getAdmin().then((a) => a.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: -1 }], waitForLeaders: true })),
        opts.adminTimeoutMs,
        `creating topic ${topic}`,
      );
    },

    async partitionsOf(topic: string) {
      open();
      assertTopicName(topic);
      return partitionsOf(topic);
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...subscriptions].map((s) => s.close()));
      const p = producer;
      const a = admin;
      producer = admin = undefined;
      // A client still retrying its first connect to a dead broker MUST NOT hold close() for long.
      const disconnects = Promise.all([p?.then((x) => x.disconnect()).catch(() => {}), a?.then((x) => x.disconnect()).catch(() => {})]);
      await Promise.race([disconnects, sleep(opts.connectionTimeoutMs + opts.requestTimeoutMs)]);
    },
  };
}
