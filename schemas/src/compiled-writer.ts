// compileRecordWriter: a writer for one record type, built once from its avsc type, that
// checks and writes an event's own fields in one pass (the envelope splice's head and tail
// pieces). avsc validates a value (isValid) and then encodes it (a Tap per call, a dispatch
// per field); on the proxy's hot path, two events per command, that was most of recording's
// cost after the envelope splice.
//
// Contract: a writer returns the end position after writing EXACTLY the bytes avsc's encoder
// writes for the value, or -1 when it does not handle the value exactly (a type it does not
// compile, a value avsc might still accept or would reject, or no room in `out`); the caller
// then takes avsc's path, which also produces the error for an invalid value. It only
// accepts values avsc's isValid accepts (a property test compares both, byte for byte).
// SPEC: https://avro.apache.org/docs/1.11.1/specification/#binary-encoding
import type { Type } from 'avsc';

/** RecordWriter writes a record value's fields into `out` at `pos`; returns the end position, or -1 (see the module contract). */
export type RecordWriter = (value: Record<string, unknown>, out: Buffer, pos: number) => number;

type Writer = (v: unknown, out: Buffer, pos: number) => number;

type AnyType = {
  typeName: string;
  fields?: { name: string; type: AnyType }[];
  itemsType?: AnyType;
  types?: AnyType[];
  symbols?: string[];
};

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
/**
 * LONG_MAX bounds the longs written here: the zig-zag value 2|n| (or 2|n|-1) is exact in float
 * arithmetic up to 2^53, so for |n| <= 2^52 (as the splice's NATIVE_LONG_MAX); a larger value
 * goes to the full encoder, which writes every safe integer exactly.
 */
const LONG_MAX = 2 ** 52;
// Up to this many UTF-16 units a string is tried as ASCII in a loop (a native write call costs
// more; SQL texts and 64-digit hex digests are in range).
const ASCII_LOOP_MAX = 255;
// Up to this many bytes a loop copies a bytes value (Buffer#copy's call costs more: nonces).
const SMALL_COPY = 32;
// avsc writes strings longer than this many UTF-8 bytes with Buffer#utf8Write, shorter ones with its own loop.
const AVSC_NATIVE_UTF8_MIN = 64;

/** writeVarint writes a zig-zag encoded `n` (|n| <= 2^52) as a varint; the caller checked room for 8 bytes. */
function writeVarint(n: number, out: Buffer, pos: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 0x80) {
    out[pos++] = (z % 0x80) | 0x80;
    z = Math.floor(z / 0x80);
  }
  out[pos++] = z;
  return pos;
}

const writeString: Writer = (v, out, pos) => {
  if (typeof v !== 'string') return -1;
  const n = v.length;
  if (n <= ASCII_LOOP_MAX) {
    // An ASCII string's length is its UTF-8 byte count: its zig-zag varint is one byte below 64
    // and two below 8192. Bail out to the UTF-8 path at the first non-ASCII unit.
    const prefix = n < 64 ? 1 : 2;
    if (pos + prefix + n > out.length) return -1;
    let p = pos + prefix;
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) break;
      out[p++] = c;
    }
    if (i === n) {
      if (prefix === 1) out[pos] = n * 2;
      else {
        out[pos] = ((n * 2) & 0x7f) | 0x80;
        out[pos + 1] = (n * 2) >> 7;
      }
      return p;
    }
  }
  const len = Buffer.byteLength(v, 'utf8');
  if (pos + 8 + len > out.length) return -1;
  pos = writeVarint(len, out, pos);
  if (len > AVSC_NATIVE_UTF8_MIN) return pos + out.write(v, pos, len, 'utf8');
  // avsc (5.7) encodes strings of at most 64 bytes with its own loop, which writes a lone
  // surrogate as its 3-byte form (ED A0 80 for U+D800) where Buffer#write writes U+FFFD
  // (EF BF BD): the same length, other bytes. Written the same way here, to stay identical.
  for (let i = 0; i < v.length; i++) {
    let c = v.charCodeAt(i);
    if (c < 0x80) out[pos++] = c;
    else if (c < 0x800) {
      out[pos++] = (c >> 6) | 0xc0;
      out[pos++] = (c & 0x3f) | 0x80;
    } else if ((c & 0xfc00) === 0xd800 && i + 1 < v.length && (v.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c & 0x03ff) << 10) + (v.charCodeAt(++i) & 0x03ff);
      out[pos++] = (c >> 18) | 0xf0;
      out[pos++] = ((c >> 12) & 0x3f) | 0x80;
      out[pos++] = ((c >> 6) & 0x3f) | 0x80;
      out[pos++] = (c & 0x3f) | 0x80;
    } else {
      out[pos++] = (c >> 12) | 0xe0;
      out[pos++] = ((c >> 6) & 0x3f) | 0x80;
      out[pos++] = (c & 0x3f) | 0x80;
    }
  }
  return pos;
};

