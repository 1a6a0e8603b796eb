// Entry bundles: the SQLite file stores a log's entries 256 to a row, in the spirit of C2SP
// tlog-tiles entry bundles, so an append writes one b-tree row per 256 entries instead of one
// (plus an index entry) per entry. This module is the pure framing of a bundle's `data` column:
// no I/O, no SQLite.
//
// SPEC: https://c2sp.org/tlog-tiles "Entry bundles are sequences of big-endian uint16
// length-prefixed log entries." Our records carry more than the entry bytes (kind,
// eventId, source position, append time), so the framing below is our own, but it keeps the two
// properties that matter: a bundle holds up to 256 entries, and a partial bundle is a byte prefix
// of every later, wider version of it.
import { StoreUnreadableError, LedgerInputInvalidError } from '../../store-errors.ts';
import type { Entry, EntryKind, NewEntry, SourcePosition } from '../../ports/ledger-store.ts';
import { MAX_ENTRY_BYTES, MAX_EVENT_ID_LENGTH } from '../../ports/validate-append.ts';

/**
 * BUNDLE_WIDTH is how many entries a full bundle holds; bundle N holds entries 256*N .. 256*N+255.
 * SPEC: https://c2sp.org/tlog-tiles "a full bundle has a *start index* and *end index*, defined the
 * same as above for “level 0”" (start n * 256, end (n + 1) * 256).
 */
export const BUNDLE_WIDTH = 256;

// Record framing. A bundle's data is its records back to back, no header and no padding, so
// appending entries to a partial bundle appends bytes and never rewrites earlier ones.
//
//   record (all integers big-endian):
//   +-------+----------------+=================+===============================+------------+=========+
//   | flags | appendedAt     | eventId         | source (only when flags & 4)  | bytesLen   | bytes   |
//   | u8    | u64 (<= 2^53-1)|                 | topic u32 | part u32 | off u64| u32        |         |
//   +-------+----------------+=================+===============================+------------+=========+
//     1       8                16, or 2 + n      16 or 0                          4            bytesLen
//
//   flags  bit 0: kind (0 = event, 1 = rejected)
//          bit 1: eventId form: 1 = a canonical UUID (lowercase 8-4-4-4-12 hex) as its 16 bytes;
//                               0 = u16 length n (1..1200) + n bytes of UTF-8, never a canonical UUID
//          bit 2: source present: topic (row id in the `topics` table), partition (0..2^31-1),
//                 offset (0..2^63-1); absent means `source: null`
//          bits 3..7: MUST be 0
//
// Every variable-length field is length-prefixed and every length is checked against the bytes
// left before it is used, so a reader never trusts a length to allocate or to index.
const F_REJECTED = 1;
const F_UUID = 2;
const F_SOURCE = 4;
const F_KNOWN = F_REJECTED | F_UUID | F_SOURCE;
const FIXED = 1 + 8 + 4; // flags, appendedAt, bytesLen
const SOURCE_SIZE = 16;
const UUID_SIZE = 16;
/** A 400-character id is at most 1200 bytes of UTF-8 (a UTF-16 code unit never takes more than 3). */
const MAX_EVENT_ID_BYTES = MAX_EVENT_ID_LENGTH * 3;
const MAX_PARTITION = 2 ** 31 - 1;
const TWO_32 = 2 ** 32;

// Hex digit value by byte ('0'-'9', 'a'-'f'; upper case is not canonical), -1 (bit 7 set) otherwise.
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = 10 + i;
const DASH = 45;
// The 36 characters of a candidate are copied here with one native UTF-8 write and checked as
// bytes: indexing a string with charCodeAt 72 times per id showed in append profiles. UTF-8
// encodes any non-ASCII character as bytes >= 0x80, which are neither hex digits nor dashes, so
// accepting only those bytes accepts exactly the 36-character ASCII canonical form.
const chars = Buffer.alloc(36);
const probe = new Uint8Array(UUID_SIZE);

/**
 * uuidBytesInto writes the 16 bytes of `id` into `buf` at `at` and returns true when `id` is a
 * canonical UUID (lowercase hex, 8-4-4-4-12); otherwise it returns false (bytes at `at` are then
 * garbage). One pass both checks and converts.
 */
