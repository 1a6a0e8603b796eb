import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from './ids.ts';

test('uuidv7 has the RFC 9562 layout: version 7, variant 10, the millisecond time up front', () => {
  const ms = 1_700_000_000_123;
  const id = uuidv7(ms);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(parseInt(id.replaceAll('-', '').slice(0, 12), 16), ms);
});

test('ids are unique and sort in creation order, also within one millisecond and across pool refills', () => {
  const ids = Array.from({ length: 5_000 }, () => uuidv7(1_800_000_000_000));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  // The random tail differs (fresh randomness, not a repeated pool slice).
  assert.equal(new Set(ids.map((i) => i.slice(-12))).size, ids.length);
});

test('uuidv7 writes the time, version, counter and variant bits exactly (byte layout of RFC 9562 §5.7)', () => {
  // Later than every time used above, so no id here is pushed forward by the monotonic rule.
  for (const ms of [2_000_000_000_000, 2_000_000_000_001, 0xabcdef12345, 2 ** 48 - 1].sort((a, b) => a - b)) {
    const b = Buffer.from(uuidv7(ms).replaceAll('-', ''), 'hex');
    assert.equal(b.length, 16);
    assert.equal(b.readUIntBE(0, 6), ms);
    assert.equal(b.readUInt16BE(6), 0x7000, 'version 7, counter 0 in a new millisecond');
    assert.equal(b[8] >> 6, 0b10, 'variant 10');
  }
  assert.throws(() => uuidv7(2 ** 48 + 5), RangeError);
  assert.throws(() => uuidv7(-1), RangeError);
});
