import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import avro from 'avsc';
import fc from 'fast-check';
import { MAX_ZERO_SIZE_ITEMS, boundedScan } from './bounded-scan.ts';
import { DEFAULT_MAX_EVENT_BYTES, EventCodec, HEADER_SIZE, LEDGER_RECORD_TYPES, codec, exampleEvent, loadSchemaFiles } from './index.ts';
import type { LedgerRecord } from './index.ts';
import { allVariants, decodeOutcome, fieldOffset, mutate, replaceField, toPlain, varint, type Mutation } from '../test/support.ts';

const c = codec();
const GiB = 1n << 30n;

/** expectCode asserts that decoding fails with exactly this typed error. */
function expectCode(bytes: Uint8Array, code: string, label: string, cc: EventCodec = c): string {
  const out = decodeOutcome(cc, bytes);
  assert.equal(out.ok, false, `${label}: must not decode`);
  if (out.ok) return '';
  assert.equal(out.code, code, `${label}: ${out.message}`);
  return out.message;
}

const header = (type: LedgerRecord['type']) => Buffer.concat([Buffer.from([0xc3, 0x01]), c.writerFor(type).fingerprint]);

test('wrong magic', () => {
  const good = c.encode(exampleEvent('SessionStarted'));
  expectCode(Buffer.concat([Buffer.from([0xc3, 0x02]), good.subarray(2)]), 'AFF_E_AVRO_BAD_MAGIC', 'C3 02');
  expectCode(Buffer.concat([Buffer.from([0x01, 0xc3]), good.subarray(2)]), 'AFF_E_AVRO_BAD_MAGIC', 'swapped marker');
  expectCode(Buffer.from('Obj\x01'), 'AFF_E_AVRO_BAD_MAGIC', 'Avro container file');
  expectCode(Buffer.from('{"type":"SessionStarted"}'), 'AFF_E_AVRO_BAD_MAGIC', 'JSON');
  expectCode(Buffer.alloc(0), 'AFF_E_AVRO_BAD_MAGIC', 'empty');
  expectCode(Buffer.from([0xc3]), 'AFF_E_AVRO_BAD_MAGIC', 'one byte');
});

test('unknown fingerprint', () => {
  const good = c.encode(exampleEvent('SessionStarted'));
  for (let i = 2; i < HEADER_SIZE; i++) {
    const b = Buffer.from(good);
    b[i] ^= 0x01;
    const msg = expectCode(b, 'AFF_E_AVRO_UNKNOWN_FINGERPRINT', `bit flip in fingerprint byte ${i}`);
    assert.ok(msg.includes(b.subarray(2, 10).toString('hex')), 'message names the fingerprint');
  }
});

test('truncated header', () => {
  const good = c.encode(exampleEvent('SessionStarted'));
  for (let n = 2; n < HEADER_SIZE; n++) expectCode(good.subarray(0, n), 'AFF_E_AVRO_TRUNCATED', `header of ${n} bytes`);
});

test('truncated body: every proper prefix of every valid encoding is AFF_E_AVRO_TRUNCATED', () => {
  let cuts = 0;
  for (const { label, event } of allVariants(c)) {
    const good = c.encode(event);
    for (let n = HEADER_SIZE; n < good.length; n++) {
      expectCode(good.subarray(0, n), 'AFF_E_AVRO_TRUNCATED', `${label} cut to ${n}`);
      cuts++;
    }
  }
  assert.ok(cuts > 5000, `${cuts} cut points`);
});

test('a string length claiming gigabytes fails fast without allocating', () => {
  const e = exampleEvent('SessionStarted');
  for (const claim of [GiB, 4n * GiB, (1n << 53n) - 1n]) {
    const bytes = replaceField(c, e, 'eventId', Buffer.concat([varint(claim), Buffer.from('0189')]));
    const heap = process.memoryUsage().heapUsed;
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    expectCode(bytes, 'AFF_E_AVRO_TRUNCATED', `string of ${claim} bytes`);
    assert.ok(performance.now() - t0 < 50, 'fails fast');
    assert.ok(process.memoryUsage().heapUsed - heap < 8 << 20, 'no big heap allocation');
    assert.ok(process.memoryUsage().rss - rss < 64 << 20, 'no big off-heap allocation');
  }
  // Bytes fields too (TerminalOutput.data is the last field: the claim is the only thing left).
  const t = exampleEvent('TerminalOutput');
  expectCode(replaceField(c, t, 'data', varint(3n * GiB)), 'AFF_E_AVRO_TRUNCATED', 'bytes of 3 GiB');
});

