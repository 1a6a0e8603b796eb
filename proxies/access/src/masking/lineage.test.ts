import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initSqlParser, parsePostgres } from '../policy/sql-parser.ts';
import { analyseLineage, forcedColumns, type LineageCatalog, type LineageSpec, type OutputSlot } from './lineage.ts';

await initSqlParser();

const SPEC: LineageSpec = { columns: ['email', 'customers.card_number'] };

function run(sql: string, spec: LineageSpec = SPEC, catalog?: LineageCatalog) {
  const p = parsePostgres(sql);
  if (!p.ok) throw new Error(`${sql}: ${p.message}`);
  return analyseLineage(p.tree, spec, catalog);
}

// shape renders the first statement's slots as `c` (clear), `p` (plain), `d` (derived) per
// column and `*`, `*p`, `*d` for expansions (`n` suffix: not by name).
function shape(sql: string, spec?: LineageSpec, catalog?: LineageCatalog): string {
  const v = run(sql, spec, catalog);
  if (v.kind === 'refuse') return `REFUSE: ${v.reason}`;
  const st = v.statements[0];
  const slots = st.defines ? st.defines.inner.slots : st.slots;
  return slots.map(render).join(' ');
}
function render(s: OutputSlot): string {
  const l = s.lineage[0];
  if (s.kind === 'column') return l;
  return `*${l === 'c' ? '' : l}${s.byName ? '' : 'n'}`;
}

const OUTPUTS: [string, string][] = [
  // plain references and aliases
  ['select id, name, email from customers where id = 1', 'c c p'],
  ['select email as e from customers', 'p'],
  ['select c.email as e, c.id from customers c', 'p c'],
  ['select public.customers.email from public.customers', 'p'],
  ['select "email" from customers', 'p'],
  ['select card_number from customers', 'p'],
  ['select card_number from orders', 'c'], // the rule names customers.card_number only
  ['select count(*) from customers', 'c'],
  ['select * from customers', '*p'],
  ['select c.* from customers c', '*p'],
  // every transformation is derived
  ["select replace(email, '@', '#') from customers", 'd'],
  ["select translate(email, 'abc', 'xyz') from customers", 'd'],
  ["select encode(convert_to(card_number, 'UTF8'), 'base64') from customers", 'd'],
  ["select encode(convert_to(card_number, 'UTF8'), 'hex') from customers", 'd'],
  ['select reverse(card_number) from customers', 'd'],
  ['select substr(card_number, 1, 8), substr(card_number, 9) from customers', 'd d'],
  ["select email || '' from customers", 'd'],
  ['select email::text from customers', 'd'],
  ['select email::varchar(200) from customers', 'd'],
  ['select upper(e) from (select email as e from customers) s', 'd'],
  ["select string_agg(email, ',') from customers", 'd'],
  ["select string_agg(name, ',' order by email) from customers", 'd'],
  ['select count(email), count(distinct email), max(email) from customers', 'd d d'],
  ['select row_to_json(c) from customers c', 'd'],
  ['select to_jsonb(c.*) from customers c', 'd'],
  ['select c::text from customers c', 'd'],
  ['select customers::text from customers', 'd'],
  ['select (c).email from customers c', 'd'],
  ['select row(email, 1) from customers', 'd'],
  ['select array[email] from customers', 'd'],
  ['select coalesce(email, name) from customers', 'd'],
  ["select email like 'a%' from customers", 'd'],
  ['select email is null from customers', 'd'],
  ['select lag(email) over () from customers', 'd'],
  ['select id, rank() over () from customers', 'c c'],
  // subqueries, CTEs, derived tables, set operations, lateral, joins
  ['select x.e from (select email e from customers) x', 'p'],
  ['select * from (select id, upper(email) as u from customers) x', 'c d'],
  ['with t as (select email as m from customers) select m from t', 'p'],
  ['with t as (select lower(email) as m from customers) select * from t', 'd'],
  ['with t(a) as (select email from customers) select a from t', 'p'],
  ['with recursive r(a, n) as (select email, 1 from customers union all select a, n + 1 from r where n < 3) select n, a from r', 'c p'],
  ['select (select email from customers limit 1)', 'd'],
  ['select id, (select max(email) from customers c2) from orders', 'c d'],
  ['select array(select email from customers)', 'd'],
  ['select id from customers union all select 1', 'c'],
  ['select name from customers union all select email from customers', 'p'],
  ['select o.total, email from orders o join customers c on c.id = o.customer_id', 'c p'],
  ['select email from orders o, customers c', 'p'], // ambiguous: any relation may own it
  ['select email from orders', 'p'], // without a catalog, orders may have an email column
  ['select x.u from customers c, lateral (select upper(c.email) as u) x', 'd'],
  ['select 1 from customers', 'c'],
  ['select id, * from customers order by 1', 'c *p'],
  ['table customers', '*p'],
  // column aliases over `*` rename columns: names no longer tell, so positions do
  ['select * from customers as c(a, b, x)', '*dn'],
  ['select x from customers as c(a, b, x)', 'd'],
  ['select * from (select * from customers) s(a, b, x)', '*dn'],
  ['with t(a, b, x) as (select * from customers) select * from t', '*dn'],
  ['select * from (select id, email from customers) s(a, b)', 'c p'],
  ['values (1), (2)', 'c'],
  // RETURNING is an output like any other
  ["update customers set name = 'x' where id = 1 returning id, email", 'c p'],
  ["insert into customers (id, email) values (9, 'z@example.com') returning upper(email)", 'd'],
  ['delete from customers where id = 3 returning *', '*p'],
  // PREPARE / DECLARE: the lineage of what they define
  ['prepare p as select upper(email) from customers', 'd'],
  ['declare k cursor for select id, email from customers', 'c p'],
];

