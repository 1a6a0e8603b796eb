import type { Hash } from './hash.ts';
import { EMPTY_ROOT, assertHash, hashChildren } from './hash.ts';
import type { NodeHashReader } from './node-reader.ts';
import { foldSubtree, perfectSubtrees } from './node-reader.ts';
import { TlogInputInvalidError } from './errors.ts';
import { MAX_TREE_SIZE, assertSize } from './tree-math.ts';

/**
 * CompactRange is the tree of `size` leaves reduced to what appending to it needs: the hashes of
 * the perfect subtrees it is made of (perfectSubtrees(0, size)), largest first, one per bit set
 * in `size` (transparency-dev/merkle's compact ranges, for ranges that start at leaf 0).
 *
 * A log writer that keeps it in memory gets each new root for about one hash per leaf appended
 * plus one per bit of the size, instead of re-deriving the right edge's subtrees from tiles: a
 * subtree inside a tile costs up to 2^7 - 1 hashes there, and every small append paid that.
 */
export type CompactRange = { readonly size: number; readonly hashes: readonly Hash[] };

/** EMPTY_RANGE is the compact range of the empty tree. */
export const EMPTY_RANGE: CompactRange = Object.freeze({ size: 0, hashes: Object.freeze([]) as readonly Hash[] });

/**
 * extendRange appends `leafHashes` to `range`: each leaf joins as a subtree of one leaf, and two
 * subtrees of equal size merge into their parent (as many merges as trailing one bits of the old
 * size, like a binary counter's carries). `range` itself is not changed.
 */
export function extendRange(range: CompactRange, leafHashes: readonly Hash[]): CompactRange {
  assertRange(range);
  if (range.size + leafHashes.length > MAX_TREE_SIZE) throw new TlogInputInvalidError('tree would grow past 2^53-1 leaves');
  const hashes = range.hashes.slice();
  let size = range.size;
  for (let i = 0; i < leafHashes.length; i++) {
    let h = leafHashes[i];
    assertHash(h, `leafHashes[${i}]`);
    // Arithmetic, not bit operators: sizes go past 2^32.
    for (let carry = size; carry % 2 === 1; carry = (carry - 1) / 2) h = hashChildren(hashes.pop()!, h);
    hashes.push(h);
    size++;
  }
  return { size, hashes };
}

/** rangeRoot is the RFC 9162 root (MTH) of the tree the range stands for: its subtrees folded right to left. */
export function rangeRoot(range: CompactRange): Hash {
  assertRange(range);
  return range.size === 0 ? EMPTY_ROOT.slice() : foldSubtree(range.hashes);
}

/** readCompactRange reads the compact range of the tree of `size` leaves through `reader` (one batch). */
export async function readCompactRange(reader: NodeHashReader, size: number): Promise<CompactRange> {
  assertSize(size, 'tree size');
  if (size === 0) return EMPTY_RANGE;
  const nodes = perfectSubtrees(0, size);
  const hashes = await reader(nodes);
  if (hashes.length !== nodes.length) throw new TlogInputInvalidError(`node reader returned ${hashes.length} hashes for ${nodes.length} nodes`);
  hashes.forEach((h, i) => assertHash(h, `node hash ${nodes[i].level}/${nodes[i].index} from the reader`));
  return { size, hashes };
}

/** popCount counts the bits set in a safe integer (sizes go past 2^32, so no bit operators). */
function popCount(n: number): number {
  let bits = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) bits += x % 2;
  return bits;
}

function assertRange(range: CompactRange): void {
  assertSize(range?.size, 'compact range size');
  if (!Array.isArray(range.hashes) || range.hashes.length !== popCount(range.size)) {
    throw new TlogInputInvalidError(
      `a compact range of ${range.size} leaves holds ${popCount(range.size)} hashes, not ${Array.isArray(range.hashes) ? range.hashes.length : 'a list'}`,
    );
  }
}
