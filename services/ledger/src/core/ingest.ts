import { hash } from 'node:crypto';
import type { EventCodec, InputRejected } from '@affidavit/schemas';
import { MAX_ENTRY_BYTES } from '../ports/validate-append.ts';
import { readSessionHead } from './session-head.ts';

/** SourceRecord is one record as consumed from the bus. `key` is '' for a record without one. */
export type SourceRecord = { topic: string; partition: number; offset: bigint; key: string; value: Buffer };

/**
 * Admitted is a record the ledger will append, already shaped as the store's NewEntry: its exact
 * bytes are what the Merkle leaf hashes. `source` is the consumed record itself (it carries topic,
 * partition and offset): one object fewer per entry on the ledger's hot path.
 */
export type Admitted = {
  kind: 'event' | 'rejected';
  eventId: string;
  bytes: Buffer;
  source: { readonly topic: string; readonly partition: number; readonly offset: bigint };
  /** When the ledger admitted it (epoch ms): the entry's appendedAt. */
  appendedAt: number;
  /** For rejected input: the raw bytes, which go to the dead-letter topic (absent for a seq-anomaly flag). */
  raw?: Buffer;
  /** For rejected input: the code recorded (the DLQ record's `reason` header). */
  code?: string;
};

/** IngestResult sorts one consumed batch; `seqs` is the highest seq seen per session in it (for the caller's tracker). */
export type IngestResult = { admitted: Admitted[]; duplicates: number; anomalies: number; seqs: Map<string, number> };

const sha256hex = (b: Uint8Array) => hash('sha256', b, 'hex');

/** Parsed is one consumed record after decoding: an event with its id, session and seq, or why it is not one. */
export type Parsed = { record: SourceRecord; eventId: string; session?: string; seq?: number; failure?: { code: string; reason: string } };

/**
 * UUID_V7 is the only eventId form an input event may carry (DESIGN: eventId is a UUIDv7):
 * canonical, lowercase, version 7, RFC variant. Because of it no input can claim an id of the
 * ledger's own namespaces (`rejected:…`, `anomaly:…`), nor write one UUID in two spellings.
 */
export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * rejectedId is the id of the InputRejected entry of the record at a source position. The
 * ledger's own ids are keyed by partition and offset, never by anything inside the record,
 * and contain ':' so they can never be a UUID: no input can occupy one.
 */
export const rejectedId = (r: { topic: string; partition: number; offset: bigint }) => `rejected:${r.topic}:${r.partition}:${r.offset}`;
/** anomalyId is the id of the seq-anomaly flag entry that follows the event at a source position. */
export const anomalyId = (r: { topic: string; partition: number; offset: bigint }) => `anomaly:${r.topic}:${r.partition}:${r.offset}`;

const reject = (r: SourceRecord, code: string, reason: string): Parsed => ({ record: r, eventId: rejectedId(r), failure: { code, reason } });
const show = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);

/**
 * parseBatch checks each record once, everything the store will check included, so a record
 * either becomes an event entry or an InputRejected entry and never a failed append: the full
 * decode checks (via `codec.inspect`), the InputRejected kind reserved to the ledger, the
 * eventId form (UUID_V7, which also bounds its length), the entry size, and that the record's
 * key is the event's sessionId (feeders key by session, so one session is one partition's
 * order; a record without a key or under another session's key would let one eventId sit in
 * several logs). A rejected record gets its id from its source position (see rejectedId), so
 * a replay of the same offset is recognised as a duplicate like any event.
 */
