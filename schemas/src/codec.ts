import avro from 'avsc';
import type { Type } from 'avsc';
import { boundedScan } from './bounded-scan.ts';
import { crc64Avro } from './crc64-avro.ts';
import { exactLongHook } from './exact-long.ts';
import {
  AvroBadMagicError,
  AvroMalformedError,
  AvroTooLargeError,
  AvroTruncatedError,
  AvroUnknownFingerprintError,
  EventInvalidError,
  EventUnknownTypeError,
} from './errors.ts';
import type { LedgerRecord } from './generated/events.ts';
import { loadSchemaFiles } from './schema-files.ts';

// SPEC: https://avro.apache.org/docs/1.11.1/specification/#single-object-encoding
// "A two-byte marker, C3 01 ... The 8-byte little-endian CRC-64-AVRO fingerprint of the
// object's schema ... The Avro object encoded using Avro's binary encoding"
/** SINGLE_OBJECT_MARKER is the two bytes every encoded event starts with. */
export const SINGLE_OBJECT_MARKER = Buffer.from([0xc3, 0x01]);
/** HEADER_SIZE is the marker plus the 8-byte fingerprint. */
export const HEADER_SIZE = 10;
/** DEFAULT_MAX_EVENT_BYTES bounds one encoded event (1 MiB), so a hostile producer cannot exhaust memory. */
export const DEFAULT_MAX_EVENT_BYTES = 1 << 20;

/** WriterSchema is one schema the codec can read, keyed by its fingerprint. */
export type WriterSchema = { readonly name: string; readonly fingerprint: Buffer; readonly type: Type; readonly canonical: string };

/** DecodedRecord is an event plus the writer schema it was written with. */
export type DecodedRecord = { readonly record: LedgerRecord; readonly writer: WriterSchema };

/** fingerprintOf returns the CRC-64-AVRO fingerprint of a type's Parsing Canonical Form. */
export function fingerprintOf(type: Type): Buffer {
  return crc64Avro(Buffer.from(JSON.stringify(type.schema()), 'utf8'));
}

/**
 * parseSchemas builds avsc types for record schemas that may reference shared named records.
 * Every `long` is an ExactLongType, so longs round-trip exactly over the whole safe-integer range.
 */
export function parseSchemas(shared: unknown[], records: unknown[]): Map<string, Type> {
  const registry: Record<string, Type> = {};
  const opts = { registry, typeHook: exactLongHook } as unknown as avro.ForSchemaOptions;
  for (const s of shared) avro.Type.forSchema(s as avro.Schema, opts);
  const out = new Map<string, Type>();
  for (const s of records) {
    const t = avro.Type.forSchema(s as avro.Schema, opts);
    out.set((s as { name: string }).name, t);
  }
  return out;
}

/**
 * EventCodec turns events into Avro single-object bytes and back.
 *
 * `encode` MUST validate the event against its schema first and MUST NOT produce bytes for
 * an invalid event. `decode` MUST throw one of the AFF_E_AVRO_* / AFF_E_EVENT_* errors for
 * anything that is not a valid event of a known writer schema, never another exception,
 * and MUST NOT allocate more than a small multiple of the input size.
 */
export class EventCodec {
  readonly #readers = new Map<string, Type>();
  readonly #writers = new Map<string, WriterSchema>();
  readonly #currentWriter = new Map<string, WriterSchema>();
  readonly #resolvers = new Map<string, unknown>();
  readonly #shared: unknown[];
  readonly maxEventBytes: number;

  constructor(opts: { shared: unknown[]; records: unknown[]; maxEventBytes?: number }) {
    this.#shared = opts.shared;
    this.maxEventBytes = opts.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    for (const [name, type] of parseSchemas(opts.shared, opts.records)) {
      this.#readers.set(name, type);
      const w = this.#addWriter(name, type);
      this.#currentWriter.set(name, w);
    }
  }

