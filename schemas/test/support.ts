// Test support for the schemas workspace: event variants that cover every nullable field,
// plain-object normalisation of decoded records, and byte-level helpers to build hostile input.
import type { Type } from 'avsc';
import { HEADER_SIZE, LEDGER_RECORD_TYPES, codec, exampleEvent } from '../src/index.ts';
import type { EventCodec, LedgerRecord } from '../src/index.ts';

type AnyType = Type & {
  typeName: string;
  name?: string;
  fields?: { name: string; type: AnyType }[];
  types?: AnyType[];
  itemsType?: AnyType;
  valuesType?: AnyType;
  symbols?: string[];
};

type Mode = 'nulls' | 'set';

/** synth builds a plausible non-null value of an Avro type (every optional part set). */
function synth(t: AnyType, name: string): unknown {
  switch (t.typeName) {
    case 'string':
      return `set-${name}-é✓`;
    case 'long':
    case 'abstract:long':
      return 1_234_567_890_123;
    case 'int':
      return -7;
    case 'boolean':
      return true;
    case 'bytes':
      return Buffer.from([0x00, 0x01, 0xfe, 0xff]);
    case 'enum':
      return t.symbols![t.symbols!.length - 1];
    case 'array':
      return [synth(t.itemsType!, `${name}0`)];
    case 'map':
      return { [`${name}-key`]: synth(t.valuesType!, `${name}v`) };
    case 'record':
      return Object.fromEntries(t.fields!.map((f) => [f.name, synth(f.type, f.name)]));
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branch = t.types!.find((b) => b.typeName !== 'null');
      return branch ? synth(branch, name) : null;
    }
    case 'null':
      return null;
    default:
      throw new Error(`synth: unsupported ${t.typeName}`);
  }
}

/**
 * transform rewrites a valid value so that every optional part is null ('nulls') or set
 * ('set'), and empty arrays/maps get one element so the element types are exercised too.
 */
function transform(t: AnyType, v: unknown, mode: Mode, name: string): unknown {
  switch (t.typeName) {
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branch = t.types!.find((b) => b.typeName !== 'null')!;
      if (mode === 'nulls') return null;
      return transform(branch, v === null || v === undefined ? synth(branch, name) : v, mode, name);
    }
    case 'record': {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(t.fields!.map((f) => [f.name, transform(f.type, o[f.name], mode, f.name)]));
    }
    case 'array': {
      const a = v as unknown[];
      const items = a.length === 0 ? [synth(t.itemsType!, `${name}0`)] : a;
      return items.map((x, i) => transform(t.itemsType!, x, mode, `${name}${i}`));
    }
    case 'map': {
      const m = v as Record<string, unknown>;
      const entries = Object.keys(m).length === 0 ? Object.entries(synth(t, name) as object) : Object.entries(m);
      return Object.fromEntries(entries.map(([k, x]) => [k, transform(t.valuesType!, x, mode, k)]));
    }
    default:
      return v;
  }
}

/** EventVariant is one named test event. */
export type EventVariant = { readonly label: string; readonly event: LedgerRecord };

/**
 * eventVariants returns, for one type, the example event, one with every nullable field null
 * (and empty collections filled with nulls) and one with every nullable field set.
 */
export function eventVariants(type: LedgerRecord['type'], c: EventCodec = codec()): EventVariant[] {
  const t = c.writerFor(type).type as AnyType;
  const base = exampleEvent(type);
  const variant = (mode: Mode) => {
    const e = transform(t, base, mode, type) as Record<string, unknown>;
    e.type = type; // the discriminator is a plain string field: keep it equal to the record name
    return e as unknown as LedgerRecord;
  };
  return [
    { label: `${type}/example`, event: base },
    { label: `${type}/nulls`, event: variant('nulls') },
    { label: `${type}/set`, event: variant('set') },
  ];
}

/** allVariants lists eventVariants of every type in LEDGER_RECORD_TYPES. */
export function allVariants(c: EventCodec = codec()): EventVariant[] {
  return LEDGER_RECORD_TYPES.flatMap((t) => eventVariants(t, c));
}

/** toPlain turns avsc's record instances into plain objects (Buffers kept) for deepEqual. */
export function toPlain(v: unknown): unknown {
  if (Buffer.isBuffer(v) || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toPlain);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
}

/** varint encodes a zig-zag Avro long of any size (bigint, so values past 2^53 are exact). */
export function varint(n: bigint): Buffer {
  let z = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const out: number[] = [];
  do {
    let b = Number(z & 0x7fn);
    z >>= 7n;
    if (z > 0n) b |= 0x80;
    out.push(b);
  } while (z > 0n);
  return Buffer.from(out);
}

/**
 * fieldOffset returns where a top-level field starts in the encoded body of an event: record
 * encoding is the concatenation of its fields, so it is the size of the fields before it.
 */
export function fieldOffset(c: EventCodec, event: LedgerRecord, field: string): number {
  const t = c.writerFor(event.type).type as AnyType;
  let off = 0;
  for (const f of t.fields!) {
    if (f.name === field) return off;
    off += f.type.toBuffer((event as Record<string, unknown>)[f.name]).length;
  }
  throw new Error(`no field ${field} in ${event.type}`);
}

/** fieldSize returns the encoded size of one top-level field of an event. */
export function fieldSize(c: EventCodec, event: LedgerRecord, field: string): number {
  const t = c.writerFor(event.type).type as AnyType;
  const f = t.fields!.find((x) => x.name === field)!;
  return f.type.toBuffer((event as Record<string, unknown>)[field]).length;
}

/**
 * replaceField returns the single-object bytes of `event` with the encoding of one top-level
 * field replaced by `bytes`, and the header of the event's current schema.
 */
export function replaceField(c: EventCodec, event: LedgerRecord, field: string, bytes: Uint8Array): Buffer {
  const enc = c.encode(event);
  const at = 10 + fieldOffset(c, event, field);
  return Buffer.concat([enc.subarray(0, at), bytes, enc.subarray(at + fieldSize(c, event, field))]);
}

/** DecodeOutcome is what one decode did: a record, or the code of a typed error. */
export type DecodeOutcome = { ok: true; record: LedgerRecord } | { ok: false; code: string; message: string };

/**
 * decodeOutcome decodes and classifies the result; any thrown value that is not an error
 * with an AFF_E_ code is re-thrown, so a test fails on it.
 */
export function decodeOutcome(c: EventCodec, bytes: Uint8Array): DecodeOutcome {
  try {
    return { ok: true, record: c.decode(bytes) };
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    if (typeof code === 'string' && code.startsWith('AFF_E_')) return { ok: false, code, message: (e as Error).message };
    throw e;
  }
}

/** Mutation is one edit of an encoding, for fuzzing the decoder. */
export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; n: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'varint'; at: number; value: bigint };

/** mutate applies a Mutation to a copy of `src`; positions wrap, and stay in the body unless `headerToo`. */
export function mutate(src: Buffer, m: Mutation, headerToo: boolean): Buffer {
  const lo = headerToo ? 0 : HEADER_SIZE;
  const at = lo + (m.at % Math.max(1, src.length - lo));
  const b = Buffer.from(src);
  switch (m.kind) {
    case 'flip':
      b[at] ^= 1 << m.bit;
      return b;
    case 'set':
      b[at] = m.byte;
      return b;
    case 'insert':
      return Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    case 'delete':
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
    case 'truncate':
      return b.subarray(0, at);
    case 'varint':
      return Buffer.concat([b.subarray(0, at), varint(m.value), b.subarray(at + 1)]);
  }
}
