// Red-team findings against issue #15, through real clients and real PostgreSQL with the demo
// policy: (1) a session setting that makes the server read statement text differently from the
// proxy's parser (standard_conforming_strings off, a GBK client encoding) is refused, so the
// proxy and the server always judge the same statement; a login whose role defaults to such a
// setting is refused. (2) Whether a statement over masked values fails is a yes/no answer about
// them: arithmetic and functions that can fail on a masked value are refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { stopPostgres } from '../../services/postgres.ts';
import { clientEnv, commandsOf, startRig, waitFor, type Rig } from './harness.ts';

const DEMO_POLICY = fileURLToPath(new URL('../../../services/cli/src/embedded/default.policy.yaml', import.meta.url));
const CLEAR_EMAIL = 'ada@example.com';

let rig: Rig;
before(async () => {
  rig = await startRig({ approvalTimeoutMs: 20_000 }, { policyFile: DEMO_POLICY });
  const direct = await rig.pg.psql([
    '-c',
    `DROP TABLE IF EXISTS customers;
     CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card_number text, country text);
     INSERT INTO customers VALUES (1, 'Ada', '${CLEAR_EMAIL}', '4111111111111111', 'UK');`,
  ]);
  assert.equal(direct.code, 0, direct.stderr);
});
after(async () => {
  await rig?.pg.psql(['-c', `ALTER ROLE ${rig.pg.user} RESET standard_conforming_strings`]);
  await rig?.close();
  await stopPostgres();
});

async function client(opts: Record<string, unknown> = {}): Promise<pg.Client> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: rig.port,
    user: 'alice',
    database: 'app',
    password: await rig.token('alice'),
    ssl: { ca: readFileSync(rig.caFile, 'utf8') },
    ...opts,
  });
  await c.connect();
  return c;
}

test('standard_conforming_strings cannot be turned off: the backslash trick reads and writes nothing', async () => {
  const m = rig.mark();
  const c = await client();
  try {
    await assert.rejects(c.query('set standard_conforming_strings = off'), /parser-setting/);
    await assert.rejects(c.query('begin; set local standard_conforming_strings = off'), /parser-setting/);
    await c.query('rollback').catch(() => {});
    // With the setting on, this is one string literal to both parsers: no table is read.
    const r = await c.query("select '\\' , ' , email, card_number from customers --' as x");
    assert.ok(!JSON.stringify(r.rows).includes(CLEAR_EMAIL), JSON.stringify(r.rows));
    await assert.rejects(c.query("select set_config('standard_conforming_strings', 'off', false)"));
    const sync = await rig.pg.psql(['-A', '-t', '-c', 'SELECT name FROM customers WHERE id = 1']);
    assert.equal(sync.stdout.trim(), 'Ada', 'nothing was updated');
  } finally {
    await c.end();
  }
  const cmds = commandsOf(rig.since(m));
  assert.ok(
    cmds.some((x) => x.text === 'set standard_conforming_strings = off' && x.decision === 'deny' && x.outcome === 'blocked'),
    JSON.stringify(cmds),
  );
});

test('a GBK client encoding is refused, at login and by SET', async () => {
  // psql asks for the encoding in its startup packet (node-postgres always sends UTF8).
  // The proxy runs in this process: psql must run asynchronously.
  const env = { ...clientEnv(rig, await rig.token('alice')), PGCLIENTENCODING: 'GBK' };
  const login = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
    execFile('psql', ['-X', '-c', 'select 1'], { env, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
  assert.notEqual(login.status, 0, login.stdout);
  assert.match(login.stderr, /client encoding is GBK/);
  const c = await client();
  try {
    await assert.rejects(c.query("set client_encoding = 'GBK'"), /parser-setting/);
    await assert.rejects(c.query("set names 'SJIS'"), /parser-setting/);
    assert.deepEqual((await c.query('select 1 as one')).rows, [{ one: 1 }], 'the session goes on in UTF8');
  } finally {
    await c.end();
  }
});

test('a login whose role defaults to standard_conforming_strings=off is refused', async () => {
  const set = await rig.pg.psql(['-c', `ALTER ROLE ${rig.pg.user} SET standard_conforming_strings = off`]);
  assert.equal(set.code, 0, set.stderr);
  try {
    const r = await rig.psql(['-c', 'select 1']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /standard_conforming_strings=off/);
  } finally {
    await rig.pg.psql(['-c', `ALTER ROLE ${rig.pg.user} RESET standard_conforming_strings`]);
  }
});

test('arithmetic or a failing function over a masked value is refused: no error oracle', async () => {
  const c = await client();
  try {
    for (const sql of [
      'select 1/(length(email)-26) from customers where id = 1',
      "select 1/(position('ada' in email)-1) from customers where id = 1",
      'select sqrt(length(card_number)) from customers where id = 1',
      'select make_date(2000, 1, length(email)) from customers where id = 1',
    ]) {
      await assert.rejects(c.query(sql), (e: { code?: string; message: string }) => e.code === '42501' && /can fail on some values/.test(e.message), sql);
    }
    const ok = await c.query('select upper(email) as u, length(email) as n from customers where id = 1');
    assert.ok(!JSON.stringify(ok.rows).includes(CLEAR_EMAIL.toUpperCase()), JSON.stringify(ok.rows));
  } finally {
    await c.end();
  }
  await waitFor(() => rig.events().some((e) => e.type === 'CommandBlocked') || undefined, 'CommandBlocked');
});

test('an approver is shown the values bound to a held statement, and decides on them', async () => {
  const m = rig.mark();
  const c = await client();
  try {
    const held = c.query('update customers set country = $1 where id = $2::int or $3::bool', ['ZZ', 1, true]);
    const req = await waitFor(() => rig.since(m).find((e) => e.type === 'ApprovalRequested'), 'ApprovalRequested', 15_000);
    assert.ok(req.type === 'ApprovalRequested');
    assert.match(req.text, /-- with parameters: \$1 = 'ZZ', \$2 = '1', \$3 = 'true'$/);
    rig.decisions.decide(req.requestId, { decision: 'denied', approver: null, justification: 'every row?' });
    await assert.rejects(held, /denied/);
  } finally {
    await c.end();
  }
  const check = await rig.pg.psql(['-A', '-t', '-c', 'SELECT country FROM customers WHERE id = 1']);
  assert.equal(check.stdout.trim(), 'UK');
});
