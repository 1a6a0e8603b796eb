// BackendFramer splits the upstream server's byte stream into messages WITHOUT decoding them:
// the relay looks only at the type byte of most messages and forwards their bytes unchanged,
// so the hot path never pays for pg-protocol's field decoding (BackendReader is used for login).
// Same contracts as the wire readers: the length is checked against the limit before the body
// is buffered, and every failure is a typed error that ends that session only.
import { ByteQueue } from './wire/byte-queue.ts';
import { PgBadLengthError, PgMessageTooLargeError, PgTruncatedError, PgUnknownMessageError } from './wire/index.ts';

/** BackendFrame is one server message: its type byte (as a char code) and exact bytes. */
export type RawFrame = { readonly type: number; readonly raw: Buffer };

// Backend type bytes of protocol 3.0.
/** KNOWN_BACKEND_TYPES[b] is 1 when b is a backend message type byte. */
export const KNOWN_BACKEND_TYPES = new Uint8Array(256);
const KNOWN = KNOWN_BACKEND_TYPES;
for (const c of 'RSKZENTDCI123nstGHWdcAV') KNOWN[c.charCodeAt(0)] = 1;

/** BackendFramer frames upstream bytes; `push` then `next()` until undefined. */
export class BackendFramer {
  readonly #queue = new ByteQueue();
  readonly #max: number;

  constructor(maxMessageSize: number) {
    this.#max = maxMessageSize;
  }

  /** buffered is the number of bytes of an incomplete message held. */
  get buffered(): number {
    return this.#queue.length;
  }

  /** push buffers a chunk (MUST NOT be modified afterwards: frames are views of it). */
  push(chunk: Buffer): void {
    this.#queue.push(chunk);
  }

  /**
   * complete buffers only as many bytes of `chunk` as the buffered partial message still needs
   * (all of them when it stays incomplete) and returns how many it took; next() then returns the
   * message when it is whole. The relay frames the rest of the chunk in place (session.ts), so a
   * message split across reads does not push every later message through the queue.
   * Header checks (type byte, length, limit) run here, before the body is buffered.
   */
  complete(chunk: Buffer): number {
    const q = this.#queue;
    let used = 0;
    if (q.length < 5) {
      used = Math.min(5 - q.length, chunk.length);
      q.push(used === chunk.length ? chunk : chunk.subarray(0, used));
    }
    this.#checkHeader();
    if (q.length < 5) return used;
    const want = q.int32At(1) + 1 - q.length;
    const k = Math.min(want, chunk.length - used);
    if (k > 0) q.push(used === 0 && k === chunk.length ? chunk : chunk.subarray(used, used + k));
    return used + k;
  }

  // #checkHeader throws for a bad type byte, length or size as soon as the bytes are there.
  #checkHeader(): void {
    const q = this.#queue;
    if (q.length === 0) return;
    const type = q.byteAt(0);
    if (!KNOWN[type]) throw new PgUnknownMessageError(`unknown backend message type 0x${type.toString(16).padStart(2, '0')}`);
    if (q.length < 5) return;
    const len = q.int32At(1);
    if (len < 4) throw new PgBadLengthError(`invalid length ${len} in server message '${String.fromCharCode(type)}'`);
    if (len > this.#max) throw new PgMessageTooLargeError(`server message '${String.fromCharCode(type)}' claims ${len} bytes, over the limit of ${this.#max}`);
  }

  /** next returns the next complete message, or undefined when more bytes are needed. */
  next(): RawFrame | undefined {
    const q = this.#queue;
    if (q.length < 5) {
      if (q.length > 0 && !KNOWN[q.byteAt(0)]) throw new PgUnknownMessageError(`unknown backend message type 0x${q.byteAt(0).toString(16).padStart(2, '0')}`);
      return undefined;
    }
    const type = q.byteAt(0);
    if (!KNOWN[type]) throw new PgUnknownMessageError(`unknown backend message type 0x${type.toString(16).padStart(2, '0')}`);
    const len = q.int32At(1);
    if (len < 4) throw new PgBadLengthError(`invalid length ${len} in server message '${String.fromCharCode(type)}'`);
    if (len > this.#max) throw new PgMessageTooLargeError(`server message '${String.fromCharCode(type)}' claims ${len} bytes, over the limit of ${this.#max}`);
    if (q.length < len + 1) return undefined;
    return { type, raw: q.take(len + 1) };
  }

  /** end declares EOF; a partial message left over is PgTruncatedError. */
  end(): void {
    if (this.#queue.length > 0) throw new PgTruncatedError(`server connection closed inside a message (${this.#queue.length} bytes)`);
  }
}
