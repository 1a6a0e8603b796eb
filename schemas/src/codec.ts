import avro from 'avsc';
import type { Type } from 'avsc';
import { boundedScan } from './bounded-scan.ts';
import { crc64Avro } from './crc64-avro.ts';
import { EnvelopeSplicer, type EncodedEnvelope, type EventHead, type PartsWriter, type SessionEnvelope } from './envelope-splice.ts';
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

// isValid options of encode()'s fast check: the same rule as validate() (no undeclared fields).
const VALID_OPTS = { noUndeclaredFields: true } as const;

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

/** SLAB_BYTES is the size of encodeDraft's output slabs; SLAB_MIN_ROOM the room below which a new one is started. */
const SLAB_BYTES = 64 * 1024;
const SLAB_MIN_ROOM = 4 * 1024;

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
  /** The writer of the last bytes read: a stream of events is mostly of one or a few types. */
  #lastWriter?: WriterSchema;
  readonly #shared: unknown[];
  readonly maxEventBytes: number;
  /** Per event type, encodeDraft's header bytes and parts writer (null: the type has none). */
  readonly #draftWriters = new Map<string, { readonly header: Buffer; readonly write: PartsWriter } | null>();
  /** The slab encodeDraft writes events into (see there). */
  #slab = Buffer.alloc(0);
  #slabAt = 0;
  /** #scratch is encode()'s reusable output buffer (grown on demand, up to maxEventBytes). */
  #scratch = Buffer.alloc(16 * 1024);
  readonly #splicer: EnvelopeSplicer;

  constructor(opts: { shared: unknown[]; records: unknown[]; maxEventBytes?: number }) {
    this.#shared = opts.shared;
    this.maxEventBytes = opts.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    this.#splicer = new EnvelopeSplicer(opts.shared, opts.records);
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
    const w = typeof event?.type === 'string' ? this.#currentWriter.get(event.type) : undefined;
    // Fast check first; the problem list (errorHook) is built only for an event that fails it.
    if (!w?.type.isValid(event, VALID_OPTS)) {
      const problems = this.validate(event);
      if (!w) throw new EventUnknownTypeError(problems[0]);
      throw new EventInvalidError(`${event.type} is invalid: ${problems.join('; ')}`);
    }
    // One pass into a reusable scratch buffer (header, then body), then one exact-size copy:
    // avsc's toBuffer plus a concat allocated and copied the body twice per event.
    let scratch = this.#scratch;
    let end = -1;
    for (;;) {
      SINGLE_OBJECT_MARKER.copy(scratch, 0);
      w.fingerprint.copy(scratch, 2);
      end = w.type.encode(event, scratch, HEADER_SIZE);
      if (end >= 0) break;
      // avsc returns minus the missing byte count when the buffer is too small.
      const needed = scratch.length - end;
      if (needed > this.maxEventBytes) break;
      scratch = this.#scratch = Buffer.alloc(Math.min(Math.max(needed, scratch.length * 2), this.maxEventBytes));
    }
    if (end < 0 || end > this.maxEventBytes) {
      const size = end < 0 ? w.type.toBuffer(event).length + HEADER_SIZE : end;
      throw new AvroTooLargeError(`${event.type} encodes to ${size} bytes, over the ${this.maxEventBytes}-byte maximum`);
    }
    const out = Buffer.allocUnsafe(end);
    scratch.copy(out, 0, 0, end);
    return out;
  }

  /**
   * encodeEnvelope validates and pre-encodes one session's envelope (actor, source, target,
   * feeder) for encodeWith; undefined when it is invalid (encode() then reports why).
   */
  encodeEnvelope(env: SessionEnvelope): EncodedEnvelope | undefined {
    return this.#splicer.envelope(env);
  }

  /**
   * encodeWith returns exactly what encode(event) returns, with the same validation; when the
   * event carries the very envelope objects of `env` it reuses env's bytes instead of
   * validating and encoding the envelope again (see envelope-splice.ts).
   */
  /**
   * encodeDraft returns exactly what encode({ ...draft, ...head, ...envelope }) returns, without
   * building that object, or undefined when the fast path does not apply (then build the event
   * and call encodeWith, which also reports why an event is invalid). `env` is
   * encodeEnvelope(envelope).
   */
  encodeDraft(head: EventHead, draft: Record<string, unknown>, envelope: SessionEnvelope, env: EncodedEnvelope): Buffer | undefined {
    // One lookup per event: the type's header bytes and its parts writer, found once.
    let d = this.#draftWriters.get(head.type);
    if (d === undefined) {
      const w = this.#currentWriter.get(head.type);
      const write = w && this.#splicer.partsWriter(head.type);
      d = write ? { header: Buffer.concat([SINGLE_OBJECT_MARKER, w!.fingerprint]), write } : null;
      if (w) this.#draftWriters.set(head.type, d);
    }
    if (d === null) return undefined;
    const { header, write } = d;
    // Written straight into a shared slab and handed out as a view of it: no buffer (and no
    // ArrayBuffer, which the GC counts as external memory) per event. A view is never written
    // again: #slabAt only grows, and a full slab is replaced, not reused.
    // An event that does not fit the room left gets one more try in a fresh slab, and one
    // that does not fit a slab (a DataMasked event with a thousand masks: ~70 KB) a last one
    // in the scratch buffer, grown to the largest event allowed, then copied out.
    for (let fresh = this.#slab.length - this.#slabAt < SLAB_MIN_ROOM; ; fresh = true) {
      if (fresh) {
        this.#slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
        this.#slabAt = 0;
      }
      const slab = this.#slab;
      const at = this.#slabAt;
      for (let i = 0; i < HEADER_SIZE; i++) slab[at + i] = header[i]; // ten bytes: a loop beats Buffer#copy's call
      const end = write(head, draft, envelope, env, slab, at + HEADER_SIZE);
      if (end >= 0 && end - at <= this.maxEventBytes) {
        this.#slabAt = end;
        return slab.subarray(at, end);
      }
      if (end - at > this.maxEventBytes) return undefined;
      if (fresh) break;
    }
    if (this.#scratch.length < this.maxEventBytes) this.#scratch = Buffer.alloc(this.maxEventBytes);
    const scratch = this.#scratch;
    header.copy(scratch, 0);
    // The scratch holds exactly maxEventBytes: an event that fits is not over the maximum.
    const end = write(head, draft, envelope, env, scratch, HEADER_SIZE);
    if (end < 0) return undefined;
    const out = Buffer.allocUnsafe(end);
    scratch.copy(out, 0, 0, end);
    return out;
  }

  encodeWith(event: LedgerRecord, env: EncodedEnvelope | undefined): Buffer {
    const w = env && typeof event?.type === 'string' ? this.#currentWriter.get(event.type) : undefined;
    if (w) {
      const scratch = this.#scratch;
      SINGLE_OBJECT_MARKER.copy(scratch, 0);
      w.fingerprint.copy(scratch, 2);
      const end = this.#splicer.encode(event as unknown as Record<string, unknown>, env!, scratch, HEADER_SIZE);
      if (end >= 0 && end <= this.maxEventBytes) {
        const out = Buffer.allocUnsafe(end);
        scratch.copy(out, 0, 0, end);
        return out;
      }
    }
    return this.encode(event);
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
    const last = this.#lastWriter;
    if (last && sameFingerprint(bytes, last.fingerprint)) return last;
    const fp = Buffer.from(bytes.buffer, bytes.byteOffset + 2, 8).toString('hex');
    const w = this.#writers.get(fp);
    if (!w) throw new AvroUnknownFingerprintError(`no known writer schema has fingerprint ${fp}`);
    this.#lastWriter = w;
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
   * `type` check. The exact-long check can only fail on a `long` field whose varint has 8+ bytes
   * and a large or continued 8th byte, which `boundedScan` reports (`mayHoldUnsafeLong`); when it
   * does (or the writer is not the current schema, or the record does not start with the string
   * fields eventId and type) inspect simply calls `decodeDetailed`.
   */
  inspect(bytes: Uint8Array): { readonly writer: WriterSchema; readonly eventId: string } {
    const writer = this.writerOf(bytes);
    const scanned = boundedScan(writer.type, bytes, HEADER_SIZE);
    if (this.#readers.get(writer.name) !== writer.type || !startsWithIdAndType(writer.type) || scanned.mayHoldUnsafeLong) {
      const d = this.decodeDetailed(bytes);
      return { writer: d.writer, eventId: d.record.eventId };
    }
    // boundedScan proved both leading strings lie within the buffer, so these reads are in bounds.
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const id = readStringAt(buf, HEADER_SIZE);
    if (!stringAtEquals(buf, id.end, nameBytes(writer))) {
      const type = readStringAt(buf, id.end);
      if (type.value !== writer.name) throw new EventInvalidError(`record of schema ${writer.name} says type ${JSON.stringify(type.value)}`);
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
    ok =
      fields.length >= 2 &&
      fields[0].name === 'eventId' &&
      fields[0].type.typeName === 'string' &&
      fields[1].name === 'type' &&
      fields[1].type.typeName === 'string';
    idAndTypeShape.set(t, ok);
  }
  return ok;
}

/** sameFingerprint tells whether single-object bytes (header already checked) carry fingerprint `fp`. */
function sameFingerprint(bytes: Uint8Array, fp: Buffer): boolean {
  for (let i = 0; i < 8; i++) if (bytes[2 + i] !== fp[i]) return false;
  return true;
}

const nameBytesOf = new WeakMap<WriterSchema, Buffer>();

/** nameBytes is the Avro encoding (zig-zag length, UTF-8) of a writer's record name, as its `type` field holds it. */
function nameBytes(w: WriterSchema): Buffer {
  let b = nameBytesOf.get(w);
  if (!b) {
    const utf8 = Buffer.from(w.name, 'utf8');
    // A record name is an Avro name ([A-Za-z_][A-Za-z0-9_]*), far shorter than 64 bytes: a one-byte length.
    b = utf8.length < 64 ? Buffer.concat([Buffer.of(utf8.length * 2), utf8]) : Buffer.alloc(0);
    nameBytesOf.set(w, b);
  }
  return b;
}

/**
 * stringAtEquals tells whether the Avro string at `pos` (already proven in bounds) is encoded
 * exactly as `encoded`. Strings of equal value have equal encodings unless the length varint is
 * padded, and a padded length only makes this answer false, which sends the caller to the exact
 * (decoding) comparison.
 */
function stringAtEquals(buf: Buffer, pos: number, encoded: Buffer): boolean {
  const n = encoded.length;
  if (n === 0 || pos + n > buf.length) return false;
  for (let i = 0; i < n; i++) if (buf[pos + i] !== encoded[i]) return false;
  return true;
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
