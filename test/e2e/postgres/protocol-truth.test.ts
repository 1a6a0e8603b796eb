// Issue 15, class 1 (and the startup user of class 6, notifications of class 7), through real
// clients: psql, node-postgres and a raw wire-protocol client. A second PREPARE / DECLARE /
// Parse with an existing name fails on the server; the statement that then runs is the FIRST,
// and that is what the proxy decides on (masking, approval) and records. Before the fix each
// of these gave clear customer data, or an approver approved one text while another ran.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { stopPostgres } from '../../services/postgres.ts';
import { commandsOf, startRig, waitFor, type Rig } from './harness.ts';
import { msg, RawClient } from './raw-client.ts';

let rig: Rig;
before(async () => {
  rig = await startRig({ allowCleartextOnLoopback: true });
  const r = await rig.psql([
    '-c',
    "CREATE TABLE IF NOT EXISTS customers (id int PRIMARY KEY, name text, email text, card_number text); DELETE FROM customers; INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '4111111111111111')",
    '-c',
    'CREATE TABLE IF NOT EXISTS payments (id int PRIMARY KEY, amount int, note text)',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const seed = await rig.pg.psql(['-c', "DELETE FROM payments; INSERT INTO payments VALUES (1, 100, 'original')"]);
  assert.equal(seed.code, 0, seed.stderr);
});
after(async () => {
  await rig?.close();
  await stopPostgres();
});

const CLEAR = 'ada@example.com';

async function ended(m: number) {
  await waitFor(() => (rig.since(m).some((e) => e.type === 'SessionEnded') ? true : undefined), 'SessionEnded');
  return rig.since(m);
}

async function nodePg(user = 'alice', token?: string): Promise<pg.Client> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: rig.port,
    user,
    database: 'app',
    password: token ?? (await rig.token('alice')),
    ssl: { ca: readFileSync(rig.caFile, 'utf8') },
  });
  await c.connect();
  return c;
}

test('psql: a duplicate PREPARE fails on the server; EXECUTE runs the first (masked) statement, decided and recorded as such', async () => {
  const m = rig.mark();
  const r = await rig.psql(['-v', 'ON_ERROR_STOP=0', '-A', '-t', '-f', '-'], {
    input: ['PREPARE q AS SELECT email FROM customers;', "PREPARE q AS SELECT 'harmless'::text;", 'EXECUTE q;'].join('\n'),
  });
  assert.match(r.stderr, /prepared statement "q" already exists/);
  assert.ok(!r.stdout.includes(CLEAR), `clear e-mail reached the client: ${r.stdout}`);
  const cmds = commandsOf(await ended(m));
  const exec = cmds.find((c) => c.text.startsWith('EXECUTE q'));
  assert.ok(exec, JSON.stringify(cmds));
  assert.equal(exec.decision, 'mask');
  assert.equal(exec.outcome, 'ok');
  assert.match(exec.text, /prepared statement "q" is: "PREPARE q AS SELECT email FROM customers"/);
});

test('node-postgres: the same bait-and-switch through SQL PREPARE/EXECUTE', async () => {
  const m = rig.mark();
  const c = await nodePg();
  try {
    await c.query('PREPARE q2 AS SELECT email FROM customers');
    await assert.rejects(c.query("PREPARE q2 AS SELECT 'harmless'::text"), /already exists/);
    const r = await c.query('EXECUTE q2');
    assert.equal(r.rows.length, 1);
    assert.ok(!JSON.stringify(r.rows).includes(CLEAR), JSON.stringify(r.rows));
  } finally {
    await c.end();
  }
  const exec = commandsOf(await ended(m)).find((x) => x.text.startsWith('EXECUTE q2'));
  assert.equal(exec?.decision, 'mask');
});