// SPEC: "bytes are encoded as a long followed by that many bytes of data." avsc takes only a
// Buffer (Buffer.isBuffer), not any Uint8Array.
const writeBytes: Writer = (v, out, pos) => {
  if (!Buffer.isBuffer(v)) return -1;
  const n = v.length;
  if (pos + 8 + n > out.length) return -1;
  pos = writeVarint(n, out, pos);
  if (n <= SMALL_COPY) for (let i = 0; i < n; i++) out[pos + i] = v[i];
  else v.copy(out, pos);
  return pos + n;
};

const writeLong: Writer = (v, out, pos) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v > LONG_MAX || v < -LONG_MAX || pos + 8 > out.length) return -1;
  return writeVarint(v, out, pos);
};

const writeInt: Writer = (v, out, pos) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v > INT_MAX || v < INT_MIN || pos + 5 > out.length) return -1;
  return writeVarint(v, out, pos);
};

const writeBoolean: Writer = (v, out, pos) => {
  if (typeof v !== 'boolean' || pos + 1 > out.length) return -1;
  out[pos] = v ? 1 : 0;
  return pos + 1;
};

const writeNull: Writer = (v, _out, pos) => (v === null ? pos : -1);

function enumWriter(symbols: readonly string[]): Writer {
  const index = new Map(symbols.map((s, i) => [s, i]));
  // Few symbols: a scan of string comparisons beats hashing the value (the common case).
  const small = symbols.length <= 8;
  return (v, out, pos) => {
    if (typeof v !== 'string' || pos + 5 > out.length) return -1;
    let i = -1;
    if (small) {
      for (let k = 0; k < symbols.length; k++) {
        if (symbols[k] === v) {
          i = k;
          break;
        }
      }
    } else i = index.get(v) ?? -1;
    return i < 0 ? -1 : writeVarint(i, out, pos);
  };
}

// SPEC: "Arrays are encoded as a series of blocks. Each block consists of a long count value,
// followed by that many array items. A block with count zero indicates the end of the array."
// avsc writes one block holding every item, then the zero block (just the zero for an empty array).
function arrayWriter(item: Writer): Writer {
  return (v, out, pos) => {
    if (!Array.isArray(v)) return -1;
    const n = v.length;
    if (pos + 9 > out.length) return -1;
    if (n > 0) {
      pos = writeVarint(n, out, pos);
      for (let i = 0; i < n; i++) {
        pos = item(v[i], out, pos);
        if (pos < 0) return -1;
      }
      if (pos + 1 > out.length) return -1;
    }
    out[pos] = 0;
    return pos + 1;
  };
}

// An unwrapped union of null and one other type: avsc picks the branch from the value (null or not).
function nullableWriter(nullIndex: number, other: Writer): Writer {
  const otherIndex = 1 - nullIndex;
  return (v, out, pos) => {
    if (pos + 1 > out.length) return -1;
    if (v === null) {
      out[pos] = nullIndex * 2;
      return pos + 1;
    }
    if (v === undefined) return -1;
    out[pos] = otherIndex * 2;
    return other(v, out, pos + 1);
  };
}

