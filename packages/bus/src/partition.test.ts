import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { murmur2, partitionForKey } from './partition.ts';

// Test vectors from Apache Kafka's UtilsTest.testMurmur2
// (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
const KAFKA_VECTORS: ReadonlyArray<[string, number]> = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
];

test('murmur2 matches Kafka Utils.murmur2 on its own test vectors', () => {
  for (const [input, expected] of KAFKA_VECTORS) assert.equal(murmur2(Buffer.from(input)), expected, input);
});

test('partitionForKey is in range, deterministic, and a session always maps to one partition', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 1000 }), (key, n) => {
      const p = partitionForKey(key, n);
      return Number.isInteger(p) && p >= 0 && p < n && p === partitionForKey(key, n);
    }),
  );
});

test('partitionForKey uses the sign-bit mask (Java toPositive), not Math.abs', () => {
  // -973932308 & 0x7fffffff = 1173551340, and 1173551340 % 7 = 3; Math.abs would give 973932308 % 7 = 6.
  assert.equal(partitionForKey('21', 7), 1173551340 % 7);
  assert.notEqual(partitionForKey('21', 7), Math.abs(-973932308) % 7);
});