export function parseBatch(records: readonly SourceRecord[], codec: EventCodec): Parsed[] {
  return records.map((r) => {
    try {
      if (r.value.length > MAX_ENTRY_BYTES)
        return reject(r, 'AFF_E_AVRO_TOO_LARGE', `${r.value.length} bytes, over the ledger's ${MAX_ENTRY_BYTES}-byte entry bound`);
      // inspect accepts and rejects exactly what decode does, without building the record.
      const { writer, eventId } = codec.inspect(r.value);
      if (writer.name === 'InputRejected') return reject(r, 'AFF_E_EVENT_INVALID', 'InputRejected is the ledger’s own record kind; feeders may not send it');
      if (!UUID_V7.test(eventId))
        return reject(r, 'AFF_E_LEDGER_EVENT_ID_INVALID', `eventId ${show(eventId)} (${eventId.length} characters) is not a canonical lowercase UUIDv7`);
      const head = readSessionHead(r.value, writer, codec);
      if (!head) return reject(r, 'AFF_E_EVENT_INVALID', `${writer.name} has no sessionId and seq`);
      if (r.key !== head.sessionId) {
        return reject(
          r,
          'AFF_E_LEDGER_KEY_MISMATCH',
          r.key === ''
            ? `the record has no key; it must be keyed by its sessionId ${show(head.sessionId)}`
            : `the record key ${show(r.key)} is not its sessionId ${show(head.sessionId)}`,
        );
      }
      return { record: r, eventId, session: head.sessionId, seq: head.seq };
    } catch (e) {
      const err = e as { code?: string; message?: string };
      return reject(r, err.code ?? 'AFF_E_AVRO_MALFORMED', err.message ?? String(e));
    }
  });
}

/** rejectedEntry builds the ledger's InputRejected entry about the bytes at `r`. */
function rejectedEntry(codec: EventCodec, id: string, r: SourceRecord, code: string, reason: string, now: number): Buffer {
  const rejected: InputRejected = {
    eventId: id,
    type: 'InputRejected',
    occurredAt: now * 1000,
    rawSha256: sha256hex(r.value),
    rawSize: r.value.length,
    code,
    reason: reason.slice(0, 1000),
    topic: r.topic,
    partition: r.partition,
    offset: Number(r.offset),
  };
  return codec.encode(rejected);
}

/**
 * admit decides, for a parsed batch of one partition in offset order, what the ledger appends.
 *
 * It MUST NOT silently skip anything: bytes that are not a valid event become an InputRejected
 * entry of their own, carrying the hash of the raw bytes and the reason; the raw bytes are
 * returned for the dead-letter topic. Records whose id is in `known` (already in the log) or
 * earlier in the batch are dropped as duplicates.
 *
 * Per-session order: an admitted event whose seq is not above the highest seq seen for its
 * session (`lastSeq`, then this batch) is appended as usual and followed by a flag entry, an
 * InputRejected with code AFF_E_LEDGER_SEQ_ANOMALY and id `anomaly:<topic>:<partition>:<offset>`
 * naming the event (so evidence reports can show it); nothing goes to the DLQ for it.
 * Pure apart from hashing; `now` (epoch ms) is injected.
 */
export function admit(
  parsed: readonly Parsed[],
  codec: EventCodec,
  known: ReadonlySet<string>,
  now: number,
  lastSeq: (session: string) => number | undefined = () => undefined,
): IngestResult {
  const seen = new Set<string>();
  const admitted: Admitted[] = [];
  const seqs = new Map<string, number>();
  let duplicates = 0;
  let anomalies = 0;
  for (const { record: r, eventId, failure, session, seq } of parsed) {
    if (known.has(eventId) || seen.has(eventId)) {
      duplicates++;
      continue;
    }
    seen.add(eventId);
    if (!failure) {
      // The leaf is over the bytes exactly as received, not a re-encoding.
      admitted.push({ kind: 'event', eventId, bytes: r.value, source: r, appendedAt: now });
      if (session !== undefined && seq !== undefined) {
        const last = seqs.get(session) ?? lastSeq(session);
        if (last !== undefined && seq <= last) {
          anomalies++;
          const id = anomalyId(r);
          const reason = `session ${show(session)}: event ${eventId} has seq ${seq}, ${seq === last ? 'repeating' : 'below'} the highest seq ${last} seen before it; the event was appended, this entry flags it`;
          admitted.push({
            kind: 'rejected',
            eventId: id,
            bytes: rejectedEntry(codec, id, r, 'AFF_E_LEDGER_SEQ_ANOMALY', reason, now),
            source: r,
            appendedAt: now,
          });
        }
        seqs.set(session, last === undefined ? seq : Math.max(seq, last));
      }
      continue;
    }
    admitted.push({
      kind: 'rejected',
      eventId,
      bytes: rejectedEntry(codec, eventId, r, failure.code, failure.reason, now),
      source: r,
      appendedAt: now,
      raw: r.value,
      code: failure.code,
    });
  }
  return { admitted, duplicates, anomalies, seqs };
}
