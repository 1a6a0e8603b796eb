import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  TlogTileInvalidError,
  TlogTileMissingError,
  consistencyProof,
  consistencyProofs,
  createMemoryTileStore,
  hashChildren,
  hashLevelUp,
  hashLeaf,
  inclusionProof,
  inclusionProofs,
  integrate,
  memoryNodeReader,
  parseTilePath,
  rootHash,
  tileIdFor,
  tileNodeReader,
  tilePath,
  toHex,
} from './index.ts';
import { EMPTY_RANGE } from './index.ts';
import type { CompactRange, Hash, Tile } from './index.ts';
import { refMth } from './testing/reference-tree.ts';

function leavesOf(n: number, salt = ''): Hash[] {
  return Array.from({ length: n }, (_, i) => hashLeaf(new TextEncoder().encode(`${salt}entry ${i}`)));
}

test('tile paths follow C2SP tlog-tiles', () => {
  // SOURCE: https://c2sp.org/tlog-tiles "index 1234067 will be encoded as x001/x234/067"
  assert.equal(tilePath({ level: 0, index: 1234067, width: 256 }), 'tile/0/x001/x234/067');
  assert.equal(tilePath({ level: 2, index: 5, width: 17 }), 'tile/2/005.p/17');
  assert.equal(tilePath({ level: 1, index: 1000, width: 256 }), 'tile/1/x001/000');
  const big = 2 ** 45 + 7;
  assert.deepEqual(parseTilePath(tilePath({ level: 0, index: big, width: 3 })), { level: 0, index: big, width: 3 });
  for (const p of ['tile/0/x001/x234/067', 'tile/63/000.p/255', 'tile/3/x999/999.p/1']) assert.equal(tilePath(parseTilePath(p)), p);
  for (const bad of [
    'tile/00/000',
    'tile/0/1',
    'tile/0/001/002',
    'tile/0/x001',
    'tile/0/000.p/256',
    'tile/0/000.p/0',
    'tile/0/000.p/07',
    'tile/64/000',
    'tile/0/x000/001',
    'tiles/0/000',
    'tile/0/0001',
  ]) {
    assert.throws(() => parseTilePath(bad), TlogTileInvalidError, bad);
  }
});

test('the 70,000-entry example of C2SP tlog-tiles', () => {
  // SOURCE: https://c2sp.org/tlog-tiles "a tree of size 70,000 will be represented by 273 full level 0 tiles, one
  // partial level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial
  // level 2 tile of width 1."
  assert.deepEqual(tileIdFor(0, 272, 70000), { level: 0, index: 272, width: 256 });
  assert.deepEqual(tileIdFor(0, 273, 70000), { level: 0, index: 273, width: 112 });
  assert.deepEqual(tileIdFor(1, 0, 70000), { level: 1, index: 0, width: 256 });
  assert.deepEqual(tileIdFor(1, 1, 70000), { level: 1, index: 1, width: 17 });
  assert.deepEqual(tileIdFor(2, 0, 70000), { level: 2, index: 0, width: 1 });
  assert.throws(() => tileIdFor(0, 274, 70000), TlogTileInvalidError);
  // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1."
  assert.deepEqual(tileIdFor(0, 0, 256), { level: 0, index: 0, width: 256 });
  assert.deepEqual(tileIdFor(1, 0, 256), { level: 1, index: 0, width: 1 });
});

// One 70,000-leaf tree (the spec's example size) shared by the tests below to keep the unit tier fast.
const BIG = leavesOf(70001, 'big');
const BIG_FULL = memoryNodeReader(BIG);
let bigTree: { store: ReturnType<typeof createMemoryTileStore>; root: Hash } | undefined;
async function big70000() {
  if (!bigTree) {
    const store = createMemoryTileStore();
    const r = await integrate(store.read, 0, BIG.slice(0, 70000));
    store.write(r.tiles);
    bigTree = { store, root: r.root };
  }
  return bigTree;
}

