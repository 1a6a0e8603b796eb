// ByteQueue holds received chunks until a whole message is there. A message that lies inside one
// chunk is returned as a view (zero-copy); only a message split across chunks is copied, once,
// when it is complete, so a large message arriving in many small chunks costs O(size), not O(size²).

/** ByteQueue is a FIFO of bytes received in arbitrary chunks. */
export class ByteQueue {
  #chunks: Buffer[] = [];
  #head = 0; // bytes of #chunks[0] already consumed
  #length = 0;

  /** length is the number of buffered bytes. */
  get length(): number {
    return this.#length;
  }

  /** push appends a chunk; it MUST NOT be modified afterwards (views of it are handed out). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** byteAt returns the byte at logical index i (i < length). */
  byteAt(i: number): number {
    let idx = i + this.#head;
    for (const c of this.#chunks) {
      if (idx < c.length) return c[idx];
      idx -= c.length;
    }
    throw new RangeError(`byteAt(${i}) past ${this.#length}`);
  }

  /** int32At reads a big-endian signed 32-bit integer at logical index i (i + 4 <= length). */
  int32At(i: number): number {
    return (this.byteAt(i) << 24) | (this.byteAt(i + 1) << 16) | (this.byteAt(i + 2) << 8) | this.byteAt(i + 3) | 0;
  }

  /** take removes and returns the first n bytes (n <= length): a view when possible, else one copy. */
  take(n: number): Buffer {
    if (n > this.#length) throw new RangeError(`take(${n}) past ${this.#length}`);
    const first = this.#chunks[0];
    let out: Buffer;
    if (first && first.length - this.#head >= n) {
      out = first.subarray(this.#head, this.#head + n);
      this.#head += n;
      if (this.#head === first.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.#chunks[0];
        const avail = c.length - this.#head;
        const k = Math.min(avail, n - filled);
        c.copy(out, filled, this.#head, this.#head + k);
        filled += k;
        this.#head += k;
        if (this.#head === c.length) {
          this.#chunks.shift();
          this.#head = 0;
        }
      }
    }
    this.#length -= n;
    return out;
  }
}
