// The bus port: a byte-level, partitioned, ordered log (Kafka's model). It carries already
// encoded Avro single-object bytes and knows nothing about event types.

/** RecordHeaders are optional per-record headers; string values are sent as UTF-8. */
export type RecordHeaders = Readonly<Record<string, string | Buffer>>;

/** OutgoingRecord is one record to publish. `key` (the session id) picks the partition. */
export type OutgoingRecord = {
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: RecordHeaders;
};

/**
 * BusRecord is one record delivered to a subscriber.
 * `offset` is a bigint: Kafka offsets are int64 and MUST NOT be rounded through a double.
 * `timestamp` is the broker's (or producer's) record time in Unix milliseconds.
 * `value` and `headers` are read-only: the in-process bus hands every group views of its one
 * stored copy, so a handler that wrote into them would change what other groups (and a
 * redelivery) receive. Copy before modifying.
 */
export type BusRecord = {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string;
  readonly value: Buffer;
  readonly timestamp: number;
  /** Header values: Buffers from Kafka; the in-process bus keeps a string published as a string. `toString()` reads either. */
  readonly headers: Readonly<Record<string, Buffer | string>>;
};

/** BusBatch is a run of consecutive records of ONE partition, in offset order. */
export type BusBatch = {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly BusRecord[];
};

/**
 * StartOffsetsHook is asked, every time a partition is assigned to this subscriber (first
 * join and every rebalance), for the offset to resume from. Returning `undefined` means
 * "the group's committed offset, else the beginning". The ledger returns its own log tail
 * + 1, so it never depends on committed consumer offsets.
 */
export type StartOffsetsHook = (topic: string, partition: number) => Promise<bigint | undefined>;

/** SubscribeOptions configures one group member. */
export type SubscribeOptions = {
  readonly group: string;
  readonly topics: readonly string[];
  /**
   * handler receives batches. Within a partition, batches arrive in offset order and the
   * next batch of that partition is not delivered before this call resolved. If it throws,
   * the SAME batch is delivered again after a back-off (never skipped): the bus is
   * at-least-once, so handlers MUST be idempotent (the ledger dedupes by event id).
   */
  readonly handler: (batch: BusBatch) => Promise<void>;
  readonly startOffsets?: StartOffsetsHook;
  /** onError is told about handler and startOffsets failures before the retry (for logging). */
  readonly onError?: (err: unknown, where: { readonly topic: string; readonly partition: number }) => void;
};

/** Subscription is a running group member. */
export type Subscription = {
  /**
   * close stops consuming: it MUST wait for an in-flight handler call to finish, MUST NOT
   * start another, then leaves the group (its partitions move to the other members).
   */
  close(): Promise<void>;
};

/**
 * PublishOptions: `transfer` says the caller hands the records' value buffers over and never
 * writes to them again, so an in-process bus may keep them instead of its own copies (a
 * network bus serialises them anyway). Default false: the bus copies what it keeps.
 */
export type PublishOptions = { readonly transfer?: boolean };

/** Bus is the port proxies (publish) and the ledger (subscribe) depend on. */
export type Bus = {
  /**
   * publish appends records to `topic`, partitioned by key. It MUST NOT resolve before the
   * broker acknowledged every record (Kafka: acks=all) and MUST keep the order of records
   * that share a key. When the broker is unreachable it MUST reject with a retriable
   * BusUnavailableError (AFF_E_BUS_UNAVAILABLE) within the configured bound, never hang.
   */
  publish(topic: string, records: readonly OutgoingRecord[], opts?: PublishOptions): Promise<void>;
  /** subscribe joins consumer group `group` and starts delivering batches to the handler. */
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  /** ensureTopic creates `topic` with `partitions` partitions if it does not exist (an existing topic is left as is). */
  ensureTopic(topic: string, partitions: number): Promise<void>;
  /** partitionsOf returns the partition count of an existing topic. */
  partitionsOf(topic: string): Promise<number>;
  /** close closes every subscription, then the producer. Later calls on the bus reject with AFF_E_SHUTDOWN. */
  close(): Promise<void>;
};
