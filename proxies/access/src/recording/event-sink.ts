/** EncodedEvent is one event ready for the bus: its session id as key, single-object Avro bytes as value. */
export type EncodedEvent = { readonly key: string; readonly value: Buffer; readonly headers?: Record<string, string> };

/**
 * EventSink is where the recorder hands audit events.
 *
 * `publish` MUST NOT resolve before every event of the call is durably acknowledged (Kafka:
 * acks=all), MUST keep the order of events that share a key, and MUST reject (not hang)
 * within a bounded time when it cannot deliver.
 */
export type EventSink = {
  publish(events: readonly EncodedEvent[]): Promise<void>;
};
