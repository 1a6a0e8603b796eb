// Table tests against published RFC 6962 / 9162 vectors (see testing/vectors.ts for the source)
// and property tests comparing generation with the RFC's own recursive definitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  EMPTY_ROOT,
  TlogInputInvalidError,
  TlogProofInvalidError,
  consistencyProof,
  hashLeaf,
  inclusionProof,
  memoryNodeReader,
  rootHash,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from './index.ts';
import type { Hash } from './index.ts';
import { CONSISTENCY, EMPTY_TREE_ROOT, INCLUSION, LEAVES, ROOTS, hex } from './testing/vectors.ts';
import { refMth, refPath, refProof } from './testing/reference-tree.ts';

const leafHashes = LEAVES.map((l) => hashLeaf(hex(l)));
const reader = memoryNodeReader(leafHashes);

test('empty tree root is SHA-256 of the empty string', async () => {
  assert.equal(toHex(EMPTY_ROOT), EMPTY_TREE_ROOT);
  assert.equal(toHex(await rootHash(memoryNodeReader([]), 0)), EMPTY_TREE_ROOT);
});

for (let size = 1; size <= 8; size++) {
  test(`root of the reference tree of ${size} leaves`, async () => {
    assert.equal(toHex(await rootHash(reader, size)), ROOTS[size - 1]);
  });
}

for (const v of INCLUSION) {
  test(`published inclusion proof: leaf ${v.leaf} of ${v.size}`, async () => {
    const proof = await inclusionProof(reader, v.leaf - 1, v.size);
    assert.deepEqual(proof.map(toHex), v.proof);
    verifyInclusion(leafHashes[v.leaf - 1], v.leaf - 1, v.size, v.proof.map(hex), hex(ROOTS[v.size - 1]));
  });
}

for (const v of CONSISTENCY) {
  test(`published consistency proof: ${v.size1} -> ${v.size2}`, async () => {
    const proof = await consistencyProof(reader, v.size1, v.size2);
    assert.deepEqual(proof.map(toHex), v.proof);
    verifyConsistency(v.size1, v.size2, v.proof.map(hex), hex(ROOTS[v.size1 - 1]), hex(ROOTS[v.size2 - 1]));
  });
}

test('step 2 of RFC 9162 §2.1.4.2: power-of-two size1 proofs verify (first hash is implied)', async () => {
  // 4 -> 8: the proof is just MTH(D[4:8]); a verifier skipping step 2 has nothing to start fr from.
  const proof = await consistencyProof(reader, 4, 8);
  assert.equal(proof.length, 1);
  verifyConsistency(4, 8, proof, hex(ROOTS[3]), hex(ROOTS[7]));
  // Forgery a step-2-skipping verifier accepts: sending root1 itself in the proof as if it were a node.
  assert.throws(() => verifyConsistency(4, 8, [hex(ROOTS[3]), ...proof], hex(ROOTS[3]), hex(ROOTS[7])), TlogProofInvalidError);
});

test('verifiers reject bad arguments with a typed error naming the problem', () => {
  const h = leafHashes[0];
  const cases: [() => void, RegExp][] = [
    [() => verifyInclusion(h, 0, 0, [], EMPTY_ROOT), /not below tree size 0/],
    [() => verifyInclusion(h, 1, 1, [], h), /not below/],
    [() => verifyInclusion(h, -1, 1, [], h), /leaf index/],
    [() => verifyInclusion(h, 0, 2 ** 53, [], h), /tree size/],
    [() => verifyInclusion(new Uint8Array(31), 0, 1, [], h), /leaf hash must be 32 bytes/],
    [() => verifyInclusion(h, 0, 1, [], new Uint8Array(0)), /root must be 32 bytes/],
    [() => verifyInclusion(h, 0, 1, new Array(200).fill(h), h), /more than any tree/],
    [() => verifyInclusion(h, 0, 1, [], leafHashes[1]), /gives root/],
    [() => verifyConsistency(2, 1, [], h, h), /smaller than size1/],
    [() => verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT), /empty tree proves nothing/],
    [() => verifyConsistency(0, 1, [], EMPTY_ROOT, h), /empty tree proves nothing/],
    [() => verifyConsistency(1, 1, [h], h, h), /proof has 1 hashes/],
    [() => verifyConsistency(1, 1, [], h, leafHashes[1]), /roots differ/],
    [() => verifyConsistency(1, 2, [], h, h), /empty consistency proof/],
  ];
  for (const [fn, re] of cases) assert.throws(fn, (e: unknown) => e instanceof TlogProofInvalidError && re.test((e as Error).message), String(re));
});

test('generation refuses impossible requests with TlogInputInvalidError', async () => {
  await assert.rejects(inclusionProof(reader, 8, 8), TlogInputInvalidError);
  await assert.rejects(consistencyProof(reader, 0, 3), TlogInputInvalidError);
  await assert.rejects(consistencyProof(reader, 5, 3), TlogInputInvalidError);
  await assert.rejects(inclusionProof(reader, 0.5, 3), TlogInputInvalidError);
});

test('sizes past 2^32 use arithmetic, not 32-bit bit operators', () => {
  // A proof for the last leaf of a 2^33 + 1 tree is a single hash (the left 2^33 subtree):
  // with 32-bit shifts the index would wrap and the proof would be rejected.
  const size = 2 ** 33 + 1;
  const leaf = leafHashes[3];
  const left = leafHashes[4];
  const root = refMth([left, leaf]); // HASH(0x01 || left || leaf)
  verifyInclusion(leaf, size - 1, size, [left], root);
  assert.throws(() => verifyInclusion(leaf, size - 2, size, [left], root), TlogProofInvalidError);
});

// ---- properties ----