// SPEC: https://avro.apache.org/docs/1.11.1/specification/#names "[A-Za-z_][A-Za-z0-9_]*"
const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// `strict`: a value with a field the record does not declare is not handled (the codec
// validates with noUndeclaredFields); the top-level record leaves that check to its caller.
//
// The writer is generated with each field read as a named property (`v.text`), so each read
// site sees one shape of object and stays monomorphic; a loop over names (`v[names[i]]`) is a
// keyed load that went megamorphic across event types and was the costliest step of a write.
// Only Avro names, which the pattern above admits, are ever put into the generated source.
function recordWriter(fields: readonly { name: string; write: Writer }[], strict: boolean): Writer | undefined {
  const names = fields.map((f) => f.name);
  if (!names.every((n) => AVRO_NAME.test(n))) return undefined; // avsc never admits one; never put into source
  const declared = new Set(names);
  const writes = fields.map((f) => f.write);
  // Array items (DataMasked's masks) come from one object literal: an item with the very key
  // order of the last one that passed is accepted by comparing keys one by one (interned
  // property names: pointer comparisons) instead of a set lookup per key.
  let last: string[] | undefined;
  const keysOk = (r: Record<string, unknown>): boolean => {
    const keys = Object.keys(r);
    if (last !== undefined && keys.length === last.length) {
      let i = 0;
      while (i < keys.length && keys[i] === last[i]) i++;
      if (i === keys.length) return true;
    }
    for (let i = 0; i < keys.length; i++) if (!declared.has(keys[i])) return false;
    last = keys;
    return true;
  };
  const source = [
    "if (v === null || typeof v !== 'object' || Array.isArray(v)) return -1;",
    strict ? 'if (!keysOk(v)) return -1;' : '',
    ...names.map((n, i) => `pos = w${i}(v.${n}, out, pos); if (pos < 0) return -1;`),
    'return pos;',
  ].join('\n');
  const make = new Function('keysOk', ...names.map((_, i) => `w${i}`), `return function write(v, out, pos) {\n${source}\n};`);
  return make(keysOk, ...writes) as Writer;
}

function compile(t: AnyType, depth: number): Writer | undefined {
  if (depth > 8) return undefined;
  switch (t.typeName) {
    case 'string':
      return writeString;
    case 'long':
      return writeLong;
    case 'bytes':
      return writeBytes;
    case 'int':
      return writeInt;
    case 'boolean':
      return writeBoolean;
    case 'null':
      return writeNull;
    case 'enum':
      return enumWriter(t.symbols!);
    case 'array': {
      const item = compile(t.itemsType!, depth + 1);
      return item && arrayWriter(item);
    }
    case 'union:unwrapped': {
      const types = t.types!;
      if (types.length !== 2) return undefined;
      const nullIndex = types.findIndex((u) => u.typeName === 'null');
      if (nullIndex < 0) return undefined;
      const other = compile(types[1 - nullIndex], depth + 1);
      return other && nullableWriter(nullIndex, other);
    }
    case 'record': {
      const fields: { name: string; write: Writer }[] = [];
      for (const f of t.fields!) {
        const write = compile(f.type, depth + 1);
        if (!write) return undefined;
        fields.push({ name: f.name, write });
      }
      return recordWriter(fields, depth > 0);
    }
    default:
      // fixed, map, float, double, wrapped or wider unions, logical and abstract types: avsc's path.
      return undefined;
  }
}

/**
 * compileRecordWriter returns a RecordWriter for record type `type`, or undefined when the
 * record holds a type this module does not compile (the caller then always uses avsc). Fields
 * the record does not declare are not looked at: the caller checks for them (noUndeclaredFields).
 */
export function compileRecordWriter(type: Type): RecordWriter | undefined {
  const t = type as unknown as AnyType;
  if (t.typeName !== 'record') return undefined;
  return compile(t, 0) as RecordWriter | undefined;
}
