import type { Hash } from './hash.ts';
import { HASH_SIZE, hashChildren, hashesEqual, toHex } from './hash.ts';
import { TlogProofInvalidError } from './errors.ts';
import { half, isOdd, isPowerOfTwo } from './tree-math.ts';

// The verifiers treat every argument as untrusted: a bad size, index or hash length is a failed
// proof (TlogProofInvalidError naming what was wrong), never a crash. A proof longer than this
// cannot belong to a tree of at most 2^53 - 1 leaves (inclusion: 53 hashes; consistency: 2 per
// level), so longer input is refused before any hashing.
const MAX_PROOF_HASHES = 128;

function fail(msg: string): never {
  throw new TlogProofInvalidError(msg);
}

function checkNumber(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail(`${what} must be an integer in [0, 2^53-1], got ${String(n)}`);
  return n;
}

function checkHash(h: unknown, what: string): Hash {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    fail(`${what} must be ${HASH_SIZE} bytes, got ${h instanceof Uint8Array ? `${h.length} bytes` : typeof h}`);
  }
  return h;
}

function checkProof(proof: unknown): Hash[] {
  if (!Array.isArray(proof)) fail('proof must be an array of hashes');
  if (proof.length > MAX_PROOF_HASHES) fail(`proof has ${proof.length} hashes, more than any tree of 2^53 leaves needs`);
  return proof.map((h, i) => checkHash(h, `proof[${i}]`));
}

/**
 * rootFromInclusionProof recomputes the root from a leaf hash and its inclusion proof, or throws
 * TlogProofInvalidError when the proof cannot belong to leaf `index` of a tree of `size`.
 * SPEC: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2
 * "1. Compare leaf_index from the inclusion_proof_v2 structure against tree_size. If leaf_index is
 * greater than or equal to tree_size, then fail the proof verification."
 */
export function rootFromInclusionProof(leafHash: Hash, index: number, size: number, proof: readonly Hash[]): Hash {
  checkNumber(index, 'leaf index');
  checkNumber(size, 'tree size');
  if (index >= size) fail(`leaf index ${index} is not below tree size ${size}`);
  const path = checkProof(proof);
  let r = checkHash(leafHash, 'leaf hash');
  let fn = index;
  let sn = size - 1;
  for (const p of path) {
    // "a. If sn is 0, then stop the iteration and fail the proof verification."
    if (sn === 0) fail(`proof has ${path.length} hashes, more than leaf ${index} of a tree of ${size} needs`);
    // "b. If LSB(fn) is set, or if fn is equal to sn, then: 1. Set r to HASH(0x01 || p || r).
    //  2. If LSB(fn) is not set, then right-shift both fn and sn equally until either LSB(fn) is set or fn is 0."
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      // "Otherwise: Set r to HASH(0x01 || r || p)."
      r = hashChildren(r, p);
    }
    // "c. Finally, right-shift both fn and sn one time."
    fn = half(fn);
    sn = half(sn);
  }
  // "4. Compare sn to 0."
  if (sn !== 0) fail(`proof has ${path.length} hashes, fewer than leaf ${index} of a tree of ${size} needs`);
  return r;
}

/**
 * verifyInclusion checks that `leafHash` is leaf `index` of the tree of `size` with root `root`;
 * it returns normally or throws TlogProofInvalidError saying what did not match.
 * SPEC: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2 "Compare r against the root_hash. If they are equal, then the log has proven the inclusion of hash."
 */
export function verifyInclusion(leafHash: Hash, index: number, size: number, proof: readonly Hash[], root: Hash): void {
  const want = checkHash(root, 'root');
  const got = rootFromInclusionProof(leafHash, index, size, proof);
  if (!hashesEqual(got, want)) fail(`inclusion proof for leaf ${index} of ${size} gives root ${toHex(got)}, want ${toHex(want)}`);
}

/**
 * verifyConsistency checks that the tree of `size2` with root `root2` extends the tree of `size1`
 * with root `root1`; it returns normally or throws TlogProofInvalidError.
 *
 * size1 = 0 is refused: every tree extends the empty one, so such a "proof" proves nothing and a
 * caller asking for it has a bug (the reference transparency-dev/merkle verifier refuses it too).
 * size1 = size2 needs an empty proof and equal roots.
 * SPEC: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.2
 */
export function verifyConsistency(size1: number, size2: number, proof: readonly Hash[], root1: Hash, root2: Hash): void {
  checkNumber(size1, 'size1');
  checkNumber(size2, 'size2');
  if (size2 < size1) fail(`size2 ${size2} is smaller than size1 ${size1}`);
  if (size1 === 0) fail('a consistency proof from the empty tree proves nothing (size1 is 0)');
  if (!Array.isArray(proof)) fail('proof must be an array of hashes');
  if (size1 === size2) {
    // Equal sizes: the roots must simply be the same bytes (as in the reference verifier, whatever
    // their length; a checkpoint's root is checked to be 32 bytes when it is parsed).
    if (proof.length !== 0) fail(`sizes are equal (${size1}) but the proof has ${proof.length} hashes`);
    if (!(root1 instanceof Uint8Array) || !(root2 instanceof Uint8Array) || !hashesEqual(root1, root2)) fail(`sizes are equal (${size1}) but the roots differ`);
    return;
  }
  const first = checkHash(root1, 'root1');
  const second = checkHash(root2, 'root2');
  const path = checkProof(proof);
  // "1. If consistency_path is an empty array, stop and fail the proof verification."
  if (path.length === 0) fail(`empty consistency proof between sizes ${size1} and ${size2}`);
  // "2. If first is an exact power of 2, then prepend first_hash to the consistency_path array."
  // Skipping this step rejects real proofs for power-of-two sizes and lets forged ones through.
  const cp = isPowerOfTwo(size1) ? [first, ...path] : path;
  // "3. Set fn to first - 1 and sn to second - 1."
  let fn = size1 - 1;
  let sn = size2 - 1;
  // "4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set."
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // "5. Set both fr and sr to the first value in the consistency_path array."
  let fr = cp[0];
  let sr = cp[0];
  // "6. For each subsequent value c in the consistency_path array:"
  for (let i = 1; i < cp.length; i++) {
    const c = cp[i];
    // "a. If sn is 0, then stop the iteration and fail the proof verification."
    if (sn === 0) fail(`consistency proof ${size1} -> ${size2} has more hashes than needed`);
    // "b. If LSB(fn) is set, or if fn is equal to sn, then: 1. Set fr to HASH(0x01 || c || fr). Set sr to
    //  HASH(0x01 || c || sr). 2. If LSB(fn) is not set, then right-shift both fn and sn equally until either
    //  LSB(fn) is set or fn is 0."
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      // "Otherwise: Set sr to HASH(0x01 || sr || c)."
      sr = hashChildren(sr, c);
    }
    // "c. Finally, right-shift both fn and sn one time."
    fn = half(fn);
    sn = half(sn);
  }
  // "7. After completing iterating through the consistency_path array as described above, verify that the fr
  //  calculated is equal to the first_hash supplied, that the sr calculated is equal to the second_hash supplied,
  //  and that sn is 0."
  if (sn !== 0) fail(`consistency proof ${size1} -> ${size2} has fewer hashes than needed`);
  if (!hashesEqual(fr, first)) fail(`consistency proof ${size1} -> ${size2} gives old root ${toHex(fr)}, want ${toHex(first)}`);
  if (!hashesEqual(sr, second)) fail(`consistency proof ${size1} -> ${size2} gives new root ${toHex(sr)}, want ${toHex(second)}`);
}
