import { TlogTileInvalidError } from './errors.ts';
import { HASH_SIZE } from './hash.ts';

/** TILE_HEIGHT is the C2SP tlog-tiles tile height: a tile holds 2^8 hashes of one level. */
export const TILE_HEIGHT = 8;

/** TILE_WIDTH is the number of hashes in a full tile (256, i.e. 8,192 bytes). */
export const TILE_WIDTH = 256;

/**
 * TileId names one tile: tile `level` L (hashes at tree level 8L), `index` N within that level and
 * `width` W, the number of hashes (256 for a full tile, 1..255 for a partial one).
 * SPEC: https://c2sp.org/tlog-tiles "the n-th tile at level l, with n and l starting at 0, is the sequence of
 * the following Merkle Tree Hashes, with i from 0 to 255: MTH(D[(n * 256 + i) * 256**l : (n * 256 + i + 1) * 256**l])"
 */
export type TileId = { readonly level: number; readonly index: number; readonly width: number };

/** Tile is a tile's id and its bytes: `width` hashes of 32 bytes, concatenated. */
export type Tile = { readonly id: TileId; readonly data: Uint8Array };

/**
 * TileReader is the port tiles are read through. It MUST return one entry per id, in order: the
 * tile's bytes (exactly width * 32), or undefined when the store does not have it. A store MAY
 * answer a partial tile id from the full tile of the same level and index (its prefix).
 */
export type TileReader = (ids: readonly TileId[]) => Promise<(Uint8Array | undefined)[]>;

/** tileEntryCount is how many hashes tree level 8L holds for a tree of `size` leaves: floor(size / 256^L). */
export function tileEntryCount(level: number, size: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/**
 * tileIdFor names the tile at tile level `level` and `index` as it exists in a tree of `size`:
 * full when the tree holds all 256 of its hashes, otherwise partial with the width it has.
 * SPEC: https://c2sp.org/tlog-tiles "The partial tile at level l for a tree of size s has floor(s / 256**l) mod 256 entries."
 */
export function tileIdFor(level: number, index: number, size: number): TileId {
  const count = tileEntryCount(level, size) - index * TILE_WIDTH;
  if (count <= 0) throw new TlogTileInvalidError(`tile ${level}/${index} does not exist in a tree of ${size}`);
  return { level, index, width: Math.min(count, TILE_WIDTH) };
}

function encodeIndex(n: number): string {
  // SPEC: https://c2sp.org/tlog-tiles "It MUST be a non-negative integer encoded into zero-padded 3-digit path
  // elements. All but the last path element MUST begin with an x. For example, index 1234067 will be encoded as x001/x234/067."
  const parts: string[] = [];
  let rest = n;
  do {
    parts.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return parts.map((p, i) => (i < parts.length - 1 ? `x${p}` : p)).join('/');
}

/**
 * tilePath is the C2SP path of a tile, `tile/<L>/<N>[.p/<W>]`.
 * SPEC: https://c2sp.org/tlog-tiles "<prefix>/tile/<L>/<N>[.p/<W>]"
 */
export function tilePath(id: TileId): string {
  assertTileId(id);
  const base = `tile/${id.level}/${encodeIndex(id.index)}`;
  return id.width === TILE_WIDTH ? base : `${base}.p/${id.width}`;
}

/** assertTileId throws TlogTileInvalidError unless level is 0..63, index a safe integer >= 0 and width 1..256. */
export function assertTileId(id: TileId): void {
  const ok =
    Number.isSafeInteger(id.level) &&
    id.level >= 0 &&
    id.level <= 63 &&
    Number.isSafeInteger(id.index) &&
    id.index >= 0 &&
    Number.isSafeInteger(id.width) &&
    id.width >= 1 &&
    id.width <= TILE_WIDTH;
  if (!ok) throw new TlogTileInvalidError(`bad tile id level=${id.level} index=${id.index} width=${id.width}`);
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** parseTilePath parses `tile/<L>/<N>[.p/<W>]` strictly (no leading zeroes in L or W, 3-digit x-prefixed N groups); it throws TlogTileInvalidError. */
export function parseTilePath(path: string): TileId {
  const bad = (why: string): never => {
    throw new TlogTileInvalidError(`bad tile path ${JSON.stringify(path.slice(0, 100))}: ${why}`);
  };
  if (path.length > 200) bad('too long');
  const m = /^tile\/([^/]+)\/(.+?)(?:\.p\/([^/]+))?$/.exec(path);
  if (!m) bad('not tile/<L>/<N>[.p/<W>]');
  const [, l, n, w] = m!;
  if (!DECIMAL.test(l) || Number(l) > 63) bad('level must be 0..63 without leading zeroes');
  const groups = n.split('/');
  let index = 0;
  groups.forEach((g, i) => {
    const last = i === groups.length - 1;
    const digits = last ? g : g.startsWith('x') ? g.slice(1) : bad('all but the last index element must start with x');
    if (!/^[0-9]{3}$/.test(digits)) bad('index elements must be 3 digits');
    index = index * 1000 + Number(digits);
  });
  if (groups.length > 1 && groups[0] === 'x000') bad('index has a leading zero group');
  if (!Number.isSafeInteger(index)) bad('index too large');
  let width = TILE_WIDTH;
  if (w !== undefined) {
    if (!DECIMAL.test(w) || Number(w) < 1 || Number(w) > 255) bad('partial width must be 1..255 without leading zeroes');
    width = Number(w);
  }
  return { level: Number(l), index, width };
}

/** tileHashes splits a tile's bytes into its hashes, checking the length matches the id's width. */
export function tileHashes(id: TileId, data: Uint8Array): Uint8Array[] {
  if (data.length !== id.width * HASH_SIZE) {
    throw new TlogTileInvalidError(`tile ${tilePath(id)} has ${data.length} bytes, want ${id.width * HASH_SIZE}`);
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < id.width; i++) out.push(data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  return out;
}