test('psql: a duplicate DECLARE fails; after ROLLBACK TO the cursor is the first one, and FETCH is masked', async () => {
  const m = rig.mark();
  const r = await rig.psql(['-v', 'ON_ERROR_STOP=0', '-A', '-t', '-f', '-'], {
    input: [
      'BEGIN;',
      'DECLARE k CURSOR FOR SELECT email FROM customers;',
      'SAVEPOINT s;',
      "DECLARE k CURSOR FOR SELECT 'harmless'::text;",
      'ROLLBACK TO SAVEPOINT s;',
      'FETCH ALL FROM k;',
      'COMMIT;',
    ].join('\n'),
  });
  assert.match(r.stderr, /cursor "k" already exists/);
  assert.ok(!r.stdout.includes(CLEAR), r.stdout);
  const fetch = commandsOf(await ended(m)).find((c) => c.text.startsWith('FETCH ALL FROM k'));
  assert.equal(fetch?.decision, 'mask');
  assert.equal(fetch?.outcome, 'ok');
  assert.match(fetch!.text, /cursor "k" is: "DECLARE k CURSOR FOR SELECT email FROM customers"/);
});

test('raw client: a duplicate protocol Parse fails; the Bind+Execute after it runs the first statement, masked and recorded', async () => {
  const m = rig.mark();
  const c = await RawClient.login(rig.port, await rig.token());
  try {
    c.send(msg.parse('s', 'SELECT email FROM customers'), msg.sync());
    await c.ready(1);
    // Pipelined in one write: the second Parse fails, the next segment binds the FIRST text.
    c.send(msg.parse('s', "SELECT 'harmless'::text"), msg.sync(), msg.bind('', 's'), msg.execute(''), msg.sync());
    await c.ready(3);
    assert.deepEqual(
      c.errors().map((e) => e.code),
      ['42P05'],
    );
    assert.equal(c.rows().length, 1);
    assert.ok(!c.rows().includes(CLEAR), JSON.stringify(c.rows()));
  } finally {
    c.close();
  }
  const cmds = commandsOf(await ended(m));
  assert.deepEqual(
    cmds.map((x) => [x.text, x.decision, x.outcome]),
    [['SELECT email FROM customers', 'mask', 'ok']],
  );
});

test('raw client: Execute of a portal that is a SQL cursor runs (and is decided as) the cursor', async () => {
  const m = rig.mark();
  const c = await RawClient.login(rig.port, await rig.token());
  try {
    c.send(msg.parse('k2', "SELECT 'a prepared statement of the same name'::text"), msg.sync());
    c.send(msg.query('BEGIN'), msg.query('DECLARE k2 CURSOR FOR SELECT email FROM customers'));
    await c.ready(3);
    c.send(msg.execute('k2'), msg.sync(), msg.query('COMMIT'));
    await c.ready(5);
    assert.deepEqual(c.errors(), []);
    assert.equal(c.rows().length, 1);
    assert.ok(!c.rows().includes(CLEAR), JSON.stringify(c.rows()));
  } finally {
    c.close();
  }
  const exec = commandsOf(await ended(m)).find(
    (x) => x.text === 'DECLARE k2 CURSOR FOR SELECT email FROM customers' && x.event?.type === 'CommandCompleted' && x.event.tag?.startsWith('SELECT'),
  );
  assert.equal(exec?.decision, 'mask', JSON.stringify(commandsOf(rig.since(m)).map((x) => [x.text, x.decision])));
});

test('raw client: a portal or statement the proxy never saw is refused (34000 / 26000), recorded as blocked', async () => {
  const m = rig.mark();
  const c = await RawClient.login(rig.port, await rig.token());
  try {
    c.send(msg.execute('nowhere'), msg.sync(), msg.query('EXECUTE nothing'), msg.query('FETCH ALL FROM nocursor'));
    await c.ready(3);
    const errs = c.errors();
    assert.deepEqual(
      errs.map((e) => e.code),
      ['34000', '26000', '34000'],
    );
    assert.ok(
      errs.every((e) => /AFF_E_PG_UNKNOWN_NAME/.test(e.message)),
      JSON.stringify(errs),
    );
  } finally {
    c.close();
  }
  assert.deepEqual(
    commandsOf(await ended(m)).map((x) => x.outcome),
    ['blocked', 'blocked', 'blocked'],
  );
});

