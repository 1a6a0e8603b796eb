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
