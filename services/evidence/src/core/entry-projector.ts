// A reader of just the fields a control's fold reads from an entry's bytes, for each current
// writer schema. Entries of other writer schemas (older versions), and anything the
// projection cannot read, go through the full decoder instead.
import type { LedgerRecord, WriterSchema } from '@affidavit/schemas';
import { compileProjection, ProjectionError } from './projection.ts';
import type { Pick } from './projection.ts';

const HEADER = 10;
type Writer = { name: string; fpHigh: number; read: (bytes: Buffer, offset: number) => Record<string, unknown> };

/**
 * entryProjector returns a reader of `fields` (and always type and occurredAt) for entries written
 * with one of `writers`; it throws ProjectionError for any other entry.
 */
export function entryProjector(writers: readonly WriterSchema[], fields: Pick): (bytes: Buffer) => LedgerRecord {
  // The type is the writer schema's name: the ledger appends a record whose type field says
  // otherwise as InputRejected, and a cited entry is decoded in full (which checks it again).
  const pick: Pick = { ...fields, occurredAt: true };
  // Writers by the fingerprint's first 4 bytes, then its last 4: no allocation per entry.
  const byFingerprint = new Map<number, Writer[]>();
  for (const w of writers) {
    const lo = w.fingerprint.readUInt32LE(0);
    const list = byFingerprint.get(lo) ?? [];
    list.push({ name: w.name, fpHigh: w.fingerprint.readUInt32LE(4), read: compileProjection(w.canonical, pick) });
    byFingerprint.set(lo, list);
  }
  return (bytes) => {
    if (bytes.length < HEADER || bytes[0] !== 0xc3 || bytes[1] !== 0x01) throw new ProjectionError('not Avro single-object encoding');
    const high = bytes.readUInt32LE(6);
    const w = byFingerprint.get(bytes.readUInt32LE(2))?.find((x) => x.fpHigh === high);
    if (!w) throw new ProjectionError('not written with a current writer schema');
    const r = w.read(bytes, HEADER);
    r.type = w.name;
    return r as unknown as LedgerRecord;
  };
}
