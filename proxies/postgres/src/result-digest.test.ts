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
    assert.equal(d.hex(), createHash('sha256').update(Buffer.concat(pieces.slice(0, n))).digest('hex'));
  }
});
