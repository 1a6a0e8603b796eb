import assert from 'node:assert/strict';
import { test } from 'node:test';
import avro from 'avsc';
import fc from 'fast-check';
import { boundedScan } from './bounded-scan.ts';
import { HEADER_SIZE, codec, exampleEvent } from './index.ts';
import { decodeOutcome, fieldOffset, fieldSize, replaceField, varint } from '../test/support.ts';

// The compiled scan (a closure tree per type) against avsc itself, for shapes the event contract
// does not use but registerWriterSchema may be given.

const outcome = (t: avro.Type, b: Buffer): string => {
  try {
    boundedScan(t, b, 0);
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? `untyped: ${(e as Error).message}`;
  }
};

test('a recursive schema (linked list) scans like avsc decodes, and every proper prefix is TRUNCATED', () => {
  const list = avro.Type.forSchema({
    type: 'record',
    name: 'Node',
    fields: [
      { name: 'value', type: 'string' },
      { name: 'tags', type: { type: 'array', items: 'Node' } },
      { name: 'next', type: ['null', 'Node'] },
    ],
  });
  const leaf = { value: 'c', tags: [], next: null };
  const v = { value: 'a', tags: [leaf, { value: 'd', tags: [leaf], next: leaf }], next: { value: 'b', tags: [], next: leaf } };
  const bytes = list.toBuffer(v);
  assert.equal(outcome(list, bytes), 'ok');
  for (let n = 0; n < bytes.length; n++) assert.equal(outcome(list, bytes.subarray(0, n)), 'AFF_E_AVRO_TRUNCATED', `prefix of ${n}`);
  assert.equal(outcome(list, Buffer.concat([bytes, Buffer.of(0)])), 'AFF_E_AVRO_MALFORMED', 'trailing byte');
});

test('property: the compiled scan accepts what avsc writes for random values of a nested schema', () => {
  const t = avro.Type.forSchema({
    type: 'record',
    name: 'Outer',
    fields: [
      {
        name: 'inner',
        type: {
          type: 'record',
          name: 'Inner',
          fields: [
            { name: 'n', type: 'int' },
            { name: 'f', type: 'float' },
            { name: 'ok', type: 'boolean' },
          ],
        },
      },
      { name: 'm', type: { type: 'map', values: { type: 'array', items: 'Inner' } } },
      { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B', 'C'] } },
      { name: 'x', type: { type: 'fixed', name: 'X', size: 3 } },
      { name: 'd', type: ['null', 'double', 'bytes'] },
    ],
  });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1 << 30 }), (seed) => {
      const value = t.random();
      const bytes = t.toBuffer(value);
      assert.equal(outcome(t, bytes), 'ok', `seed ${seed}`);
      if (bytes.length > 0) assert.equal(outcome(t, bytes.subarray(0, bytes.length - 1)), 'AFF_E_AVRO_TRUNCATED');
    }),
    { numRuns: 300 },
  );
});

test('an error inside an array item names the item index', () => {
  const t = avro.Type.forSchema({
    type: 'record',
    name: 'R',
    fields: [{ name: 'xs', type: { type: 'array', items: { type: 'enum', name: 'E', symbols: ['A'] } } }],
  });
  const bytes = Buffer.concat([varint(3n), varint(0n), varint(0n), varint(5n), varint(0n)]);
  assert.throws(
    () => boundedScan(t, bytes, 0),
    (e: Error & { code?: string }) => e.code === 'AFF_E_AVRO_MALFORMED' && e.message.includes('R.xs[2]: enum index 5'),
  );
});

test('mayHoldUnsafeLong flags long fields near or past 2^53 (erring towards maybe), never small ones', () => {
  const c = codec();
  const e = exampleEvent('CommandIssued');
  const w = c.writerFor('CommandIssued');
  const scan = (b: Buffer) => boundedScan(w.type, b, HEADER_SIZE).mayHoldUnsafeLong;
  assert.equal(scan(c.encode(e)), false);
  // zig-zag(2^50) = 2^51: an 8-byte varint whose 8th byte is 4, below the flagged 16.
  assert.equal(scan(c.encode({ ...e, occurredAt: 2 ** 50 })), false);
  // The largest safe long is flagged (8th byte 31), and inspect then agrees with decode by decoding.
  const max = c.encode({ ...e, occurredAt: Number.MAX_SAFE_INTEGER });
  assert.equal(scan(max), true);
  assert.equal(c.inspect(max).eventId, e.eventId);
  // Past the safe range: refused by the scan itself, by decode and by inspect with the same code.
  const big = replaceField(c, e, 'occurredAt', varint(1n << 54n));
  assert.throws(() => scan(big), { code: 'AFF_E_AVRO_MALFORMED' });
  const d = decodeOutcome(c, big);
  assert.equal(d.ok ? 'ok' : d.code, 'AFF_E_AVRO_MALFORMED');
  assert.throws(() => c.inspect(big), { code: 'AFF_E_AVRO_MALFORMED' });
});

test('inspect reads a type field whose length varint is padded exactly like decode does', () => {
  const c = codec();
  const e = exampleEvent('CommandIssued');
  const good = c.encode(e);
  const at = HEADER_SIZE + fieldOffset(c, e, 'type');
  const size = fieldSize(c, e, 'type');
  const name = Buffer.from('CommandIssued');
  // Length 13 as a two-byte varint (0x9A 0x00) instead of one byte (0x1A): the same value to avsc.
  const padded = Buffer.concat([good.subarray(0, at), Buffer.of(0x9a, 0x00), name, good.subarray(at + size)]);
  const d = decodeOutcome(c, padded);
  assert.ok(d.ok, 'decode accepts a padded length');
  assert.equal(c.inspect(padded).eventId, e.eventId);
  // The same padding around another type's name is still refused as the wrong type.
  const other = Buffer.from('CommandIssuee');
  const lie = Buffer.concat([good.subarray(0, at), Buffer.of(0x9a, 0x00), other, good.subarray(at + size)]);
  assert.throws(() => c.inspect(lie), { code: 'AFF_E_EVENT_INVALID' });
});
