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

// The identity strings a fold keys on (sessions, commands, requests, actors, targets, feeders)
// come from whoever writes to the bus. Interned strings are compared byte by byte with a cached
// ASCII string: bytes of any value, invalid UTF-8 (overlong forms, lone surrogates, cut
// sequences), U+FFFD itself and lengths either side of the interning bound must read as the full
// decoder reads them, one after another through the same projector (so cache slots collide).
const SITES: [LedgerRecord['type'], (s: string) => Partial<LedgerRecord>][] = [
  ['CommandIssued', (s) => ({ sessionId: s }) as Partial<LedgerRecord>],
  ['CommandCompleted', (s) => ({ commandId: s }) as Partial<LedgerRecord>],
  ['ApprovalDecided', (s) => ({ requestId: s }) as Partial<LedgerRecord>],
  ['SessionStarted', (s) => ({ actor: { ...exampleEvent('SessionStarted').actor!, subject: s } }) as Partial<LedgerRecord>],
  ['SessionStarted', (s) => ({ actor: { ...exampleEvent('SessionStarted').actor!, issuer: s } }) as Partial<LedgerRecord>],
  ['DataMasked', (s) => ({ target: { ...exampleEvent('DataMasked').target, resource: s } }) as Partial<LedgerRecord>],
  ['CommandBlocked', (s) => ({ feeder: { ...exampleEvent('CommandBlocked').feeder, id: s } }) as Partial<LedgerRecord>],
];
const NASTY = [
  [0xc0, 0xaf], // overlong '/'
  [0xe0, 0x80, 0xaf], // overlong, three bytes
  [0xed, 0xa0, 0x80], // a lone high surrogate
  [0xed, 0xbf, 0xbf], // a lone low surrogate
  [0xef, 0xbf, 0xbd], // U+FFFD itself
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
  [0xe2, 0x80], // cut short
  [0xff],
  [0x80],
  [0x20],
  [0x00],
];

/** withString encodes an event of `type` with `bytes` as the string at one site (placed through a marker of the same length). */
function withString(site: number, bytes: Uint8Array): Buffer {
  const [type, set] = SITES[site];
  // An odd byte no length varint of these sizes holds next to it (2n, 2n | 0x80, then 1 or 2).
  const marker = '\u0007'.repeat(bytes.length);
  const out = encodeEvent(exampleEvent(type, set(marker) as never));
  if (bytes.length === 0) return out;
  const at = out.indexOf(Buffer.from(marker));
  assert.ok(at > 0 && out.indexOf(Buffer.from(marker), at + 1) < 0, 'the marker is found once');
  out.set(bytes, at);
  return out;
}

test('adversarial identity strings read as the full decoder reads them, through one projector after another', () => {
  const fcs = import('fast-check');
  return fcs.then(({ default: fc }) => {
    const byte = fc.oneof(fc.constantFrom(0x41, 0x42, 0x20), fc.integer({ min: 0, max: 255 }));
    const piece = fc.oneof(fc.array(byte, { maxLength: 4 }), fc.constantFrom(...NASTY), fc.constantFrom([0x41], [0x42]));
    const str = fc.oneof(
      fc.array(piece, { maxLength: 40 }).map((ps) => Uint8Array.from(ps.flat())),
      // Either side of the interning bound (96 bytes), differing in one byte.
      fc.tuple(fc.constantFrom(95, 96, 97), fc.nat(), fc.constantFrom(0x41, 0x42, 0xc3, 0x80)).map(([n, i, b]) => {
        const a = new Uint8Array(n).fill(0x41);
        a[i % n] = b;
        return a;
      }),
    );
    for (const [control, spec] of Object.entries(CONTROLS)) {
      const fields = { ...spec.fields, type: true, occurredAt: true } as const;
      const read = entryProjector(writers, spec.fields);
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(SITES.length - 1), str), { minLength: 1, maxLength: 30 }), (seq) => {
          for (const [site, s] of seq) {
            const bytes = withString(site, s);
            let full: Record<string, unknown>;
            try {
              full = c.decode(bytes) as unknown as Record<string, unknown>;
            } catch {
              continue; // the report decodes these whole, and names them when it cannot
            }
            assert.deepEqual(read(bytes), picked(full, fields), `${control} ${SITES[site][0]} ${Buffer.from(s).toString('hex')}`);
          }
        }),
        { numRuns: 150 },
      );
    }
  });
});
