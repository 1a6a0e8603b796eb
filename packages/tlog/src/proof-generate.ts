import type { Hash } from './hash.ts';
import { EMPTY_ROOT } from './hash.ts';
import type { NodeHashReader } from './node-reader.ts';
import { readRanges } from './node-reader.ts';
import { TlogInputInvalidError } from './errors.ts';
import { assertSize, largestPowerOfTwoBelow } from './tree-math.ts';

type Range = readonly [number, number];

/**
 * inclusionProofRanges lists the subtrees whose MTH form the inclusion proof, leaf side first.
 * SPEC: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.1
 * "PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k; and PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k]) for m >= k"
 */
export function inclusionProofRanges(index: number, size: number): Range[] {
  assertSize(index, 'leaf index');
  assertSize(size, 'tree size');
  if (index >= size) throw new TlogInputInvalidError(`leaf index ${index} is not below tree size ${size}`);
  const out: Range[] = [];
  // Walk down from the root, remembering siblings; the proof lists them bottom-up.
  let start = 0;
  let end = size;
  let m = index;
  while (end - start > 1) {
    const k = largestPowerOfTwoBelow(end - start);
    if (m < k) {
      out.push([start + k, end]);
      end = start + k;
    } else {
      out.push([start, start + k]);
      start += k;
      m -= k;
    }
  }
  return out.reverse();
}

/**
 * consistencyProofRanges lists the subtrees whose MTH form the consistency proof between size1 and size2.
 * SPEC: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.1
 * "SUBPROOF(m, D[m], true) = {} ... SUBPROOF(m, D[m], false) = {MTH(D[m])} ... If m <= k, the right subtree
 * entries D[k:n] only exist in the current tree. ... SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])"
 * Sizes MUST satisfy 0 < size1 <= size2; size1 == size2 gives the empty proof.
 */
export function consistencyProofRanges(size1: number, size2: number): Range[] {
  assertSize(size1, 'size1');
  assertSize(size2, 'size2');
  if (size1 === 0 || size1 > size2) throw new TlogInputInvalidError(`no consistency proof from size ${size1} to size ${size2}: need 0 < size1 <= size2`);
  const out: Range[] = [];
  let start = 0;
  let end = size2;
  let m = size1;
  let complete = true; // the RFC's b: is D[start:start+m] a subtree of the old tree the verifier knows
  while (m !== end - start) {
    const k = largestPowerOfTwoBelow(end - start);
    if (m <= k) {
      out.push([start + k, end]);
      end = start + k;
    } else {
      out.push([start, start + k]);
      start += k;
      m -= k;
      complete = false;
    }
  }
  if (!complete) out.push([start, end]);
  return out.reverse();
}

/** inclusionProof builds the RFC 9162 inclusion proof of leaf `index` in the tree of `size`, reading hashes through `reader` in one batch. */
export async function inclusionProof(reader: NodeHashReader, index: number, size: number): Promise<Hash[]> {
  return readRanges(reader, inclusionProofRanges(index, size));
}

/**
 * inclusionProofs builds the inclusion proofs of many leaves of the tree of `size` in ONE reader
 * batch (a report cites thousands of entries: their proofs share tiles, read and hashed once).
 */
export async function inclusionProofs(reader: NodeHashReader, indexes: readonly number[], size: number): Promise<Hash[][]> {
  const per = indexes.map((i) => inclusionProofRanges(i, size));
  const flat = await readRanges(reader, per.flat());
  let at = 0;
  return per.map((r) => flat.slice(at, (at += r.length)));
}

/**
 * consistencyProofs builds the consistency proofs of many [size1, size2] pairs in ONE reader batch;
 * every size2 MUST be at most the size of the tree `reader` reads (a perfect subtree's hash is the
 * same in every tree that holds it, so the largest tree's tiles serve all the pairs).
 */
export async function consistencyProofs(reader: NodeHashReader, pairs: readonly (readonly [number, number])[]): Promise<Hash[][]> {
  const per = pairs.map(([a, b]) => consistencyProofRanges(a, b));
  const flat = await readRanges(reader, per.flat());
  let at = 0;
  return per.map((r) => flat.slice(at, (at += r.length)));
}

/** consistencyProof builds the RFC 9162 consistency proof from `size1` to `size2` (0 < size1 <= size2), in one reader batch. */
export async function consistencyProof(reader: NodeHashReader, size1: number, size2: number): Promise<Hash[]> {
  return readRanges(reader, consistencyProofRanges(size1, size2));
}

/** rootHash computes MTH of the first `size` leaves from perfect-subtree hashes (EMPTY_ROOT for size 0). */
export async function rootHash(reader: NodeHashReader, size: number): Promise<Hash> {
  assertSize(size, 'tree size');
  if (size === 0) return EMPTY_ROOT.slice();
  return (await readRanges(reader, [[0, size]]))[0];
}
