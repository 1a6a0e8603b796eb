// A tile reader that remembers what it read: the inclusion proofs of one report share most of
// their tiles (the upper levels above all), so each is read from the store once.
import type { TileId, TileReader } from '@affidavit/tlog';

/** cachedTileReader wraps `read`, keeping every tile it returned (one report's worth: bounded by the tree's tiles on the proof paths). */
export function cachedTileReader(read: TileReader): TileReader {
  const cache = new Map<string, Uint8Array | undefined>();
  const k = (id: TileId) => `${id.level}/${id.index}/${id.width}`;
  return async (ids) => {
    const missing = ids.filter((id) => !cache.has(k(id)));
    if (missing.length > 0) {
      const got = await read(missing);
      missing.forEach((id, i) => cache.set(k(id), got[i]));
    }
    return ids.map((id) => cache.get(k(id)));
  };
}
