// The fields the report folds read, and a reader of just those from an entry's bytes for each
// current writer schema. Entries of other writer schemas (older versions), and anything the
// projection cannot read, go through the full decoder instead.
import type { LedgerRecord, WriterSchema } from '@affidavit/schemas';
import { compileProjection, ProjectionError } from './projection.ts';
import type { Pick } from './projection.ts';

/**
 * FOLD_FIELDS is every field a fold looks at (folds decide what to cite; claims come from a full
 * decode of the cites). Fields the folds only check for content are read as 'presence'.
 */
export const FOLD_FIELDS: Pick = {
  type: true,
  occurredAt: true,
  sessionId: true,
  actor: { issuer: true, subject: true },
  source: { address: 'presence' },
  target: { resource: true, host: 'presence' },
  feeder: { id: true },
  text: 'presence',
  decision: true,
  outcome: true,
  reason: 'presence',
  code: 'presence',
  classes: true,
  ruleId: true,
  commandId: true,
  requestId: true,
  claimedSubject: 'presence',
  topic: 'presence',
};

const HEADER = 10;
type Writer = { name: string; fpHigh: number; read: (bytes: Buffer, offset: number) => Record<string, unknown> };

/** entryProjector returns a reader of FOLD_FIELDS for entries written with one of `writers`; it throws ProjectionError for any other entry. */
export function entryProjector(writers: readonly WriterSchema[]): (bytes: Buffer) => LedgerRecord {
  // Writers by the fingerprint's first 4 bytes, then its last 4: no allocation per entry.
  const byFingerprint = new Map<number, Writer[]>();
  for (const w of writers) {
    const lo = w.fingerprint.readUInt32LE(0);
    const list = byFingerprint.get(lo) ?? [];
    list.push({ name: w.name, fpHigh: w.fingerprint.readUInt32LE(4), read: compileProjection(w.canonical, FOLD_FIELDS) });
    byFingerprint.set(lo, list);
  }
  return (bytes) => {
    if (bytes.length < HEADER || bytes[0] !== 0xc3 || bytes[1] !== 0x01) throw new ProjectionError('not Avro single-object encoding');
    const high = bytes.readUInt32LE(6);
    const w = byFingerprint.get(bytes.readUInt32LE(2))?.find((x) => x.fpHigh === high);
    if (!w) throw new ProjectionError('not written with a current writer schema');
    const r = w.read(bytes, HEADER);
    if (r.type !== w.name) throw new ProjectionError(`record of schema ${w.name} says type ${String(r.type)}`);
    return r as unknown as LedgerRecord;
  };
}
