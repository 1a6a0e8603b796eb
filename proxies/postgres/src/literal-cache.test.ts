import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { initSqlParser, parsePostgres, SqlClassifier } from '@affidavit/access';
import { isCacheable, LiteralCache, skeleton } from './literal-cache.ts';

before(async () => {
  await initSqlParser();
});

const fresh = () => {
  const classifier = new SqlClassifier({ parse: parsePostgres });
  return { classifier, cache: new LiteralCache(classifier) };
};

test('skeleton replaces standalone integer literals only', () => {
  assert.deepEqual(skeleton('SELECT abalance FROM pgbench_accounts WHERE aid = 4711;'), {
    key: 'SELECT abalance FROM pgbench_accounts WHERE aid = \u0000;',
    literals: ['4711'],
  });
  // digits inside identifiers, fractions, exponents and hex stay part of the key
  assert.deepEqual(skeleton('select t1.a from t1 where x > 1.5 and y < 1e3 and z = 0x1f and w=-7'), {
    key: 'select t1.a from t1 where x > 1.5 and y < 1e3 and z = 0x1f and w=-\u0000',
    literals: ['7'],
  });
});

test('isCacheable refuses texts the scan cannot tokenize for sure', () => {
  assert.equal(isCacheable('select 1'), true);
  for (const t of [
    `select '1'`,
    'select "1" from t',
    'select $1',
    'select 1 -- 2',
    'select /* 1 */ 1',
    "select E'\\x'",
    'select 1\u0000',
    'select \u00e91',
    '',
  ]) {
    assert.equal(isCacheable(t), false, t);
  }
});

test('a shape is parsed once, and each text gets a classification with its own literals', () => {
  const { classifier, cache } = fresh();
  const a = cache.classify('SELECT abalance FROM pgbench_accounts WHERE aid = 4711;');
  const b = cache.classify('SELECT abalance FROM pgbench_accounts WHERE aid = 99;');
  assert.equal(cache.hits, 1);
  assert.equal(b.text, 'SELECT abalance FROM pgbench_accounts WHERE aid = 99;');
  assert.equal(b.statements[0].text, 'SELECT abalance FROM pgbench_accounts WHERE aid = 99');
  assert.deepEqual(
    { ...b, text: '', statements: b.statements.map((s) => ({ ...s, text: '' })) },
    { ...a, text: '', statements: a.statements.map((s) => ({ ...s, text: '' })) },
  );
  assert.deepEqual(b, new SqlClassifier({ parse: parsePostgres }).classify('SELECT abalance FROM pgbench_accounts WHERE aid = 99;'));
  assert.ok(Object.isFrozen(b) && Object.isFrozen(b.statements[0]));
  assert.ok(classifier.stats().misses <= 3);
});

test('EXPLAIN (ANALYZE 0) and (ANALYZE 1) share a shape only because both classify as the DELETE', () => {
  const { cache } = fresh();
  const classes = (c: ReturnType<LiteralCache['classify']>) => c.statements.flatMap((s) => s.operations.map((o) => o.class));
  assert.deepEqual(classes(cache.classify('EXPLAIN (ANALYZE 0) DELETE FROM payments')), ['delete']);
  assert.deepEqual(classes(cache.classify('EXPLAIN (ANALYZE 1) DELETE FROM payments')), ['delete']);
});

test('a shape whose meaning depends on a literal value is never reused', () => {
  // A classifier that reads a literal (as a classifier may for an option given as a number).
  const real = new SqlClassifier({ parse: parsePostgres });
  const literalSensitive = {
    classify(sql: string) {
      const c = real.classify(sql);
      return / 0$/.test(sql) ? { ...c, statements: c.statements.map((s) => ({ ...s, nodeType: 'ZeroStmt' })) } : c;
    },
  };
  const cache = new LiteralCache(literalSensitive);
  cache.classify('select a from t where b = 5');
  const zero = cache.classify('select a from t where b = 0');
  assert.equal(cache.hits, 0);
  assert.equal(zero.statements[0].nodeType, 'ZeroStmt');
  // a shape that does not depend on it is reused
  cache.classify('select a from u where b = 5 and c = 6 order by a');
  cache.classify('select a from u where b = 7 and c = 8 order by a');
  assert.equal(cache.hits, 1);
});

test('multi-statement texts are not reused', () => {
  const { cache } = fresh();
  cache.classify('select 1; select 2');
  const c = cache.classify('select 3; select 4');
  assert.equal(cache.hits, 0);
  assert.equal(c.statements.length, 2);
});

test('property: the cache answers exactly what the classifier answers', () => {
  const { cache } = fresh();
  const reference = new SqlClassifier({ parse: parsePostgres });
  const templates = [
    'SELECT abalance FROM pgbench_accounts WHERE aid = #;',
    'select * from secrets where id = #',
    'EXPLAIN (ANALYZE #) DELETE FROM payments WHERE id = #',
    'update payments set amount = # where id=#',
    'select pg_terminate_backend(#)',
    'select # from customers limit #',
    'select #; delete from payments where id = #',
  ];
  fc.assert(
    fc.property(fc.constantFrom(...templates), fc.array(fc.nat({ max: 3 }).map(String), { minLength: 2, maxLength: 2 }), (tpl, lits) => {
      let i = 0;
      const sql = tpl.replace(/#/g, () => lits[i++]);
      assert.deepEqual(cache.classify(sql), reference.classify(sql));
    }),
    { numRuns: 300 },
  );
  assert.ok(cache.hits > 0);
});
