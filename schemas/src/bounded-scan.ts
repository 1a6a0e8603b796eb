import type { Type } from 'avsc';
import { AvroMalformedError, AvroTruncatedError } from './errors.ts';

// SPEC: https://avro.apache.org/docs/1.11.1/specification/#primitive-types
// "int: 32-bit signed integer"
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/** MAX_ZERO_SIZE_ITEMS bounds arrays of items that encode to zero bytes (null, empty records). */
export const MAX_ZERO_SIZE_ITEMS = 65_536;

type AnyType = Type & {
  typeName: string;
  fields?: { type: AnyType }[];
  itemsType?: AnyType;
  valuesType?: AnyType;
  types?: AnyType[];
  symbols?: string[];
  size?: number;
  underlyingType?: AnyType;
};

class Cursor {
  pos: number;
  readonly buf: Uint8Array;
  readonly end: number;
  constructor(buf: Uint8Array, pos: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = buf.length;
  }
  need(n: number, what: string): void {
    if (n < 0) throw new AvroMalformedError(`negative ${what} at byte ${this.pos}`);
    if (n > this.end - this.pos) {
      throw new AvroTruncatedError(`${what} of ${n} bytes at byte ${this.pos} runs past the end (${this.end - this.pos} left)`);
    }
  }
  // Zig-zag varint as a JS number; arithmetic, not bit operators, because values pass 2^31.
  long(what: string): number {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new AvroTruncatedError(`${what}: varint runs past the end`);
      const b = this.buf[this.pos++];
      n += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (n > Number.MAX_SAFE_INTEGER * 2) throw new AvroMalformedError(`${what}: varint out of range`);
        return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
      }
      mul *= 128;
    }
    throw new AvroMalformedError(`${what}: varint longer than 10 bytes`);
  }
}

function minSize(t: AnyType): number {
  switch (t.typeName) {
    case 'null':
      return 0;
    case 'record':
    case 'error':
      return t.fields!.reduce((s, f) => s + minSize(f.type), 0);
    case 'fixed':
      return t.size!;
    case 'logical':
      return minSize(t.underlyingType!);
    default:
      return 1;
  }
}

function scan(t: AnyType, c: Cursor, path: string): void {
  switch (t.typeName) {
    case 'null':
      return;
    case 'boolean': {
      c.need(1, path);
      const b = c.buf[c.pos++];
      if (b > 1) throw new AvroMalformedError(`${path}: boolean byte ${b}`);
      return;
    }
    case 'int': {
      // avsc reads an int with the long decoder, so a 5+ byte varint would come back as a
      // number no int field can hold: refuse it here so decode never returns an invalid event.
      const v = c.long(path);
      if (v < INT_MIN || v > INT_MAX) throw new AvroMalformedError(`${path}: int ${v} out of 32-bit range`);
      return;
    }
    case 'long':
    case 'abstract:long': // ExactLongType: same varint on the wire
      c.long(path);
      return;
    case 'float':
      c.need(4, path);
      c.pos += 4;
      return;
    case 'double':
      c.need(8, path);
      c.pos += 8;
      return;
    case 'string':
    case 'bytes': {
      const n = c.long(`${path} length`);
      c.need(n, `${path} (${t.typeName})`);
      c.pos += n;
      return;
    }
    case 'fixed':
      c.need(t.size!, path);
      c.pos += t.size!;
      return;
    case 'enum': {
      const i = c.long(path);
      if (i < 0 || i >= t.symbols!.length) throw new AvroMalformedError(`${path}: enum index ${i} of ${t.symbols!.length}`);
      return;
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const i = c.long(path);
      if (i < 0 || i >= t.types!.length) throw new AvroMalformedError(`${path}: union branch ${i} of ${t.types!.length}`);
      scan(t.types![i], c, path);
      return;
    }
    case 'record':
    case 'error':
      for (const f of t.fields as unknown as { name: string; type: AnyType }[]) scan(f.type, c, `${path}.${f.name}`);
      return;
    case 'array':
    case 'map': {
      const item = t.typeName === 'array' ? t.itemsType! : t.valuesType!;
      const perItem = minSize(item) + (t.typeName === 'map' ? 1 : 0);
      let total = 0;
      for (;;) {
        let n = c.long(`${path} block count`);
        if (n === 0) return;
        if (n < 0) {
          n = -n;
          const bytes = c.long(`${path} block size`);
          c.need(bytes, `${path} block`);
        }
        total += n;
        // A count the remaining bytes cannot hold is refused before anything allocates for it.
        // It runs past the end exactly like an over-long string length, so it is the same
        // error (TRUNCATED): every proper prefix of a valid encoding then fails as TRUNCATED.
        if (perItem > 0 && n * perItem > c.end - c.pos) {
          throw new AvroTruncatedError(`${path}: block claims ${n} items, more than the ${c.end - c.pos} remaining bytes can hold`);
        }
        if (perItem === 0 && total > MAX_ZERO_SIZE_ITEMS) {
          throw new AvroMalformedError(`${path}: ${total} zero-size items, over the ${MAX_ZERO_SIZE_ITEMS} maximum`);
        }
        for (let i = 0; i < n; i++) {
          if (t.typeName === 'map') scan({ typeName: 'string' } as AnyType, c, `${path} key`);
          scan(item, c, `${path}[${i}]`);
        }
      }
    }
    case 'logical':
      scan(t.underlyingType!, c, path);
      return;
    default:
      throw new AvroMalformedError(`${path}: unsupported type ${t.typeName}`);
  }
}

/**
 * boundedScan walks `bytes[offset..]` as a value of the writer type without building it.
 * It MUST throw AvroTruncatedError or AvroMalformedError for any body that avsc could not
 * decode within the buffer (lengths or counts that lie, bad union branch, trailing bytes),
 * and it does work and allocation bounded by the byte length, so the real decode that
 * follows can never be tricked into a huge allocation.
 */
export function boundedScan(type: Type, bytes: Uint8Array, offset: number): void {
  const c = new Cursor(bytes, offset);
  scan(type as AnyType, c, (type as { name?: string }).name ?? 'value');
  if (c.pos !== c.end) throw new AvroMalformedError(`${c.end - c.pos} trailing bytes after the value`);
}
