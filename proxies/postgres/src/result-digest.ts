// ResultDigest: the SHA-256 a CommandCompleted carries of the result bytes sent to the client
// (DESIGN.md, "Results"), computed without a Hash object for the common one-piece result.
import { createHash, hash as oneShotHash, type Hash } from 'node:crypto';

const EMPTY_SHA256 = createHash('sha256').digest('hex');

/**
 * ResultDigest is the SHA-256 of the result bytes sent to the client, fed piece by piece. Most
 * commands send one piece (one DataRow, or one run of them): that piece is held and hashed
 * one-shot at the end, so such a command creates no Hash object; a second piece starts a
 * streaming hash. The value is the same either way: SHA-256 of the pieces concatenated.
 */
export class ResultDigest {
  #first?: Buffer;
  #hash?: Hash;
  // The piece not yet fed: bytes [#start, #end) of #pending's memory. A piece that starts where
  // it ends (consecutive rows rewritten into one slab, or one chunk) only moves #end, so a run
  // of N adjacent pieces costs one hash update, not N.
  #pending?: Buffer;
  #start = 0;
  #end = 0;

  /** empty tells whether nothing was fed. */
  get empty(): boolean {
    return this.#pending === undefined && this.#first === undefined && this.#hash === undefined;
  }

  /** update feeds the next piece (held until hex(): it MUST NOT be modified afterwards). */
  update(piece: Buffer): void {
    const p = this.#pending;
    if (p !== undefined && p.buffer === piece.buffer && piece.byteOffset === this.#end) {
      this.#end += piece.length;
      return;
    }
    if (p !== undefined) this.#feed(this.#view());
    this.#pending = piece;
    this.#start = piece.byteOffset;
    this.#end = piece.byteOffset + piece.length;
  }

  /** hex returns the digest in hex (of no bytes when empty); call it once. */
  hex(): string {
    if (this.#pending !== undefined) {
      this.#feed(this.#view());
      this.#pending = undefined;
    }
    if (this.#hash) return this.#hash.digest('hex');
    return this.#first === undefined ? EMPTY_SHA256 : oneShotHash('sha256', this.#first, 'hex');
  }

  // #view returns the pending bytes as one Buffer (the piece itself when it was not extended).
  #view(): Buffer {
    const p = this.#pending!;
    return this.#start === p.byteOffset && this.#end === p.byteOffset + p.length ? p : Buffer.from(p.buffer, this.#start, this.#end - this.#start);
  }

  #feed(piece: Buffer): void {
    if (this.#hash) this.#hash.update(piece);
    else if (this.#first === undefined) this.#first = piece;
    else {
      this.#hash = createHash('sha256').update(this.#first).update(piece);
      this.#first = undefined;
    }
  }
}
