import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SqlClassifier, classifySqlWith } from './classify-sql.ts';
import { initSqlParser, isSqlParserReady, parsePostgres } from './sql-parser.ts';
import { isAffidavitError } from '@affidavit/common';

test('parsePostgres refuses to run before the WebAssembly module is loaded', () => {
  assert.equal(isSqlParserReady(), false);
  assert.throws(
    () => parsePostgres('select 1'),
    (e) => isAffidavitError(e, 'AFF_E_POLICY_PARSER_NOT_READY'),
  );
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
  assert.deepEqual(cls('set role x; reset role; set session authorization y; alter system set a = 1'), [
    'set-role',
    'set-role',
    'session-authorization',
    'alter-system',
  ]);
  assert.deepEqual(cls("copy t to program 'x'; copy t from stdin; copy t to stdout; do $$ begin end $$"), ['copy-program', 'copy-from', 'copy-to', 'do']);
  assert.deepEqual(cls('begin; grant select on t to u; create table t(a int); vacuum; truncate t; lock t; listen x; load $$x$$'), [
    'transaction',
    'dcl',
    'ddl',
    'maintenance',
    'truncate',
    'lock',
    'listen',
    'load',
  ]);
  assert.deepEqual(cls('select 1 into t; show all; set x = 1; discard all; deallocate all'), ['ddl', 'show', 'set', 'discard', 'deallocate']);
  assert.deepEqual(ops('set search_path = a')[0].settings, ['search_path']);
});

test('columns referenced, including UPDATE targets and stars', () => {
  assert.deepEqual(ops('select c.email, * from customers c')[0].columns, ['c.email', '*']);
  assert.deepEqual(ops("update t set email = 'x' where id = 1")[0].columns, ['email', 'id']);
});

test('each statement keeps its own text, even after multi-byte characters', () => {
  const c = classifier.classify("select 'żółw'; delete from t where a = 'é'");
  assert.deepEqual(
    c.statements.map((s) => s.text),
    ["select 'żółw'", "delete from t where a = 'é'"],
  );
});

test('unparsable SQL carries the parser message', () => {
  const c = classifier.classify('select from where');
  assert.equal(c.statements.length, 0);
  assert.match(c.unparsable!.message, /syntax error at or near "where"/);
});

