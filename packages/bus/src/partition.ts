// Partition choice shared by both adapters, so a session lands on the same partition in
// embedded mode and on a real Kafka: Kafka's default partitioner for keyed records.
// SPEC: https://github.com/apache/kafka/blob/trunk/clients/src/main/java/org/apache/kafka/clients/producer/internals/BuiltInPartitioner.java
//   "return Utils.toPositive(Utils.murmur2(serializedKey)) % numPartitions;"

/**
 * murmur2 is Kafka's 32-bit MurmurHash2 (seed 0x9747b28c) of `data`, as a signed int32
 * (Java's `Utils.murmur2`). Math.imul keeps the 32-bit multiply exact.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  let h = seed ^ length;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4] & 0xff) + ((data[i4 + 1] & 0xff) << 8) + ((data[i4 + 2] & 0xff) << 16) + ((data[i4 + 3] & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length4 * 4;
  // Java falls through case 3 → 2 → 1; written as ifs because the repo forbids switch fall-through.
  const rest = length % 4;
  if (rest >= 3) h ^= (data[tail + 2] & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1] & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail] & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** partitionForKey returns the partition Kafka's default partitioner picks for a UTF-8 string key. */
export function partitionForKey(key: string, partitions: number): number {
  // Java's toPositive: clear the sign bit (not Math.abs, which differs for MIN_VALUE).
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}