const MAX = 70;
function leavesOf(n: number): Hash[] {
  return Array.from({ length: n }, (_, i) => hashLeaf(new TextEncoder().encode(`leaf ${i}`)));
}
const trees = new Map<number, { leaves: Hash[]; reader: ReturnType<typeof memoryNodeReader> }>();
function tree(n: number) {
  let t = trees.get(n);
  if (!t) {
    const leaves = leavesOf(n);
    t = { leaves, reader: memoryNodeReader(leaves) };
    trees.set(n, t);
  }
  return t;
}
const rejects = (fn: () => void) => {
  try {
    fn();
    return false;
  } catch (e) {
    if (!(e instanceof TlogProofInvalidError)) throw e;
    return true;
  }
};
/** directions is the sibling side at each step of RFC 9162 PATH(m, D[n]), leaf first (independent of src/). */
function directions(m: number, n: number): string[] {
  if (n === 1) return [];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m < k ? [...directions(m, k), 'R'] : [...directions(m - k, n - k), 'L'];
}
function refProofLength(a: number, b: number): number {
  return refProof(a, tree(b).leaves).length;
}
function flip(proof: Hash[], i: number, bit: number): Hash[] {
  return proof.map((h, j) => {
    if (j !== i) return h;
    const c = Uint8Array.from(h);
    c[bit >> 3] ^= 1 << (bit & 7);
    return c;
  });
}

test('property: every inclusion proof equals RFC PATH and verifies; every altered proof fails', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: MAX }), fc.nat(), fc.nat(), fc.nat(255), async (size, ir, jr, bit) => {
      const { leaves, reader } = tree(size);
      const index = ir % size;
      const root = refMth(leaves);
      const proof = await inclusionProof(reader, index, size);
      assert.deepEqual(proof, refPath(index, leaves));
      verifyInclusion(leaves[index], index, size, proof, root);
      if (proof.length > 0) {
        assert.ok(
          rejects(() => verifyInclusion(leaves[index], index, size, flip(proof, jr % proof.length, bit), root)),
          'flipped bit',
        );
        assert.ok(
          rejects(() => verifyInclusion(leaves[index], index, size, proof.slice(0, -1), root)),
          'missing hash',
        );
      }
      assert.ok(
        rejects(() => verifyInclusion(leaves[index], index, size, [...proof, leaves[0]], root)),
        'extra hash',
      );
      assert.ok(
        rejects(() => verifyInclusion(leaves[index], index, size, [leaves[0], ...proof], root)),
        'extra hash in front',
      );
      const otherIndex = (index + 1 + (jr % size)) % size;
      if (otherIndex !== index)
        assert.ok(
          rejects(() => verifyInclusion(leaves[index], otherIndex, size, proof, root)),
          'wrong index',
        );
      // A wrong tree size fails unless it gives the very same left/right hashing pattern (e.g. leaf 0
      // of 3 vs of 4): RFC 9162 proofs do not bind the size by themselves; the signed checkpoint binds
      // size to root. So: rejected exactly when the RFC recursion's pattern differs.
      for (const otherSize of [size + 1, size - 1, size * 2, size + 1 + (jr % MAX)]) {
        if (otherSize > index && otherSize !== size) {
          const same = directions(index, otherSize).join('') === directions(index, size).join('');
          assert.equal(
            rejects(() => verifyInclusion(leaves[index], index, otherSize, proof, root)),
            !same,
            `wrong size ${otherSize}`,
          );
        }
      }
    }),
    { numRuns: 300 },
  );
});

test('property: every consistency proof equals RFC PROOF and verifies; every altered proof fails', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: MAX }), fc.nat(), fc.nat(), fc.nat(255), async (size2, mr, jr, bit) => {
      const { leaves, reader } = tree(size2);
      const size1 = 1 + (mr % size2);
      const root1 = refMth(leaves.slice(0, size1));
      const root2 = refMth(leaves);
      const proof = await consistencyProof(reader, size1, size2);
      assert.deepEqual(proof, refProof(size1, leaves));
      verifyConsistency(size1, size2, proof, root1, root2);
      if (proof.length > 0) {
        assert.ok(
          rejects(() => verifyConsistency(size1, size2, flip(proof, jr % proof.length, bit), root1, root2)),
          'flipped bit',
        );
        assert.ok(
          rejects(() => verifyConsistency(size1, size2, proof.slice(0, -1), root1, root2)),
          'missing hash',
        );
        assert.ok(
          rejects(() => verifyConsistency(size1, size2, proof.slice(1), root1, root2)),
          'missing first hash',
        );
      }
      assert.ok(
        rejects(() => verifyConsistency(size1, size2, [...proof, leaves[0]], root1, root2)),
        'extra hash',
      );
      assert.ok(
        rejects(() => verifyConsistency(size1, size2, [root1, ...proof], root1, root2)),
        'extra hash in front',
      );
      if (size1 !== size2)
        assert.ok(
          rejects(() => verifyConsistency(size1, size2, proof, root2, root1)),
          'swapped roots',
        );
      for (const [a, b] of [
        [size1 + 1, size2],
        [size1 - 1, size2],
        [size1, size2 + 1],
        [size1, size2 - 1],
        [size1, size2 * 2],
      ]) {
        // As for inclusion, sizes are bound by the checkpoint signature, not the proof: wrong sizes
        // MUST fail whenever they need a proof of another length (same-shape sizes may pass).
        if (a >= 1 && b >= a && (a !== size1 || b !== size2) && refProofLength(a, b) !== proof.length) {
          assert.ok(
            rejects(() => verifyConsistency(a, b, proof, root1, root2)),
            `wrong sizes ${a} ${b}`,
          );
        }
      }
    }),
    { numRuns: 300 },
  );
});
