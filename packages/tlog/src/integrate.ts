import type { Hash } from './hash.ts';
import { HASH_SIZE, assertHash, perfectRoot } from './hash.ts';
import type { Tile, TileId, TileReader } from './tile-id.ts';
import { TILE_WIDTH, tileEntryCount, tileHashes, tilePath } from './tile-id.ts';
import { tileNodeReader } from './tile-node-reader.ts';
import type { CompactRange } from './compact-range.ts';
import { extendRange, rangeRoot, readCompactRange } from './compact-range.ts';
import { TlogInputInvalidError, TlogTileInvalidError, TlogTileMissingError } from './errors.ts';
import { MAX_TREE_SIZE, assertSize } from './tree-math.ts';

/** IntegrateResult is what integrate() computed: the new tree size and root, and the tiles to persist. */
export type IntegrateResult = {
  readonly size: number;
  readonly root: Hash;
  /** Every tile whose contents changed, full and partial, at most one per (level, index). */
  readonly tiles: readonly Tile[];
  /** The compact range of the new tree: give it to the next integrate() call of this tree. */
  readonly range: CompactRange;
};

/**
 * integrate appends `leafHashes` to the tree of `fromSize` leaves (tessera's storage.Integrate idea):
 * it reads, through `readTiles`, only the right-edge partial tiles of the old tree (at most one per
 * tile level, in one batch), and returns the new size, the new root and the tiles to write.
 *
 * Given `from`, the compact range of the old tree (what the previous call returned), it computes
 * the new root from that range (about one hash per leaf) instead of reading the right edge's
 * subtrees back from tiles (up to 127 hashes per subtree inside a tile).
 *
 * It is pure: it MUST NOT be given a `readTiles` that sees tiles of a different tree, and the caller
 * MUST persist every returned tile before publishing a checkpoint for the new size. Full tiles are
 * immutable; the returned partial tiles replace none (their path carries their width).
 */
export async function integrate(readTiles: TileReader, fromSize: number, leafHashes: readonly Hash[], from?: CompactRange): Promise<IntegrateResult> {
  assertSize(fromSize, 'fromSize');
  if (from !== undefined && from.size !== fromSize) throw new TlogInputInvalidError(`the compact range given is of a tree of ${from.size}, not ${fromSize}`);
  if (!Array.isArray(leafHashes)) throw new TlogInputInvalidError('leafHashes must be an array of hashes');
  leafHashes.forEach((h, i) => assertHash(h, `leafHashes[${i}]`));
  const newSize = fromSize + leafHashes.length;
  if (newSize > MAX_TREE_SIZE) throw new TlogInputInvalidError(`tree would grow past 2^53-1 leaves`);

  // The right edge of the old tree: one partial tile per level that has one.
  const edge: TileId[] = [];
  for (let level = 0; tileEntryCount(level, fromSize) > 0; level++) {
    const count = tileEntryCount(level, fromSize);
    if (count % TILE_WIDTH !== 0) edge.push({ level, index: Math.floor(count / TILE_WIDTH), width: count % TILE_WIDTH });
  }
  const edgeData = edge.length === 0 ? [] : await readTiles(edge);
  const edgeBytes = new Map<number, Uint8Array>();
  edge.forEach((id, i) => {
    const data = edgeData[i];
    if (data === undefined) throw new TlogTileMissingError(`tile ${tilePath(id)} of the tree of ${fromSize} is missing`);
    if (data.length !== id.width * HASH_SIZE) throw new TlogTileInvalidError(`tile ${tilePath(id)} has ${data.length} bytes, want ${id.width * HASH_SIZE}`);
    edgeBytes.set(id.level, data);
  });

  // Each level's new tiles are the old partial tile's bytes followed by the incoming hashes, cut
  // every TILE_WIDTH: copied as bytes (a partial tile is not split into hashes, which cost an
  // object per hash on every small append); only a completed tile is hashed, for the level above.
  const written: Tile[] = [];
  let incoming: readonly Hash[] = leafHashes;
  for (let level = 0; incoming.length > 0; level++) {
    const oldCount = tileEntryCount(level, fromSize);
    let index = Math.floor(oldCount / TILE_WIDTH);
    const old = edgeBytes.get(level);
    const oldWidth = old === undefined ? 0 : old.length / HASH_SIZE;
    const total = oldWidth + incoming.length;
    const completed: Hash[] = [];
    for (let at = 0; at < total; at += TILE_WIDTH) {
      const width = Math.min(TILE_WIDTH, total - at);
      const data = new Uint8Array(width * HASH_SIZE);
      // Only the first tile of a level starts with old hashes (at = 0).
      const fromOld = at < oldWidth ? oldWidth - at : 0;
      if (fromOld > 0) data.set(old!.subarray(at * HASH_SIZE, oldWidth * HASH_SIZE), 0);
      for (let j = fromOld; j < width; j++) data.set(incoming[at + j - oldWidth], j * HASH_SIZE);
      const id: TileId = { level, index, width };
      written.push({ id, data });
      // SPEC: https://c2sp.org/tlog-tiles "A partial tile ... MUST NOT be hashed into a tile at the level above."
      if (width === TILE_WIDTH) completed.push(perfectRoot(tileHashes(id, data)));
      index++;
    }
    incoming = completed;
  }

  if (from !== undefined) {
    const range = extendRange(from, leafHashes);
    return { size: newSize, root: rangeRoot(range), tiles: written, range };
  }
  // Without the old range, the new one is read from right-edge tiles of the new tree: each was
  // just written or was read above (only this path needs them by path).
  const known = new Map<string, Uint8Array>();
  edge.forEach((id, i) => known.set(tilePath(id), edgeData[i]!));
  for (const t of written) known.set(tilePath(t.id), t.data);
  const overlay: TileReader = async (ids) => {
    const missing = ids.filter((id) => !known.has(tilePath(id)));
    const fetched = missing.length === 0 ? [] : await readTiles(missing);
    missing.forEach((id, i) => fetched[i] !== undefined && known.set(tilePath(id), fetched[i]!));
    return ids.map((id) => known.get(tilePath(id)));
  };
  const range = await readCompactRange(tileNodeReader(overlay, newSize), newSize);
  return { size: newSize, root: rangeRoot(range), tiles: written, range };
}
