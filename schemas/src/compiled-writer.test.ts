import { test } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import fc from 'fast-check';
import { compileRecordWriter } from './compiled-writer.ts';

// Every kind the writer compiles, nested the way event schemas nest them.
const TYPE = avro.Type.forSchema(
  {
    type: 'record',
    name: 'Sample',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'n', type: 'long' },
      { name: 'i', type: 'int' },
      { name: 'flag', type: 'boolean' },
      { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['sql', 'exec', 'interactive'] } },
      { name: 'tags', type: { type: 'array', items: 'string' } },
      { name: 'params', type: { type: 'array', items: ['null', 'string'] } },
      { name: 'rows', type: ['null', 'long'], default: null },
      { name: 'note', type: ['string', 'null'] },
      {
        name: 'inner',
        type: {
          type: 'record',
          name: 'Inner',
          fields: [
            { name: 'who', type: 'string' },
            { name: 'at', type: ['null', 'int'] },
          ],
        },
      },
      { name: 'blob', type: 'bytes' },
      {
        name: 'chunks',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'Chunk',
            fields: [
              { name: 'first', type: 'long' },
              { name: 'sealed', type: 'bytes' },
            ],
          },
        },
      },
    ],
  },
  { wrapUnions: false },
);
const write = compileRecordWriter(TYPE)!;

const EDGE_LONGS = [0, 1, -1, 63, 64, -64, -65, 2 ** 31, -(2 ** 31), 2 ** 52, -(2 ** 52), 2 ** 52 + 1, -(2 ** 52) - 1, Number.MAX_SAFE_INTEGER];
const text = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.constantFrom(
    '',
    'é',
    '\ud800',
    'x'.repeat(63),
    'x'.repeat(64),
    'y'.repeat(127),
    'y'.repeat(128),
    'z'.repeat(255),
    'z'.repeat(256),
    `${'a'.repeat(200)}é`,
    '日本'.repeat(40),
  ),
);
// Both sides of the loop/copy threshold, and a view into a larger buffer (offset not 0).
const blob = fc.oneof(
  fc.uint8Array({ maxLength: 100 }).map((u) => Buffer.from(u)),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((u) => Buffer.concat([Buffer.from('pad'), Buffer.from(u)]).subarray(3)),
  fc.constantFrom(Buffer.alloc(0), Buffer.alloc(32, 1), Buffer.alloc(33, 2), Buffer.alloc(300, 3)),
);
const value = fc.record({
  id: text,
  n: fc.oneof(fc.constantFrom(...EDGE_LONGS), fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER })),
  i: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  flag: fc.boolean(),
  kind: fc.constantFrom('sql', 'exec', 'interactive'),
  tags: fc.array(text, { maxLength: 5 }),
  params: fc.array(fc.option(text, { nil: null }), { maxLength: 5 }),
  rows: fc.option(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), { nil: null }),
  note: fc.option(text, { nil: null }),
  inner: fc.record({ who: text, at: fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { nil: null }) }),
  blob: blob,
  chunks: fc.array(fc.record({ first: fc.integer({ min: 0, max: 2 ** 40 }), sealed: blob }), { maxLength: 3 }),
});

/** run returns the writer's bytes for `v`, or undefined when it declined (-1). */
function run(v: unknown, room = 1 << 16): Buffer | undefined {
  const out = Buffer.alloc(room);
  const end = write(v as Record<string, unknown>, out, 3);
  return end < 0 ? undefined : out.subarray(3, end);
}

test('the compiled writer writes exactly the bytes avsc writes (property, every compiled kind)', () => {
  fc.assert(
    fc.property(value, (v) => {
      const got = run(v);
      const bigLong = Math.abs(v.n) > 2 ** 52 || v.chunks.some((c) => c.first > 2 ** 52);
      if (bigLong) return assert.equal(got, undefined, 'a long past 2^52 is left to the exact encoder');
      assert.ok(got, 'a valid value is written');
      assert.deepEqual(got, TYPE.toBuffer(v));
    }),
    { numRuns: 500 },
  );
});

