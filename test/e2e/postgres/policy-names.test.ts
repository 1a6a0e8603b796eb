// Issue #15, classes 2, 3 and 5 through real psql against real PostgreSQL, with the embedded demo
// policy: a table named with its database, in quotes or in U& escapes is the same table (masked,
// writes held); a table read through table_to_xml is refused by the function allow-list; catalog
// writes (UPDATE pg_settings) and COPY to a server file are refused; psql's \d and \dt still work.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stopPostgres } from '../../services/postgres.ts';
import { commandsOf, startRig, waitFor, type Rig } from './harness.ts';

const DEMO_POLICY = fileURLToPath(new URL('../../../services/cli/src/embedded/default.policy.yaml', import.meta.url));
const CLEAR_EMAIL = 'ada@example.com';
const CLEAR_CARD = '4111111111111111';

let rig: Rig;
let db: string;
before(async () => {
  rig = await startRig({ approvalTimeoutMs: 20_000 }, { policyFile: DEMO_POLICY });
  db = rig.pg.database;
  // The demo policy refuses DDL, so the tables are made directly on the server.
  const direct = await rig.pg.psql([
    '-c',
    `
    DROP TABLE IF EXISTS customers;
    CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card_number text, country text);
    INSERT INTO customers VALUES (1, 'Ada', '${CLEAR_EMAIL}', '${CLEAR_CARD}', 'UK');`,
  ]);
  assert.equal(direct.code, 0, direct.stderr);
});
after(async () => {
  await rig?.close();
  await stopPostgres();
});

/** run runs psql through the proxy, going on after errors, and returns its output and the commands it issued. */
async function run(...commands: string[]) {
  const m = rig.mark();
  const r = await rig.psql(['-v', 'ON_ERROR_STOP=0', '-A', '-t', ...commands.flatMap((c) => ['-c', c])]);
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  return { ...r, cmds: commandsOf(rig.since(m)) };
}

test('a database-qualified, quoted or unicode-escaped name of customers is masked like customers', async () => {
  for (const name of [
    `${db}.public.customers`,
    `"${db}"."public"."customers"`,
    `${db.toUpperCase()}.PUBLIC.CUSTOMERS`,
    'U&"\\0063ustomers"',
    `${db}.public.U&"\\0063ustomers"`,
  ]) {
    const r = await run(`SELECT email, card_number FROM ${name}`);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(CLEAR_EMAIL) && !r.stdout.includes(CLEAR_CARD), `${name} leaked: ${r.stdout}`);
    assert.equal(r.stdout.trim().split('\n').length, 1, `${name}: one row, masked: ${r.stdout}`);
    assert.deepEqual(
      r.cmds.map((c) => [c.decision, c.outcome]),
      [['mask', 'ok']],
      name,
    );
  }
});

test('another database in the name is refused and reads nothing', async () => {
  const r = await run('SELECT email FROM otherdb.public.customers');
  assert.notEqual(r.stderr, '');
  assert.ok(!r.stdout.includes(CLEAR_EMAIL));
  // With the target's database wired into the policy request the proxy refuses it itself
  // ((cross-database)); without, the server does ("cross-database references are not implemented").
  assert.match(r.stderr, /cross-database/);
});

test('an UPDATE of <db>.public.customers is held for approval and, denied, changes nothing', async () => {
  const m = rig.mark();
  const pending = rig.psql(['-v', 'ON_ERROR_STOP=0', '-c', `UPDATE ${db}.public.customers SET country = 'XX' WHERE id = 1`]);
  const req = await waitFor(() => rig.since(m).find((e) => e.type === 'ApprovalRequested'), 'ApprovalRequested', 15_000);
  assert.ok(req.type === 'ApprovalRequested');
  rig.decisions.decide(req.requestId, { decision: 'denied', approver: null, justification: 'not today' });
  const r = await pending;
  assert.match(r.stderr, /customers-writes-need-approval|denied/);
  const check = await rig.pg.psql(['-A', '-t', '-c', 'SELECT country FROM customers WHERE id = 1']);
  assert.equal(check.stdout.trim(), 'UK');
  const truncate = rig.psql(['-v', 'ON_ERROR_STOP=0', '-c', `TRUNCATE "${db}"."public"."customers"`]);
  const req2 = await waitFor(
    () => rig.since(m).find((e) => e.type === 'ApprovalRequested' && e.requestId !== req.requestId),
    'second ApprovalRequested',
    15_000,
  );
  assert.ok(req2.type === 'ApprovalRequested');
  rig.decisions.decide(req2.requestId, { decision: 'denied', approver: null, justification: 'no' });
  await truncate;
  const count = await rig.pg.psql(['-A', '-t', '-c', 'SELECT count(*) FROM customers']);
  assert.equal(count.stdout.trim(), '1');
});

