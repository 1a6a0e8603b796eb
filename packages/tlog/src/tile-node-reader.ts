import { HASH_SIZE, hashLevelUp } from './hash.ts';
import type { NodeHashReader, NodeId } from './node-reader.ts';
import type { TileId, TileReader } from './tile-id.ts';
import { TILE_HEIGHT, TILE_WIDTH, tileIdFor, tilePath } from './tile-id.ts';
import { TlogInputInvalidError, TlogTileInvalidError, TlogTileMissingError } from './errors.ts';
import { assertSize } from './tree-math.ts';

/** Where one node's hash comes from: `count` consecutive hashes starting at `offset` in one tile. */
type NodeSource = { tile: TileId; offset: number; count: number };

function sourceOf(node: NodeId, size: number): NodeSource {
  // A node at tree level h lives in tile level floor(h / 8); it is one hash there when h is a multiple
  // of 8, otherwise the perfect subtree over 2^(h mod 8) consecutive hashes of that tile.
  const tileLevel = Math.floor(node.level / TILE_HEIGHT);
  const count = 2 ** (node.level % TILE_HEIGHT);
  const first = node.index * count; // position among the hashes of tree level 8 * tileLevel
  const leaves = (node.index + 1) * 2 ** node.level;
  if (!Number.isSafeInteger(leaves) || leaves > size) {
    throw new TlogInputInvalidError(`node ${node.level}/${node.index} is outside the tree of ${size}`);
  }
  const tile = tileIdFor(tileLevel, Math.floor(first / TILE_WIDTH), size);
  return { tile, offset: first % TILE_WIDTH, count };
}

/**
 * tileNodeReader reads node hashes of the tree of `size` from tiles. Each call reads every tile it
 * needs in ONE `readTiles` batch, each tile once; a proof or root needs at most two tiles per tile
 * level, so O(log n) tile reads. It throws TlogTileMissingError when the store lacks a tile.
 */
export function tileNodeReader(readTiles: TileReader, size: number): NodeHashReader {
  assertSize(size, 'tree size');
  // Within one tree size a tile is named by its level and index (its width follows from them): a
  // number, where a path string per node showed in the profile of a report's 3,000 proofs.
  const keyOf = (t: TileId) => t.index * 64 + t.level;
  return async (nodes) => {
    const sources = nodes.map((n) => sourceOf(n, size));
    const unique = new Map<number, TileId>();
    for (const s of sources) unique.set(keyOf(s.tile), s.tile);
    const ids = [...unique.values()];
    const datas = ids.length === 0 ? [] : await readTiles(ids);
    // Per tile, its subtree levels as far up as a node of this call needs: the nodes of one call
    // (many proofs batched) share tiles, and a level is hashed once per call, not once per node.
    const byKey = new Map<number, Uint8Array[]>();
    ids.forEach((id, i) => {
      const data = datas[i];
      if (data === undefined) throw new TlogTileMissingError(`tile ${tilePath(id)} is missing from the tile store`);
      if (data.length !== id.width * HASH_SIZE) throw new TlogTileInvalidError(`tile ${tilePath(id)} has ${data.length} bytes, want ${id.width * HASH_SIZE}`);
      byKey.set(keyOf(id), [data]);
    });
    return sources.map((s) => {
      const levels = byKey.get(keyOf(s.tile))!;
      const k = Math.log2(s.count);
      while (levels.length <= k) {
        const below = levels[levels.length - 1];
        const pairs = Math.floor(below.length / HASH_SIZE / 2);
        const above = Buffer.allocUnsafe(pairs * HASH_SIZE);
        hashLevelUp(below, pairs, above);
        levels.push(above);
      }
      const at = (s.offset / s.count) * HASH_SIZE;
      if (at + HASH_SIZE > levels[k].length)
        throw new TlogInputInvalidError(`node of ${s.count} hashes at ${s.offset} is past the end of tile ${tilePath(s.tile)}`);
      return levels[k].slice(at, at + HASH_SIZE);
    });
  };
}
