import { hash } from 'node:crypto';
import type { EventCodec, InputRejected } from '@affidavit/schemas';

/** SourceRecord is one record as consumed from the bus. */
export type SourceRecord = { topic: string; partition: number; offset: bigint; value: Buffer };

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
  /** For rejected input: the raw bytes, which go to the dead-letter topic. */
  raw?: Buffer;
};

/** IngestResult sorts one consumed batch. */
export type IngestResult = { admitted: Admitted[]; duplicates: number };

const sha256hex = (b: Uint8Array) => hash('sha256', b, 'hex');

/** Parsed is one consumed record after decoding: an event with its id, or why it is not one. */
export type Parsed = { record: SourceRecord; eventId: string; failure?: { code: string; reason: string } };

/**
 * parseBatch checks each record once (the full decode checks, via `codec.inspect`). A record that is not a valid event gets a deterministic
 * id from its source position (`rejected:topic:partition:offset`), so a replay of the same offset
 * is recognised as a duplicate like any event.
 */
export function parseBatch(records: readonly SourceRecord[], codec: EventCodec): Parsed[] {
  return records.map((r) => {
    try {
      // inspect accepts and rejects exactly what decode does, without building the record.
      const { writer, eventId } = codec.inspect(r.value);
      if (writer.name === 'InputRejected') {
        return { record: r, eventId: rejectedId(r), failure: { code: 'AFF_E_EVENT_INVALID', reason: 'InputRejected is the ledger’s own record kind; feeders may not send it' } };
      }
      return { record: r, eventId };
    } catch (e) {
      const err = e as { code?: string; message?: string };
      return { record: r, eventId: rejectedId(r), failure: { code: err.code ?? 'AFF_E_AVRO_MALFORMED', reason: err.message ?? String(e) } };
    }
  });
}

const rejectedId = (r: SourceRecord) => `rejected:${r.topic}:${r.partition}:${r.offset}`;

/**
 * admit decides, for a parsed batch of one partition in offset order, what the ledger appends.
 *
 * It MUST NOT silently skip anything: bytes that are not a valid event (not Avro, unknown
 * fingerprint, failed validation) become an InputRejected entry of their own, carrying the hash
 * of the raw bytes and the reason; the raw bytes are returned for the dead-letter topic.
 * Records whose id is in `known` (already in the log) or earlier in the batch are dropped as
 * duplicates. Pure apart from hashing; `now` (epoch ms) is injected.
 */
export function admit(parsed: readonly Parsed[], codec: EventCodec, known: ReadonlySet<string>, now: number): IngestResult {
  const seen = new Set<string>();
  const admitted: Admitted[] = [];
  let duplicates = 0;
  for (const { record: r, eventId, failure } of parsed) {
    if (known.has(eventId) || seen.has(eventId)) {
      duplicates++;
      continue;
    }
    seen.add(eventId);
    if (!failure) {
      // The leaf is over the bytes exactly as received, not a re-encoding.
      admitted.push({ kind: 'event', eventId, bytes: r.value, source: r, appendedAt: now });
      continue;
    }
    const rejected: InputRejected = {
      eventId,
      type: 'InputRejected',
      occurredAt: now * 1000,
      rawSha256: sha256hex(r.value),
      rawSize: r.value.length,
      code: failure.code,
      reason: failure.reason.slice(0, 1000),
      topic: r.topic,
      partition: r.partition,
      offset: Number(r.offset),
    };
    admitted.push({ kind: 'rejected', eventId, bytes: codec.encode(rejected), source: r, appendedAt: now, raw: r.value });
  }
  return { admitted, duplicates };
}
