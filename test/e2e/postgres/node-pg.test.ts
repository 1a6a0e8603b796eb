// node-postgres (the `pg` package) through the proxy: the extended protocol with parameters,
// named prepared statements, refusals inside a pipeline, masking, approvals, and cancel.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { stopPostgres } from '../../services/postgres.ts';
import { commandsOf, startRig, waitFor, type Rig } from './harness.ts';
import { revealMaskedValue, staticKeyProvider } from '@affidavit/access';
import { isAffidavitError } from '@affidavit/common';
import { EXAMPLE_ACTOR } from '@affidavit/schemas';

let rig: Rig;
before(async () => {
  rig = await startRig();
  const r = await rig.psql([
    '-c',
    "CREATE TABLE IF NOT EXISTS customers (id int PRIMARY KEY, name text, email text, card_number text); DELETE FROM customers; INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '4111111111111111'), (2, 'Bob', 'bob@example.com', NULL)",
    '-c',
    'CREATE TABLE IF NOT EXISTS payments (id serial PRIMARY KEY, amount int)',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const direct = await rig.pg.psql(['-c', "CREATE TABLE IF NOT EXISTS secrets (k text); DELETE FROM secrets; INSERT INTO secrets VALUES ('s3cr3t')"]);
  assert.equal(direct.code, 0, direct.stderr);
});
after(async () => {
  await rig?.close();
  await stopPostgres();
});

async function client(user = 'alice'): Promise<pg.Client> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: rig.port,
    user,
    database: 'app',
    password: await rig.token(user),
    ssl: { ca: (await import('node:fs')).readFileSync(rig.caFile, 'utf8') },
  });
  await c.connect();
  return c;
}

test('parameters are bound, recorded as text, and results come back', async () => {
  const m = rig.mark();
  const c = await client();
  try {
    const r = await c.query('SELECT $1::int + $2::int AS sum, $3::text AS label', [40, 2, 'hello']);
    assert.deepEqual(r.rows, [{ sum: 42, label: 'hello' }]);
    const named = await c.query({ name: 'by-id', text: 'SELECT name FROM customers WHERE id = $1', values: [1] });
    assert.deepEqual(named.rows, [{ name: 'Ada' }]);
    const again = await c.query({ name: 'by-id', text: 'SELECT name FROM customers WHERE id = $1', values: [2] });
    assert.deepEqual(again.rows, [{ name: 'Bob' }]);
  } finally {
    await c.end();
  }
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  const issued = rig.since(m).filter((e) => e.type === 'CommandIssued');
  assert.deepEqual(
    issued.map((e) => e.type === 'CommandIssued' && [e.channel, e.parameters]),
    [
      ['extended', ['40', '2', 'hello']],
      ['extended', ['1']],
      ['extended', ['2']],
    ],
  );
  assert.deepEqual(
    commandsOf(rig.since(m)).map((c) => c.outcome),
    ['ok', 'ok', 'ok'],
  );
});

test('a refused Execute is an error for that query only; the connection keeps working', async () => {
  const m = rig.mark();
  const c = await client();
  try {
    await assert.rejects(c.query('SELECT k FROM secrets WHERE k <> $1', ['x']), (e: Error & { code?: string }) => {
      assert.equal(e.code, '42501');
      assert.match(e.message, /deny-secrets/);
      return true;
    });
    const r = await c.query('SELECT $1::text AS ok', ['yes']);
    assert.deepEqual(r.rows, [{ ok: 'yes' }]);
  } finally {
    await c.end();
  }
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  assert.deepEqual(
    commandsOf(rig.since(m)).map((c) => [c.decision, c.outcome]),
    [
      ['deny', 'blocked'],
      ['allow', 'ok'],
    ],
  );
});

test('masked columns: the client sees masks, DataMasked holds the sealed originals', async () => {
  const m = rig.mark();
  const c = await client();
  try {
    const r = await c.query('SELECT id, name, email, card_number FROM customers WHERE id >= $1 ORDER BY id', [1]);
    assert.equal(r.rows.length, 2);
    assert.equal(r.rows[0].name, 'Ada');
    assert.notEqual(r.rows[0].email, 'ada@example.com');
    assert.notEqual(r.rows[0].card_number, '4111111111111111');
    assert.equal(r.rows[1].card_number, null);
    const simple = await c.query('SELECT email FROM customers ORDER BY id');
    assert.ok(simple.rows.every((row: { email: string }) => !row.email.includes('@example.com')));
  } finally {
    await c.end();
  }
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  const ev = rig.since(m);
  const masked = ev.filter((e) => e.type === 'DataMasked');
  assert.equal(masked.length, 2);
  const first = masked[0];
  assert.ok(first.type === 'DataMasked');
  assert.equal(first.count, 3);
  // The originals travel sealed a chunk at a time (sealedOriginals), none per value; the event
  // here was decoded from the bytes the recorder published, as the ledger stores them.
  assert.ok(first.masks.every((x) => x.original === null));
  assert.equal(
    first.sealedOriginals.reduce((n, c) => n + c.count, 0),
    first.masks.length,
  );
  assert.ok(first.sealedOriginals.every((c) => c.keyId === 'e2e-1' && !c.ciphertext.includes(Buffer.from('ada@example.com'))));
  const keys = staticKeyProvider([{ keyId: 'e2e-1', key: new Uint8Array(32).fill(7) }]);
  const open = (event: typeof first, column: string, row: number) =>
    revealMaskedValue({
      event,
      index: event.masks.findIndex((x) => x.column === column && x.row === row),
      opener: { ...EXAMPLE_ACTOR, subject: 'auditor' },
      reason: 'e2e check',
      keys,
      clock: { now: () => 0 },
    });
  const opened = await open(first, 'email', 0);
  assert.equal(opened.value, 'ada@example.com');
  assert.deepEqual([opened.audit.column, opened.audit.row, opened.audit.keyId, opened.audit.commandId], ['email', 0, 'e2e-1', first.commandId]);
  assert.equal((await open(first, 'card_number', 0)).value, '4111111111111111');
  // The second statement's chunk opens in its own event, not moved into the first one's.
  const second = masked[1];
  assert.ok(second.type === 'DataMasked');
  assert.equal((await open(second, 'email', 1)).value, 'bob@example.com');
  await assert.rejects(open({ ...first, sealedOriginals: second.sealedOriginals }, 'email', 0), (e) => isAffidavitError(e, 'AFF_E_MASK_CONTEXT_MISMATCH'));
  const captured = ev.find((e) => e.type === 'ResultCaptured');
  assert.ok(captured?.type === 'ResultCaptured');
  assert.deepEqual(captured.columns, ['id', 'name', 'email', 'card_number']);
  assert.ok(!JSON.stringify(captured.rows).includes('ada@example.com'));
  const issued = ev.filter((e) => e.type === 'CommandIssued');
  assert.ok(issued.every((e) => e.type === 'CommandIssued' && e.decision === 'mask'));
});

