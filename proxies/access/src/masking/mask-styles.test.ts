import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FULL_MASK, PG_OID, hmacHasher, keepLast4, maskEmail, maskSpans, maskTyped, typeClassOf } from './index.ts';

const hasher = hmacHasher(Buffer.alloc(32, 7));

describe('text styles', () => {
  test('keepLast4 keeps separators and the last four letters or digits', () => {
    assert.equal(keepLast4('4111 1111 1111 1234'), '**** **** **** 1234');
    assert.equal(keepLast4('4111-1111-1111-1234'), '****-****-****-1234');
    assert.equal(keepLast4('536-22-8765'), '***-**-8765');
    assert.equal(keepLast4('GB82WEST12345698765432'), '******************5432');
    assert.equal(keepLast4('1234'), '****', 'four or fewer: nothing kept');
    assert.equal(keepLast4('(555) 01'), '**55* 01', 'other punctuation is masked too');
    assert.equal(keepLast4('(55) 1'), '**** *', 'three letters or digits: none kept');
  });
  test('maskEmail keeps the first character and the domain', () => {
    assert.equal(maskEmail('alice@example.com'), 'a***@example.com');
    assert.equal(maskEmail('élodie@example.fr'), 'é***@example.fr');
    assert.equal(maskEmail('not an address'), FULL_MASK);
    assert.equal(maskEmail('@example.com'), FULL_MASK);
  });
});

describe('maskTyped per PostgreSQL type', () => {
  const v = '4111111111111111';
  test('text-like types keep the text styles', () => {
    for (const oid of [PG_OID.text, PG_OID.varchar, PG_OID.bpchar, PG_OID.name, 0]) {
      assert.equal(typeClassOf(oid), 'text');
      assert.equal(maskTyped(v, 'full', oid, hasher), FULL_MASK);
      assert.equal(maskTyped(v, 'keep-last-4', oid, hasher), '************1111');
      assert.match(maskTyped(v, 'hash', oid, hasher) ?? '', /^h:[0-9a-f]{16}$/);
      assert.equal(maskTyped(v, 'null', oid, hasher), null);
    }
  });
  test('name never exceeds 63 bytes', () => {
    const long = `a@${'d'.repeat(56)}.com`; // 62 bytes; the email style would make it 65
    assert.equal(maskTyped(long, 'email', PG_OID.name, hasher), FULL_MASK);
    assert.equal(maskTyped(long, 'email', PG_OID.text, hasher), `a***@${'d'.repeat(56)}.com`);
  });
  test('integers: hash stays a parseable integer of the type, other styles give NULL', () => {
    const limits: [number, bigint][] = [
      [PG_OID.int2, 32767n],
      [PG_OID.int4, 2147483647n],
      [PG_OID.int8, 9223372036854775807n],
    ];
    for (const [oid, max] of limits) {
      const h = maskTyped('123456789', 'hash', oid, hasher);
      assert.match(h ?? '', /^\d+$/);
      assert.ok(BigInt(h ?? '0') <= max);
      assert.equal(h, maskTyped('123456789', 'hash', oid, hasher), 'deterministic');
      for (const s of ['full', 'keep-last-4', 'email', 'null'] as const) assert.equal(maskTyped('123456789', s, oid, hasher), null);
    }
    assert.match(maskTyped('12.5', 'hash', PG_OID.numeric, hasher) ?? '', /^\d+$/);
    assert.equal(maskTyped('12.5', 'full', PG_OID.float8, hasher), null);
  });
  test('dates and timestamps become NULL', () => {
    for (const oid of [PG_OID.date, PG_OID.timestamp, PG_OID.timestamptz]) {
      for (const s of ['full', 'keep-last-4', 'hash'] as const) assert.equal(maskTyped('1980-04-01', s, oid, hasher), null);
    }
  });
  test('json and jsonb stay valid JSON', () => {
    for (const oid of [PG_OID.json, PG_OID.jsonb]) {
      for (const s of ['full', 'keep-last-4', 'email', 'hash'] as const) {
        const m = maskTyped('{"card":"4111111111111111"}', s, oid, hasher);
        assert.equal(typeof JSON.parse(m ?? 'x'), 'string', `${oid} ${s}`);
      }
    }
  });
  test('uuid: hash gives a version-8 UUID, keep-last-4 a zero UUID with the last 4 hex digits', () => {
    const u = '0f8fad5b-d9cb-469f-a165-70867728950e';
    assert.match(maskTyped(u, 'hash', PG_OID.uuid, hasher) ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(maskTyped(u, 'keep-last-4', PG_OID.uuid, hasher), '00000000-0000-0000-0000-00000000950e');
    assert.equal(maskTyped(u, 'full', PG_OID.uuid, hasher), null);
  });
  test('bytea: hash gives \\x hex, others NULL; unknown types always NULL', () => {
    assert.match(maskTyped('\\x0102', 'hash', PG_OID.bytea, hasher) ?? '', /^\\x[0-9a-f]{32}$/);
    assert.equal(maskTyped('\\x0102', 'full', PG_OID.bytea, hasher), null);
    assert.equal(maskTyped('{a@b.co}', 'full', 1009 /* text[] */, hasher), null);
    assert.equal(maskTyped('{a@b.co}', 'hash', 1009, hasher), null);
  });
});

describe('maskSpans', () => {
  test('rewrites only the spans, each with its style', () => {
    const text = 'card 4111 1111 1111 1111 by bob@example.com';
    const spans = [
      { start: 5, end: 24, detector: 'card-number' },
      { start: 28, end: 43, detector: 'email' },
    ];
    const style = (d: string) => (d === 'email' ? 'email' : 'keep-last-4') as 'email' | 'keep-last-4';
    assert.equal(maskSpans(text, spans, style, PG_OID.text, hasher), 'card **** **** **** 1111 by b***@example.com');
    assert.equal(
      maskSpans(text, spans, () => 'null', PG_OID.text, hasher),
      null,
    );
  });
  test('JSON stays parseable, falling back to a masked string when a span breaks an escape', () => {
    const json = '{"a":"x\\"y"}';
    const broken = maskSpans(json, [{ start: 7, end: 8, detector: 'd' }], () => 'full', PG_OID.jsonb, hasher);
    assert.equal(broken, JSON.stringify(FULL_MASK));
    const ok = maskSpans('{"m":"bob@example.com"}', [{ start: 6, end: 21, detector: 'email' }], () => 'email', PG_OID.json, hasher);
    assert.deepEqual(JSON.parse(ok ?? ''), { m: 'b***@example.com' });
  });
  test('in a number column a whole-value span masks by type; a partial span gives NULL', () => {
    assert.match(maskSpans('4111111111111111', [{ start: 0, end: 16, detector: 'card-number' }], () => 'hash', PG_OID.int8, hasher) ?? '', /^\d+$/);
    assert.equal(
      maskSpans('4111111111111111', [{ start: 0, end: 16, detector: 'card-number' }], () => 'keep-last-4', PG_OID.int8, hasher),
      null,
    );
    assert.equal(
      maskSpans('x 4111111111111111', [{ start: 2, end: 18, detector: 'card-number' }], () => 'hash', 1009, hasher),
      null,
    );
  });
});
