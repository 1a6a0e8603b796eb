// Property tests (fast-check) over the masking module's contracts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAffidavitError } from '@affidavit/common';
import {
  BUILTIN_DETECTORS,
  FORMAT_BINARY,
  MASK_STYLES,
  PG_OID,
  cardNumberDetector,
  compileMaskRules,
  constantMask,
  dataRowMasker,
  hmacHasher,
  maskTyped,
  typeClassOf,
  findSpans,
  luhnValid,
  maskRow,
  maskText,
  createChunkSealer,
  openOriginal,
  openSealedOriginals,
  sealOriginal,
  staticKeyProvider,
  type ColumnDescription,
  type MaskRule,
  type MaskedCell,
  type Span,
} from './index.ts';
import { encodeDataRow } from './test-support.ts';

// A card number: a known IIN, random digits, and the Luhn check digit that makes it valid.
const digitString = (min: number, max: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((a) => a.join(''));
function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  throw new Error('unreachable');
}
const card = fc
  .tuple(fc.constantFrom('4', '51', '55', '2221', '34', '37', '6011', '65'), fc.integer({ min: 13, max: 19 }), digitString(19, 19))
  .map(([iin, len, rest]) => withCheckDigit((iin + rest).slice(0, len - 1)));
const grouped = fc.tuple(card, fc.constantFrom('', ' ', '-')).map(([c, sep]) => (sep === '' ? c : c.replace(/(\d{4})(?=\d)/g, `$1${sep}`)));

test('keep-last-4 on a card keeps exactly its last four digits; full keeps none', () => {
  fc.assert(
    fc.property(grouped, (c) => {
      const digits = c.replace(/\D/g, '');
      const kept = (maskText(c, 'keep-last-4', undefined) ?? '').replace(/\D/g, '');
      assert.equal(kept, digits.slice(-4));
      assert.equal(/\d/.test(maskText(c, 'full', undefined) ?? ''), false);
    }),
  );
});

test('a card inside arbitrary text is found and masked, and its other digits never reach the output', () => {
  const rules = compileMaskRules([{ id: 'cards', detectors: ['card-number'] }]);
  const cols: ColumnDescription[] = [{ name: 'note', typeOid: PG_OID.text }];
  const filler = fc.string({ maxLength: 20 }).map((s) => s.replace(/[0-9A-Za-z_.\- ]/g, ''));
  fc.assert(
    fc.property(filler, grouped, filler, (a, c, b) => {
      const text = `${a} ${c} ${b}`;
      const r = maskRow([text], cols, rules);
      assert.equal(r.masked.length, 1);
      const out = r.row[0] ?? '';
      assert.equal(out.replace(/\D/g, ''), c.replace(/\D/g, '').slice(-4));
    }),
  );
});

test('numbers of 13–19 digits that fail Luhn are never taken for cards', () => {
  const d = cardNumberDetector({ requireKnownIin: false });
  fc.assert(
    fc.property(digitString(13, 19), (n) => {
      fc.pre(!luhnValid(n));
      const out: Span[] = [];
      d.find(`id ${n} ok`, out);
      assert.equal(out.length, 0);
    }),
  );
});

test('detectors never throw and return ordered, in-bounds, non-overlapping spans on any text', () => {
  const all = [...BUILTIN_DETECTORS.values()];
  const alphabet = fc.constantFrom(...'0123456789 -@.eyJAKIghp_xoxb-sk_live_GB82WEST-----BEGIN PRIVATE KEY-----\n"{}é'.split(''));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.array(alphabet, { maxLength: 300 }).map((a) => a.join('')),
      ),
      (text) => {
        const spans = findSpans(text, all);
        let reach = 0;
        for (const s of spans) {
          assert.ok(s.start >= reach && s.end > s.start && s.end <= text.length);
          reach = s.end;
        }
      },
    ),
  );
});

test('maskRow is the identity (same object, nothing reported) when no rule matches', () => {
  const rules = compileMaskRules([
    { id: 'a', columns: ['secret_*', 'vault.*'] },
    { id: 'b', columns: ['pii_*'], detectors: ['all'] },
  ]);
  const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/).filter((n) => !n.startsWith('secret_') && !n.startsWith('pii_'));
  const oid = fc.constantFrom(...Object.values(PG_OID));
  fc.assert(
    fc.property(fc.array(fc.tuple(name, oid, fc.option(fc.string(), { nil: null })), { maxLength: 8 }), (spec) => {
      const cols = spec.map(([n, o]) => ({ name: n, table: 'public', typeOid: o }));
      const row = spec.map(([, , v]) => v);
      const r = maskRow(row, cols, rules);
      assert.equal(r.row, row);
      assert.equal(r.masked.length, 0);
    }),
  );
});

