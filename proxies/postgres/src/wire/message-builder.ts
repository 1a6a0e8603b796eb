// MessageBuilder assembles one protocol message with a single final allocation. Values that
// cannot be framed (a NUL inside a string, an integer out of range) are PgUnencodableError:
// writing them would let a value end a field early and smuggle bytes into the stream.
import { PgUnencodableError } from './errors.ts';

type Part = { readonly size: number; readonly write: (out: Buffer, at: number) => void };

/** MessageBuilder builds one message: `new MessageBuilder('Q').cstring(sql).build()`; type '' = untyped (startup packets). */
export class MessageBuilder {
  readonly #type: string;
  readonly #parts: Part[] = [];
  #size = 0;

  constructor(type: string) {
    if (type.length > 1) throw new PgUnencodableError(`message type must be one byte, got ${JSON.stringify(type)}`);
    this.#type = type;
  }

  #add(size: number, write: (out: Buffer, at: number) => void): this {
    this.#parts.push({ size, write });
    this.#size += size;
    return this;
  }

  /** int8 appends one byte (0..255). */
  int8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new PgUnencodableError(`byte out of range: ${v}`);
    return this.#add(1, (o, at) => o.writeUInt8(v, at));
  }

  /** int16 appends a signed 16-bit integer. */
  int16(v: number): this {
    if (!Number.isInteger(v) || v < -32768 || v > 32767) throw new PgUnencodableError(`int16 out of range: ${v}`);
    return this.#add(2, (o, at) => o.writeInt16BE(v, at));
  }

  /** int32 appends a 32-bit integer; unsigned values up to 2^32-1 (OIDs) are accepted too. */
  int32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) throw new PgUnencodableError(`int32 out of range: ${v}`);
    return this.#add(4, (o, at) => o.writeInt32BE(v | 0, at));
  }

  /** cstring appends a UTF-8 string and its NUL terminator; the string MUST NOT contain NUL. */
  cstring(s: string): this {
    if (s.includes('\0')) throw new PgUnencodableError(`string contains a NUL byte: ${JSON.stringify(s.slice(0, 40))}`);
    const b = Buffer.from(s, 'utf8');
    return this.#add(b.length + 1, (o, at) => {
      b.copy(o, at);
      o[at + b.length] = 0;
    });
  }

  /** bytes appends raw bytes. */
  bytes(b: Uint8Array): this {
    return this.#add(b.length, (o, at) => o.set(b, at));
  }

  /** value appends a length-prefixed value, -1 for null (DataRow, Bind, FunctionCall). */
  value(v: Uint8Array | string | null): this {
    if (v === null) return this.int32(-1);
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    return this.int32(b.length).bytes(b);
  }

  /** build returns the framed message: [type byte] int32 length (counting itself) and the body. */
  build(): Buffer {
    const head = this.#type === '' ? 0 : 1;
    const len = this.#size + 4;
    if (len > 0x7fffffff) throw new PgUnencodableError(`message of ${len} bytes is too large`);
    const out = Buffer.allocUnsafe(head + len);
    if (head) out.write(this.#type, 0, 'latin1');
    out.writeInt32BE(len, head);
    let at = head + 4;
    for (const p of this.#parts) {
      p.write(out, at);
      at += p.size;
    }
    return out;
  }
}