test('avsc random values of the type: the same bytes', () => {
  for (let k = 0; k < 300; k++) {
    const v = TYPE.random() as unknown as Record<string, unknown>;
    const got = run(v);
    if (got) assert.deepEqual(got, TYPE.toBuffer(v));
    else {
      const longs = [v.n as number, (v.rows as number | null) ?? 0, ...(v.chunks as { first: number }[]).map((c) => c.first)];
      assert.ok(
        longs.some((n) => Math.abs(n) > 2 ** 52),
        'declined only past 2^52',
      );
    }
  }
});

test('it declines (-1) every value avsc would refuse, and never writes one', () => {
  const ok = {
    id: 'a',
    n: 1,
    i: 2,
    flag: true,
    kind: 'sql',
    tags: [],
    params: [null, 'p'],
    rows: null,
    note: 'x',
    inner: { who: 'w', at: null },
    blob: Buffer.from('b'),
    chunks: [{ first: 0, sealed: Buffer.alloc(2) }],
  };
  assert.ok(run(ok));
  const bad: Record<string, unknown>[] = [
    { ...ok, id: 7 },
    { ...ok, n: 1.5 },
    { ...ok, n: '1' },
    { ...ok, n: 2n },
    { ...ok, i: 2 ** 31 },
    { ...ok, flag: 1 },
    { ...ok, kind: 'nope' },
    { ...ok, tags: 'a' },
    { ...ok, tags: ['a', 1] },
    { ...ok, params: [undefined] },
    { ...ok, note: 3 },
    { ...ok, inner: { who: 'w', at: null, extra: 1 } },
    { ...ok, inner: null },
    { ...ok, inner: [] },
    { ...ok, blob: new Uint8Array(2) },
    { ...ok, blob: 'b' },
    { ...ok, blob: null },
    { ...ok, chunks: [{ first: 2 ** 52 + 1, sealed: Buffer.alloc(1) }] },
    { ...ok, chunks: [{ first: 0, sealed: [1, 2] }] },
  ];
  for (const v of bad) {
    assert.equal(
      run(v),
      undefined,
      JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)),
    );
    const strict = TYPE.isValid(v, { noUndeclaredFields: true });
    if (strict && !(Array.isArray(v.chunks) && (v.chunks as { first: number }[])[0]?.first > 2 ** 52))
      assert.fail(`avsc accepts ${JSON.stringify(v)}, so declining it is only a slow path, not a guard: keep the list to invalid values`);
  }
  // A missing nullable field: avsc takes it (as null); the writer leaves it to avsc's path.
  assert.equal(run({ ...ok, rows: undefined }), undefined);
});

test('too little room is declined, never an exception or a write past the end', () => {
  const v = {
    id: 'x'.repeat(40),
    n: 2 ** 40,
    i: -5,
    flag: false,
    kind: 'exec',
    tags: ['é'.repeat(30)],
    params: [],
    rows: 5,
    note: null,
    inner: { who: 'who', at: 1 },
    blob: Buffer.alloc(40, 9),
    chunks: [{ first: 300, sealed: Buffer.alloc(5, 1) }],
  };
  const full = TYPE.toBuffer(v);
  for (let room = 0; room < full.length + 3; room++) assert.equal(run(v, room), undefined, `room ${room}`);
  assert.deepEqual(run(v, full.length + 3 + 8 * 10), full);
});

test('types it does not compile leave the whole record to avsc', () => {
  for (const t of ['double', 'float', { type: 'map', values: 'string' }, { type: 'fixed', name: 'F', size: 4 }, ['null', 'string', 'long']]) {
    const rec = avro.Type.forSchema(
      {
        type: 'record',
        name: 'R',
        fields: [
          { name: 'a', type: 'string' },
          { name: 'b', type: t as avro.Schema },
        ],
      },
      { wrapUnions: false },
    );
    assert.equal(compileRecordWriter(rec), undefined, JSON.stringify(t));
  }
  assert.equal(compileRecordWriter(avro.Type.forSchema('string')), undefined, 'not a record');
});