test('an array block count claiming 2^40 items is refused before anything is read or built', () => {
  // Like an over-long string length, a count the remaining bytes cannot hold runs past the end.
  const e = exampleEvent('CommandIssued', { parameters: [] });
  for (const [label, count] of [
    ['positive count', varint(1n << 40n)],
    ['negative count with block size', Buffer.concat([varint(-(1n << 40n)), varint(5n)])],
  ] as const) {
    const msg = expectCode(replaceField(c, e, 'parameters', count), 'AFF_E_AVRO_TRUNCATED', label);
    assert.match(msg, /parameters/);
  }
  // A map (SessionStarted.clientParameters) and an array of records (DataMasked.masks).
  expectCode(replaceField(c, exampleEvent('SessionStarted'), 'clientParameters', varint(1n << 40n)), 'AFF_E_AVRO_TRUNCATED', 'map count');
  expectCode(replaceField(c, exampleEvent('DataMasked'), 'masks', varint(1n << 40n)), 'AFF_E_AVRO_TRUNCATED', 'record array count');
  // A count that is only slightly too large for the bytes left is still refused up front.
  const rc = exampleEvent('ResultCaptured', { columns: [] });
  expectCode(replaceField(c, rc, 'columns', varint(1000n)), 'AFF_E_AVRO_TRUNCATED', 'count above remaining bytes');
  // Items that encode to zero bytes cannot be bounded by the input size: a fixed cap applies.
  const nulls = avro.Type.forSchema({ type: 'array', items: 'null' });
  const scanCode = (b: Buffer) => {
    try {
      boundedScan(nulls, b, 0);
      return 'ok';
    } catch (err) {
      return (err as { code: string }).code;
    }
  };
  assert.equal(scanCode(Buffer.concat([varint(BigInt(MAX_ZERO_SIZE_ITEMS)), varint(0n)])), 'ok');
  assert.equal(scanCode(Buffer.concat([varint(BigInt(MAX_ZERO_SIZE_ITEMS) + 1n), varint(0n)])), 'AFF_E_AVRO_MALFORMED');
  assert.equal(scanCode(Buffer.concat([varint(1n << 40n), varint(0n)])), 'AFF_E_AVRO_MALFORMED');
  // A block size that runs past the end.
  expectCode(replaceField(c, e, 'parameters', Buffer.concat([varint(-1n), varint(1n << 40n), Buffer.from([0, 0])])), 'AFF_E_AVRO_TRUNCATED', 'block size');
});

test('a negative length', () => {
  const e = exampleEvent('SessionStarted');
  for (const n of [-1n, -5n, -(1n << 40n)]) {
    expectCode(replaceField(c, e, 'eventId', Buffer.concat([varint(n), Buffer.from('abc')])), 'AFF_E_AVRO_MALFORMED', `string length ${n}`);
  }
  expectCode(replaceField(c, exampleEvent('TerminalOutput'), 'data', varint(-3n)), 'AFF_E_AVRO_MALFORMED', 'bytes length -3');
});

test('a bad union branch index', () => {
  const e = exampleEvent('CommandCompleted');
  const actor = c.writerFor('CommandCompleted').type;
  assert.ok(actor);
  for (const i of [2n, -1n, 1n << 40n]) {
    // `actor` is ["null", Actor]: the index is the field's first varint.
    const at = fieldOffset(c, e, 'actor');
    const good = c.encode(e);
    const bytes = Buffer.concat([good.subarray(0, HEADER_SIZE + at), varint(i), good.subarray(HEADER_SIZE + at + 1)]);
    assert.match(expectCode(bytes, 'AFF_E_AVRO_MALFORMED', `actor branch ${i}`), /actor.*branch|branch/);
  }
  expectCode(replaceField(c, e, 'tag', Buffer.from([0x04])), 'AFF_E_AVRO_MALFORMED', 'tag branch 2');
});

