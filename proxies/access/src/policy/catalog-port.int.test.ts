// The pg_catalog adapter of the catalog port against a real PostgreSQL: which schema of the path
// really holds a name, views resolved to the tables under them (views over views too), and the
// snapshot driving evaluate so a read through a view of customers is masked.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startPostgres, stopPostgres, type PostgresInstance } from '../../../../test/services/postgres.ts';
import { pgCatalog } from './adapters/pg-catalog.ts';
import { mayChangeResolution, prefetchCatalog, RESOLUTION_QUERY, resolutionFromRow } from './catalog-port.ts';
import { SqlClassifier } from './classify-sql.ts';
import { evaluate } from './evaluate.ts';
import { parsePolicy } from './load-policy.ts';
import { resolveRelation } from './resolve-names.ts';
import { initSqlParser, parsePostgres } from './sql-parser.ts';

let server: PostgresInstance;
let client: pg.Client;
before(async () => {
  server = await startPostgres();
  await initSqlParser();
  client = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    ssl: { ca: readFileSync(server.caFile, 'utf8') },
  });
  await client.connect();
  await client.query(`
    DROP SCHEMA IF EXISTS cat_test CASCADE;
    CREATE SCHEMA cat_test;
    CREATE TABLE cat_test.people (id int, email text);
    CREATE VIEW cat_test.v_people AS SELECT id, email AS contact FROM cat_test.people;
    CREATE VIEW cat_test.v_v AS SELECT contact FROM cat_test.v_people;
    CREATE MATERIALIZED VIEW cat_test.m_people AS SELECT email FROM cat_test.people;`);
});
after(async () => {
  await client?.query('DROP SCHEMA IF EXISTS cat_test CASCADE').catch(() => {});
  await client?.end();
  await stopPostgres();
});

test('RESOLUTION_QUERY gives the session database, login and search_path', async () => {
  const { rows } = await client.query(RESOLUTION_QUERY);
  const ctx = resolutionFromRow(rows[0]);
  assert.deepEqual(ctx, { database: server.database, searchPath: ['$user', 'public'], user: server.user });
});

test('lookup finds relations with their kind, views with the relations under them; absent names are absent', async () => {
  const cat = pgCatalog((t, v) => client.query(t, [...v]), { now: () => 0 });
  const rels = await cat.lookup([
    { schema: 'cat_test', name: 'people' },
    { schema: 'cat_test', name: 'v_people' },
    { schema: 'cat_test', name: 'm_people' },
    { schema: 'public', name: 'people' },
  ]);
  const by = new Map(rels.map((r) => [r.name, r]));
  assert.equal(rels.length, 3);
  assert.equal(by.get('people')!.kind, 'table');
  assert.ok(by.get('people')!.oid > 0);
  assert.deepEqual([by.get('v_people')!.kind, by.get('v_people')!.reads], ['view', [{ schema: 'cat_test', name: 'people' }]]);
  assert.deepEqual([by.get('m_people')!.kind, by.get('m_people')!.reads], ['materialized-view', [{ schema: 'cat_test', name: 'people' }]]);
});

test('a cached name costs no round trip until invalidated', async () => {
  let calls = 0;
  const cat = pgCatalog((t, v) => (calls++, client.query(t, [...v])), { now: () => 0 });
  await cat.lookup([{ schema: 'cat_test', name: 'people' }]);
  await cat.lookup([{ schema: 'cat_test', name: 'people' }]);
  assert.equal(calls, 1);
  cat.invalidate();
  await cat.lookup([{ schema: 'cat_test', name: 'people' }]);
  assert.equal(calls, 2);
});

test('with the catalog, an unqualified name resolves to the one schema holding it, and a view over a view reads the table', async () => {
  const classifier = new SqlClassifier({ parse: parsePostgres });
  const cat = pgCatalog((t, v) => client.query(t, [...v]), { now: () => 0 });
  const base = { database: server.database, searchPath: ['$user', 'public', 'cat_test'], user: server.user };
  const c = classifier.classify('select contact from v_v');
  const snapshot = await prefetchCatalog(cat, c, base);
  const ctx = { ...base, catalog: snapshot };
  const r = resolveRelation({ name: 'v_v' }, ctx);
  assert.deepEqual(r, { kind: 'candidates', candidates: [{ schema: 'cat_test', name: 'v_v' }] });
  const policy = parsePolicy(`
version: 1
rules:
  - { id: mask-people, reason: pii, match: { reads: [cat_test.people] }, action: mask, mask: { columns: [email, contact] } }
  - { id: reads, reason: ok, match: { classes: [select] }, action: allow }
`);
  const d = evaluate(policy, { target: { kind: 'postgres', resource: 'x' }, groups: [], classification: c, resolution: ctx });
  assert.deepEqual([d.action, d.ruleId], ['mask', 'mask-people']);
  // Without the catalog the view's name matches no rule: that is what the port is for.
  assert.equal(evaluate(policy, { target: { kind: 'postgres', resource: 'x' }, groups: [], classification: c, resolution: base }).action, 'allow');
});

test('mayChangeResolution: after SET, DISCARD, set_config or UPDATE pg_settings the session reads the path again', () => {
  const classifier = new SqlClassifier({ parse: parsePostgres });
  for (const sql of [
    'set search_path = x',
    'set local search_path = x',
    'discard all',
    "select set_config('search_path', 'x', false)",
    'reset all',
    'set role x',
    "update pg_settings set setting = 'x' where name = 'search_path'",
    'do $$ begin end $$',
    'select from',
  ]) {
    assert.equal(mayChangeResolution(classifier.classify(sql)), true, sql);
  }
  for (const sql of ['select * from t', 'begin', 'commit', 'update pgbench_accounts set abalance = 1 where aid = 2']) {
    assert.equal(mayChangeResolution(classifier.classify(sql)), false, sql);
  }
});
