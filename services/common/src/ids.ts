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
  const b = Buffer.allocUnsafe(16);
  pool.copy(b, 8, poolAt, poolAt + 8);
  poolAt += 8;
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