  #addWriter(name: string, type: Type): WriterSchema {
    const fingerprint = fingerprintOf(type);
    const w = Object.freeze({ name, fingerprint, type, canonical: JSON.stringify(type.schema()) });
    this.#writers.set(fingerprint.toString('hex'), w);
    return w;
  }

  /** registerWriterSchema teaches the codec an older (or newer) version of a record schema so its bytes decode. */
  registerWriterSchema(schema: unknown): WriterSchema {
    const [[name, type]] = parseSchemas(this.#shared, [schema]);
    return this.#addWriter(name, type);
  }

  /** writerSchemas lists every schema this codec can read. */
  writerSchemas(): WriterSchema[] {
    return [...this.#writers.values()];
  }

  /** writerFor returns the current schema of one record type. */
  writerFor(typeName: string): WriterSchema {
    const w = this.#currentWriter.get(typeName);
    if (!w) throw new EventUnknownTypeError(`unknown event type ${JSON.stringify(typeName)}`);
    return w;
  }

  /** validate returns the problems of an event against its schema (empty when valid). */
  validate(event: { type?: unknown }): string[] {
    const w = typeof event?.type === 'string' ? this.#currentWriter.get(event.type) : undefined;
    if (!w) return [`type: unknown event type ${JSON.stringify(event?.type)}`];
    const problems: string[] = [];
    w.type.isValid(event, {
      // A misspelled or extra field would otherwise vanish silently from the audit record.
      noUndeclaredFields: true,
      errorHook: (path: string[], value: unknown) => {
        problems.push(`${path.join('.') || '(root)'}: invalid value ${safeShow(value)}`);
      },
    });
    return problems;
  }

  /** encode returns the single-object bytes of a valid event. */
  encode(event: LedgerRecord): Buffer {
    const problems = this.validate(event);
    if (problems.length > 0) {
      if (!this.#currentWriter.has(event?.type)) throw new EventUnknownTypeError(problems[0]);
      throw new EventInvalidError(`${event.type} is invalid: ${problems.join('; ')}`);
    }
    const w = this.#currentWriter.get(event.type)!;
    const body = w.type.toBuffer(event);
    if (body.length + HEADER_SIZE > this.maxEventBytes) {
      throw new AvroTooLargeError(`${event.type} encodes to ${body.length + HEADER_SIZE} bytes, over the ${this.maxEventBytes}-byte maximum`);
    }
    return Buffer.concat([SINGLE_OBJECT_MARKER, w.fingerprint, body], HEADER_SIZE + body.length);
  }

  /** writerOf reads the header of single-object bytes and returns their writer schema. */
  writerOf(bytes: Uint8Array): WriterSchema {
    if (bytes.length > this.maxEventBytes) {
      throw new AvroTooLargeError(`event of ${bytes.length} bytes is over the ${this.maxEventBytes}-byte maximum`);
    }
    if (bytes.length < 2 || bytes[0] !== 0xc3 || bytes[1] !== 0x01) {
      throw new AvroBadMagicError(`expected marker C3 01, got ${Buffer.from(bytes.subarray(0, 2)).toString('hex') || 'nothing'}`);
    }
    if (bytes.length < HEADER_SIZE) throw new AvroTruncatedError(`header needs ${HEADER_SIZE} bytes, got ${bytes.length}`);
    const fp = Buffer.from(bytes.buffer, bytes.byteOffset + 2, 8).toString('hex');
    const w = this.#writers.get(fp);
    if (!w) throw new AvroUnknownFingerprintError(`no known writer schema has fingerprint ${fp}`);
    return w;
  }

  /** decodeDetailed decodes bytes and tells which writer schema they used. */
  decodeDetailed(bytes: Uint8Array): DecodedRecord {
    const writer = this.writerOf(bytes);
    boundedScan(writer.type, bytes, HEADER_SIZE);
    const reader = this.#readers.get(writer.name);
    if (!reader) throw new AvroUnknownFingerprintError(`writer schema ${writer.name} has no reader type`);
    const body = Buffer.from(bytes.buffer, bytes.byteOffset + HEADER_SIZE, bytes.length - HEADER_SIZE);
    let record: LedgerRecord;
    try {
      if (reader === writer.type) {
        record = reader.fromBuffer(body) as LedgerRecord;
      } else {
        const key = writer.fingerprint.toString('hex');
        let resolver = this.#resolvers.get(key);
        if (!resolver) {
          resolver = reader.createResolver(writer.type);
          this.#resolvers.set(key, resolver);
        }
        record = reader.fromBuffer(body, resolver as never) as LedgerRecord;
      }
    } catch (e) {
      const msg = (e as Error).message;
      if (/truncated/.test(msg)) throw new AvroTruncatedError(`${writer.name}: ${msg}`, { cause: e });
      throw new AvroMalformedError(`${writer.name}: ${msg}`, { cause: e });
    }
    if (record.type !== writer.name) {
      throw new EventInvalidError(`record of schema ${writer.name} says type ${JSON.stringify(record.type)}`);
    }
    return { record, writer };
  }

  /**
   * inspect checks single-object bytes exactly as `decode` does and returns their writer schema
   * and `eventId`, without building the record object.
   *
   * It MUST accept exactly the bytes `decode` accepts and MUST throw the same error (same code)
   * for the rest (property-tested against `decode`). It runs the same header checks and the
   * same `boundedScan`; what `decode` adds beyond those is the exact-long range check and the
   * `type` check. The exact-long check can only fail on a varint of 8+ bytes whose 8th byte is
   * large or continued, so when any such byte pattern occurs (or the writer is not the current
   * schema, or the record does not start with the string fields eventId and type) it simply
   * calls `decodeDetailed`.
   */
  inspect(bytes: Uint8Array): { readonly writer: WriterSchema; readonly eventId: string } {
    const writer = this.writerOf(bytes);
    boundedScan(writer.type, bytes, HEADER_SIZE);
    if (this.#readers.get(writer.name) !== writer.type || !startsWithIdAndType(writer.type) || mayHoldUnsafeLong(bytes, HEADER_SIZE)) {
      const d = this.decodeDetailed(bytes);
      return { writer: d.writer, eventId: d.record.eventId };
    }
    // boundedScan proved both leading strings lie within the buffer, so these reads are in bounds.
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const id = readStringAt(buf, HEADER_SIZE);
    const type = readStringAt(buf, id.end);
    if (type.value !== writer.name) {
      throw new EventInvalidError(`record of schema ${writer.name} says type ${JSON.stringify(type.value)}`);
    }
    return { writer, eventId: id.value };
  }

  /** decode returns the event in single-object bytes, resolved to the current schema. */
  decode(bytes: Uint8Array): LedgerRecord {
    return this.decodeDetailed(bytes).record;
  }
}

const idAndTypeShape = new WeakMap<Type, boolean>();

/** startsWithIdAndType tells whether a record type's first two fields are the strings eventId and type. */
function startsWithIdAndType(t: Type): boolean {
  let ok = idAndTypeShape.get(t);
  if (ok === undefined) {
    const fields = (t as unknown as { fields?: { name: string; type: { typeName: string } }[] }).fields ?? [];
    ok = fields.length >= 2 && fields[0].name === 'eventId' && fields[0].type.typeName === 'string' && fields[1].name === 'type' && fields[1].type.typeName === 'string';
    idAndTypeShape.set(t, ok);
  }
  return ok;
}

/**
 * mayHoldUnsafeLong tells whether some varint in bytes[from..] could decode beyond +-(2^53-1),
 * the range ExactLongType accepts. Such a varint has 8+ bytes: seven continuation bytes, then an
 * eighth byte that either continues or carries (with the 49 bits before it) at least 2^53
 * (byte value >= 16; out of range needs >= 31). Any byte preceded by seven continuation bytes
 * that looks like that is flagged, wherever it is, so this errs only towards "maybe".
 */
function mayHoldUnsafeLong(bytes: Uint8Array, from: number): boolean {
  let run = 0;
  for (let i = from; i < bytes.length; i++) {
    const b = bytes[i];
    if (run >= 7 && b >= 16) return true;
    run = b & 0x80 ? run + 1 : 0;
  }
  return false;
}

/** readStringAt reads an Avro string (zig-zag length, then UTF-8) already proven in bounds. */
function readStringAt(buf: Buffer, pos: number): { value: string; end: number } {
  let n = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos++];
    n += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) break;
    mul *= 128;
  }
  const len = n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  // avsc reads strings with Buffer#utf8Slice, which is what toString('utf8') does.
  return { value: buf.toString('utf8', pos, pos + len), end: pos + len };
}

function safeShow(v: unknown): string {
  try {
    const s = typeof v === 'bigint' ? `${v}n` : Buffer.isBuffer(v) ? `<${v.length} bytes>` : JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return typeof v;
  }
}

let defaultCodec: EventCodec | undefined;

/** createDefaultCodec builds a codec over the contract in schemas/avro. */
export function createDefaultCodec(opts: { maxEventBytes?: number } = {}): EventCodec {
  const files = loadSchemaFiles();
  return new EventCodec({
    shared: files.envelope.map((f) => f.schema),
    records: [...files.events, ...files.ledger].map((f) => f.schema),
    maxEventBytes: opts.maxEventBytes,
  });
}

/** codec returns the process-wide codec over the current contract. */
export function codec(): EventCodec {
  defaultCodec ??= createDefaultCodec();
  return defaultCodec;
}

/** encodeEvent encodes one event with the process-wide codec. */
export function encodeEvent(event: LedgerRecord): Buffer {
  return codec().encode(event);
}

/** decodeEvent decodes single-object bytes with the process-wide codec. */
export function decodeEvent(bytes: Uint8Array): LedgerRecord {
  return codec().decode(bytes);
}
