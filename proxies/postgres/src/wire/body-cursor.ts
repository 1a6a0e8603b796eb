// BodyCursor reads fields out of one complete message body with bounds checks. Every overrun or
// missing terminator becomes PgMalformedMessageError naming the message and field, never a
// RangeError from Buffer and never an allocation sized by the peer.
import { PgMalformedMessageError } from './errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** BodyCursor walks one message body; `what` names the message in error texts. */
export class BodyCursor {
  readonly #buf: Buffer;
  readonly #what: string;
  #pos: number;

  constructor(buf: Buffer, what: string, start = 0) {
    this.#buf = buf;
    this.#what = what;
    this.#pos = start;
  }

  /** remaining is how many bytes are left. */
  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  #fail(field: string, why: string): never {
    throw new PgMalformedMessageError(`malformed ${this.#what}: ${field}: ${why}`);
  }

  #need(n: number, field: string): void {
    if (n > this.remaining) this.#fail(field, `needs ${n} bytes, ${this.remaining} left`);
  }

  /** int16 reads a signed 16-bit big-endian integer. */
  int16(field: string): number {
    this.#need(2, field);
    const v = this.#buf.readInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  /** int32 reads a signed 32-bit big-endian integer. */
  int32(field: string): number {
    this.#need(4, field);
    const v = this.#buf.readInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  /** byte reads one byte as a latin1 character. */
  byte(field: string): string {
    this.#need(1, field);
    return String.fromCharCode(this.#buf[this.#pos++]);
  }

  /** bytes returns a zero-copy view of the next n bytes. */
  bytes(n: number, field: string): Buffer {
    if (n < 0) this.#fail(field, `negative length ${n}`);
    this.#need(n, field);
    const v = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  /** rest returns a zero-copy view of everything left. */
  rest(): Buffer {
    return this.bytes(this.remaining, 'rest');
  }

  /**
   * cstring reads a NUL-terminated UTF-8 string. Invalid UTF-8 is refused rather than replaced
   * by U+FFFD: the policy MUST classify the same text the server will execute.
   */
  cstring(field: string): string {
    const end = this.#buf.indexOf(0, this.#pos);
    if (end < 0) this.#fail(field, 'missing NUL terminator');
    let s: string;
    try {
      s = utf8.decode(this.#buf.subarray(this.#pos, end));
    } catch {
      this.#fail(field, 'not valid UTF-8');
    }
    this.#pos = end + 1;
    return s;
  }

  /** count reads an int16 count that MUST be non-negative and fit in the bytes left at `minEach` bytes per item. */
  count(field: string, minEach: number): number {
    const n = this.int16(field);
    if (n < 0) this.#fail(field, `negative count ${n}`);
    if (n * minEach > this.remaining) this.#fail(field, `count ${n} overruns the message`);
    return n;
  }

  /** values reads n length-prefixed values (-1 = NULL), as in Bind and FunctionCall. */
  values(n: number, field: string): (Buffer | null)[] {
    const out: (Buffer | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const len = this.int32(`${field}[${i}] length`);
      if (len === -1) out[i] = null;
      else if (len < -1) this.#fail(`${field}[${i}]`, `invalid length ${len}`);
      else out[i] = this.bytes(len, `${field}[${i}]`);
    }
    return out;
  }

  /** formats reads n int16 format codes, each 0 (text) or 1 (binary). */
  formats(n: number, field: string): number[] {
    const out: number[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const f = this.int16(`${field}[${i}]`);
      if (f !== 0 && f !== 1) this.#fail(`${field}[${i}]`, `unsupported format code ${f}`);
      out[i] = f;
    }
    return out;
  }

  /** end asserts the body was consumed exactly; trailing bytes are a format violation. */
  end(): void {
    if (this.remaining !== 0) this.#fail('end', `${this.remaining} unexpected trailing bytes`);
  }
}
