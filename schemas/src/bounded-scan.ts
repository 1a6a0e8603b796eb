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
  name?: string;
  fields?: { name: string; type: AnyType }[];
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
  /** Set when a `long` field's varint may decode beyond +-(2^53-1) (see scanLong). */
  unsafeLong = false;
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
    const buf = this.buf;
    let pos = this.pos;
    // One-byte varints (small lengths, indices, null/branch markers) are the common case.
    if (pos < this.end) {
      const b = buf[pos];
      if ((b & 0x80) === 0) {
        this.pos = pos + 1;
        return b % 2 === 0 ? b / 2 : -(b + 1) / 2;
      }
    }
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) {
        this.pos = pos;
        throw new AvroTruncatedError(`${what}: varint runs past the end`);
      }
      const b = buf[pos++];
      n += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        this.pos = pos;
        if (n > Number.MAX_SAFE_INTEGER * 2) throw new AvroMalformedError(`${what}: varint out of range`);
        return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
      }
      mul *= 128;
    }
    this.pos = pos;
    throw new AvroMalformedError(`${what}: varint longer than 10 bytes`);
  }
}

/** Scan checks one value at the cursor and moves past it; compiled once per type and path. */
type Scan = (c: Cursor) => void;

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

const skipNothing: Scan = () => {};

/**
 * scanLong: a `long` field. The codec reads longs exactly (ExactLongType), which refuses values
 * beyond +-(2^53-1); such a varint has 8+ bytes: seven continuation bytes, then an eighth byte
 * that either continues or carries (with the 49 bits before it) at least 2^53 (byte value >= 16).
 * The scan flags that shape instead of deciding the exact range (errs only towards "maybe").
 */
function scanLong(path: string): Scan {
  return (c) => {
    const start = c.pos;
    c.long(path);
    if (c.pos - start >= 8 && c.buf[start + 7] >= 16) c.unsafeLong = true;
  };
}

/** scanSkip: a value of a fixed byte size (float, double, fixed). */
function scanSkip(size: number, path: string): Scan {
  return (c) => {
    if (size > c.end - c.pos) c.need(size, path);
    c.pos += size;
  };
}

/** scanLengthPrefixed: a string or bytes value, a varint length then that many bytes. */
function scanLengthPrefixed(path: string, typeName: string): Scan {
  const lengthWhat = `${path} length`;
  const bodyWhat = `${path} (${typeName})`;
  return (c) => {
    const n = c.long(lengthWhat);
    if (n < 0 || n > c.end - c.pos) c.need(n, bodyWhat);
    c.pos += n;
  };
}

/** scanAll runs a record's field scans in order (nested records are flattened into one list). */
function scanAll(steps: readonly Scan[]): Scan {
  const n = steps.length;
  switch (n) {
    case 0:
      return skipNothing;
    case 1:
      return steps[0];
    default:
      return (c) => {
        for (let i = 0; i < n; i++) steps[i](c);
      };
  }
}

/**
 * nameItem puts the item index into the message of an error thrown inside an array or map item
 * (compiled with the path `x[]`, so paths cost nothing until something fails).
 */
function nameItem(e: unknown, path: string, i: number): unknown {
  if (e instanceof Error) e.message = e.message.replace(`${path}[]`, `${path}[${i}]`);
  return e;
}

/** A record under compilation: a reference to it from inside itself (a recursive schema) waits for `scan`. */
type Pending = { scan?: Scan };

/** fieldSteps compiles a record's fields into `out`, inlining nested non-recursive records. */
function fieldSteps(t: AnyType, path: string, active: Map<AnyType, Pending>, out: Scan[]): void {
  for (const f of t.fields!) {
    const p = `${path}.${f.name}`;
    if ((f.type.typeName === 'record' || f.type.typeName === 'error') && !active.has(f.type)) {
      const pending: Pending = {};
      active.set(f.type, pending);
      const start = out.length;
      fieldSteps(f.type, p, active, out);
      pending.scan = scanAll(out.slice(start));
      active.delete(f.type);
    } else {
      out.push(compile(f.type, p, active));
    }
  }
}

/**
 * compile turns a writer type into a closure tree that does the checks of an interpretive walk
 * over the schema, with every decision that depends only on the schema (field lists, branch
 * counts, item minimum sizes, message paths) taken once here instead of once per value.
 * `active` holds the records being compiled, so a recursive schema refers to itself lazily
 * (its messages then name the path of the outermost occurrence).
 */