test('integrate of 70,000 leaves writes exactly the tiles the spec lists, and the RFC root', async () => {
  const { store, root } = await big70000();
  const paths = store.paths();
  assert.equal(paths.filter((p) => p.startsWith('tile/0/') && !p.includes('.p/')).length, 273);
  assert.ok(paths.includes('tile/0/273.p/112'));
  assert.ok(paths.includes('tile/1/000'));
  assert.ok(paths.includes('tile/1/001.p/17'));
  assert.ok(paths.includes('tile/2/000.p/1'));
  assert.equal(paths.length, 273 + 4);
  assert.equal(toHex(root), toHex(await rootHash(BIG_FULL, 70000)));
});

type Run = { size: number; root: string; tiles: Map<string, string> };
/** runBatches integrates `leaves` cut at `cuts`; with `carryRange` each call gets the range the previous one returned. */
async function runBatches(leaves: Hash[], cuts: number[], carryRange = false): Promise<Run & { roots: string[] }> {
  const store = createMemoryTileStore();
  const tiles = new Map<string, string>();
  let size = 0;
  let root = '';
  let range: CompactRange | undefined = carryRange ? EMPTY_RANGE : undefined;
  const roots: string[] = [];
  const bounds = [...new Set([0, ...cuts.map((c) => c % (leaves.length + 1)), leaves.length])].sort((a, b) => a - b);
  for (let i = 1; i < bounds.length; i++) {
    const r = await integrate(store.read, size, leaves.slice(bounds[i - 1], bounds[i]), range);
    if (carryRange) range = r.range;
    store.write(r.tiles);
    r.tiles.forEach((t: Tile) => tiles.set(tilePath(t.id), Buffer.from(t.data).toString('hex')));
    size = r.size;
    root = toHex(r.root);
    roots.push(root);
  }
  return { size, root, tiles, roots };
}

test('property: integrating in random batches gives the same root and tiles as one batch', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 1100 }), fc.array(fc.nat(), { maxLength: 6 }), async (n, cuts) => {
      const leaves = leavesOf(n);
      const one = await runBatches(leaves, []);
      const many = await runBatches(leaves, cuts);
      const carried = await runBatches(leaves, cuts, true);
      assert.equal(many.size, n);
      assert.equal(many.root, one.root);
      assert.deepEqual(carried.roots, many.roots);
      assert.deepEqual(carried.tiles, many.tiles);
      assert.equal(one.root, toHex(refMth(leaves)));
      // Every tile of the final tree (full, and the last partial per level) is identical.
      for (const [p, data] of one.tiles) assert.equal(many.tiles.get(p), data, p);
    }),
    { numRuns: 25 },
  );
});

test('integrate reads only the right-edge partial tiles, at most one per level, in one batch', async () => {
  const { store } = await big70000();
  let calls = 0;
  const requested: string[] = [];
  const reader = async (ids: Parameters<typeof store.read>[0]) => {
    calls++;
    requested.push(...ids.map(tilePath));
    return store.read(ids);
  };
  const r = await integrate(reader, 70000, BIG.slice(70000));
  assert.equal(calls, 1);
  assert.deepEqual(requested.sort(), ['tile/0/273.p/112', 'tile/1/001.p/17', 'tile/2/000.p/1']);
  assert.deepEqual(
    r.tiles.map((t) => tilePath(t.id)),
    ['tile/0/273.p/113'],
  );
  assert.equal(toHex(r.root), toHex(await rootHash(BIG_FULL, 70001)));
  // An empty batch changes nothing but still reports the root.
  const same = await integrate(store.read, 70000, []);
  assert.equal(same.tiles.length, 0);
  assert.equal(toHex(same.root), toHex(await rootHash(BIG_FULL, 70000)));
});

