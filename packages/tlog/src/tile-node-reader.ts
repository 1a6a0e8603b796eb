import type { Hash } from './hash.ts';
import { perfectRoot } from './hash.ts';
import type { NodeHashReader, NodeId } from './node-reader.ts';
import type { TileId, TileReader } from './tile-id.ts';
import { TILE_HEIGHT, TILE_WIDTH, tileHashes, tileIdFor, tilePath } from './tile-id.ts';
import { TlogInputInvalidError, TlogTileMissingError } from './errors.ts';
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
  return async (nodes) => {
    const sources = nodes.map((n) => sourceOf(n, size));
    const unique = new Map<string, TileId>();
    for (const s of sources) unique.set(tilePath(s.tile), s.tile);
    const ids = [...unique.values()];
    const datas = ids.length === 0 ? [] : await readTiles(ids);
    const byPath = new Map<string, Hash[]>();
    ids.forEach((id, i) => {
      const data = datas[i];
      if (data === undefined) throw new TlogTileMissingError(`tile ${tilePath(id)} is missing from the tile store`);
      byPath.set(tilePath(id), tileHashes(id, data));
    });
    return sources.map((s) => perfectRoot(byPath.get(tilePath(s.tile))!.slice(s.offset, s.offset + s.count)));
  };
}