for (const [sql, want] of OUTPUTS) {
  test(`lineage of: ${sql}`, () => {
    assert.equal(shape(sql), want);
  });
}

// Each refusal names the column and the construct.
const REFUSALS: [string, RegExp][] = [
  ["select 1 from customers where email = 'x'", /masked column customers\.email is used in WHERE/],
  ["select id from customers where email like 'a%'", /email is used in WHERE/],
  ["select id from customers where md5(card_number) = 'abc'", /customers\.card_number is used in WHERE/],
  ['select id from customers order by email', /email is used in ORDER BY/],
  ['select email from customers order by 1', /email is used in ORDER BY/],
  ['select email as e from customers order by e', /email is used in ORDER BY/],
  ['select * from customers order by 1', /email is used in ORDER BY/], // which column is 1 is unknown without the catalog
  ['select count(*) from customers group by email', /email is used in GROUP BY/],
  ['select count(*) from customers group by rollup (email)', /email is used in GROUP BY/],
  ["select count(*) from customers having max(email) > 'm'", /email is used in HAVING/],
  ['select distinct on (email) id from customers', /email is used in DISTINCT ON/],
  ['select id from customers c join orders o on o.note = c.email', /email is used in JOIN ... ON/],
  ['select id from customers join other using (email)', /email is used in JOIN ... USING/],
  ['select id from customers natural join orders', /NATURAL JOIN/],
  ['select rank() over (partition by email) from customers', /email is used in a window PARTITION BY/],
  ['select rank() over w from customers window w as (order by card_number)', /card_number is used in a window ORDER BY/],
  ['select id from customers limit (select length(max(email)) from customers)', /email is used in LIMIT/],
  ["select case when email like 'a%' then 1 else 0 end from customers", /email is used in a CASE WHEN condition/],
  ["select case email when 'x' then 1 end from customers", /email is used in a CASE comparison/],
  ["select count(*) filter (where email like 'a%') from customers", /email is used in the FILTER clause of count/],
  ["select email from customers intersect select 'a@example.com'", /email is used in INTERSECT/],
  ["select email from customers except select 'a@example.com'", /email is used in EXCEPT/],
  ["select email from customers union select 'a@example.com'", /email is used in UNION/],
  ["select exists (select 1 from customers where email = 'a@x')", /email is used in WHERE/],
  ["select id from orders where customer_id in (select id from customers where email like 'a%')", /email is used in WHERE/],
  ["delete from customers where email = 'a@x'", /email is used in the WHERE clause of DELETE/],
  ['update orders set total = 0 where note = (select max(email) from customers)', /email is used in the WHERE clause of UPDATE/],
  // casts that can fail quote the value in their error
  ['select email::int from customers', /email is cast to int4; that cast can fail/],
  ['select card_number::numeric + 1 from customers', /card_number is cast to numeric/],
  ['select card_number::bytea from customers', /card_number is cast to bytea/],
  ['select email::jsonb from customers', /cast to jsonb/],
  ['select int4(email) from customers', /passed to int4\(\), which can fail/],
  ['select email::regclass from customers', /cast to regclass/],
  // side channels
  ["select pg_notify('ch', email) from customers", /passed to pg_notify\(\), whose effect is visible outside the result/],
  ["select set_config('application_name', email, false) from customers", /passed to set_config\(\)/],
  ['select pg_sleep(length(email)) from customers', /passed to pg_sleep\(\)/],
  ["select setval('s', length(card_number)) from customers", /passed to setval\(\)/],
  // DML that copies masked values elsewhere
  ['insert into leak select email from customers', /INSERT into leak would copy the masked column customers\.email/],
  ['insert into leak (a) values ((select max(email) from customers))', /INSERT into leak would copy the masked column customers\.email/],
  ['insert into leak select * from customers', /INSERT into leak would copy the masked column/],
  ['update orders set note = (select max(email) from customers)', /UPDATE of orders would copy the masked column customers\.email/],
  ['update customers set name = email', /UPDATE of customers would copy the masked column customers\.email/],
  ['create table leak as select email from customers', /CREATE TABLE AS would write the masked column customers\.email out unmasked/],
  ['select email into leak from customers', /SELECT INTO would write the masked column customers\.email/],
  ['copy (select upper(email) from customers) to stdout', /COPY would write the masked column customers\.email out unmasked/],
  ['copy (select * from customers) to stdout', /COPY would write the masked column/],
  ['copy customers to stdout', /COPY of customers would send the masked column/],
  ['copy customers (email) to stdout', /COPY of customers would send the masked column customers\.email/],
  // row counts that depend on a masked value are predicates too
  ["select c.id from customers c, regexp_matches(c.email, '^a') m", /email is used in the set-returning function regexp_matches/],
  ['select u from customers c cross join lateral unnest(array[c.email]) as u(u)', /email is used in the set-returning function unnest/],
  ['select x from customers c, lateral my_srf(c.email) x', /email is used in a function in FROM|email is passed to my_srf\(\), which can fail/],
  // An unknown function may fail on some values; whether it fails would tell the value.
  ['select my_unknown_function(id, email) from customers', /email is passed to my_unknown_function\(\), which can fail on some values/],
  ['select 1/(length(email)-26) from customers', /operand of -, which can fail/],
  ["select 1/(position('ame' in email)-1) from customers", /operand of -, which can fail/],
  ['select sqrt(length(email)) from customers', /passed to sqrt\(\), which can fail/],
  ['select make_date(2000, 1, length(email)) from customers', /passed to make_date\(\), which can fail/],
  ["select encode(convert_to(email, 'LATIN1'), 'hex') from customers", /passed to convert_to\(\), which can fail/],
  ["select id, regexp_matches(email, '^a') from customers", /email is used in the set-returning function regexp_matches\(\)/],
  ['select id, generate_series(1, length(card_number)) from customers', /card_number is used in the set-returning function generate_series/],
  ['select distinct email from customers', /email is used in SELECT DISTINCT/],
  ['select distinct * from customers', /is used in SELECT DISTINCT/],
  ['merge into orders o using customers c on o.note = c.email when matched then do nothing', /MERGE over masked columns/],
  ['explain analyze select id from customers where email = $1', /email is used in WHERE/],
];

