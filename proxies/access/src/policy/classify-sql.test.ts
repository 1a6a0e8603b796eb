import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SqlClassifier, classifySqlWith } from './classify-sql.ts';
import { initSqlParser, isSqlParserReady, parsePostgres } from './sql-parser.ts';
import { isAffidavitError } from '@affidavit/common';

test('parsePostgres refuses to run before the WebAssembly module is loaded', () => {
  assert.equal(isSqlParserReady(), false);
  assert.throws(() => parsePostgres('select 1'), (e) => isAffidavitError(e, 'AFF_E_POLICY_PARSER_NOT_READY'));
});

await initSqlParser();
const classifier = new SqlClassifier({ parse: parsePostgres, cacheSize: 4 });
const ops = (sql: string) => classifier.classify(sql).statements.flatMap((s) => s.operations);

test('relations come out schema-qualified as written, folded and de-escaped by the parser', () => {
  const [op] = ops('select * from "public"."customers" c join Orders o on true join U&"\\0063ards" x on true');
  assert.equal(op.class, 'select');
  const names = op.reads.map((r) => (r.schema ? `${r.schema}.${r.name}` : r.name)).sort();
  assert.deepEqual(names, ['cards', 'orders', 'public.customers']);
});

test('a DELETE inside a CTE is its own write operation', () => {
  const all = ops('with d as (delete from public.customers returning *) select count(*) from d');
  assert.deepEqual(all.map((o) => o.class).sort(), ['delete', 'select']);
  assert.deepEqual(all.find((o) => o.class === 'delete')!.writes, [{ schema: 'public', name: 'customers' }]);
});

test('EXPLAIN ANALYZE is the statement it runs; plain EXPLAIN is explain', () => {
  assert.equal(ops('explain analyze update t set a = 1')[0].class, 'update');
  assert.equal(ops('explain (format json, analyze) delete from t')[0].class, 'delete');
  assert.equal(ops('explain delete from t')[0].class, 'explain');
  assert.equal(ops('explain (analyze off) delete from t')[0].class, 'explain');
});

test('functions are found in subqueries, casts, FROM, DEFAULT and CALL', () => {
  const names = (sql: string) => ops(sql).flatMap((o) => o.functions.map((f) => (f.schema ? `${f.schema}.${f.name}` : f.name)));
  assert.deepEqual(names('select (select pg_catalog.pg_terminate_backend(1))::text'), ['pg_catalog.pg_terminate_backend']);
  assert.deepEqual(names('select * from dblink($$x$$, $$y$$) as t(a int)'), ['dblink']);
  assert.deepEqual(names("create table x (a text default pg_read_file('f'))"), ['pg_read_file']);
  assert.deepEqual(names('call p(lower($$x$$))').sort(), ['lower', 'p']);
  assert.deepEqual(names('select "pg_terminate_backend"(1)'), ['pg_terminate_backend']);
});

test('statement classes of utility statements', () => {
  const cls = (sql: string) => ops(sql).map((o) => o.class);
  assert.deepEqual(cls('set role x; reset role; set session authorization y; alter system set a = 1'), ['set-role', 'set-role', 'session-authorization', 'alter-system']);
  assert.deepEqual(cls("copy t to program 'x'; copy t from stdin; copy t to stdout; do $$ begin end $$"), ['copy-program', 'copy-from', 'copy-to', 'do']);
  assert.deepEqual(cls('begin; grant select on t to u; create table t(a int); vacuum; truncate t; lock t; listen x; load $$x$$'), ['transaction', 'dcl', 'ddl', 'maintenance', 'truncate', 'lock', 'listen', 'load']);
  assert.deepEqual(cls('select 1 into t; show all; set x = 1; discard all; deallocate all'), ['ddl', 'show', 'set', 'discard', 'deallocate']);
  assert.deepEqual(ops('set search_path = a')[0].settings, ['search_path']);
});

test('columns referenced, including UPDATE targets and stars', () => {
  assert.deepEqual(ops('select c.email, * from customers c')[0].columns, ['c.email', '*']);
  assert.deepEqual(ops("update t set email = 'x' where id = 1")[0].columns, ['email', 'id']);
});

test('each statement keeps its own text, even after multi-byte characters', () => {
  const c = classifier.classify("select 'żółw'; delete from t where a = 'é'");
  assert.deepEqual(c.statements.map((s) => s.text), ["select 'żółw'", "delete from t where a = 'é'"]);
});

test('unparsable SQL carries the parser message', () => {
  const c = classifier.classify('select from where');
  assert.equal(c.statements.length, 0);
  assert.match(c.unparsable!.message, /syntax error at or near "where"/);
});

test('text over the size limit is unparsable without being parsed', () => {
  let called = 0;
  const c = classifySqlWith(() => ((called++, { ok: false, message: 'x' })), 'select 1'.repeat(10), 20);
  assert.equal(called, 0);
  assert.match(c.unparsable!.message, /exceeds the 20 limit/);
});

test('the cache returns the same frozen object and stays bounded', () => {
  const c = new SqlClassifier({ parse: parsePostgres, cacheSize: 2 });
  const a = c.classify('select 1');
  assert.equal(c.classify('select 1'), a);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.statements[0].operations[0]));
  c.classify('select 2');
  c.classify('select 3');
  assert.equal(c.stats().size, 2);
  assert.notEqual(c.classify('select 1'), a, 'evicted entry is classified again');
  assert.deepEqual(c.stats(), { hits: 1, misses: 4, size: 2 });
});

test('property: any string classifies without throwing, either parsed or unparsable', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      const c = classifier.classify(s);
      assert.ok(c.unparsable !== undefined || Array.isArray(c.statements));
      for (const st of c.statements) assert.ok(st.operations.length > 0);
    }),
    { numRuns: 300 },
  );
});

test('deeply nested input is refused, not a crash', () => {
  const c = classifier.classify(`select ${'('.repeat(20000)}1${')'.repeat(20000)}`);
  assert.ok(c.unparsable !== undefined || c.statements.length === 1);
});
