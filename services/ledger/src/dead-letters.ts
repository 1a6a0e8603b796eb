import { hash } from 'node:crypto';
import { isAffidavitError } from '@affidavit/common';
import type { Logger } from '@affidavit/common';
import type { Bus, OutgoingRecord } from '@affidavit/bus';
import type { Admitted } from './core/ingest.ts';

/**
 * DLQ_MAX_VALUE_BYTES: a rejected record's raw bytes go to the dead-letter topic whole up to
 * this size; a larger one goes as its first DLQ_PREFIX_BYTES with its SHA-256 and size in
 * headers (`truncated: true`). Well below Kafka's default message.max.bytes (1 MiB), which a
 * raw record that was itself near that limit would exceed once headers are added.
 */
export const DLQ_MAX_VALUE_BYTES = 256 * 1024;
/** DLQ_PREFIX_BYTES is how much of an oversized (or refused) record the DLQ keeps. */
export const DLQ_PREFIX_BYTES = 4 * 1024;
/** DLQ_MAX_CALL_BYTES bounds the values of one publish call, so a burst of large records is never one oversized produce request. */
export const DLQ_MAX_CALL_BYTES = 512 * 1024;

/** PERMANENT are the bus errors the same records will get again however often they are sent. */
const PERMANENT = new Set(['AFF_E_BUS_REJECTED', 'AFF_E_BUS_RECORD_INVALID']);

/** deadLetter builds the DLQ record of a rejected entry: the raw bytes, or a prefix when `prefixOnly` or they are too large. */
export function deadLetter(a: Admitted, prefixOnly = false): OutgoingRecord {
  const raw = a.raw!;
  const truncated = prefixOnly || raw.length > DLQ_MAX_VALUE_BYTES;
  return {
    key: a.eventId,
    value: truncated ? raw.subarray(0, DLQ_PREFIX_BYTES) : raw,
    headers: {
      reason: a.code ?? 'AFF_E_EVENT_INVALID',
      'ledger-entry': a.eventId,
      'source-topic': a.source.topic,
      'source-partition': String(a.source.partition),
      'source-offset': String(a.source.offset),
      'raw-sha256': hash('sha256', raw, 'hex'),
      'raw-size': String(raw.length),
      truncated: String(truncated),
    },
  };
}

const permanent = (e: unknown) => isAffidavitError(e) && PERMANENT.has(e.code);

/**
 * publishDeadLetters sends the raw bytes of rejected records to the dead-letter topic, in
 * calls of at most DLQ_MAX_CALL_BYTES. It MUST NOT loop on a deterministic failure: a call the
 * broker refuses for good (AFF_E_BUS_REJECTED, e.g. MESSAGE_TOO_LARGE, or
 * AFF_E_BUS_RECORD_INVALID) is sent again record by record as digest + prefix, and a record
 * refused even so is logged and left out (its InputRejected entry still holds its SHA-256 and
 * size). Retriable failures (broker unreachable) and anything else are thrown, for the
 * ledger's writer to retry: the raw bytes reach the DLQ before the entry that names them.
 */
export async function publishDeadLetters(bus: Bus, topic: string, items: readonly Admitted[], log?: Logger): Promise<void> {
  let chunk: Admitted[] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const sent = chunk;
    chunk = [];
    bytes = 0;
    try {
      await bus.publish(
        topic,
        sent.map((a) => deadLetter(a)),
      );
    } catch (e) {
      if (!permanent(e)) throw e;
      log?.warn({ err: e, records: sent.length }, 'the dead-letter topic refused these records; sending each as digest and prefix');
      for (const a of sent) {
        try {
          await bus.publish(topic, [deadLetter(a, true)]);
        } catch (e2) {
          if (!permanent(e2)) throw e2;
          log?.error({ err: e2, entry: a.eventId }, 'the dead-letter topic refused even the digest and prefix; the InputRejected entry keeps the digest');
        }
      }
    }
  };
  for (const a of items) {
    const size = Math.min(a.raw!.length, a.raw!.length > DLQ_MAX_VALUE_BYTES ? DLQ_PREFIX_BYTES : a.raw!.length) + 512;
    if (chunk.length > 0 && bytes + size > DLQ_MAX_CALL_BYTES) await flush();
    chunk.push(a);
    bytes += size;
  }
  await flush();
}
