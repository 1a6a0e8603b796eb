import { TlogInputInvalidError } from './errors.ts';

// Tree sizes and indices are plain numbers up to Number.MAX_SAFE_INTEGER (2^53 - 1). JavaScript's
// bit operators work on 32 bits, so every shift or mask here is done with arithmetic instead.

/** MAX_TREE_SIZE is the largest tree size (and leaf count) the tlog code accepts: 2^53 - 1. */
export const MAX_TREE_SIZE = Number.MAX_SAFE_INTEGER;

/** assertSize throws TlogInputInvalidError unless `n` is an integer in [0, 2^53 - 1]; `what` names it. */
export function assertSize(n: unknown, what: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new TlogInputInvalidError(`${what} must be an integer in [0, 2^53-1], got ${String(n)}`);
  }
}

/** isOdd is `n & 1` for n up to 2^53. */
export function isOdd(n: number): boolean {
  return n % 2 === 1;
}

/** half is `n >> 1` for n up to 2^53. */
export function half(n: number): number {
  return Math.floor(n / 2);
}

/** largestPowerOfTwoBelow is the RFC 9162 split point k: the largest power of two strictly less than n (n >= 2). */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** isPowerOfTwo tells whether n (>= 1) is an exact power of two. */
export function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

/** log2Exact is j for n = 2^j (n MUST be a power of two). */
export function log2Exact(n: number): number {
  let j = 0;
  for (let k = 1; k < n; k *= 2) j++;
  return j;
}
