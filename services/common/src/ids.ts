import { randomFillSync } from 'node:crypto';

/** Clock is injected into core code, which MUST NOT call Date.now() itself (STYLE rule 2). */
export type Clock = { now(): number };

/** systemClock is the real wall clock, used only by adapters and the CLI. */
export const systemClock: Clock = { now: () => Date.now() };

let lastMs = -1;
let counter = 0;
// One randomFillSync per 512 ids rather than one per id: the syscall dominated the proxy's hot
// path (three ids per command). Bytes are handed out once and never reused.
const POOL_IDS = 512;
const pool = Buffer.alloc(8 * POOL_IDS);
let poolAt = pool.length;

/**
 * uuidv7 returns an RFC 9562 version 7 UUID: 48-bit Unix milliseconds, then 74 random bits
 * with a 12-bit counter in rand_a, so ids minted in one millisecond by one process still sort
 * in creation order (RFC 9562 §6.2 method 1).
 */
export function uuidv7(ms: number = Date.now()): string {
  // Checked before any state changes, so a bad time cannot poison the ids after it.
  if (!(ms >= 0 && ms < 2 ** 48)) throw new RangeError(`uuidv7: time ${ms} ms is outside the 48-bit range`);
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      ms = lastMs + 1;
      counter = 0;
    }
  } else {
    counter = 0;
  }
  lastMs = ms;
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  // The text is built from a byte → hex table (no Buffer, no hex encode and re-slice): three
  // ids per proxied command made this show in the hot path.
  const p = pool;
  const at = poolAt;
  poolAt += 8;
  const t = Math.trunc(ms).toString(16).padStart(12, '0');
  return (
    `${t.slice(0, 8)}-${t.slice(8)}-${HEX[0x70 | (counter >> 8)]}${HEX[counter & 0xff]}-` +
    `${HEX[0x80 | (p[at] & 0x3f)]}${HEX[p[at + 1]]}-` +
    `${HEX[p[at + 2]]}${HEX[p[at + 3]]}${HEX[p[at + 4]]}${HEX[p[at + 5]]}${HEX[p[at + 6]]}${HEX[p[at + 7]]}`
  );
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
