import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { EMPTY_ROOT, hashChildren, hashLeaf } from './hash.ts';

// hash.ts hashes through a reused scratch buffer and the one-shot crypto.hash(); these pin it to
// the plain streaming definition of RFC 9162's leaf and node hashes.
const leafRef = (b: Uint8Array) => createHash('sha256').update(Uint8Array.of(0)).update(b).digest();
const nodeRef = (l: Uint8Array, r: Uint8Array) => createHash('sha256').update(Uint8Array.of(1)).update(l).update(r).digest();

test('property: hashLeaf equals SHA-256(0x00 || bytes) for any size, across the scratch-buffer limit', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 2048 }),
        fc.integer({ min: 60_000, max: 140_000 }).map((n) => new Uint8Array(n).fill(n % 251)),
      ),
      (b) => {
        assert.deepEqual(Buffer.from(hashLeaf(b)), leafRef(b));
      },
    ),
    { numRuns: 200 },
  );
});

test('hashLeaf results are independent copies (the scratch buffer is never handed out)', () => {
  const a = hashLeaf(Buffer.from('a'));
  const aCopy = Buffer.from(a);
  const big = hashLeaf(new Uint8Array(5_000).fill(7));
  hashLeaf(Buffer.from('b'));
  assert.deepEqual(Buffer.from(a), aCopy);
  assert.deepEqual(Buffer.from(big), leafRef(new Uint8Array(5_000).fill(7)));
  // A view into a larger buffer hashes only its own bytes.
  const backing = Buffer.from('xxhelloyy');
  assert.deepEqual(Buffer.from(hashLeaf(backing.subarray(2, 7))), leafRef(Buffer.from('hello')));
});

test('property: hashChildren equals SHA-256(0x01 || left || right), and results are not shared', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (l, r) => {
      const h = hashChildren(l, r);
      const again = hashChildren(r, l);
      assert.deepEqual(Buffer.from(h), nodeRef(l, r));
      assert.deepEqual(Buffer.from(again), nodeRef(r, l));
    }),
    { numRuns: 200 },
  );
});

test('EMPTY_ROOT is SHA-256 of nothing (RFC 9162 MTH({}))', () => {
  assert.equal(Buffer.from(EMPTY_ROOT).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});
