import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlClassifier } from './classify-sql.ts';
import { PreparedRegistry } from './prepared-registry.ts';
import { initSqlParser, parsePostgres } from './sql-parser.ts';

await initSqlParser();
const classifier = new SqlClassifier({ parse: parsePostgres });
const classes = (c: ReturnType<SqlClassifier['classify']>) => c.statements.flatMap((s) => s.operations.map((o) => `${o.class}${o.unresolved ? '?' : ''}`));

test('EXECUTE in a later message resolves to what PREPARE defined in this session', () => {
  const r = new PreparedRegistry();
  r.apply(classifier.classify('prepare p as delete from customers'));
  assert.deepEqual(classes(r.apply(classifier.classify('execute p'))), ['delete']);
  assert.deepEqual(classes(new PreparedRegistry().apply(classifier.classify('execute p'))), ['execute?'], 'another session does not know p');
});

test('the cached classification is not changed by resolution', () => {
  const r = new PreparedRegistry();
  r.apply(classifier.classify('prepare q as select 1'));
  const raw = classifier.classify('execute q');
  assert.deepEqual(classes(r.apply(raw)), ['select']);
  assert.deepEqual(classes(classifier.classify('execute q')), ['execute?']);
});

test('DEALLOCATE, DISCARD ALL and CLOSE forget names', () => {
  const r = new PreparedRegistry();
  r.apply(classifier.classify('prepare a as select 1; prepare b as select 2; declare c cursor for select 3'));
  assert.equal(r.size, 3);
  r.apply(classifier.classify('deallocate a'));
  assert.deepEqual(classes(r.apply(classifier.classify('execute a; execute b'))), ['execute?', 'select']);
  r.apply(classifier.classify('close c'));
  assert.deepEqual(classes(r.apply(classifier.classify('fetch c'))), ['cursor?']);
  r.apply(classifier.classify('discard all'));
  assert.equal(r.size, 0);
});

test('extended-protocol named statements: registerPrepared and lookupPrepared', () => {
  const r = new PreparedRegistry();
  r.registerPrepared('s1', classifier.classify('update customers set email = $1'));
  assert.deepEqual(classes(r.lookupPrepared('s1')), ['update']);
  assert.deepEqual(classes(r.lookupPrepared('nope')), ['execute?']);
  r.registerPrepared('bad', classifier.classify('selec 1'));
  assert.deepEqual(classes(r.lookupPrepared('bad')), ['execute?'], 'an unparsable Parse stays unresolved');
  r.forgetPrepared('s1');
  assert.deepEqual(classes(r.lookupPrepared('s1')), ['execute?']);
});

test('the registry is bounded and forgets the oldest name', () => {
  const r = new PreparedRegistry({ limit: 2 });
  for (const n of ['a', 'b', 'c']) r.registerPrepared(n, classifier.classify('select 1'));
  assert.equal(r.size, 2);
  assert.deepEqual(classes(r.lookupPrepared('a')), ['execute?']);
  assert.deepEqual(classes(r.lookupPrepared('c')), ['select']);
});