export function uuidBytesInto(id: string, buf: Uint8Array, at: number): boolean {
  if (id.length !== 36 || chars.write(id, 0, 36, 'utf8') !== 36) return false;
  let bad = (chars[8] ^ DASH) | (chars[13] ^ DASH) | (chars[18] ^ DASH) | (chars[23] ^ DASH);
  let o = at;
  for (let i = 0; i < 36; i += 2) {
    if (i === 8 || i === 13 || i === 18 || i === 23) i++;
    const h = HEX[chars[i]];
    const l = HEX[chars[i + 1]];
    bad |= (h | l) & 0x80;
    buf[o++] = (h << 4) | l;
  }
  return bad === 0;
}

/** isCanonicalUuid reports whether `id` is a UUID in canonical text form (lowercase hex, 8-4-4-4-12), the one form stored as 16 bytes. */
export function isCanonicalUuid(id: string): boolean {
  return uuidBytesInto(id, probe, 0);
}

// The hex digits of each byte value, and a scratch line the text is laid out in: a read of a
// month formats a million eventIds, and one latin1 slice per id is one allocation where
// hex-encoding and slicing were seven.
const DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const HIGH = Uint8Array.from({ length: 256 }, (_, i) => DIGITS[i >> 4]);
const LOW = Uint8Array.from({ length: 256 }, (_, i) => DIGITS[i & 15]);
/** CHAR_AT[j] is where byte j's two digits start in the text (8-4-4-4-12, dashes between). */
const CHAR_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const line = Buffer.alloc(36, DASH);

/** formatUuid turns 16 bytes at `at` into the canonical UUID text form. */
export function formatUuid(b: Uint8Array, at = 0): string {
  if (!Number.isSafeInteger(at) || at < 0 || at + UUID_SIZE > b.length) throw new RangeError(`formatUuid: 16 bytes at ${at} are past the end of ${b.length}`);
  for (let j = 0; j < UUID_SIZE; j++) {
    const v = b[at + j];
    const c = CHAR_AT[j];
    line[c] = HIGH[v];
    line[c + 1] = LOW[v];
  }
  return line.toString('latin1', 0, 36);
}

/**
 * EventIdKey is how the `event_ids` table keys an eventId: a canonical UUID as its 16 bytes (a
 * BLOB), any other id as its text (a TEXT value). SQLite orders every TEXT value before every
 * BLOB, so the two forms never compare equal, whatever their lengths.
 */
export type EventIdKey = Uint8Array | string;

/** FramedEntries is what frameEntries returns: the records, where each one ends, and each entry's eventId key. */
export type FramedEntries = {
  /** data holds the prefix, then the records back to back. */
  readonly data: Buffer;
  /** ends[i] is the offset in `data` just past record i (record 0 starts at the prefix's length). */
  readonly ends: Uint32Array;
  /**
   * uuids holds 16 bytes per entry: entry i's UUID at 16 * i when isUuid[i] is 1 (garbage
   * otherwise). Contiguous, so a run of UUID keys is bound as one BLOB.
   */
  readonly uuids: Buffer;
  /** isUuid[i] is 1 when entry i's eventId is stored as a UUID, 0 when as text. */
  readonly isUuid: Uint8Array;
};

/** eventIdKey returns entry i's EventIdKey from a framing (a view for a UUID, the text otherwise). */
export function eventIdKey(f: FramedEntries, entries: readonly NewEntry[], i: number): EventIdKey {
  return f.isUuid[i] === 1 ? new Uint8Array(f.uuids.buffer, f.uuids.byteOffset + i * UUID_SIZE, UUID_SIZE) : entries[i].eventId;
}

/**
 * frameEntries encodes `entries` as bundle records (see the diagram above), after a copy of
 * `prefix` (the stored partial bundle, so the grown bundle needs no second copy). `topicRef` maps
 * a source topic name to its row id in `topics`; `alloc(n)` returns n bytes to write into (a
 * reused scratch buffer, so an append does not map fresh memory every time). It MUST be given
 * entries that passed the port's assertAppend; it additionally refuses (LedgerInputInvalidError)
 * an eventId that is not well-formed UTF-16 (a lone surrogate), since it could not be stored and
 * read back unchanged.
 */
export function frameEntries(
  entries: readonly NewEntry[],
  topicRef: (topic: string) => number,
  prefix: Uint8Array = new Uint8Array(0),
  alloc: (n: number) => Buffer = Buffer.allocUnsafe,
): FramedEntries {
  // Fast path: every 36-character id is taken for a UUID when sizing, and checked while its bytes
  // are written; a 36-character id that is not canonical (rare) reframes the batch exactly.
  return framed(entries, topicRef, prefix, alloc, false) ?? framed(entries, topicRef, prefix, alloc, true)!;
}