test('masked results asked for in binary format are refused with 0A000; text results and unmasked binary ones work', async () => {
  const m = rig.mark();
  const c = await client();
  try {
    // node-postgres asks for every result column in binary format with `binary: true` (a
    // runtime option its type declarations leave out).
    const inBinary = (text: string, values: unknown[]): pg.QueryConfig & { binary: true } => ({ text, values, binary: true });
    await assert.rejects(c.query(inBinary('SELECT id, email FROM customers WHERE id = $1', [1])), (e: Error & { code?: string }) => {
      assert.equal(e.code, '0A000');
      assert.match(e.message, /rule "mask-customer-pii" masks these results, and masked values can only be sent in text format/);
      assert.match(e.message, /AFF_E_PG_MASK_BINARY/);
      return true;
    });
    const text = await c.query({ text: 'SELECT id, email FROM customers WHERE id = $1', values: [1] });
    assert.equal(text.rows.length, 1);
    assert.ok(!text.rows[0].email.includes('ada@example.com'), text.rows[0].email);
    const binary = await c.query(inBinary('SELECT $1::int4 * 6 AS answer', [7]));
    assert.equal(binary.rows[0].answer, 42);
  } finally {
    await c.end();
  }
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  const cmds = commandsOf(rig.since(m));
  assert.deepEqual(
    cmds.map((x) => [x.decision, x.outcome]),
    [
      ['mask', 'blocked'],
      ['mask', 'ok'],
      ['allow', 'ok'],
    ],
  );
  const blocked = cmds[0].event;
  assert.ok(blocked?.type === 'CommandBlocked' && blocked.ruleId === 'mask-customer-pii' && /binary format/.test(blocked.reason), JSON.stringify(blocked));
});

test('approval: the statement waits, a NOTICE names the request, the decision releases it', async () => {
  const m = rig.mark();
  const c = await client();
  const notices: string[] = [];
  c.on('notice', (n) => notices.push(n.message ?? ''));
  try {
    const pending = c.query('INSERT INTO payments (amount) VALUES ($1)', [100]);
    const req = await waitFor(() => rig.since(m).find((e) => e.type === 'ApprovalRequested'), 'ApprovalRequested');
    assert.ok(req.type === 'ApprovalRequested');
    await waitFor(() => notices.some((n) => n.includes(req.requestId)) || undefined, 'approval NOTICE');
    rig.decisions.decide(req.requestId, { decision: 'approved', approver: null, justification: 'looks fine' });
    const r = await pending;
    assert.equal(r.rowCount, 1);
    const denied = c.query('INSERT INTO payments (amount) VALUES ($1)', [999]);
    const req2 = await waitFor(() => rig.since(m).find((e) => e.type === 'ApprovalRequested' && e.requestId !== req.requestId), 'second ApprovalRequested');
    assert.ok(req2.type === 'ApprovalRequested');
    rig.decisions.decide(req2.requestId, { decision: 'denied', approver: null, justification: 'too much' });
    await assert.rejects(denied, (e: Error & { code?: string }) => {
      assert.equal(e.code, '42501');
      assert.ok(e.message.includes(req2.requestId), e.message);
      return true;
    });
    const count = await c.query('SELECT count(*)::int AS n FROM payments WHERE amount = 999');
    assert.equal(count.rows[0].n, 0);
  } finally {
    await c.end();
  }
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  assert.deepEqual(
    commandsOf(rig.since(m)).map((x) => [x.decision, x.outcome]),
    [
      ['require_approval', 'ok'],
      ['require_approval', 'blocked'],
      ['allow', 'ok'],
    ],
  );
});

test('COPY TO of masked data is refused rather than leaked', async () => {
  const m = rig.mark();
  const r = await rig.psql(['-c', '\\copy (SELECT email FROM customers) TO STDOUT']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /AFF_E_PG_MASK_COPY/);
  assert.ok(!r.stdout.includes('ada@example.com'));
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  assert.deepEqual(
    commandsOf(rig.since(m)).map((c) => [c.decision, c.outcome]),
    [['mask', 'blocked']],
  );
});