for (const [sql, want] of REFUSALS) {
  test(`refused: ${sql}`, () => {
    const v = run(sql);
    assert.equal(v.kind, 'refuse', `expected a refusal, got ${JSON.stringify(v)}`);
    assert.match((v as { reason: string }).reason, want);
  });
}

test('statements that do not read masked columns pass and do not touch them', () => {
  for (const sql of [
    'select id, name from customers where id = 1',
    "update customers set email = 'new@example.com' where id = 1",
    'select count(*) from customers',
    'copy (select id from customers) to stdout',
    "insert into customers (id, email) values (1, 'x@example.com')",
  ]) {
    const v = run(sql);
    assert.equal(v.kind, 'ok', sql);
    assert.equal(v.kind === 'ok' && v.touches, false, sql);
  }
  const t = run('select upper(email) from customers');
  assert.ok(t.kind === 'ok' && t.touches);
});

test('a per-rule switch allows predicates on its columns, and only on those', () => {
  const allow: LineageSpec = { columns: ['email', 'customers.card_number'], allowPredicates: ['email'] };
  assert.equal(shape("select id from customers where email like 'a%' order by email", allow), 'c');
  assert.equal(shape('select * from customers c, lateral unnest(array[c.email]) u', allow), '*p *dn');
  assert.equal(shape('select distinct email from customers', allow), 'p');
  assert.match(shape("select id from customers where card_number like '4%'", allow), /^REFUSE: .*card_number is used in WHERE/);
  // The switch does not open side channels or failing casts.
  assert.match(shape('select email::int from customers', allow), /cast to int4/);
  // A column masked by two globs needs both to allow it.
  const both: LineageSpec = { columns: ['email', 'customers.email'], allowPredicates: ['email'] };
  assert.match(shape("select 1 from customers where email = 'x'", both), /^REFUSE/);
});

