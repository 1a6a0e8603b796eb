// psql through the proxy: -c, -f, transactions, refusals with the rule's name, \copy both ways.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopPostgres } from '../../services/postgres.ts';
import { commandsOf, startRig, waitFor, type Rig } from './harness.ts';

let rig: Rig;
before(async () => {
  rig = await startRig();
  const r = await rig.psql(['-c', 'CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text)']);
  assert.equal(r.code, 0, r.stderr);
  // `secrets` is refused by policy, so it is made directly on the server.
  const direct = await rig.pg.psql(['-c', "CREATE TABLE IF NOT EXISTS secrets (k text); INSERT INTO secrets VALUES ('s3cr3t')"]);
  assert.equal(direct.code, 0, direct.stderr);
});
after(async () => {
  await rig?.close();
  await stopPostgres();
});

test('psql -c runs an allowed query and the events record it in order', async () => {
  const m = rig.mark();
  const r = await rig.psql(['-A', '-t', '-c', 'SELECT 6 * 7 AS answer']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '42');
  const ev = await waitFor(() => (rig.since(m).some((e) => e.type === 'SessionEnded') ? rig.since(m) : undefined), 'SessionEnded');
  const types = ev.map((e) => e.type);
  assert.deepEqual(types, ['SessionStarted', 'CommandIssued', 'CommandCompleted', 'SessionEnded']);
  const started = ev[0];
  assert.ok(started.type === 'SessionStarted' && started.tls === true && started.actor?.subject === 'alice');
  const done = ev[2];
  assert.ok(done.type === 'CommandCompleted');
  assert.equal(done.tag, 'SELECT 1');
  assert.equal(done.rows, 1);
  assert.equal(done.outcome, 'ok');
  assert.match(done.resultDigest ?? '', /^[0-9a-f]{64}$/);
  assert.deepEqual(
    ev.map((e) => e.seq),
    [0, 1, 2, 3],
  );
});

test('a denied statement gets 42501 naming the rule, and the session stays usable', async () => {
  const m = rig.mark();
  const r = await rig.psql(['-v', 'ON_ERROR_STOP=0', '-A', '-t', '-c', 'SELECT * FROM secrets', '-c', 'SELECT 1 AS still_alive']);
  assert.match(r.stderr, /deny-secrets/);
  assert.match(r.stderr, /secrets table is off limits/);
  assert.equal(r.stdout.trim(), '1');
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  const cmds = commandsOf(rig.since(m));
  assert.deepEqual(
    cmds.map((c) => [c.text, c.decision, c.outcome]),
    [
      ['SELECT * FROM secrets', 'deny', 'blocked'],
      ['SELECT 1 AS still_alive', 'allow', 'ok'],
    ],
  );
  const blocked = cmds[0].event;
  assert.ok(blocked?.type === 'CommandBlocked' && blocked.ruleId === 'deny-secrets');
});

test('psql -f: a refusal inside a transaction block fails the block like a real error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'psql-f-'));
  const file = join(dir, 'script.sql');
  writeFileSync(
    file,
    [
      'DELETE FROM items;',
      'BEGIN;',
      "INSERT INTO items VALUES (1, 'one');",
      'SELECT * FROM secrets;',
      "INSERT INTO items VALUES (2, 'two');",
      'COMMIT;',
      "INSERT INTO items VALUES (3, 'three');",
      'SELECT count(*) AS n FROM items;',
      '',
    ].join('\n'),
  );
  const m = rig.mark();
  const r = await rig.psql(['-v', 'ON_ERROR_STOP=0', '-A', '-t', '-f', file]);
  assert.match(r.stderr, /deny-secrets/);
  // After the refusal the block is aborted: the second INSERT fails with 25P02 and COMMIT rolls back.
  assert.match(r.stderr, /current transaction is aborted/);
  assert.match(r.stdout, /ROLLBACK/);
  assert.equal(r.stdout.trim().split('\n').at(-1), '1');
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  const cmds = commandsOf(rig.since(m));
  assert.deepEqual(
    cmds.map((c) => c.outcome),
    ['ok', 'ok', 'ok', 'blocked', 'error', 'ok', 'ok', 'ok'],
  );
  const failed = cmds[4].event;
  assert.ok(failed?.type === 'CommandCompleted' && failed.errorCode === '25P02');
});

test('\\copy in and out are audited with row counts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'psql-copy-'));
  const input = join(dir, 'in.csv');
  const output = join(dir, 'out.csv');
  writeFileSync(input, `${Array.from({ length: 50 }, (_, i) => `${100 + i},name-${i}`).join('\n')}\n`);
  const m = rig.mark();
  const r = await rig.psql([
    '-c',
    'DELETE FROM items',
    '-c',
    `\\copy items FROM '${input}' WITH (FORMAT csv)`,
    '-c',
    `\\copy (SELECT * FROM items ORDER BY id) TO '${output}' WITH (FORMAT csv)`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(output, 'utf8'), readFileSync(input, 'utf8'));
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  const ev = rig.since(m);
  const issued = ev.filter((e) => e.type === 'CommandIssued');
  assert.deepEqual(
    issued.map((e) => e.type === 'CommandIssued' && e.channel),
    ['simple', 'copy', 'copy'],
  );
  const done = ev.filter((e) => e.type === 'CommandCompleted');
  assert.match(done[0].type === 'CommandCompleted' ? (done[0].tag ?? '') : '', /^DELETE \d+$/);
  assert.deepEqual(
    done.slice(1).map((e) => e.type === 'CommandCompleted' && [e.tag, e.rows]),
    [
      ['COPY 50', 50],
      ['COPY 50', 50],
    ],
  );
});
