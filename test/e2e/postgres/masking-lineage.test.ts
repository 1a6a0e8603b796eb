// Masking by lineage through real clients against real PostgreSQL (issue #15 class 4): values
// an analyst transforms in SQL (replace, translate, base64/hex, substring splits, reverse,
// casts, aggregates, whole-row references) come back masked whole; what masking cannot hide
// (predicates, side channels, failing casts) is refused; error texts that quote values are
// withheld. The e2e policy masks customers.email/card_number (predicates denied) and
// leads.email (predicates allowed).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { stopPostgres } from '../../services/postgres.ts';
import { commandsOf, startRig, waitFor, type Rig } from './harness.ts';

const EMAIL = 'ada@example.com';
const CARD = '4111111111111111';
// Every form of the clear values a leak could take: whole, transformed, or a piece of them.
const LEAKS = [
  EMAIL,
  'ada',
  'example',
  CARD,
  '41111111',
  '11111111',
  'moc.elpmaxe',
  Buffer.from(EMAIL).toString('base64'),
  Buffer.from(CARD).toString('base64').slice(0, 12),
  Buffer.from(CARD).toString('hex').slice(0, 12),
  'ada#example',
  'bob@example.com',
];

let rig: Rig;
before(async () => {
  rig = await startRig();
  const r = await rig.psql([
    '-c',
    "CREATE TABLE IF NOT EXISTS customers (id int PRIMARY KEY, name text, email text, card_number text); DELETE FROM customers; INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '4111111111111111'), (2, 'Bob', 'bob@example.com', NULL)",
    '-c',
    "CREATE TABLE IF NOT EXISTS leads (id int PRIMARY KEY, email text); DELETE FROM leads; INSERT INTO leads VALUES (1, 'ann@example.org'), (2, 'zed@example.org')",
  ]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await rig?.close();
  await stopPostgres();
});

function assertNoLeak(out: string, what: string): void {
  for (const l of LEAKS) assert.equal(out.includes(l), false, `${what} leaked ${JSON.stringify(l)}: ${out}`);
}

// Each of these returned clear values before lineage: now every value is the mask (or NULL).
const MASKED = [
  "SELECT replace(email, '@', '#') FROM customers",
  "SELECT translate(email, 'abcdefghijklmnopqrstuvwxyz', 'bcdefghijklmnopqrstuvwxyza') FROM customers",
  "SELECT encode(convert_to(email, 'UTF8'), 'base64') FROM customers",
  "SELECT encode(convert_to(card_number, 'UTF8'), 'hex') FROM customers",
  "SELECT encode(convert_to(card_number, 'UTF8'), 'base64') FROM customers",
  'SELECT substr(card_number, 1, 8) FROM customers',
  'SELECT substr(card_number, 9) FROM customers',
  'SELECT reverse(card_number) FROM customers',
  'SELECT email AS e FROM customers',
  'SELECT row_to_json(c) FROM customers c',
  'SELECT c::text FROM customers c',
  'SELECT customers::text FROM customers',
  "SELECT string_agg(email, ',') FROM customers",
  'SELECT x.m FROM (SELECT lower(email) AS m FROM customers) x',
  'WITH t AS (SELECT upper(card_number) AS u FROM customers) SELECT u FROM t',
  "SELECT nullif(email, 'ada@example.com') FROM customers",
];

for (const sql of MASKED) {
  test(`psql: ${sql} returns no clear value`, async () => {
    const r = await rig.psql(['-X', '-A', '-t', '-c', sql]);
    assert.equal(r.code, 0, r.stderr);
    assertNoLeak(r.stdout, sql);
    // One value per row, each the mask (a JSON string for json results); NULLs of derived columns too.
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    assert.ok(lines.length >= 1, `${sql}: no rows`);
    for (const line of lines) assert.match(line, /^("?)\*{8}\1$/, `${sql}: ${r.stdout}`);
  });
}

// Derived values of types that cannot carry a mask (bytea, numbers) come back as NULL, every row.
for (const sql of ['SELECT convert_to(card_number, $$UTF8$$) FROM customers', 'SELECT length(email) AS n FROM customers']) {
  test(`psql: ${sql} returns NULL for every row`, async () => {
    const r = await rig.psql(['-X', '-A', '-t', '-P', 'null=NULL', '-c', sql]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['NULL', 'NULL']);
  });
}

// These cannot be masked in the result: refused, naming the rule, the column and the construct.
const REFUSED: [string, RegExp][] = [
  ['SELECT email::int FROM customers', /customers\.email is cast to int4; that cast can fail/],
  ['SELECT card_number::numeric + 1 FROM customers', /card_number is cast to numeric/],
  ['SELECT card_number::bytea FROM customers', /card_number is cast to bytea/],
  ["SELECT pg_notify('leak', email) FROM customers", /passed to pg_notify\(\), whose effect is visible outside the result/],
  // Whether a statement fails is an answer about the value: what can fail on some values is refused.
  ['SELECT length(card_number) * 1 FROM customers', /operand of \*, which can fail/],
  ['SELECT date_trunc(email, now()) FROM customers', /passed to date_trunc\(\), which can fail/],
  ['SELECT noisy(email) FROM customers', /passed to noisy\(\), which can fail/],
  ["SELECT id FROM customers WHERE email LIKE 'a%'", /customers\.email is used in WHERE/],
  ["SELECT id FROM customers WHERE md5(card_number) = md5('4111111111111111')", /card_number is used in WHERE/],
  ['SELECT 1 FROM customers WHERE email = $$ada@example.com$$', /email is used in WHERE/],
  ['SELECT id FROM customers ORDER BY email', /email is used in ORDER BY/],
  ['SELECT count(*) FROM customers GROUP BY email', /email is used in GROUP BY/],
  ["SELECT id, regexp_matches(email, '^a') FROM customers", /email is used in the set-returning function regexp_matches/],
  ['SELECT DISTINCT email FROM customers', /email is used in SELECT DISTINCT/],
  ["SELECT id, CASE WHEN email LIKE 'a%' THEN 1 END FROM customers", /email is used in a CASE WHEN condition/],
  // leads.email alone allows predicates, but the same glob masks customers.email, which does not.
  ['SELECT id FROM customers c JOIN leads l ON l.email = c.email', /(customers|leads)\.email is used in JOIN ... ON/],
];

test('psql: set_config with a masked value is refused before the server runs it', async () => {
  const r = await rig.psql(['-X', '-A', '-t', '-c', "SELECT set_config('application_name', email, false) FROM customers"]);
  assert.notEqual(r.code, 0, r.stdout);
  // The proxy refuses every set_config call (it may change how the server reads statements).
  assert.match(r.stderr, /parser-setting/);
  assertNoLeak(r.stdout + r.stderr, 'set_config');
});

for (const [sql, reason] of REFUSED) {
  test(`psql: ${sql} is refused`, async () => {
    const m = rig.mark();
    const r = await rig.psql(['-X', '-A', '-t', '-c', sql]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /policy rule "mask-customer-pii" masks columns/);
    assert.match(r.stderr, reason);
    assert.match(r.stderr, /AFF_E_PG_MASK_LINEAGE/);
    assertNoLeak(r.stdout + r.stderr, sql);
    await waitFor(() => commandsOf(rig.since(m)).find((c) => c.text === sql && c.outcome === 'blocked'), `CommandBlocked for ${sql}`);
    const blocked = commandsOf(rig.since(m)).find((c) => c.text === sql)!;
    assert.ok(blocked.event?.type === 'CommandBlocked');
    assert.equal(blocked.event.ruleId, 'mask-customer-pii');
    assert.match(blocked.event.reason, reason);
  });
}

test('psql: the demo reads still work (plain masking, clear columns, count(*))', async () => {
  const all = await rig.psql(['-X', '-A', '-t', '-c', 'SELECT * FROM customers ORDER BY id']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(all.stdout.trim(), '1|Ada|********|********\n2|Bob|********|');
  const one = await rig.psql(['-X', '-A', '-t', '-c', 'SELECT id, name, email FROM customers WHERE id = 1']);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stdout.trim(), '1|Ada|********');
  const count = await rig.psql(['-X', '-A', '-t', '-c', 'SELECT count(*) FROM customers']);
  assert.equal(count.code, 0, count.stderr);
  assert.equal(count.stdout.trim(), '2');
  const mixed = await rig.psql(['-X', '-A', '-t', '-c', 'SELECT id, upper(name), reverse(email) AS r FROM customers WHERE id = 1']);
  assert.equal(mixed.code, 0, mixed.stderr);
  assert.equal(mixed.stdout.trim(), '1|ADA|********');
});

test('psql: column aliases over * (renamed columns) are masked by position, not by name', async () => {
  for (const sql of [
    'SELECT * FROM customers AS c(a, b, x, y) ORDER BY 1',
    'SELECT x FROM customers AS c(a, b, x)',
    'WITH t(a, b, x, y) AS (SELECT * FROM customers) SELECT * FROM t',
  ]) {
    const r = await rig.psql(['-X', '-A', '-t', '-c', sql]);
    assertNoLeak(r.stdout + r.stderr, sql);
    if (r.code === 0) assert.match(r.stdout, /\*{8}/, sql);
    else assert.match(r.stderr, /AFF_E_PG_MASK_LINEAGE/, sql);
  }
});

test('psql: a predicate on a column whose rule allows predicates runs, its values still masked', async () => {
  const r = await rig.psql(['-X', '-A', '-t', '-c', "SELECT id, email FROM leads WHERE email LIKE 'a%' ORDER BY email"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '1|********');
  const d = await rig.psql(['-X', '-A', '-t', '-c', 'SELECT upper(email) FROM leads WHERE id = 2']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.stdout.trim(), '********');
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: rig.port,
    user: 'alice',
    database: 'app',
    password: await rig.token(),
    ssl: { ca: readFileSync(rig.caFile, 'utf8') },
  });
  await c.connect();
  return c;
}

test('node-postgres: an error that quotes a masked value keeps its SQLSTATE and loses its text', async () => {
  // date_trunc's error quotes its unit argument: `unit "ada" not recognized`. A masked value
  // cannot reach it (refused: it can fail), but a statement that also reads masked columns has
  // every error text withheld, whatever it quotes.
  const direct = await rig.pg.psql(['-X', '-c', 'SELECT email, date_trunc(name, now()) FROM customers WHERE id = 1']);
  assert.match(direct.stderr, /"ada"/, 'the server itself quotes the value');
  const m = rig.mark();
  const c = await client();
  try {
    await assert.rejects(c.query('SELECT email, date_trunc(name, now()) FROM customers'), (e: Error & { code?: string; detail?: string }) => {
      assert.equal(e.code, '22023');
      assert.match(e.message, /withheld because this statement reads columns masked by policy rule "mask-customer-pii"/);
      assert.match(e.message, /AFF_E_PG_MASKED_MESSAGE/);
      assertNoLeak(`${e.message} ${e.detail ?? ''}`, 'the error');
      assert.doesNotMatch(`${e.message} ${e.detail ?? ''}`, /"ada"/i);
      return true;
    });
    // Through psql (simple protocol) too, with the cast refused before it runs.
    const cast = await rig.psql(['-X', '-c', 'SELECT email::int FROM customers']);
    assertNoLeak(cast.stderr, 'email::int');
  } finally {
    await c.end();
  }
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  const done = rig.since(m).find((e) => e.type === 'CommandCompleted' && e.outcome === 'error');
  assert.ok(done?.type === 'CommandCompleted');
  assert.equal(done.errorCode, '22023');
  assertNoLeak(done.errorMessage ?? '', 'the recorded error');
});

test('psql: notices and errors a function raises with a masked value are withheld, SQLSTATE kept', async () => {
  // A function the server runs (an unknown function: derived from all its inputs) that talks.
  const fn = await rig.pg.psql([
    '-X',
    '-c',
    "CREATE OR REPLACE FUNCTION noisy(t text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'saw %', t; RETURN t; END $$",
    '-c',
    "CREATE OR REPLACE FUNCTION angry(t text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'bad ' || t, DETAIL = t, HINT = t; END $$",
  ]);
  assert.equal(fn.code, 0, fn.stderr);
  // A masked value cannot reach them (refused above); a statement that reads masked columns
  // has every notice and error text withheld all the same.
  const n = await rig.psql(['-X', '-A', '-t', '-c', 'SELECT email, noisy(name) FROM customers']);
  assert.equal(n.code, 0, n.stderr);
  assertNoLeak(n.stdout + n.stderr, 'noisy()');
  assert.doesNotMatch(n.stderr, /saw/);
  assert.match(n.stderr, /NOTICE: .*notice text was withheld .*AFF_E_PG_MASKED_MESSAGE/);
  const e = await rig.psql(['-X', '-A', '-t', '-v', 'VERBOSITY=verbose', '-c', 'SELECT email, angry(name) FROM customers']);
  assert.notEqual(e.code, 0);
  assertNoLeak(e.stdout + e.stderr, 'angry()');
  assert.match(e.stderr, /ERROR: {2}P0001: .*error text was withheld/);
  // A function over clear columns keeps its texts.
  const clear = await rig.psql(['-X', '-A', '-t', '-c', 'SELECT noisy(name) FROM customers WHERE id = 1']);
  assert.match(clear.stderr, /NOTICE: {2}saw Ada/);
});

test('node-postgres: derived columns of the extended protocol are masked; predicates refused', async () => {
  const c = await client();
  try {
    const r = await c.query({
      name: 'rev',
      text: "SELECT id, reverse(card_number) AS r, encode(convert_to(email, 'UTF8'), $2) AS b FROM customers WHERE id = $1",
      values: [1, 'base64'],
    });
    assert.deepEqual(r.rows, [{ id: 1, r: '********', b: '********' }]);
    const again = await c.query({
      name: 'rev',
      text: "SELECT id, reverse(card_number) AS r, encode(convert_to(email, 'UTF8'), $2) AS b FROM customers WHERE id = $1",
      values: [2, 'hex'],
    });
    assert.deepEqual(again.rows, [{ id: 2, r: '********', b: '********' }]);
    await assert.rejects(c.query('SELECT id FROM customers WHERE email = $1', [EMAIL]), (e: Error & { code?: string }) => {
      assert.equal(e.code, '42501');
      assert.match(e.message, /customers\.email is used in WHERE/);
      return true;
    });
    // The session goes on after the refusal.
    const n = await c.query('SELECT count(*)::int AS n FROM customers');
    assert.deepEqual(n.rows, [{ n: 2 }]);
  } finally {
    await c.end();
  }
});

test('psql: PREPARE/EXECUTE and DECLARE/FETCH of derived columns are masked by lineage', async () => {
  const r = await rig.psql([
    '-X',
    '-A',
    '-t',
    '-c',
    'PREPARE p AS SELECT id, reverse(email) FROM customers ORDER BY id',
    '-c',
    'EXECUTE p',
    '-c',
    'BEGIN',
    '-c',
    'DECLARE k CURSOR FOR SELECT upper(card_number) AS u, id FROM customers ORDER BY id',
    '-c',
    'FETCH ALL FROM k',
    '-c',
    'COMMIT',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assertNoLeak(r.stdout, 'EXECUTE/FETCH');
  assert.match(r.stdout, /1\|\*{8}\n2\|\*{8}/);
  assert.match(r.stdout, /\*{8}\|1\n\*{8}\|2/);
});
