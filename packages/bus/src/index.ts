// @affidavit/bus: the message bus port and its two adapters (Kafka, in-process).
export type { Bus, BusBatch, BusRecord, OutgoingRecord, PublishOptions, RecordHeaders, StartOffsetsHook, SubscribeOptions, Subscription } from './ports/bus.ts';
export { BusUnavailableError, BusTopicUnknownError, BusRecordInvalidError, BusRejectedError } from './errors.ts';
export { partitionForKey, murmur2 } from './partition.ts';
export { createMemoryBus, type MemoryBusOptions } from './adapters/memory/memory-bus.ts';
export {
  createMemoryBroker,
  DEFAULT_MAX_RETAINED_BYTES,
  DEFAULT_MAX_RETAINED_RECORDS,
  type MemoryBroker,
  type MemoryBrokerStats,
  type MemoryRetentionOptions,
} from './adapters/memory/memory-broker.ts';
export { createKafkaBus, type KafkaBusOptions } from './adapters/kafka/kafka-bus.ts';
