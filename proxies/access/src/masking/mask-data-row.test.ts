import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAffidavitError } from '@affidavit/common';
import { decodeDataRow as decodeRow, encodeDataRow as encodeRow } from './test-support.ts';
import { FULL_MASK, FORMAT_BINARY, PG_OID, compileMaskRules, dataRowMasker, type ColumnDescription, type MaskedCell } from './index.ts';

const cols: ColumnDescription[] = [
  { name: 'id', typeOid: PG_OID.int4 },
  { name: 'email', typeOid: PG_OID.text },
  { name: 'card_number', typeOid: PG_OID.varchar },
  { name: 'amount', typeOid: PG_OID.numeric },
];
const wholeRules = compileMaskRules([{ id: 'cols', columns: ['email', 'card_number', 'amount'] }]);
const isCode = (code: string) => (e: unknown) => isAffidavitError(e, code);

describe('dataRowMasker', () => {
  test('masks whole columns to constants with every length recomputed; other values stay byte-identical', () => {
    const m = dataRowMasker(cols, [0, 0, 0, 0], wholeRules);
    const out = m.rewrite(encodeRow(['42', 'alice@example.com', '4111111111111111', '12.50']));
    assert.deepEqual(decodeRow(out), ['42', FULL_MASK, FULL_MASK, null]);
    assert.equal(m.masked, 3);
  });

  test('returns the very same buffer when nothing is masked (no rule, or NULL values)', () => {
    const m = dataRowMasker(cols, [0, 0, 0, 0], wholeRules);
    const raw = encodeRow(['1', null, null, null]);
    assert.equal(m.rewrite(raw), raw);
    const none = dataRowMasker(cols, [0, 0, 0, 0], compileMaskRules([{ id: 'x', columns: ['nothing'] }]));
    const raw2 = encodeRow(['1', 'a@b.org', '4111111111111111', '1']);
    assert.equal(none.rewrite(raw2), raw2);
    assert.equal(m.masked + none.masked, 0);
  });

  test('rows handed out earlier are never overwritten by later rows (slab views stay intact)', () => {
    const m = dataRowMasker(cols, [0, 0, 0, 0], wholeRules);
    const outs: Buffer[] = [];
    const ids: string[] = [];
    // Enough rows to fill several 64 KiB slabs, with ids of varying length.
    for (let i = 0; i < 20_000; i++) {
      ids.push(String(i * 7919));
      outs.push(m.rewrite(encodeRow([ids[i], `u${i}@example.com`, '4111 1111 1111 1111', String(i)])));
    }
    outs.forEach((o, i) => assert.deepEqual(decodeRow(o), [ids[i], FULL_MASK, FULL_MASK, null]));
    assert.equal(m.masked, 60_000);
  });

  test('with `cells`, reports every masked value with its clear original, rule and the value sent', () => {
    const rules = compileMaskRules([
      { id: 'cards', columns: ['card_number'], style: 'keep-last-4' },
      { id: 'pii', detectors: ['email'] },
    ]);
    const m = dataRowMasker(cols, [0, 0, 0, 0], rules);
    const cells: MaskedCell[] = [];
    const out = m.rewrite(encodeRow(['7', 'write to bob@example.com', '4111 1111 1111 1234', '3']), cells);
    assert.deepEqual(decodeRow(out), ['7', 'write to b***@example.com', '**** **** **** 1234', '3']);
    assert.deepEqual(
      cells.map((c) => [c.column, c.columnName, c.ruleId, c.detector, c.original, c.masked]),
      [
        [1, 'email', 'pii', 'email', 'write to bob@example.com', 'write to b***@example.com'],
        [2, 'card_number', 'cards', null, '4111 1111 1111 1234', '**** **** **** 1234'],
      ],
    );
  });

  test('a masked binary-format value is sent as NULL (its type encoding cannot carry a mask)', () => {
    const m = dataRowMasker(cols, [0, FORMAT_BINARY, 0, FORMAT_BINARY], wholeRules);
    const cells: MaskedCell[] = [];
    const out = m.rewrite(encodeRow(['1', Buffer.from([0xde, 0xad, 0x00, 0x01]), 'x', Buffer.from([0, 1])]), cells);
    assert.deepEqual(decodeRow(out), ['1', null, FULL_MASK, null]);
    assert.equal(cells[0].masked, null);
    assert.equal(cells[0].original, '\xde\xad\x00\x01', 'binary originals are kept as latin1, like the text path');
    const scan = dataRowMasker([{ name: 'note', typeOid: PG_OID.text }], [FORMAT_BINARY], compileMaskRules([{ id: 'd', detectors: ['email'] }]));
    assert.deepEqual(decodeRow(scan.rewrite(encodeRow(['mail carol@example.com']))), [null]);
  });

  test('refuses rows it cannot split exactly, whichever path masks them', () => {
    for (const withCells of [false, true]) {
      const m = dataRowMasker(cols, [0, 0, 0, 0], wholeRules);
      const rw = (b: Buffer) => m.rewrite(b, withCells ? [] : undefined);
      const good = encodeRow(['1', 'a@b.org', '4111111111111111', '2']);
      assert.throws(() => rw(Buffer.from('T\0\0\0\x06\0\0')), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'), 'not a DataRow');
      assert.throws(() => rw(good.subarray(0, 5)), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'), 'shorter than a header');
      assert.throws(() => rw(good.subarray(0, good.length - 1)), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'), 'length field');
      assert.throws(() => rw(encodeRow(['1', 'a@b.org', '4111'])), isCode('AFF_E_MASK_ROW_SHAPE'), 'column count');
      const overrun = Buffer.from(good);
      overrun.writeInt32BE(1000, 7); // the first value claims more bytes than the message has
      assert.throws(() => rw(overrun), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'));
      const negative = Buffer.from(good);
      negative.writeInt32BE(-2, 7);
      assert.throws(() => rw(negative), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'));
      const trailing = Buffer.concat([good, Buffer.from([0])]);
      trailing.writeInt32BE(trailing.length - 1, 1);
      assert.throws(() => rw(trailing), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'), 'bytes after the last value');
      const cut = encodeRow(['1', 'a@b.org', '4111111111111111', '2']).subarray(0, 7 + 4 + 1 + 2);
      cut.writeInt32BE(cut.length - 1, 1); // consistent header, but values run past the end
      assert.throws(() => rw(cut), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'));
      assert.equal(m.masked, 0, 'a refused row counts nothing');
    }
  });

  test('rewriteRun sends the same bytes as rewrite on each row, and refuses what rewrite refuses', () => {
    const rows = [encodeRow(['1', 'a@b.org', '4111111111111111', '2']), encodeRow(['22', null, null, null]), encodeRow([null, 'x', '', '3.5'])];
    const detect = compileMaskRules([{ id: 'd', detectors: ['email'] }]);
    for (const rules of [wholeRules, detect]) {
      const one = dataRowMasker(cols, [0, 0, 0, 0], rules);
      const run = dataRowMasker(cols, [0, 0, 0, 0], rules);
      for (let k = 0; k < 3000; k++) {
        const batch = rows.slice(k % 3).concat(rows.slice(0, k % 3));
        const want = Buffer.concat(batch.map((r) => one.rewrite(r)));
        assert.deepEqual(run.rewriteRun(Buffer.concat(batch), batch.length), want);
      }
      assert.equal(run.masked, one.masked);
    }
    const m = dataRowMasker(cols, [0, 0, 0, 0], wholeRules);
    const untouched = Buffer.concat([encodeRow(['1', null, null, null]), encodeRow(['2', null, null, null])]);
    assert.equal(m.rewriteRun(untouched, 2), untouched, 'nothing masked: the input itself');
    const good = Buffer.concat(rows);
    assert.throws(() => m.rewriteRun(good, 2), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'), 'bytes after the counted rows');
    assert.throws(() => m.rewriteRun(good, 4), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'), 'fewer rows than counted');
    assert.throws(() => m.rewriteRun(good.subarray(0, good.length - 1), 3), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'), 'last row cut');
    const bad = Buffer.from(good);
    bad.writeInt32BE(-2, rows[0].length + 7); // a value of the second row with an invalid length
    assert.throws(() => m.rewriteRun(bad, 3), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'));
    assert.throws(() => m.rewriteRun(Buffer.concat([rows[0], encodeRow(['1', 'x'])]), 2), isCode('AFF_E_MASK_ROW_SHAPE'));
  });

  test('rewriteRun in place sends the very bytes of the slab path, also when masks outgrow the values (property)', () => {
    // Values from empty to longer than the 8-byte mask, NULLs, and a column no rule touches:
    // a run mixes rows that shrink (masked in place) with rows whose mask would overtake the
    // bytes still to read (the output moves to a slab from there).
    const value = fc.oneof(fc.constant(null), fc.string({ maxLength: 3 }), fc.string({ minLength: 9, maxLength: 40 }));
    const row = fc.tuple(fc.option(fc.integer().map(String), { nil: null }), value, value, value);
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 3 }), (rows, noise) => {
        const bytes = Buffer.concat(rows.map((r) => encodeRow(r)));
        const slabPath = dataRowMasker(cols, [0, 0, 0, 0], wholeRules);
        const inPlace = dataRowMasker(cols, [0, 0, 0, 0], wholeRules);
        const sent: Buffer[] = [];
        // Three reads of the same rows: a later move to the slab lands after what earlier runs left there.
        for (let read = 0; read < 3; read++) {
          // The run sits inside a larger buffer, as the rows of a read do: bytes around it stay.
          const chunk = Buffer.concat([Buffer.alloc(noise, 0xaa), bytes, Buffer.alloc(noise, 0xbb)]);
          const want = slabPath.rewriteRun(Buffer.from(bytes), rows.length);
          const got = inPlace.rewriteRun(chunk.subarray(noise, noise + bytes.length), rows.length, true);
          assert.deepEqual(got, want);
          assert.ok(
            chunk.subarray(0, noise).every((b) => b === 0xaa) && chunk.subarray(noise + bytes.length).every((b) => b === 0xbb),
            'nothing written outside the run',
          );
          assert.deepEqual(decodeRow(got.subarray(0, got.readInt32BE(1) + 1))[0], rows[0][0], 'the unmasked id of the first row survives');
          sent.push(got, Buffer.from(want));
        }
        assert.equal(inPlace.masked, slabPath.masked);
        for (let k = 0; k < sent.length; k += 2) assert.deepEqual(sent[k], sent[k + 1], 'a result handed out earlier is not overwritten by a later run');
      }),
      { numRuns: 400 },
    );
  });

  test('rewriteRun in place refuses what the slab path refuses, and returns the input itself when nothing is masked', () => {
    const m = dataRowMasker(cols, [0, 0, 0, 0], wholeRules);
    const untouched = Buffer.concat([encodeRow(['1', null, null, null]), encodeRow(['2', null, null, null])]);
    const copy = Buffer.from(untouched);
    assert.equal(m.rewriteRun(untouched, 2, true), untouched);
    assert.deepEqual(untouched, copy, 'rows with nothing masked are left as they were');
    const rows = [encodeRow(['1', 'a@b.org', '4111111111111111', '2']), encodeRow(['22', null, null, null]), encodeRow([null, 'x', '', '3.5'])];
    const good = () => Buffer.concat(rows);
    assert.throws(() => m.rewriteRun(good(), 2, true), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'), 'bytes after the counted rows');
    assert.throws(() => m.rewriteRun(good(), 4, true), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'), 'fewer rows than counted');
    assert.throws(() => m.rewriteRun(good().subarray(0, good().length - 1), 3, true), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'), 'last row cut');
    const bad = good();
    bad.writeInt32BE(-2, rows[0].length + 7);
    assert.throws(() => m.rewriteRun(bad, 3, true), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'));
    const overrun = good();
    overrun.writeInt32BE(1000, rows[0].length + rows[1].length + 7); // a value of the third row claims bytes past its row
    assert.throws(() => m.rewriteRun(overrun, 3, true), isCode('AFF_E_MASK_DATA_ROW_MALFORMED'));
    assert.throws(() => m.rewriteRun(Buffer.concat([rows[0], encodeRow(['1', 'x'])]), 2, true), isCode('AFF_E_MASK_ROW_SHAPE'));
  });
});