const ctxArb = fc.record({ sessionId: fc.uuid(), commandId: fc.string({ minLength: 1, maxLength: 20 }), column: fc.string({ maxLength: 30 }), row: fc.nat() });
const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

test('seal → open round-trips any string in any context', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 200 }), ctxArb, keyArb, async (v, ctx, key) => {
      const keys = staticKeyProvider([{ keyId: 'k', key }]);
      assert.equal(await openOriginal(sealOriginal(v, ctx, await keys.current()), keys, ctx), v);
    }),
  );
});

test('flipping any bit of nonce, ciphertext or tag makes opening fail', async () => {
  const keys = staticKeyProvider([{ keyId: 'k', key: Buffer.alloc(32, 11) }]);
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 64 }), ctxArb, fc.nat(), fc.integer({ min: 0, max: 7 }), fc.boolean(), async (v, ctx, at, bit, inNonce) => {
      const rec = sealOriginal(v, ctx, await keys.current());
      const nonce = Buffer.from(rec.nonce);
      const ciphertext = Buffer.from(rec.ciphertext);
      const target = inNonce ? nonce : ciphertext;
      target[at % target.length] ^= 1 << bit;
      await assert.rejects(openOriginal({ ...rec, nonce, ciphertext }, keys, ctx), (e) => isAffidavitError(e, 'AFF_E_MASK_TAMPERED'));
    }),
  );
});

// Originals as the proxy sees them: text (any code points, lone surrogates included),
// binary-format values shown as latin1, and empty strings.
const originalArb = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.constantFrom('', '\ud800 lone surrogate', 'é\u0000nul'),
);

test('chunk seal → open returns exactly the originals, in order, for any originals and positions', async () => {
  const keys = staticKeyProvider([{ keyId: 'k', key: Buffer.alloc(32, 12) }]);
  const sealer = createChunkSealer(await keys.current());
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(originalArb, fc.string({ maxLength: 12 }), fc.nat()), { minLength: 1, maxLength: 40 }),
      ctxArb,
      fc.nat({ max: 5000 }),
      async (cells, ctx, first) => {
        const originals = cells.map(([v]) => v);
        const chunkCtx = { sessionId: ctx.sessionId, commandId: ctx.commandId, first, positions: cells.map(([, column, row]) => ({ column, row })) };
        const rec = sealer.seal(originals, chunkCtx);
        assert.equal(rec.count, originals.length);
        assert.deepEqual(await openSealedOriginals(rec, keys, chunkCtx), originals);
      },
    ),
  );
});

test('flipping any bit of a chunk nonce, ciphertext or tag makes opening fail', async () => {
  const keys = staticKeyProvider([{ keyId: 'k', key: Buffer.alloc(32, 13) }]);
  const sealer = createChunkSealer(await keys.current());
  await fc.assert(
    fc.asyncProperty(
      fc.array(originalArb, { minLength: 1, maxLength: 8 }),
      fc.nat(),
      fc.integer({ min: 0, max: 7 }),
      fc.boolean(),
      async (originals, at, bit, inNonce) => {
        const chunkCtx = { sessionId: 's', commandId: 'c', first: 0, positions: originals.map((_, row) => ({ column: 'v', row })) };
        const rec = sealer.seal(originals, chunkCtx);
        const nonce = Buffer.from(rec.nonce);
        const ciphertext = Buffer.from(rec.ciphertext);
        const target = inNonce ? nonce : ciphertext;
        target[at % target.length] ^= 1 << bit;
        await assert.rejects(openSealedOriginals({ ...rec, nonce, ciphertext }, keys, chunkCtx), (e) => isAffidavitError(e, 'AFF_E_MASK_TAMPERED'));
      },
    ),
  );
});

const ALL_OIDS = [...Object.values(PG_OID), 0, 1009 /* text[]: class other */];