test('text over the size limit is unparsable without being parsed', () => {
  let called = 0;
  const c = classifySqlWith(() => (called++, { ok: false, message: 'x' }), 'select 1'.repeat(10), 20);
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

const q = (n: { catalog?: string; schema?: string; name: string }) => [n.catalog, n.schema, n.name].filter(Boolean).join('.');

test('a database qualifier is kept apart from the schema, for every spelling', () => {
  for (const sql of [
    'select * from demo.public.customers',
    'select * from "demo"."public"."customers"',
    'select * from DEMO.Public.CUSTOMERS',
    'select * from U&"d\\0065mo".public.U&"\\0063ustomers"',
  ]) {
    assert.deepEqual(ops(sql)[0].reads, [{ catalog: 'demo', schema: 'public', name: 'customers' }], sql);
  }
  assert.deepEqual(ops('update demo.public.customers set email = 1')[0].writes, [{ catalog: 'demo', schema: 'public', name: 'customers' }]);
  assert.deepEqual(ops('truncate demo.public.customers')[0].writes, [{ catalog: 'demo', schema: 'public', name: 'customers' }]);
  assert.deepEqual(ops('select demo.pg_catalog.lower($$a$$)')[0].functions, [{ catalog: 'demo', schema: 'pg_catalog', name: 'lower' }]);
  assert.deepEqual(ops('create temp table customers (a int)')[0].writes, [{ schema: 'pg_temp', name: 'customers' }]);
});

test('functions that read a table named by an argument count as reads of it', () => {
  const reads = (sql: string) => ops(sql).flatMap((o) => o.reads.map(q));
  assert.deepEqual(reads("select table_to_xml('customers', true, false, '')"), ['customers']);
  assert.deepEqual(reads("select table_to_xml('customers'::regclass, true, false, '')"), ['customers']);
  assert.deepEqual(reads('select pg_catalog.table_to_xmlschema(\'"Public"."Customers"\'::pg_catalog.regclass, true, false, \'\')'), ['Public.Customers']);
  assert.deepEqual(reads("select table_to_xml_and_xmlschema(text 'demo.public.CUSTOMERS', true, false, '')"), ['demo.public.customers']);
  assert.deepEqual(reads("select table_to_xml(tbl => 'customers', nulls => true, tableforest => false, targetns => '')"), ['customers']);
  // Every way of writing the constant is the constant the server sees.
  for (const arg of [
    '$$customers$$',
    "E'cust\\x6fmers'",
    "U&'\\0063ustomers'",
    "regclass 'customers'",
    "'customers'::text::regclass",
    "(('customers'))",
    "tbl := 'customers'",
  ]) {
    assert.deepEqual(reads(`select table_to_xml(${arg}, true, false, '')`), ['customers'], arg);
  }
  assert.deepEqual(reads("select * from orders where exists (select table_to_xml('customers', true, false, ''))").sort(), ['customers', 'orders']);
  // SQL text a function runs is classified like a statement.
  assert.deepEqual(reads("select query_to_xml('select email from public.customers', true, false, '')"), ['public.customers']);
  assert.deepEqual(reads("select * from ts_stat('select v from docs')"), ['docs']);
  const del = ops("select query_to_xml('with d as (delete from customers returning 1) select 1', true, false, '')");
  assert.ok(del.some((o) => o.class === 'delete' && o.writes.map(q).includes('customers')));
});

test('a relation named by anything but a constant is an unresolved read', () => {
  for (const sql of [
    "select table_to_xml('cust' || 'omers', true, false, '')",
    "select table_to_xml($1, true, false, '')",
    "select table_to_xml(16384, true, false, '')",
    "select table_to_xml('16384', true, false, '')",
    "select table_to_xml(relname::regclass, true, false, '') from pg_class",
    "select table_to_xml(nulls => true, tbl => 'x' || 'y', tableforest => false, targetns => '')",
    "select query_to_xml(format('select * from %I', 'customers'), true, false, '')",
    "select schema_to_xml('public', true, false, '')",
    "select database_to_xml(true, false, '')",
    "select cursor_to_xml('c', 10, true, false, '')",
    "copy (select table_to_xml($1, true, false, '')) to stdout",
  ]) {
    const all = ops(sql);
    assert.ok(
      all.some((o) => o.unresolved && o.unresolvedReason),
      sql,
    );
  }
  // Metadata functions that take a regclass read no rows.
  assert.ok(!ops("select pg_relation_size('customers'::regclass)")[0].unresolved);
  assert.deepEqual(ops("select pg_relation_size('customers'::regclass)")[0].reads, []);
});

test('writes to catalog relations are catalog-write, qualified or not', () => {
  const cls = (sql: string) => ops(sql).map((o) => o.class);
  for (const sql of [
    "update pg_settings set setting = 'x' where name = 'search_path'",
    "update pg_catalog.pg_class set relname = 'x' where oid = 1",
    'update "pg_catalog"."pg_attribute" set attnotnull = false',
    'delete from pg_constraint where conname = $$c$$',
    'delete from demo.pg_catalog.pg_constraint',
    "insert into information_schema.sql_features values ('x')",
    'truncate pg_catalog.pg_statistic',
    'copy pg_class from stdin',
    'with x as (update pg_class set relname = relname returning 1) select * from x',
    'merge into pg_catalog.pg_class c using (select 1 as a) s on false when not matched then do nothing',
  ]) {
    assert.ok(cls(sql).includes('catalog-write'), `${sql}: ${cls(sql)}`);
    assert.ok(!cls(sql).some((c) => ['insert', 'update', 'delete', 'truncate', 'merge', 'copy-from'].includes(c)), sql);
  }
  assert.deepEqual(cls('lock pg_catalog.pg_class; lock pg_attribute in access exclusive mode'), ['catalog-write', 'catalog-write']);
  assert.deepEqual(cls('lock customers'), ['lock']);
  assert.deepEqual(cls('update customers set email = 1'), ['update']);
  assert.deepEqual(cls('select * from pg_class'), ['select']);
});

test('UPDATE pg_settings names the settings it changes, or * when it cannot tell', () => {
  const settings = (sql: string) => ops(sql)[0].settings;
  assert.deepEqual(settings("update pg_settings set setting = 'x' where name = 'search_path'"), ['search_path']);
  assert.deepEqual(settings("update pg_catalog.pg_settings set setting = 'x' where name in ('work_mem', 'application_name') and true"), [
    'work_mem',
    'application_name',
  ]);
  assert.deepEqual(settings("update pg_settings set setting = 'x' where name = 'work_mem' or true"), ['*']);
  assert.deepEqual(settings("update pg_settings set setting = 'x'"), ['*']);
  assert.deepEqual(settings("update pg_settings set setting = 'x' where name = lower('SEARCH_PATH')"), ['*']);
});

test('COPY with a server file is copy-file, apart from STDIN/STDOUT and PROGRAM', () => {
  const cls = (sql: string) => ops(sql).map((o) => o.class);
  assert.deepEqual(cls("copy customers to '/tmp/x'"), ['copy-file']);
  assert.deepEqual(cls("copy (select * from customers) to '/tmp/x' with (format csv)"), ['copy-file']);
  assert.deepEqual(cls("copy customers from '/tmp/x'"), ['copy-file']);
  assert.deepEqual(cls("copy pg_class from '/tmp/x'"), ['copy-file', 'catalog-write']);
  assert.deepEqual(cls('copy customers to stdout; copy customers from stdin'), ['copy-to', 'copy-from']);
  assert.deepEqual(cls("copy customers to program 'cat'"), ['copy-program']);
  assert.deepEqual(ops("copy customers to '/tmp/x'")[0].reads, [{ name: 'customers' }]);
});

test('statistics views hold sampled values of every table: an unresolved read', () => {
  for (const sql of [
    "select most_common_vals from pg_stats where tablename = 'customers'",
    'select * from pg_catalog.pg_stats_ext',
    'select * from pg_statistic',
    'select stxdmcv from pg_statistic_ext_data',
  ]) {
    assert.ok(
      ops(sql).some((o) => o.unresolved),
      sql,
    );
  }
  // The metadata psql's \d reads is not statistics data.
  assert.ok(!ops('select stxname from pg_catalog.pg_statistic_ext')[0].unresolved);
  assert.ok(!ops('select * from public.pg_stats')[0].unresolved, 'a user table of that name in another schema');
});

test('the arguments of EXECUTE are an operation of their own, apart from the unresolved execute', () => {
  const all = ops("execute p(table_to_xml('customers', true, false, ''), (select email from customers limit 1))");
  assert.deepEqual(
    all.map((o) => [o.class, o.unresolved === true]),
    [
      ['execute', true],
      ['select', false],
    ],
  );
  assert.deepEqual(all[1].functions.map(q), ['table_to_xml']);
  assert.deepEqual(all[1].reads.map(q).sort(), ['customers', 'customers']);
  assert.deepEqual(
    ops('execute p').map((o) => o.class),
    ['execute'],
  );
});

test('a write that returns or filters rows reads its target too; a blind write does not', () => {
  assert.deepEqual(ops("update customers set country = 'FR' where id = 1 returning email")[0].reads, [{ name: 'customers' }]);
  assert.deepEqual(ops('delete from customers where email like $1')[0].reads, [{ name: 'customers' }]);
  assert.deepEqual(ops('insert into customers (id) values (1) returning email')[0].reads, [{ name: 'customers' }]);
  assert.deepEqual(ops("update customers set country = 'FR'")[0].reads, []);
  assert.deepEqual(ops('insert into customers (id) values (1)')[0].reads, []);
});