function compile(t: AnyType, path: string, active: Map<AnyType, Pending>): Scan {
  switch (t.typeName) {
    case 'null':
      return skipNothing;
    case 'boolean':
      return (c) => {
        if (c.pos >= c.end) c.need(1, path);
        const b = c.buf[c.pos++];
        if (b > 1) throw new AvroMalformedError(`${path}: boolean byte ${b}`);
      };
    case 'int':
      // avsc reads an int with the long decoder, so a 5+ byte varint would come back as a
      // number no int field can hold: refuse it here so decode never returns an invalid event.
      return (c) => {
        const v = c.long(path);
        if (v < INT_MIN || v > INT_MAX) throw new AvroMalformedError(`${path}: int ${v} out of 32-bit range`);
      };
    case 'long':
    case 'abstract:long': // ExactLongType: same varint on the wire
      return scanLong(path);
    case 'float':
      return scanSkip(4, path);
    case 'double':
      return scanSkip(8, path);
    case 'string':
    case 'bytes':
      return scanLengthPrefixed(path, t.typeName);
    case 'fixed':
      return scanSkip(t.size!, path);
    case 'enum': {
      const k = t.symbols!.length;
      return (c) => {
        const i = c.long(path);
        if (i < 0 || i >= k) throw new AvroMalformedError(`${path}: enum index ${i} of ${k}`);
      };
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches = t.types!.map((b) => compile(b, path, active));
      const k = branches.length;
      return (c) => {
        const i = c.long(path);
        if (i < 0 || i >= k) throw new AvroMalformedError(`${path}: union branch ${i} of ${k}`);
        branches[i](c);
      };
    }
    case 'record':
    case 'error': {
      const cycle = active.get(t);
      if (cycle) return (c) => cycle.scan!(c);
      const pending: Pending = {};
      active.set(t, pending);
      const steps: Scan[] = [];
      fieldSteps(t, path, active, steps);
      active.delete(t);
      return (pending.scan = scanAll(steps));
    }
    case 'array':
    case 'map': {
      const isMap = t.typeName === 'map';
      const itemType = isMap ? t.valuesType! : t.itemsType!;
      const perItem = minSize(itemType) + (isMap ? 1 : 0);
      const item = compile(itemType, `${path}[]`, active);
      const key = isMap ? scanLengthPrefixed(`${path} key`, 'string') : undefined;
      const countWhat = `${path} block count`;
      const sizeWhat = `${path} block size`;
      const blockWhat = `${path} block`;
      return (c) => {
        let total = 0;
        for (;;) {
          let n = c.long(countWhat);
          if (n === 0) return;
          if (n < 0) {
            n = -n;
            const bytes = c.long(sizeWhat);
            c.need(bytes, blockWhat);
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
            try {
              key?.(c);
              item(c);
            } catch (e) {
              throw nameItem(e, path, i);
            }
          }
        }
      };
    }
    case 'logical':
      return compile(t.underlyingType!, path, active);
    default: {
      const name = t.typeName;
      return () => {
        throw new AvroMalformedError(`${path}: unsupported type ${name}`);
      };
    }
  }
}

const compiled = new WeakMap<Type, Scan>();

/** scannerFor returns the compiled scan of a type, compiling it on first use. */
function scannerFor(type: Type): Scan {
  let s = compiled.get(type);
  if (!s) {
    s = compile(type as AnyType, (type as AnyType).name ?? 'value', new Map());
    compiled.set(type, s);
  }
  return s;
}

/** ScanResult is what a successful boundedScan learned beyond "the bytes are well-formed". */
export type ScanResult = {
  /**
   * mayHoldUnsafeLong: some `long` field's varint has the shape of a value beyond +-(2^53-1),
   * which the codec's exact longs refuse at decode; false proves no long field is out of range.
   */
  readonly mayHoldUnsafeLong: boolean;
};

const SAFE: ScanResult = Object.freeze({ mayHoldUnsafeLong: false });
const MAYBE_UNSAFE: ScanResult = Object.freeze({ mayHoldUnsafeLong: true });

/**
 * boundedScan walks `bytes[offset..]` as a value of the writer type without building it.
 * It MUST throw AvroTruncatedError or AvroMalformedError for any body that avsc could not
 * decode within the buffer (lengths or counts that lie, bad union branch, trailing bytes),
 * and it does work and allocation bounded by the byte length, so the real decode that
 * follows can never be tricked into a huge allocation. The walk is compiled once per type
 * (a closure tree, see `compile`) and cached.
 */
export function boundedScan(type: Type, bytes: Uint8Array, offset: number): ScanResult {
  const c = new Cursor(bytes, offset);
  scannerFor(type)(c);
  if (c.pos !== c.end) throw new AvroMalformedError(`${c.end - c.pos} trailing bytes after the value`);
  return c.unsafeLong ? MAYBE_UNSAFE : SAFE;
}