test('a catalog resolves ambiguous columns and expands stars to exact positions', () => {
  const catalog: LineageCatalog = {
    columnsOf: (r) => ({ customers: ['id', 'name', 'email', 'card_number'], orders: ['id', 'customer_id', 'total'] })[r.name],
  };
  // Without the catalog `email` of orders would be masked; with it, orders has none.
  assert.equal(shape('select email from orders', SPEC), 'p');
  assert.equal(shape('select email from orders', SPEC, catalog), 'c');
  assert.equal(shape('select * from customers', SPEC, catalog), 'c c p p');
  assert.equal(shape('select o.* , c.email from orders o join customers c on c.id = o.customer_id', SPEC, catalog), 'c c c p');
  assert.equal(shape('select id from orders where email is not null', SPEC, catalog), 'c'); // no such column: the server fails
});

test('EXECUTE and FETCH are resolved elsewhere; PREPARE and DECLARE carry the lineage', () => {
  const e = run('execute p(1)');
  assert.ok(e.kind === 'ok');
  assert.deepEqual(e.statements[0].indirect, { kind: 'prepared', name: 'p' });
  const f = run('fetch 10 from k');
  assert.ok(f.kind === 'ok');
  assert.deepEqual(f.statements[0].indirect, { kind: 'cursor', name: 'k' });
  assert.match(shape('prepare q as select 1 from customers where email = $1'), /^REFUSE: .*WHERE/);
});

test('forcedColumns places slots on the RowDescription, masking everything when it cannot', () => {
  const col = (lineage: 'clear' | 'plain' | 'derived'): OutputSlot => ({ kind: 'column', name: 'x', lineage, sources: [] });
  const exp = (lineage: 'clear' | 'plain' | 'derived', byName: boolean): OutputSlot => ({ kind: 'expansion', relation: 't', lineage, byName, sources: [] });
  assert.deepEqual(forcedColumns([col('clear'), col('derived'), col('plain')], 3), [
    { position: 1, lineage: 'derived' },
    { position: 2, lineage: 'plain' },
  ]);
  // `*` of a base table (by name) in front of a derived column: placed from the end.
  assert.deepEqual(forcedColumns([exp('plain', true), col('derived')], 5), [{ position: 4, lineage: 'derived' }]);
  assert.deepEqual(forcedColumns([col('derived'), exp('plain', true), col('clear')], 5), [{ position: 0, lineage: 'derived' }]);
  // A derived expansion of unknown width: every column it covers.
  assert.deepEqual(forcedColumns([col('clear'), exp('derived', false)], 3), [
    { position: 1, lineage: 'derived' },
    { position: 2, lineage: 'derived' },
  ]);
  // Two expansions around a derived column, or a count that does not fit: everything.
  assert.equal(forcedColumns([exp('clear', true), col('derived'), exp('clear', true)], 4).length, 4);
  assert.equal(forcedColumns([col('clear'), col('derived')], 3).length, 3);
  assert.deepEqual(forcedColumns([exp('plain', true)], 4), []);
});

test('the analysis never throws on the SQL corpus (every statement: an answer, not a crash)', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { parse } = await import('yaml');
  const { FIXTURES_DIR } = await import('../../../../test/fixtures/policies.ts');
  const corpus = parse(readFileSync(join(FIXTURES_DIR, 'sql-corpus.yaml'), 'utf8')) as { cases: { sql: string }[] };
  let analysed = 0;
  for (const { sql } of corpus.cases) {
    const p = parsePostgres(sql);
    if (!p.ok) continue;
    for (const spec of [SPEC, { columns: ['*'] }, { columns: ['public.customers.*'], allowPredicates: ['public.customers.*'] }]) {
      const v = analyseLineage(p.tree, spec);
      assert.ok(v.kind === 'ok' || (v.kind === 'refuse' && v.reason.length > 0), sql);
      analysed++;
    }
  }
  assert.ok(analysed >= 600, `only ${analysed}`);
});
