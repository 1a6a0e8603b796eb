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
const KNOWN = new Uint8Array(256);
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