function framed(
  entries: readonly NewEntry[],
  topicRef: (topic: string) => number,
  prefix: Uint8Array,
  alloc: (n: number) => Buffer,
  exact: boolean,
): FramedEntries | undefined {
  const n = entries.length;
  const idBytes = new Int32Array(n); // -1: stored as a UUID
  let total = prefix.length;
  for (let i = 0; i < n; i++) {
    const e = entries[i];
    let size = FIXED + e.bytes.length + (e.source === null ? 0 : SOURCE_SIZE);
    if (exact ? isCanonicalUuid(e.eventId) : e.eventId.length === 36) {
      idBytes[i] = -1;
      size += UUID_SIZE;
    } else {
      if (!e.eventId.isWellFormed()) throw new LedgerInputInvalidError(`entries[${i}].eventId is not well-formed UTF-16 (a lone surrogate)`);
      const len = Buffer.byteLength(e.eventId, 'utf8');
      idBytes[i] = len;
      size += 2 + len;
    }
    total += size;
  }
  // One allocation for the records and the UUID keys after them.
  const buf = alloc(total + n * UUID_SIZE);
  const data = buf.subarray(0, total);
  const uuids = buf.subarray(total);
  const isUuid = new Uint8Array(n);
  data.set(prefix, 0);
  // DataView setters compile to plain stores; Buffer's write*BE methods range-check each call.
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const ends = new Uint32Array(n);
  let lastTopic: string | undefined;
  let lastRef = 0;
  let p = prefix.length;
  for (let i = 0; i < n; i++) {
    const e = entries[i];
    const s = e.source;
    const uuid = idBytes[i] < 0;
    data[p] = (e.kind === 'rejected' ? F_REJECTED : 0) | (uuid ? F_UUID : 0) | (s === null ? 0 : F_SOURCE);
    dv.setUint32(p + 1, Math.floor(e.appendedAt / TWO_32));
    dv.setUint32(p + 5, e.appendedAt % TWO_32);
    p += 9;
    if (uuid) {
      const k = i * UUID_SIZE;
      if (!uuidBytesInto(e.eventId, uuids, k)) return undefined;
      for (let j = 0; j < UUID_SIZE; j++) data[p + j] = uuids[k + j];
      isUuid[i] = 1;
      p += UUID_SIZE;
    } else {
      dv.setUint16(p, idBytes[i]);
      data.write(e.eventId, p + 2, 'utf8');
      p += 2 + idBytes[i];
    }
    if (s !== null) {
      if (s.topic !== lastTopic) {
        lastTopic = s.topic;
        lastRef = topicRef(s.topic);
      }
      dv.setUint32(p, lastRef);
      dv.setUint32(p + 4, s.partition);
      dv.setBigUint64(p + 8, s.offset);
      p += SOURCE_SIZE;
    }
    dv.setUint32(p, e.bytes.length);
    p += 4;
    data.set(e.bytes, p);
    p += e.bytes.length;
    ends[i] = p;
  }
  return { data, ends, uuids, isUuid };
}

/** BundleRecord is one decoded record: an entry without its index, `bytes` a view into the bundle data. */
export type BundleRecord = {
  readonly eventId: string;
  readonly kind: EntryKind;
  readonly bytes: Buffer;
  readonly source: SourcePosition | null;
  readonly appendedAt: number;
};

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * parseBundle splits a bundle's data into exactly `count` records. It MUST NOT trust the data:
 * data that is not bytes (a raw edit can store TEXT), a count outside 1..256, an unknown flag bit, a length past the end, an over-long field, a value
 * out of range (appendedAt past 2^53-1, a partition past 2^31-1, an offset past 2^63-1), invalid
 * UTF-8, a text eventId that is a canonical UUID, an unknown topic ref, or bytes left over after
 * the last record all throw StoreUnreadableError naming `where` (the log and bundle) and the
 * record. `topicName` returns the topic of a topic ref, or undefined when there is none.
 */