test('integrate names a missing tile', async () => {
  const store = createMemoryTileStore();
  await assert.rejects(
    integrate(store.read, 300, leavesOf(1)),
    (e: unknown) => e instanceof TlogTileMissingError && /tile\/0\/001\.p\/44/.test((e as Error).message),
  );
  // A stored edge tile of the wrong length is refused, not copied into the next tile.
  const short = async (ids: readonly { width: number }[]) => ids.map((id) => new Uint8Array(id.width * 32 - 1));
  await assert.rejects(
    integrate(short, 300, leavesOf(1)),
    (e: unknown) => e instanceof TlogTileInvalidError && /tile\/0\/001\.p\/44 has 1407 bytes, want 1408/.test((e as Error).message),
  );
});

test('property: proofs from tiles equal proofs from the leaf list, with O(log n) tile reads', async () => {
  const n = 70000;
  const { store } = await big70000();
  const full = BIG_FULL;
  let maxReads = 0;
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: n }), fc.nat(), fc.nat(), async (size, ir, mr) => {
      const index = ir % size;
      const size1 = 1 + (mr % size);
      store.resetReads();
      const tiles = tileNodeReader(store.read, size);
      assert.deepEqual((await inclusionProof(tiles, index, size)).map(toHex), (await inclusionProof(full, index, size)).map(toHex));
      assert.deepEqual((await consistencyProof(tiles, size1, size)).map(toHex), (await consistencyProof(full, size1, size)).map(toHex));
      assert.equal(toHex(await rootHash(tiles, size)), toHex(await rootHash(full, size)));
      maxReads = Math.max(maxReads, store.reads());
    }),
    { numRuns: 60 },
  );
  // Three calls (inclusion, consistency, root); each reads at most 2 tiles per tile level (3 levels here).
  assert.ok(maxReads <= 3 * 2 * 3, `tile reads per query: ${maxReads}`);
});

test('property: inclusionProofs of many leaves in one batch equal each leaf proven alone, tiles read once', async () => {
  const { store } = await big70000();
  const full = BIG_FULL;
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 70000 }), fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), async (size, picks) => {
      const indexes = picks.map((p) => p % size);
      let calls = 0;
      store.resetReads();
      const reader = tileNodeReader((ids) => (calls++, store.read(ids)), size);
      const batch = await inclusionProofs(reader, indexes, size);
      assert.ok(calls <= 1, 'at most one readTiles call for the whole batch (none when no proof needs a hash)');
      // Each tile once: at most 2 per tile level (3 here) per distinct leaf.
      assert.ok(store.reads() <= 6 * new Set(indexes).size, `tiles read: ${store.reads()}`);
      for (const [i, index] of indexes.entries()) assert.deepEqual(batch[i].map(toHex), (await inclusionProof(full, index, size)).map(toHex));
    }),
    { numRuns: 40 },
  );
});

test('hashLevelUp hashes adjacent pairs as hashChildren does', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 * 9 }), (raw) => {
      const pairs = Math.floor(raw.length / 64);
      const above = Buffer.alloc(pairs * 32);
      hashLevelUp(raw, pairs, above);
      for (let i = 0; i < pairs; i++)
        assert.equal(
          toHex(above.subarray(i * 32, i * 32 + 32)),
          toHex(hashChildren(raw.subarray(i * 64, i * 64 + 32), raw.subarray(i * 64 + 32, i * 64 + 64))),
        );
    }),
  );
  assert.throws(() => hashLevelUp(new Uint8Array(64), 2, Buffer.alloc(64)), /too short/);
});

test('property: consistencyProofs of many pairs, read from the largest tree, equal each pair proven in its own tree', async () => {
  const { store } = await big70000();
  const full = BIG_FULL;
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 70000 }), fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 20 }), async (size, raw) => {
      const pairs = raw.map(([a, b]): [number, number] => {
        const s2 = 1 + (b % size);
        return [1 + (a % s2), s2];
      });
      const batch = await consistencyProofs(tileNodeReader(store.read, size), pairs);
      for (const [i, [s1, s2]] of pairs.entries()) assert.deepEqual(batch[i].map(toHex), (await consistencyProof(full, s1, s2)).map(toHex));
    }),
    { numRuns: 40 },
  );
});
