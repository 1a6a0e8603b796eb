// The projection reads exactly what the full decoder reads, for every event type and for a
// story's worth of events, and refuses bytes that do not follow the schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codec, encodeEvent, exampleEvent, LEDGER_RECORD_TYPES } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import { CONTROLS } from './controls/index.ts';
import { entryProjector } from './entry-projector.ts';
import { compileProjection, PRESENT, ProjectionError } from './projection.ts';
import type { Pick } from './projection.ts';
import { story } from '../story.fixture.ts';

const c = codec();
const writers = LEDGER_RECORD_TYPES.map((t) => c.writerFor(t));
const project = entryProjector(writers, CONTROLS['ac-2'].fields);

/** picked is what a Pick selects from a fully decoded record. */
function picked(v: Record<string, unknown>, p: Pick): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, want] of Object.entries(p)) {
    if (!(k in v)) continue;
    const x = v[k];
    out[k] =
      want === 'presence' && x !== null
        ? String(x).trim() === ''
          ? ''
          : PRESENT
        : want === true || x === null
          ? x
          : picked(x as Record<string, unknown>, want as Pick);
  }
  return out;
}

test('for every control, the projection equals the full decode on the fields its fold reads', async () => {
  const records: LedgerRecord[] = [...LEDGER_RECORD_TYPES.map((t) => exampleEvent(t)), ...(await story())];
  records.push(
    exampleEvent('SessionStarted', { actor: null }),
    exampleEvent('CommandIssued', { classes: ['ddl', 'dcl'], ruleId: null, parameters: ['1', null] }),
  );
  for (const [control, spec] of Object.entries(CONTROLS)) {
    const fields = { ...spec.fields, type: true, occurredAt: true } as const; // type is the writer's name, equal to the field
    const read = entryProjector(writers, spec.fields);
    for (const r of records) {
      const bytes = encodeEvent(r);
      const full = c.decode(bytes) as unknown as Record<string, unknown>;
      assert.deepEqual(read(bytes), picked(full, fields), `${control} ${r.type}`);
    }
  }
});

test('bytes that do not follow the schema are refused, never half read', () => {
  const bytes = encodeEvent(exampleEvent('CommandIssued'));
  assert.throws(() => project(bytes.subarray(0, bytes.length - 3)), /past the end|truncated/);
  assert.throws(() => project(Buffer.concat([bytes, Buffer.from([0])])), /after the record/);
  const wrong = Buffer.from(bytes);
  wrong[2] ^= 0xff;
  assert.throws(() => project(wrong), /current writer schema/);
});

test('longs read as the Avro spec encodes them: zig-zag varints of every length, negative ones included', () => {
  const canonical = '{"name":"R","type":"record","fields":[{"name":"a","type":"long"},{"name":"b","type":"long"}]}';
  const read = compileProjection(canonical, { a: true, b: true });
  // Hand-encoded: zig-zag, then 7 bits per byte, low group first (Avro 1.11 spec, "Binary Encoding").
  const varint = (v: number): number[] => {
    let z = v >= 0 ? v * 2 : -v * 2 - 1;
    const out: number[] = [];
    while (z >= 128) {
      out.push((z % 128) | 0x80);
      z = Math.floor(z / 128);
    }
    out.push(z);
    return out;
  };
  const values = [0, -1, 1, -64, 63, 64, -65, 8191, -8192, 8192, 2 ** 31, -(2 ** 31) - 1, 1_700_000_000_000_000, Math.floor(Number.MAX_SAFE_INTEGER / 2)];
  for (const a of values)
    for (const b of [0, -1, 300]) {
      const bytes = Buffer.from([...varint(a), ...varint(b)]);
      assert.deepEqual(read(bytes, 0), { a, b }, `a=${a} b=${b}`);
    }
  // The last byte of an entry is read by the careful path, and a varint cut short is refused.
  assert.deepEqual(read(Buffer.from([0x02, 0x03]), 0), { a: 1, b: -2 });
  assert.throws(() => read(Buffer.from([0x02, 0x80]), 0), ProjectionError);
});