test('a bad enum index', () => {
  const e = exampleEvent('CommandCompleted');
  for (const i of [3n, -1n, 1n << 35n]) {
    assert.match(expectCode(replaceField(c, e, 'outcome', varint(i)), 'AFF_E_AVRO_MALFORMED', `outcome ${i}`), /enum/);
  }
  expectCode(replaceField(c, exampleEvent('SessionStarted'), 'target', Buffer.concat([varint(2n), Buffer.alloc(30)])), 'AFF_E_AVRO_MALFORMED', 'nested enum');
});

test('trailing garbage', () => {
  for (const type of LEDGER_RECORD_TYPES) {
    const good = c.encode(exampleEvent(type));
    expectCode(Buffer.concat([good, Buffer.from([0])]), 'AFF_E_AVRO_MALFORMED', `${type} + 1 byte`);
    expectCode(Buffer.concat([good, good]), 'AFF_E_AVRO_MALFORMED', `${type} twice`);
  }
});

test('an oversized input is refused before it is looked at', () => {
  const big = Buffer.alloc(DEFAULT_MAX_EVENT_BYTES + 1);
  header('TerminalOutput').copy(big);
  expectCode(big, 'AFF_E_AVRO_TOO_LARGE', 'default maximum + 1');
  expectCode(Buffer.alloc(DEFAULT_MAX_EVENT_BYTES + 1, 0x41), 'AFF_E_AVRO_TOO_LARGE', 'not even Avro, but too large');
  const files = loadSchemaFiles();
  const small = new EventCodec({
    shared: files.envelope.map((f) => f.schema),
    records: [...files.events, ...files.ledger].map((f) => f.schema),
    maxEventBytes: 300,
  });
  const e = exampleEvent('TerminalOutput', { data: Buffer.alloc(200) });
  const bytes = c.encode(e);
  assert.ok(bytes.length > 300);
  expectCode(bytes, 'AFF_E_AVRO_TOO_LARGE', 'over a configured maximum', small);
  assert.deepEqual(toPlain(c.decode(bytes)), e, 'the same bytes decode under the default maximum');
});

test('a varint longer than 10 bytes', () => {
  const e = exampleEvent('SessionEnded');
  const eleven = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
  assert.match(expectCode(replaceField(c, e, 'seq', eleven), 'AFF_E_AVRO_MALFORMED', 'seq of 11 bytes'), /longer than 10 bytes/);
  expectCode(replaceField(c, e, 'eventId', Buffer.concat([Buffer.alloc(20, 0xff), Buffer.from([0x01])])), 'AFF_E_AVRO_MALFORMED', 'length of 21 bytes');
  expectCode(Buffer.concat([header('SessionEnded'), Buffer.alloc(12, 0xff)]), 'AFF_E_AVRO_MALFORMED', 'unterminated varint with more bytes');
  expectCode(Buffer.concat([header('SessionEnded'), Buffer.alloc(5, 0xff)]), 'AFF_E_AVRO_TRUNCATED', 'varint cut short');
});