test('approval bait-and-switch: the approver is shown the UPDATE that really runs', async () => {
  const m = rig.mark();
  const c = await RawClient.login(rig.port, await rig.token());
  const evil = 'UPDATE payments SET amount = 0 WHERE id = 1';
  const harmless = "UPDATE payments SET note = 'reviewed' WHERE id = 1";
  try {
    c.send(msg.parse('u', evil), msg.sync());
    await c.ready(1);
    c.send(msg.parse('u', harmless), msg.sync(), msg.bind('', 'u'), msg.execute(''), msg.sync());
    const req = await waitFor(() => rig.since(m).find((e) => e.type === 'ApprovalRequested'), 'ApprovalRequested');
    assert.ok(req.type === 'ApprovalRequested');
    assert.equal(req.text, evil, 'the approver must see the statement the server will run');
    rig.decisions.decide(req.requestId, { decision: 'denied', approver: null, justification: 'no' });
    await c.ready(3);
    assert.deepEqual(
      c.errors().map((e) => e.code),
      ['42P05', '42501'],
    );
  } finally {
    c.close();
  }
  const amount = await rig.pg.psql(['-A', '-t', '-c', 'SELECT amount FROM payments WHERE id = 1']);
  assert.equal(amount.stdout.trim(), '100');
  const cmds = commandsOf(await ended(m));
  assert.deepEqual(
    cmds.map((x) => [x.text, x.outcome]),
    [[evil, 'blocked']],
  );
});

test('a token for alice with startup user bob is refused with FATAL 28000 and AuthenticationFailed', async () => {
  const m = rig.mark();
  await assert.rejects(RawClient.login(rig.port, await rig.token('alice'), 'bob'), (e: Error & { code?: string }) => {
    assert.equal(e.code, '28000');
    assert.match(e.message, /startup user "bob" is not the token's subject "alice".*AFF_E_PG_STARTUP_USER_MISMATCH/);
    return true;
  });
  await assert.rejects(nodePg('bob'), (e: Error & { code?: string }) => e.code === '28000');
  const r = await rig.psql(['-c', 'SELECT 1'], { user: 'bob', token: await rig.token('alice') });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /AFF_E_PG_STARTUP_USER_MISMATCH/);
  const failed = await waitFor(() => {
    const f = rig.since(m).filter((e) => e.type === 'AuthenticationFailed');
    return f.length >= 3 ? f : undefined;
  }, 'three AuthenticationFailed');
  for (const f of failed) {
    assert.ok(f.type === 'AuthenticationFailed');
    assert.equal(f.code, 'AFF_E_PG_STARTUP_USER_MISMATCH');
    assert.equal(f.claimedSubject, 'alice');
  }
  assert.ok(!rig.since(m).some((e) => e.type === 'SessionStarted'));
});

test('node-postgres: a notification delivered to the client is recorded', async () => {
  const m = rig.mark();
  const c = await nodePg();
  const got: string[] = [];
  c.on('notification', (n) => got.push(n.payload ?? ''));
  try {
    await c.query('LISTEN audit_channel');
    await c.query("SELECT pg_notify('audit_channel', 'payload one')");
    await waitFor(() => (got.length > 0 ? true : undefined), 'notification');
  } finally {
    await c.end();
  }
  const events = await ended(m);
  const captured = events.find((e) => e.type === 'ResultCaptured' && e.columns[0] === 'notification_channel');
  assert.ok(captured?.type === 'ResultCaptured', JSON.stringify(events.map((e) => e.type)));
  assert.equal(captured.rows[0][0], 'audit_channel');
  assert.equal(captured.rows[0][1], 'payload one');
  const notifyCmd = events.find((e) => e.type === 'CommandIssued' && e.text.includes('pg_notify'));
  assert.ok(notifyCmd?.type === 'CommandIssued');
  assert.equal(captured.commandId, notifyCmd.commandId);
});
