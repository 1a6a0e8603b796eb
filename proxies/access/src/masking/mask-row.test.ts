import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isAffidavitError } from '@affidavit/common';
import { PG_OID, columnMatches, compileMaskRules, maskRow, maskRulesFromPolicy, type ColumnDescription } from './index.ts';

const HASH_KEY = Buffer.alloc(32, 1);
const cols: ColumnDescription[] = [
  { name: 'id', table: 'customers', typeOid: PG_OID.int4 },
  { name: 'email', table: 'customers', typeOid: PG_OID.text },
  { name: 'card_number', table: 'public.customers', typeOid: PG_OID.varchar },
  { name: 'tax_ssn', table: 'customers', typeOid: PG_OID.bpchar },
  { name: 'note', typeOid: PG_OID.text },
  { name: 'born', table: 'customers', typeOid: PG_OID.date },
];
const row = ['42', 'alice@example.com', '4111 1111 1111 1111', '536-22-8765', 'call bob@example.com re 5555555555554444', '1980-04-01'];

describe('maskRow', () => {
  test('column rules mask whole values; detector rules mask spans; others stay as they were', () => {
    const rules = compileMaskRules(
      [
        { id: 'emails', columns: ['email'], style: 'email' },
        { id: 'cards', columns: ['customers.card_number'], style: 'keep-last-4' },
        { id: 'ssn', columns: ['*_ssn'], style: 'hash' },
        { id: 'dob', columns: ['born'] },
        { id: 'pii', detectors: ['card-number', 'email'] },
      ],
      { hashKey: HASH_KEY },
    );
    const r = maskRow(row, cols, rules);
    assert.equal(r.row[0], '42');
    assert.equal(r.row[1], 'a***@example.com');
    assert.equal(r.row[2], '**** **** **** 1111');
    assert.match(r.row[3] ?? '', /^h:[0-9a-f]{16}$/);
    assert.equal(r.row[4], 'call b***@example.com re ************4444');
    assert.equal(r.row[5], null);
    assert.deepEqual(
      r.masked.map((m) => [m.column, m.ruleId, m.detector, m.original]),
      [
        [1, 'emails', null, 'alice@example.com'],
        [2, 'cards', null, '4111 1111 1111 1111'],
        [3, 'ssn', null, '536-22-8765'],
        [4, 'pii', 'email,card-number', 'call bob@example.com re 5555555555554444'],
        [5, 'dob', null, '1980-04-01'],
      ],
    );
    assert.deepEqual(row[1], 'alice@example.com', 'the input row is not changed');
  });
  test('returns the same row object and an empty list when nothing is masked', () => {
    const rules = compileMaskRules([
      { id: 'x', columns: ['nothing_here'] },
      { id: 'd', detectors: ['secret'] },
    ]);
    const r = maskRow(row, cols, rules);
    assert.equal(r.row, row);
    assert.equal(r.masked.length, 0);
  });
  test('NULL values are never masked', () => {
    const rules = compileMaskRules([{ id: 'all', columns: ['*'] }]);
    const nulls = cols.map(() => null);
    assert.equal(maskRow(nulls, cols, rules).row, nulls);
  });
  test('a whole-column rule earlier in the list wins over detectors', () => {
    const rules = compileMaskRules([
      { id: 'pii', detectors: ['email'] },
      { id: 'e', columns: ['email'], style: 'full' },
    ]);
    assert.equal(maskRow(row, cols, rules).row[1], '********');
  });
  test('a row of the wrong length is a typed error', () => {
    const rules = compileMaskRules([{ id: 'e', columns: ['email'] }]);
    assert.throws(
      () => maskRow(['1'], cols, rules),
      (e) => isAffidavitError(e, 'AFF_E_MASK_ROW_SHAPE'),
    );
  });
  test('detectors do not run over dates, uuids or bytea', () => {
    const rules = compileMaskRules([{ id: 'd', detectors: ['all'] }]);
    const c: ColumnDescription[] = [{ name: 'u', typeOid: PG_OID.uuid }];
    const r = maskRow(['4111111111111111'], c, rules);
    assert.equal(r.masked.length, 0);
  });
});

describe('columnMatches', () => {
  test('bare globs match names, dotted globs match table.column with or without schema', () => {
    assert.equal(columnMatches('email', { name: 'email', table: 'x', typeOid: 25 }), true);
    assert.equal(columnMatches('*_ssn', { name: 'tax_ssn', typeOid: 25 }), true);
    assert.equal(columnMatches('*_ssn', { name: 'ssn_note', typeOid: 25 }), false);
    assert.equal(columnMatches('customers.card_number', { name: 'card_number', table: 'public.customers', typeOid: 25 }), true);
    assert.equal(columnMatches('customers.card_number', { name: 'card_number', table: 'orders', typeOid: 25 }), false);
    assert.equal(columnMatches('public.customers.card_number', { name: 'card_number', table: 'public.customers', typeOid: 25 }), true);
  });
  test('with the table unknown a dotted glob matches on the column part (over-mask, not leak)', () => {
    assert.equal(columnMatches('customers.card_number', { name: 'card_number', typeOid: 25 }), true);
  });
});

describe('compileMaskRules', () => {
  const bad =
    (rules: unknown[], opts = {}) =>
    () =>
      compileMaskRules(rules as never, opts);
  test('rejects bad rules with a typed error naming each problem', () => {
    assert.throws(bad([{ id: '', columns: ['a'] }]), /rules\[0\]\.id/);
    assert.throws(
      bad([
        { id: 'a', columns: ['a'] },
        { id: 'a', columns: ['b'] },
      ]),
      /used twice/,
    );
    assert.throws(bad([{ id: 'a' }]), /names no columns and no detectors/);
    assert.throws(bad([{ id: 'a', detectors: ['nope'] }]), /unknown detector "nope"/);
    assert.throws(bad([{ id: 'a', columns: ['x'], style: 'blur' }]), /style "blur"/);
    assert.throws(bad([{ id: 'a', columns: ['x'], style: 'hash' }]), /hashKey/);
    assert.throws(bad([{ id: 'a', columns: ['x'], style: 'hash' }], { hashKey: Buffer.alloc(16) }), (e) => isAffidavitError(e, 'AFF_E_MASK_RULE_INVALID'));
  });
  test('maskRulesFromPolicy maps a policy MaskSpec (with its detector groups) to rules', () => {
    const rules = maskRulesFromPolicy('mask-pii', { columns: ['customers.email'], detectors: ['card-number', 'national-id', 'secret'] });
    assert.deepEqual(rules, [
      { id: 'mask-pii#columns', columns: ['customers.email'], style: 'full' },
      { id: 'mask-pii#detectors', detectors: ['card-number', 'national-id', 'secret'] },
    ]);
    const r = maskRow(row, cols, compileMaskRules(rules));
    assert.equal(r.row[1], '********');
    assert.equal(r.row[3], '***-**-8765');
  });
});
