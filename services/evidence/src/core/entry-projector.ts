// The fields the report folds read, and a reader of just those from an entry's bytes for each
// current writer schema. Entries of other writer schemas (older versions), and anything the
// projection cannot read, go through the full decoder instead.
import type { LedgerRecord, WriterSchema } from '@affidavit/schemas';
import { compileProjection, ProjectionError } from './projection.ts';
import type { Pick } from './projection.ts';

/** FOLD_FIELDS is every field a fold looks at (folds decide what to cite; claims come from a full decode of the cites). */
export const FOLD_FIELDS: Pick = {
  type: true,
  occurredAt: true,
  sessionId: true,
  actor: { issuer: true, subject: true },
  source: { address: true },
  target: { resource: true, host: true },
  feeder: { id: true },
  text: true,
  decision: true,
  outcome: true,
  reason: true,
  code: true,
  classes: true,
  ruleId: true,
  commandId: true,
  requestId: true,
  claimedSubject: true,
  topic: true,
};

const HEADER = 10;

/** entryProjector returns a reader of FOLD_FIELDS for entries written with one of `writers`; it throws ProjectionError for any other entry. */
export function entryProjector(writers: readonly WriterSchema[]): (bytes: Buffer) => LedgerRecord {
  const byFingerprint = new Map<string, { name: string; read: (body: Buffer) => Record<string, unknown> }>();
  for (const w of writers) byFingerprint.set(w.fingerprint.toString('hex'), { name: w.name, read: compileProjection(w.canonical, FOLD_FIELDS) });
  // Entries of one type come in runs; comparing the fingerprint with the last one saves a lookup.
  let last: { fp: Buffer; w: { name: string; read: (body: Buffer) => Record<string, unknown> } } | undefined;
  return (bytes) => {
    if (bytes.length < HEADER || bytes[0] !== 0xc3 || bytes[1] !== 0x01) throw new ProjectionError('not Avro single-object encoding');
    let w = last && bytes.compare(last.fp, 0, 8, 2, HEADER) === 0 ? last.w : undefined;
    if (!w) {
      w = byFingerprint.get(bytes.toString('hex', 2, HEADER));
      if (w) last = { fp: Buffer.from(bytes.subarray(2, HEADER)), w };
    }
    if (!w) throw new ProjectionError('not written with a current writer schema');
    const r = w.read(bytes.subarray(HEADER));
    if (r.type !== w.name) throw new ProjectionError(`record of schema ${w.name} says type ${String(r.type)}`);
    return r as unknown as LedgerRecord;
  };
}