test('a long beyond 2^53 and an int beyond 32 bits', () => {
  const e = exampleEvent('SessionEnded');
  for (const n of [1n << 53n, -(1n << 53n), (1n << 53n) + 2n, 1n << 60n, -(1n << 62n), (1n << 63n) - 1n, -(1n << 63n)]) {
    expectCode(replaceField(c, e, 'seq', varint(n)), 'AFF_E_AVRO_MALFORMED', `seq ${n}`);
  }
  // The ends of the safe-integer range still decode, exactly.
  for (const n of [9007199254740991n, -9007199254740991n, -9007199254740990n]) {
    assert.equal((c.decode(replaceField(c, e, 'seq', varint(n))) as { seq: number }).seq, Number(n));
  }
  // A 64-bit varint whose 10th byte carries bits past 2^64.
  const overflow = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
  expectCode(replaceField(c, e, 'seq', overflow), 'AFF_E_AVRO_MALFORMED', 'varint past 64 bits');
  // int fields: avsc reads them with the long decoder; values outside 32 bits must not come back.
  const t = exampleEvent('TerminalOutput');
  for (const n of [1n << 31n, -(1n << 31n) - 1n, 1n << 40n]) {
    assert.match(expectCode(replaceField(c, t, 'channel', varint(n)), 'AFF_E_AVRO_MALFORMED', `channel ${n}`), /channel/);
  }
  for (const n of [(1n << 31n) - 1n, -(1n << 31n)]) {
    assert.equal((c.decode(replaceField(c, t, 'channel', varint(n))) as { channel: number }).channel, Number(n));
  }
  expectCode(replaceField(c, exampleEvent('InputRejected'), 'partition', varint(1n << 33n)), 'AFF_E_AVRO_MALFORMED', 'partition');
});

test('a boolean byte other than 0 or 1', () => {
  expectCode(replaceField(c, exampleEvent('SessionStarted'), 'tls', Buffer.from([2])), 'AFF_E_AVRO_MALFORMED', 'tls = 2');
});

test('bytes whose type field disagrees with their schema are AFF_E_EVENT_INVALID', () => {
  const w = c.writerFor('CommandCompleted');
  const body = w.type.toBuffer({ ...exampleEvent('CommandCompleted'), type: 'SessionEnded' });
  assert.match(expectCode(Buffer.concat([header('CommandCompleted'), body]), 'AFF_E_EVENT_INVALID', 'type lie'), /SessionEnded/);
});

// ---- property tests -------------------------------------------------------------------------

const seeds = allVariants(c).map((v) => c.encode(v.event));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('varint' as const), at: fc.nat(), value: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }) }),
);

/** checkOutcome is the decode contract: a valid event, or an AFF_E_ error (decodeOutcome re-throws anything else). */
function checkOutcome(bytes: Uint8Array): void {
  const out = decodeOutcome(c, bytes);
  if (!out.ok) {
    assert.match(out.code, /^AFF_E_/);
    return;
  }
  assert.ok((LEDGER_RECORD_TYPES as readonly string[]).includes(out.record.type), `decoded type ${out.record.type}`);
  assert.deepEqual(c.validate(out.record), [], 'a decoded event is valid for its schema');
  // What decodes re-encodes and decodes to the same event.
  assert.deepEqual(toPlain(c.decode(c.encode(out.record))), toPlain(out.record));
}

const gc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

test('property: random bytes, with and without a valid header, never escape the typed errors', () => {
  const headers = LEDGER_RECORD_TYPES.map(header);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.option(fc.constantFrom(...headers), { nil: undefined }), (body, h) => {
      checkOutcome(h ? Buffer.concat([h, body]) : body);
    }),
    { numRuns: 3000 },
  );
});

test('property: mutations of valid encodings of every type decode to valid events or typed errors, memory stays flat', () => {
  const before = heapAfterGc();
  let decoded = 0;
  let rejected = 0;
  fc.assert(
    fc.property(fc.nat(seeds.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (i, ms, headerToo) => {
      let bytes = seeds[i];
      for (const m of ms) bytes = mutate(bytes, m, headerToo);
      const out = decodeOutcome(c, bytes);
      if (out.ok) decoded++;
      else rejected++;
      checkOutcome(bytes);
    }),
    { numRuns: 6000 },
  );
  const growth = heapAfterGc() - before;
  assert.ok(growth < 16 << 20, `heap grew by ${growth} bytes over 6000 runs`);
  // Both outcomes happen, so the property is not vacuous in either direction.
  assert.ok(decoded > 50, `${decoded} mutated inputs still decoded`);
  assert.ok(rejected > 3000, `${rejected} mutated inputs were rejected`);
});