export function parseBundle(data: unknown, count: number, where: string, topicName: (ref: number) => string | undefined): BundleRecord[];
/** With `base` (the index of the bundle's first entry), parseBundle returns the records as the log's entries, numbered from it. */
export function parseBundle(data: unknown, count: number, where: string, topicName: (ref: number) => string | undefined, base: number): Entry[];
export function parseBundle(
  data: unknown,
  count: number,
  where: string,
  topicName: (ref: number) => string | undefined,
  base?: number,
): BundleRecord[] | Entry[] {
  if (!(data instanceof Uint8Array)) {
    throw new StoreUnreadableError(
      `${where} is malformed: its data is ${data === null ? 'NULL' : typeof data}, not a BLOB (the ledger file was altered or is corrupt)`,
    );
  }
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bad = (i: number, what: string): never => {
    throw new StoreUnreadableError(`${where} is malformed: record ${i} of ${count}: ${what} (the ledger file was altered or is corrupt)`);
  };
  if (!Number.isSafeInteger(count) || count < 1 || count > BUNDLE_WIDTH) {
    throw new StoreUnreadableError(`${where} is malformed: it claims ${count} entries, want 1..${BUNDLE_WIDTH} (the ledger file was altered or is corrupt)`);
  }
  const out: (BundleRecord | Entry)[] = new Array(count);
  const end = buf.length;
  let p = 0;
  for (let i = 0; i < count; i++) {
    const need = (n: number, what: string) => {
      if (end - p < n) bad(i, `${what} needs ${n} bytes, ${end - p} left`);
    };
    need(9, 'the header');
    const flags = buf[p];
    if ((flags & ~F_KNOWN) !== 0) bad(i, `unknown flag bits 0x${flags.toString(16)}`);
    const hi = buf.readUInt32BE(p + 1);
    if (hi >= 2 ** 21) bad(i, 'appendedAt is past 2^53-1');
    const appendedAt = hi * TWO_32 + buf.readUInt32BE(p + 5);
    p += 9;
    let eventId: string;
    if (flags & F_UUID) {
      need(UUID_SIZE, 'the UUID eventId');
      eventId = formatUuid(buf, p);
      p += UUID_SIZE;
    } else {
      need(2, 'the eventId length');
      const len = buf.readUInt16BE(p);
      p += 2;
      if (len < 1 || len > MAX_EVENT_ID_BYTES) bad(i, `eventId length ${len} is outside 1..${MAX_EVENT_ID_BYTES}`);
      need(len, 'the eventId');
      try {
        eventId = utf8.decode(buf.subarray(p, p + len));
      } catch {
        return bad(i, 'the eventId is not valid UTF-8');
      }
      if (eventId.length > MAX_EVENT_ID_LENGTH) bad(i, `the eventId is over ${MAX_EVENT_ID_LENGTH} characters`);
      if (isCanonicalUuid(eventId)) bad(i, 'a canonical UUID eventId is stored as text (it is always stored as 16 bytes)');
      p += len;
    }
    let source: SourcePosition | null = null;
    if (flags & F_SOURCE) {
      need(SOURCE_SIZE, 'the source');
      const ref = buf.readUInt32BE(p);
      const partition = buf.readUInt32BE(p + 4);
      const offset = buf.readBigUInt64BE(p + 8);
      if (partition > MAX_PARTITION) bad(i, `partition ${partition} is past 2^31-1`);
      if (offset >= 2n ** 63n) bad(i, 'the source offset is past 2^63-1');
      const topic = topicName(ref);
      if (topic === undefined) bad(i, `topic ref ${ref} is not in the topics table`);
      source = { topic: topic!, partition, offset };
      p += SOURCE_SIZE;
    }
    need(4, 'the bytes length');
    const len = buf.readUInt32BE(p);
    p += 4;
    if (len > MAX_ENTRY_BYTES) bad(i, `bytes length ${len} is over ${MAX_ENTRY_BYTES}`);
    need(len, 'the entry bytes');
    const kind = flags & F_REJECTED ? 'rejected' : 'event';
    // Entries built here directly: a second object per entry, copied field by field, showed in reports' profiles.
    out[i] =
      base === undefined
        ? { eventId, kind, bytes: buf.subarray(p, p + len), source, appendedAt }
        : { index: base + i, eventId, kind, bytes: buf.subarray(p, p + len), source, appendedAt };
    p += len;
  }
  if (p !== end) {
    throw new StoreUnreadableError(`${where} is malformed: ${end - p} bytes follow its ${count} records (the ledger file was altered or is corrupt)`);
  }
  return out as BundleRecord[] | Entry[];
}
