// Two threads share out the chunks of one log without deciding the split in advance: the
// report's thread takes chunks from the front, one at a time, and the fold worker takes runs
// from the back, so both finish together whatever either's speed (a worker loads its modules
// first; a busy machine slows either). Both halves of the cursor live in one 32-bit word of
// shared memory, changed by compare-and-swap, so no chunk is ever taken twice.

/** MAX_CHUNKS bounds the chunks of a log (16 bits each side of the word). */
export const MAX_CHUNKS = 0xffff;

/** ChunkCursor hands out chunk numbers 0..count-1: from the front, or runs from the back. */
export class ChunkCursor {
  readonly #word: Int32Array;
  constructor(shared: SharedArrayBuffer) {
    this.#word = new Int32Array(shared, 0, 1);
  }
  /**
   * create returns the shared memory of a cursor over `count` chunks (count <= MAX_CHUNKS), the
   * last `reserved` of them set aside (handed out by neither end: the caller gives them to one side).
   */
  static create(count: number, reserved = 0): SharedArrayBuffer {
    if (!Number.isSafeInteger(count) || count < 0 || count > MAX_CHUNKS) throw new RangeError(`chunk count ${count} is outside 0..${MAX_CHUNKS}`);
    if (!Number.isSafeInteger(reserved) || reserved < 0 || reserved > count) throw new RangeError(`reserved ${reserved} is outside 0..${count}`);
    const shared = new SharedArrayBuffer(4);
    new Int32Array(shared)[0] = (count - reserved) << 16; // front 0, back where the reserve starts
    return shared;
  }
  /** end is where the chunks left end (the start of what the back has taken or was reserved). */
  end(): number {
    return Atomics.load(this.#word, 0) >>> 16;
  }
  /** front takes the first chunk left, or returns -1 when none is. */
  front(): number {
    for (;;) {
      const v = Atomics.load(this.#word, 0);
      const lo = v & 0xffff;
      const hi = v >>> 16;
      if (lo >= hi) return -1;
      if (Atomics.compareExchange(this.#word, 0, v, (hi << 16) | (lo + 1)) === v) return lo;
    }
  }
  /** back takes the last `n` chunks left (fewer when fewer are) as [first, end), or returns null when none is. */
  back(n: number): [number, number] | null {
    for (;;) {
      const v = Atomics.load(this.#word, 0);
      const lo = v & 0xffff;
      const hi = v >>> 16;
      if (lo >= hi) return null;
      const first = Math.max(lo, hi - Math.max(1, n));
      if (Atomics.compareExchange(this.#word, 0, v, (first << 16) | lo) === v) return [first, hi];
    }
  }
  /** left is how many chunks nobody has taken yet. */
  left(): number {
    const v = Atomics.load(this.#word, 0);
    return Math.max(0, (v >>> 16) - (v & 0xffff));
  }
}
