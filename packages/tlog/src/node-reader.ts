import type { Hash } from './hash.ts';
import { assertHash, hashChildren } from './hash.ts';
import { TlogInputInvalidError } from './errors.ts';
import { isPowerOfTwo, largestPowerOfTwoBelow, log2Exact } from './tree-math.ts';

/**
 * NodeId names one perfect subtree: the node at `level` (0 = leaf) and `index` within that level,
 * covering leaves [index * 2^level, (index + 1) * 2^level).
 */
export type NodeId = { readonly level: number; readonly index: number };

/**
 * NodeHashReader is the port proof generation reads hashes through. It MUST return, in order,
 * the hash of every requested perfect subtree, or reject; every requested node lies inside the
 * tree the reader was made for. A reader built on tiles fetches all tiles of one call in one batch.
 */
export type NodeHashReader = (nodes: readonly NodeId[]) => Promise<Hash[]>;

/**
 * perfectSubtrees splits the RFC 9162 subtree D[start:end] into the perfect subtrees its MTH is
 * built from, left to right: MTH(D[s:e]) = HASH(0x01 || MTH(D[s:s+k]) || MTH(D[s+k:e])) with k
 * the largest power of two below e - s, and D[s:s+k] perfect. `start` MUST be a multiple of the
 * smallest power of two >= end - start (true of every subtree the RFC recursion produces).
 */
export function perfectSubtrees(start: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  let s = start;
  while (end - s > 0) {
    const n = end - s;
    const k = isPowerOfTwo(n) ? n : largestPowerOfTwoBelow(n);
    if (s % k !== 0) throw new TlogInputInvalidError(`subtree [${start}, ${end}) is not an RFC 9162 subtree`);
    out.push({ level: log2Exact(k), index: s / k });
    s += k;
  }
  return out;
}

/** foldSubtree hashes the perfect subtrees of one range (from perfectSubtrees) into its MTH, right to left. */
export function foldSubtree(hashes: readonly Hash[]): Hash {
  let h = hashes[hashes.length - 1];
  for (let i = hashes.length - 2; i >= 0; i--) h = hashChildren(hashes[i], h);
  return h;
}

/**
 * readRanges computes MTH(D[start:end]) of each range with one call to the reader, which keeps
 * tile reads batched. Each range MUST be non-empty and an RFC 9162 subtree.
 */
export async function readRanges(reader: NodeHashReader, ranges: readonly (readonly [number, number])[]): Promise<Hash[]> {
  const parts = ranges.map(([s, e]) => perfectSubtrees(s, e));
  const flat = parts.flat();
  const hashes = flat.length === 0 ? [] : await reader(flat);
  if (hashes.length !== flat.length) throw new TlogInputInvalidError(`node reader returned ${hashes.length} hashes for ${flat.length} nodes`);
  hashes.forEach((h, i) => assertHash(h, `node hash ${flat[i].level}/${flat[i].index} from the reader`));
  let at = 0;
  return parts.map((p) => {
    const mine = hashes.slice(at, at + p.length);
    at += p.length;
    return foldSubtree(mine);
  });
}

/**
 * memoryNodeReader serves node hashes from a full list of leaf hashes, precomputing every perfect
 * level once (O(n) hashing, O(n) memory). It is for tests and small trees; logs use tiles.
 */
export function memoryNodeReader(leafHashes: readonly Hash[]): NodeHashReader {
  const levels: Hash[][] = [leafHashes.slice()];
  while (levels[levels.length - 1].length > 1) {
    const below = levels[levels.length - 1];
    const next: Hash[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) next.push(hashChildren(below[i], below[i + 1]));
    levels.push(next);
  }
  return async (nodes) =>
    nodes.map(({ level, index }) => {
      const h = levels[level]?.[index];
      if (h === undefined) throw new TlogInputInvalidError(`node ${level}/${index} is outside the tree of ${leafHashes.length} leaves`);
      return h;
    });
}
