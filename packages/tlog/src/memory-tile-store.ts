import type { Tile, TileId, TileReader } from './tile-id.ts';
import { tilePath } from './tile-id.ts';
import { HASH_SIZE } from './hash.ts';

/** MemoryTileStore keeps tiles in memory; for tests and examples. */
export type MemoryTileStore = {
  /**
   * read is a TileReader. A tile is served from the widest stored tile of the same level and index
   * (its prefix): the log is append-only, so a partial tile is a prefix of every wider one.
   */
  readonly read: TileReader;
  /** write stores tiles; a narrower tile never replaces a wider one. */
  write(tiles: readonly Tile[]): void;
  /** paths lists the C2SP paths of every tile ever written, sorted. */
  paths(): string[];
  /** reads counts tiles requested through `read` since creation (or the last resetReads). */
  reads(): number;
  /** resetReads sets the read counter back to 0. */
  resetReads(): void;
};

/** createMemoryTileStore returns an empty in-memory tile store. */
export function createMemoryTileStore(): MemoryTileStore {
  const widest = new Map<string, Uint8Array>();
  const written = new Set<string>();
  let reads = 0;
  const key = (id: TileId) => `${id.level}/${id.index}`;
  return {
    read: async (ids) => {
      reads += ids.length;
      return ids.map((id) => {
        const data = widest.get(key(id));
        return data && data.length >= id.width * HASH_SIZE ? data.slice(0, id.width * HASH_SIZE) : undefined;
      });
    },
    write(list) {
      for (const t of list) {
        written.add(tilePath(t.id));
        const have = widest.get(key(t.id));
        if (!have || have.length < t.data.length) widest.set(key(t.id), t.data.slice());
      }
    },
    paths: () => [...written].sort(),
    reads: () => reads,
    resetReads() {
      reads = 0;
    },
  };
}
