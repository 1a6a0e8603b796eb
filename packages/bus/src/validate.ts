import { BusRecordInvalidError } from './errors.ts';
import type { OutgoingRecord } from './ports/bus.ts';

/** MAX_TOPIC_NAME is Kafka's limit on topic name length. */
export const MAX_TOPIC_NAME = 249;
/** MAX_KEY_BYTES bounds record keys (a session id is 36 bytes; anything near this limit is a bug). */
export const MAX_KEY_BYTES = 1024;

// SPEC: https://github.com/apache/kafka/blob/trunk/clients/src/main/java/org/apache/kafka/common/internals/Topic.java
//   "private static final String LEGAL_CHARS = "[a-zA-Z0-9._-]";"
const TOPIC = /^[a-zA-Z0-9._-]+$/;

/** assertTopicName throws BusRecordInvalidError unless `topic` is a legal Kafka topic name. */
export function assertTopicName(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_NAME || !TOPIC.test(topic) || topic === '.' || topic === '..') {
    throw new BusRecordInvalidError(`bad topic name ${JSON.stringify(String(topic).slice(0, 64))}: 1-${MAX_TOPIC_NAME} characters of [a-zA-Z0-9._-]`);
  }
}

/**
 * assertRecords checks a publish call before anything is sent, so a bad record rejects the
 * whole call and none of it is written. `maxValueBytes` comes from the adapter's options.
 */
export function assertRecords(records: unknown, maxValueBytes: number): asserts records is readonly OutgoingRecord[] {
  if (!Array.isArray(records)) throw new BusRecordInvalidError('records must be an array');
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as Partial<OutgoingRecord> | null;
    if (r === null || typeof r !== 'object') throw new BusRecordInvalidError(`record ${i}: not an object`);
    // A string of n UTF-16 units is at most 3n UTF-8 bytes: only a long key needs counting.
    if (typeof r.key !== 'string' || r.key.length === 0 || (r.key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(r.key) > MAX_KEY_BYTES)) {
      throw new BusRecordInvalidError(`record ${i}: key must be a non-empty string of at most ${MAX_KEY_BYTES} bytes`);
    }
    if (!Buffer.isBuffer(r.value)) throw new BusRecordInvalidError(`record ${i}: value must be a Buffer`);
    if (r.value.length > maxValueBytes)
      throw new BusRecordInvalidError(`record ${i}: value is ${r.value.length} bytes, more than the ${maxValueBytes}-byte limit`);
    if (r.headers !== undefined) {
      if (r.headers === null || typeof r.headers !== 'object') throw new BusRecordInvalidError(`record ${i}: headers must be an object`);
      const h = r.headers as Record<string, unknown>;
      for (const k in h) {
        const v = h[k];
        if (typeof v !== 'string' && !Buffer.isBuffer(v))
          throw new BusRecordInvalidError(`record ${i}: header ${JSON.stringify(k)} must be a string or Buffer`);
      }
    }
  }
}

/** assertPartitions throws unless `n` is a partition count Kafka accepts and a test machine can hold. */
export function assertPartitions(n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new BusRecordInvalidError(`partitions must be an integer from 1 to 10000, got ${String(n)}`);
  }
}
