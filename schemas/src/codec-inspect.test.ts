import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EventCodec, LEDGER_RECORD_TYPES, codec, exampleEvent, loadSchemaFiles } from './index.ts';
import type { LedgerRecord } from './index.ts';
import { allVariants, decodeOutcome, mutate, replaceField, varint, type Mutation } from '../test/support.ts';

// inspect is the ledger's fast path: it MUST accept and reject exactly what decode does.

const c = codec();

type InspectOutcome = { ok: true; eventId: string; writer: string } | { ok: false; code: string };

function inspectOutcome(cd: EventCodec, bytes: Uint8Array): InspectOutcome {
  try {
    const r = cd.inspect(bytes);
    return { ok: true, eventId: r.eventId, writer: r.writer.name };
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    if (typeof code === 'string' && code.startsWith('AFF_E_')) return { ok: false, code };
    throw e;
  }
}

/** agree asserts inspect and decode give the same verdict, code and eventId; returns whether it decoded. */
function agree(bytes: Uint8Array, cd: EventCodec = c): boolean {
  const d = decodeOutcome(cd, bytes);
  const i = inspectOutcome(cd, bytes);
  if (d.ok) {
    assert.deepEqual(i, { ok: true, eventId: d.record.eventId, writer: d.record.type });
  } else {
    assert.deepEqual(i, { ok: false, code: d.code });
  }
  return d.ok;
}

const seeds = allVariants(c).map((v) => c.encode(v.event));
const header = (type: LedgerRecord['type']) => Buffer.concat([Buffer.from([0xc3, 0x01]), c.writerFor(type).fingerprint]);

test('inspect returns the eventId and writer of valid encodings of every type', () => {
  for (const v of allVariants(c)) {
    const bytes = c.encode(v.event);
    assert.equal(agree(bytes), true, v.label);
    assert.equal(c.inspect(bytes).eventId, v.event.eventId, v.label);
    // A Buffer view at an offset inside a larger allocation reads the same.
    const padded = Buffer.concat([Buffer.from('xyz'), bytes]).subarray(3);
    assert.equal(c.inspect(padded).eventId, v.event.eventId, v.label);
  }
});

test('inspect reads ordinary events without building the record (no decode fallback)', () => {
  const cd = new EventCodec({
    shared: loadSchemaFiles().envelope.map((f) => f.schema),
    records: [...loadSchemaFiles().events, ...loadSchemaFiles().ledger].map((f) => f.schema),
  });
  let fallbacks = 0;
  const real = cd.decodeDetailed.bind(cd);
  cd.decodeDetailed = (b: Uint8Array) => {
    fallbacks++;
    return real(b);
  };
  // The example events are realistic (ASCII text, microsecond timestamps): none may fall back.
  // (A synthetic variant can: a non-ASCII string right before a long looks like a long varint.)
  for (const t of LEDGER_RECORD_TYPES) assert.equal(cd.inspect(cd.encode(exampleEvent(t))).eventId, exampleEvent(t).eventId, t);
  assert.equal(fallbacks, 0);
  // A long near the 2^53 limit takes the decode path, so its verdict is decode's own.
  const big = replaceField(cd, exampleEvent('CommandIssued'), 'occurredAt', varint(BigInt(Number.MAX_SAFE_INTEGER)));
  assert.equal(inspectOutcome(cd, big).ok, true);
  assert.equal(fallbacks, 1);
});

test('inspect rejects a type field that differs from the writer schema, like decode', () => {
  const e = exampleEvent('CommandIssued');
  const bad = replaceField(c, e, 'type', Buffer.concat([varint(BigInt('SessionEnded'.length)), Buffer.from('SessionEnded')]));
  assert.equal(agree(bad), false);
  assert.equal(inspectOutcome(c, bad).ok, false);
});

test('inspect agrees with decode on longs at and past the exact range', () => {
  const e = exampleEvent('CommandIssued');
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  const values = [0n, -1n, 1n << 49n, (1n << 52n) + 1n, max - 1n, max, -max, max + 1n, -max - 1n, 1n << 60n, -(1n << 63n), (1n << 63n) - 1n];
  let accepted = 0;
  for (const v of values) {
    const bytes = replaceField(c, e, 'occurredAt', varint(v));
    if (agree(bytes)) accepted++;
  }
  assert.equal(accepted, 7, 'exactly the safe-range values decode');
});

test('inspect agrees with decode for an older registered writer schema', () => {
  const files = loadSchemaFiles();
  const shared = files.envelope.map((f) => f.schema);
  const current = [...files.events, ...files.ledger].map((f) => f.schema) as { name: string; fields: { name: string }[] }[];
  const oldEnded = structuredClone(current.find((s) => s.name === 'SessionEnded')!);
  oldEnded.fields = oldEnded.fields.filter((f) => f.name !== 'commands');
  const oldProducer = new EventCodec({ shared, records: current.map((s) => (s.name === 'SessionEnded' ? oldEnded : s)) });
  const { commands: _, ...ended } = exampleEvent('SessionEnded', { commands: 9 });
  const bytes = oldProducer.encode(ended as unknown as LedgerRecord);
  const reader = new EventCodec({ shared, records: current });
  assert.equal(inspectOutcome(reader, bytes).ok, false, 'unknown until registered');
  agree(bytes, reader);
  reader.registerWriterSchema(oldEnded);
  assert.equal(agree(bytes, reader), true);
  assert.equal(reader.inspect(bytes).writer.fingerprint.equals(bytes.subarray(2, 10)), true, 'names the old writer');
  for (let cut = 0; cut < bytes.length; cut++) assert.equal(agree(bytes.subarray(0, cut), reader), false);
});

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x01, 0x02, 0x10, 0x1f, 0x7f, 0x80, 0xfe, 0xff) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  // Values cluster around the exact-long limit 2^53 as well as spanning all 64 bits.
  fc.record({
    kind: fc.constant('varint' as const),
    at: fc.nat(),
    value: fc.oneof(
      fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
      fc.bigInt({ min: -(1n << 53n) - 4n, max: -(1n << 53n) + 4n }),
      fc.bigInt({ min: (1n << 53n) - 4n, max: (1n << 53n) + 4n }),
    ),
  }),
);

test('property: inspect and decode agree on mutations of valid encodings of every type', () => {
  let decoded = 0;
  let rejected = 0;
  fc.assert(
    fc.property(fc.nat(seeds.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (i, ms, headerToo) => {
      let bytes = seeds[i];
      for (const m of ms) bytes = mutate(bytes, m, headerToo);
      if (agree(bytes)) decoded++;
      else rejected++;
    }),
    { numRuns: 20000 },
  );
  // Both outcomes happen, so the agreement is not vacuous in either direction.
  assert.ok(decoded > 200, `${decoded} mutated inputs decoded`);
  assert.ok(rejected > 10000, `${rejected} mutated inputs were rejected`);
});

test('property: inspect and decode agree on random bodies behind every valid header', () => {
  const headers = LEDGER_RECORD_TYPES.map(header);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.option(fc.constantFrom(...headers), { nil: undefined }), (body, h) => {
      agree(h ? Buffer.concat([h, body]) : body);
    }),
    { numRuns: 5000 },
  );
});