test('an approved UPDATE … RETURNING of masked columns runs once and returns them masked', async () => {
  // Approval releases the write, not the values: the held statement keeps the read's masks.
  const m = rig.mark();
  const pending = rig.psql([
    '-v',
    'ON_ERROR_STOP=0',
    '-A',
    '-t',
    '-c',
    `UPDATE customers SET country = 'FR' WHERE id = 1 RETURNING email, card_number, upper(email), country`,
  ]);
  const req = await waitFor(() => rig.since(m).find((e) => e.type === 'ApprovalRequested'), 'ApprovalRequested', 15_000);
  assert.ok(req.type === 'ApprovalRequested');
  rig.decisions.decide(req.requestId, { decision: 'approved', approver: null, justification: 'ticket 7' });
  const r = await pending;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(
    !r.stdout.includes(CLEAR_EMAIL) && !r.stdout.includes(CLEAR_CARD) && !r.stdout.includes(CLEAR_EMAIL.toUpperCase()),
    `clear values after approval: ${r.stdout}`,
  );
  assert.match(r.stdout, /\|FR$/m, 'the unmasked column comes back as written');
  const check = await rig.pg.psql(['-A', '-t', '-c', "SELECT country FROM customers WHERE id = 1; UPDATE customers SET country = 'UK' WHERE id = 1"]);
  assert.equal(check.stdout.trim().split('\n')[0], 'FR', 'the approved write ran');
  await waitFor(() => rig.since(m).some((e) => e.type === 'DataMasked') || undefined, 'DataMasked');
});

test('table_to_xml and its family are refused by the function allow-list, naming the function', async () => {
  for (const sql of [
    "SELECT table_to_xml('customers', true, false, '')",
    `SELECT table_to_xml('${db}.public.customers'::regclass, true, false, '')`,
    "SELECT table_to_xml('cust' || 'omers', true, false, '')",
    "SELECT query_to_xml('select email from customers', true, false, '')",
  ]) {
    const r = await run(sql);
    assert.ok(!r.stdout.includes(CLEAR_EMAIL), `${sql} leaked`);
    assert.match(r.stderr, /function-allow-list/, sql);
    assert.match(r.stderr, /(table|query)_to_xml\(\) is not on this target's function allow-list/, sql);
    assert.deepEqual(
      r.cmds.map((c) => [c.decision, c.outcome]),
      [['deny', 'blocked']],
      sql,
    );
  }
});

test('UPDATE pg_settings is a catalog write: refused, and search_path stays as it was', async () => {
  const r = await run("UPDATE pg_settings SET setting = 'evil, public' WHERE name = 'search_path'", 'SHOW search_path');
  assert.match(r.stderr, /deny-unsafe-statements/);
  assert.equal(r.stdout.trim(), '"$user", public');
  const blocked = r.cmds[0].event;
  assert.ok(blocked?.type === 'CommandBlocked' && blocked.ruleId === 'deny-unsafe-statements');
  const issued = rig.events().filter((e) => e.type === 'CommandIssued' && e.text.startsWith('UPDATE pg_settings'));
  assert.ok(issued.some((e) => e.type === 'CommandIssued' && e.classes.includes('catalog-write')));
  const pgClass = await run("UPDATE pg_catalog.pg_class SET relname = 'x' WHERE relname = 'customers'", 'DELETE FROM pg_constraint');
  assert.deepEqual(
    pgClass.cmds.map((c) => c.outcome),
    ['blocked', 'blocked'],
  );
});

test('statistics of customers and a LOCK of a catalog are refused', async () => {
  await rig.pg.psql(['-c', 'ANALYZE customers']);
  const r = await run(
    "SELECT most_common_vals::text FROM pg_stats WHERE tablename = 'customers'",
    'BEGIN',
    'LOCK TABLE pg_class IN ACCESS SHARE MODE',
    'ROLLBACK',
  );
  assert.ok(!r.stdout.includes(CLEAR_EMAIL), r.stdout);
  assert.match(r.stderr, /pg_stats holds values sampled from every analysed table/);
  assert.match(r.stderr, /deny-unsafe-statements/);
  assert.deepEqual(
    r.cmds.map((c) => c.outcome),
    ['blocked', 'ok', 'blocked', 'ok'],
  );
});

test('COPY to or from a server file is refused; COPY TO STDOUT of masked data never comes out clear', async () => {
  const file = `/tmp/affidavit-e2e-copy-${process.pid}`;
  const r = await run(`COPY customers TO '${file}'`, `COPY customers FROM '${file}'`);
  assert.match(r.stderr, /deny-unsafe-statements/);
  assert.deepEqual(
    r.cmds.map((c) => c.outcome),
    ['blocked', 'blocked'],
  );
  assert.equal(existsSync(file), false);
  // COPY TO STDOUT is copy-to, not copy-file: the mask rule decides it (and the proxy refuses to
  // stream masked data through COPY), it is not refused as a server file.
  const out = await run('COPY customers TO STDOUT');
  assert.ok(!out.stdout.includes(CLEAR_EMAIL), out.stdout);
  assert.deepEqual(
    out.cmds.map((c) => c.decision),
    ['mask'],
  );
  const orders = await run('COPY (SELECT 1 AS n) TO STDOUT');
  assert.equal(orders.code, 0, orders.stderr);
  assert.equal(orders.stdout.trim(), '1');
});

test('psql \\d customers and \\dt still work under the function allow-list', async () => {
  const r = await rig.psql(['-c', '\\d customers', '-c', '\\dt', '-c', '\\d']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Table "public\.customers"/);
  assert.match(r.stdout, /card_number\s*\|\s*text/);
  assert.match(r.stdout, /public \| customers \| table/);
  // The other describe commands a demo user reaches for.
  for (const cmd of ['\\d+ customers', '\\dt+', '\\di', '\\dv', '\\dn', '\\du', '\\l', '\\df lower', '\\conninfo']) {
    const more = await rig.psql(['-c', cmd]);
    assert.equal(more.code, 0, `${cmd}: ${more.stderr}`);
  }
});
