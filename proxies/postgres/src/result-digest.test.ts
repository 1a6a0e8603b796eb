import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ResultDigest } from './result-digest.ts';

test('ResultDigest: none, one and many pieces hash the concatenation; empty is reported', () => {
  const empty = new ResultDigest();
  assert.equal(empty.empty, true);
  assert.equal(empty.hex(), createHash('sha256').digest('hex'));
  const pieces = [Buffer.from('ab'), Buffer.from(''), Buffer.from('cde'), Buffer.from('f')];
  for (let n = 1; n <= pieces.length; n++) {
    const d = new ResultDigest();
    for (const p of pieces.slice(0, n)) d.update(p);
    assert.equal(d.empty, false);
    assert.equal(
      d.hex(),
      createHash('sha256')
        .update(Buffer.concat(pieces.slice(0, n)))
        .digest('hex'),
    );
  }
});

test('ResultDigest: adjacent views of one buffer are hashed as one run, separate ones in order', () => {
  const slab = Buffer.from('0123456789abcdef');
  const other = Buffer.from('XYZ');
  const d = new ResultDigest();
  // 0-3 and 3-7 are adjacent (merged), then a foreign piece, then 7-10 (adjacent to 3-7 in
  // memory but not in order after `other`), then 12-16 (a gap: not merged).
  const pieces = [slab.subarray(0, 3), slab.subarray(3, 7), other, slab.subarray(7, 10), slab.subarray(12, 16)];
  for (const p of pieces) d.update(p);
  assert.equal(d.hex(), createHash('sha256').update(Buffer.concat(pieces)).digest('hex'));
  const one = new ResultDigest();
  one.update(slab.subarray(0, 5));
  one.update(slab.subarray(5, 16));
  assert.equal(one.hex(), createHash('sha256').update(slab).digest('hex'));
});
