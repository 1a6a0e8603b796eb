import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PreparedRegistry, SqlClassifier, initSqlParser, parsePostgres, type MaskSpec } from '@affidavit/access';
import { parseErrorFields } from './backend-messages.ts';
import { lineageGate, withheldMessage } from './lineage-gate.ts';
import { errorResponse, noticeResponse } from './wire/index.ts';

await initSqlParser();
const classifier = new SqlClassifier({ parse: parsePostgres });
const SPEC: MaskSpec = { columns: ['email', 'card_number'], detectors: ['email'] };
const cols = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `c${i}`, typeOid: 25 }));

test('a refusal names the rule, the column and the construct, with SQLSTATE 42501', () => {
  const g = lineageGate(
    "select id from customers where email like 'a%'",
    classifier.classify("select id from customers where email like 'a%'"),
    'mask-pii',
    SPEC,
  );
  assert.equal(g.kind, 'refuse');
  assert.ok(g.kind === 'refuse');
  assert.equal(g.error.code, '42501');
  assert.match(g.error.message, /policy rule "mask-pii" masks columns .*customers\.email is used in WHERE.*AFF_E_PG_MASK_LINEAGE/);
  assert.match(g.reason, /email is used in WHERE/);
});

test('derived columns are forced by position; names alone suffice for plain ones and *', () => {
  const sql = "select id, replace(email, '@', '#') as x, email from customers";
  const g = lineageGate(sql, classifier.classify(sql), 'r', SPEC);
  assert.ok(g.kind === 'mask' && g.lineage.forced);
  assert.deepEqual(
    [...g.lineage.forced(cols(3))],
    [
      [1, 'derived'],
      [2, 'plain'],
    ],
  );
  // The same plain column under its masked name is left to the name-based plan.
  assert.deepEqual([...g.lineage.forced([...cols(2), { name: 'email', typeOid: 25 }])], [[1, 'derived']]);
  assert.equal(g.lineage.masksMessages, true);
  const star = lineageGate('select * from customers', classifier.classify('select * from customers'), 'r', SPEC);
  assert.ok(star.kind === 'mask' && star.lineage.forced === undefined && star.lineage.masksMessages);
  const clear = lineageGate('select id, name from customers where id = 1', classifier.classify('select id, name from customers where id = 1'), 'r', SPEC);
  assert.ok(clear.kind === 'mask' && clear.lineage.forced === undefined && !clear.lineage.masksMessages);
  // The same text under a spec that allows predicates is analysed anew, not served from the cache.
  const pred = "select id from customers where email like 'a%'";
  assert.equal(lineageGate(pred, classifier.classify(pred), 'r', { ...SPEC, allowPredicates: ['email'] }).kind, 'mask');
});

test('several row-returning statements with a derived column are refused', () => {
  const sql = 'select 1; select upper(email) from customers';
  assert.equal(lineageGate(sql, classifier.classify(sql), 'r', SPEC).kind, 'refuse');
  const ok = 'select 1; select email from customers';
  assert.equal(lineageGate(ok, classifier.classify(ok), 'r', SPEC).kind, 'mask');
});

test('EXECUTE and FETCH take the lineage of what PREPARE and DECLARE defined; unknown ones mask every column', () => {
  const reg = new PreparedRegistry();
  const prep = 'prepare p as select id, upper(email) from customers';
  const g1 = lineageGate(prep, reg.apply(classifier.classify(prep)), 'r', SPEC);
  assert.ok(g1.kind === 'mask');
  const exec = 'execute p';
  const g2 = lineageGate(exec, reg.apply(classifier.classify(exec)), 'r', SPEC);
  assert.ok(g2.kind === 'mask' && g2.lineage.forced);
  assert.deepEqual([...g2.lineage.forced(cols(2))], [[1, 'derived']]);
  const decl = 'declare k cursor for select reverse(card_number), id from customers';
  lineageGate(decl, reg.apply(classifier.classify(decl)), 'r', SPEC);
  const fetch = 'fetch all from k';
  const g3 = lineageGate(fetch, reg.apply(classifier.classify(fetch)), 'r', SPEC);
  assert.ok(g3.kind === 'mask' && g3.lineage.forced);
  assert.deepEqual([...g3.lineage.forced(cols(2))], [[0, 'derived']]);
  const unknown = 'fetch all from never_declared';
  const g4 = lineageGate(unknown, classifier.classify(unknown), 'r', SPEC);
  assert.ok(g4.kind === 'mask' && g4.lineage.forced && g4.lineage.masksMessages);
  assert.equal(g4.lineage.forced(cols(3)).size, 3);
});

test('withheldMessage keeps severity and SQLSTATE and drops every text that could quote a value', () => {
  const raw = errorResponse({
    severity: 'ERROR',
    code: '22P02',
    message: 'invalid input syntax for type integer: "alice@example.com"',
    detail: 'alice@example.com',
    hint: 'x',
    extra: { W: 'alice@example.com' },
  });
  const out = withheldMessage(raw, 'mask-pii');
  assert.equal(out.includes('alice'), false);
  const f = parseErrorFields(out);
  assert.deepEqual([f.severity, f.code], ['ERROR', '22P02']);
  assert.match(f.message, /withheld .*policy rule "mask-pii".*AFF_E_PG_MASKED_MESSAGE/);
  const n = withheldMessage(noticeResponse({ severity: 'NOTICE', code: '00000', message: 'value alice@example.com' }), 'r');
  assert.equal(n[0], 0x4e);
  assert.equal(n.includes('alice'), false);
});