test('constantMask agrees with maskTyped for every style, type and value', () => {
  const hasher = hmacHasher(Buffer.alloc(32, 5));
  fc.assert(
    fc.property(
      fc.constantFrom(...MASK_STYLES),
      fc.constantFrom(...ALL_OIDS),
      fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 5 }),
      (style, oid, values) => {
        const c = constantMask(style, typeClassOf(oid), oid);
        if (c === undefined) return;
        for (const v of values) assert.equal(maskTyped(v, style, oid, hasher), c.value, `${style} on oid ${oid}: ${JSON.stringify(v)}`);
      },
    ),
  );
});

// A result shape, its rows and some masking rules over it, for the DataRow rewriter.
const email = fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z]{1,8}$/)).map(([u, d]) => `${u}@${d}.org`);
const textValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  email,
  card,
  grouped.map((c) => `paid with ${c} ok`),
  fc.constant(''),
);
const columnArb = fc.record({
  name: fc.constantFrom('a', 'b', 'email', 'card', 'note'),
  table: fc.option(fc.constantFrom('t', 'public.t', 'u'), { nil: undefined }),
  typeOid: fc.constantFrom(...ALL_OIDS),
  binary: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 }),
});
const ruleArb = fc
  .record({
    columns: fc.subarray(['a', 'email', 'card', 't.note', 'u.*', 'b?']),
    detectors: fc.subarray(['email', 'card-number', 'us-ssn', 'iban']),
    style: fc.option(fc.constantFrom(...MASK_STYLES), { nil: undefined }),
  })
  .filter((r) => r.columns.length + r.detectors.length > 0);
const resultArb = fc.array(columnArb, { minLength: 1, maxLength: 6 }).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    rules: fc.array(ruleArb, { minLength: 1, maxLength: 3 }),
    rows: fc.array(
      fc.tuple(
        ...shape.map((c) =>
          fc.option<string | Buffer>(
            c.binary
              ? fc.oneof(
                  fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)),
                  textValue.map((t) => Buffer.from(t, 'utf8')),
                )
              : textValue,
            { nil: null, freq: 5 },
          ),
        ),
      ),
      { minLength: 1, maxLength: 6 },
    ),
  }),
);

test('the DataRow rewriter sends exactly what maskRow decides, with and without originals, and reports the same cells', () => {
  fc.assert(
    fc.property(resultArb, ({ shape, rules, rows }) => {
      const compiled = compileMaskRules(
        rules.map(
          (r, i): MaskRule => ({
            id: `r${i}`,
            ...(r.columns.length > 0 ? { columns: r.columns } : {}),
            ...(r.detectors.length > 0 ? { detectors: r.detectors } : {}),
            ...(r.style ? { style: r.style } : {}),
          }),
        ),
        { hashKey: Buffer.alloc(32, 9) },
      );
      const cols: ColumnDescription[] = shape.map((c) => ({ name: c.name, table: c.table, typeOid: c.typeOid }));
      const formats = shape.map((c) => (c.binary ? FORMAT_BINARY : 0));
      const fast = dataRowMasker(cols, formats, compiled);
      const full = dataRowMasker(cols, formats, compiled);
      let count = 0;
      for (const values of rows) {
        const raw = encodeDataRow(values as (string | Buffer | null)[]);
        // What the proxy's text path does: binary values are shown to maskRow as latin1.
        const bytes = values.map((v) => (v === null ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : v));
        const text = bytes.map((b, i) => (b === null ? null : shape[i].binary ? b.toString('latin1') : b.toString('utf8')));
        const res = maskRow(text, cols, compiled);
        const at = new Set(res.masked.map((c) => c.column));
        const expected = encodeDataRow(bytes.map((b, i) => (!at.has(i) ? b : shape[i].binary ? null : res.row[i])));
        const cells: MaskedCell[] = [];
        const a = fast.rewrite(raw);
        const b = full.rewrite(raw, cells);
        assert.deepEqual(a, expected);
        assert.deepEqual(b, expected);
        if (res.masked.length === 0) assert.ok(a === raw && b === raw, 'an unmasked row is passed on as the same buffer');
        assert.deepEqual(
          cells.map((c) => [c.column, c.columnName, c.ruleId, c.detector, c.original, c.masked]),
          res.masked.map((c) => [c.column, c.columnName, c.ruleId, c.detector, c.original, shape[c.column].binary ? null : c.masked]),
        );
        count += res.masked.length;
      }
      assert.equal(fast.masked, count);
      assert.equal(full.masked, count);
    }),
    { numRuns: 300 },
  );
});
