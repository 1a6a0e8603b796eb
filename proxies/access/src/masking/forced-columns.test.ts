import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dataRowMasker } from './mask-data-row.ts';
import { maskRow } from './mask-row.ts';
import { FULL_MASK } from './mask-styles.ts';
import { compileMaskRules, withForcedColumns, type ForcedLineage } from './rules.ts';
import { decodeDataRow, encodeDataRow } from './test-support.ts';
import type { ColumnDescription } from './types.ts';

const INT4 = 23;
const TEXT = 25;
const base = compileMaskRules([{ id: 'pii#columns', columns: ['email'], style: 'keep-last-4' }]);
// id (clear), u = upper(email) (derived), e = email AS e (plain), n = length(email) (derived), email (by name)
const COLUMNS: ColumnDescription[] = [
  { name: 'id', typeOid: INT4 },
  { name: 'u', typeOid: TEXT },
  { name: 'e', typeOid: TEXT },
  { name: 'n', typeOid: INT4 },
  { name: 'email', typeOid: TEXT },
];
const FORCED = new Map<number, ForcedLineage>([
  [1, 'derived'],
  [2, 'plain'],
  [3, 'derived'],
]);
const rules = withForcedColumns(base, () => FORCED, 'pii', 'keep-last-4');

test('forced positions are masked whole whatever their names; derived ones full, with their NULLs', () => {
  const row = ['7', 'ALICE@EXAMPLE.COM', 'alice@example.com', '17', 'alice@example.com'];
  const masked = decodeDataRow(dataRowMasker(COLUMNS, [], rules).rewrite(encodeDataRow(row)));
  assert.deepEqual(masked, ['7', FULL_MASK, '************e.com', null, '************e.com']);
  assert.deepEqual(maskRow(row, COLUMNS, rules).row, masked);
  // NULL in a derived text column becomes the mask (nullif/regexp_match would make NULLness an
  // oracle); NULL in a plain column stays NULL as for a named column; a derived int is NULL.
  const nulls = [null, null, null, null, null];
  const m2 = decodeDataRow(dataRowMasker(COLUMNS, [], rules).rewrite(encodeDataRow(nulls)));
  assert.deepEqual(m2, [null, FULL_MASK, null, null, null]);
  assert.deepEqual(maskRow(nulls, COLUMNS, rules).row, m2);
});

test('without forced positions nothing changes (the base plan is used)', () => {
  const plain = withForcedColumns(base, () => new Map(), 'pii');
  assert.deepEqual(plain.planFor(COLUMNS), base.planFor(COLUMNS));
});

test('the byte rewriter, its run form and maskRow agree on forced columns, NULLs included', () => {
  const value = fc.option(fc.string({ maxLength: 12 }), { nil: null });
  const rowArb = fc.tuple(fc.option(fc.integer().map(String), { nil: null }), value, value, fc.option(fc.nat().map(String), { nil: null }), value);
  fc.assert(
    fc.property(fc.array(rowArb, { minLength: 1, maxLength: 6 }), fc.boolean(), (rows, inPlace) => {
      const raw = rows.map((r) => encodeDataRow(r));
      const one = dataRowMasker(COLUMNS, [], rules);
      const each = raw.map((r) => one.rewrite(r));
      const run = dataRowMasker(COLUMNS, [], rules).rewriteRun(Buffer.concat(raw), raw.length, inPlace);
      assert.deepEqual(run, Buffer.concat(each));
      rows.forEach((r, i) => assert.deepEqual(decodeDataRow(each[i]), maskRow(r, COLUMNS, rules).row));
    }),
  );
});
