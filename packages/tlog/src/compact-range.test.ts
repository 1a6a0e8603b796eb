import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  EMPTY_RANGE,
  TlogInputInvalidError,
  extendRange,
  hashChildren,
  hashLeaf,
  integrate,
  memoryNodeReader,
  rangeRoot,
  readCompactRange,
  toHex,
  createMemoryTileStore,
} from './index.ts';
import type { CompactRange, Hash, NodeId } from './index.ts';
import { refMth } from './testing/reference-tree.ts';

const leavesOf = (n: number): Hash[] => Array.from({ length: n }, (_, i) => hashLeaf(new TextEncoder().encode(`leaf ${i}`)));

test('property: a range extended batch by batch has, after every batch, the RFC 9162 root and the subtrees read from the full tree', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 700 }), fc.array(fc.nat({ max: 700 }), { maxLength: 8 }), async (n, cuts) => {
      const leaves = leavesOf(n);
      const full = memoryNodeReader(leaves);
      const bounds = [...new Set([0, ...cuts.map((c) => c % (n + 1)), n])].sort((a, b) => a - b);
      let range: CompactRange = EMPTY_RANGE;
      for (let i = 1; i < bounds.length; i++) {
        range = extendRange(range, leaves.slice(bounds[i - 1], bounds[i]));
        assert.equal(range.size, bounds[i]);
        assert.equal(toHex(rangeRoot(range)), toHex(refMth(leaves.slice(0, bounds[i]))));
      }
      const read = await readCompactRange(full, range.size);
      assert.deepEqual(read.hashes.map(toHex), range.hashes.map(toHex));
    }),
    { numRuns: 60 },
  );
});

test('the empty range has the empty root and is not changed by extending it', () => {
  assert.equal(toHex(rangeRoot(EMPTY_RANGE)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  const one = extendRange(EMPTY_RANGE, leavesOf(1));
  assert.equal(EMPTY_RANGE.hashes.length, 0);
  assert.equal(toHex(rangeRoot(one)), toHex(leavesOf(1)[0]));
  assert.equal(extendRange(one, []).size, 1);
});

test('sizes past 2^32: the carries of one more leaf fold all 32 subtrees into one', async () => {
  // A tree of 2^32 - 1 leaves is 32 perfect subtrees (levels 31 down to 0); made-up hashes stand
  // in for them, since only the folding is under test.
  const node = (n: NodeId): Hash => hashLeaf(new TextEncoder().encode(`${n.level}/${n.index}`));
  const reader = async (nodes: readonly NodeId[]) => nodes.map(node);
  const before = await readCompactRange(reader, 2 ** 32 - 1);
  assert.equal(before.hashes.length, 32);
  const leaf = hashLeaf(new Uint8Array([1]));
  const after = extendRange(before, [leaf]);
  assert.equal(after.size, 2 ** 32);
  let expected = leaf;
  for (let i = 31; i >= 0; i--) expected = hashChildren(before.hashes[i], expected);
  assert.deepEqual(after.hashes.map(toHex), [toHex(expected)]);
  // And one more leaf past that: two subtrees, 2^32 and 1.
  const next = extendRange(after, [leaf]);
  assert.equal(next.hashes.length, 2);
  assert.equal(toHex(rangeRoot(next)), toHex(hashChildren(expected, leaf)));
});

test('a range whose hashes do not match its size, and an integrate given the range of another size, are refused', async () => {
  assert.throws(() => extendRange({ size: 3, hashes: leavesOf(1) }, leavesOf(1)), TlogInputInvalidError);
  assert.throws(() => rangeRoot({ size: -1, hashes: [] }), TlogInputInvalidError);
  assert.throws(() => extendRange(EMPTY_RANGE, [new Uint8Array(31)]), TlogInputInvalidError);
  const store = createMemoryTileStore();
  const r = await integrate(store.read, 0, leavesOf(5), EMPTY_RANGE);
  store.write(r.tiles);
  await assert.rejects(integrate(store.read, 5, leavesOf(1), extendRange(EMPTY_RANGE, leavesOf(4))), TlogInputInvalidError);
  // Without a range, integrate reads the one it returns from the tiles: the same range.
  const read = await integrate(store.read, 5, []);
  assert.deepEqual(read.range.hashes.map(toHex), r.range.hashes.map(toHex));
});
