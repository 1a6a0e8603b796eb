// psql cancel (SIGINT → CancelRequest routed to the upstream backend), refused logins, and the
// GSSENCRequest fallback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { findPostgresBinaries, stopPostgres } from '../../services/postgres.ts';
import { clientEnv, commandsOf, startRig, waitFor, type Rig } from './harness.ts';

let rig: Rig;
before(async () => {
  rig = await startRig();
});
after(async () => {
  await rig?.close();
  await stopPostgres();
});

test('psql cancel: SIGINT cancels a running pg_sleep quickly', async () => {
  const m = rig.mark();
  const child = spawn(join(findPostgresBinaries().binDir, 'psql'), ['-X', '-c', 'SELECT pg_sleep(10)'], {
    env: clientEnv(rig, await rig.token()),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
  await waitFor(() => rig.since(m).some((e) => e.type === 'CommandIssued') || undefined, 'CommandIssued', 10_000);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  child.kill('SIGINT');
  const code = await exited;
  const elapsed = Date.now() - t0;
  assert.notEqual(code, 0);
  assert.match(stderr, /canceling statement due to user request/);
  assert.ok(elapsed < 5000, `cancel took ${elapsed} ms`);
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  const cmds = commandsOf(rig.since(m));
  assert.equal(cmds.length, 1);
  assert.equal(cmds[0].outcome, 'cancelled');
  assert.ok(cmds[0].event?.type === 'CommandCompleted' && cmds[0].event.errorCode === '57014');
});

test('a bad token: psql is refused and AuthenticationFailed is recorded', async () => {
  const m = rig.mark();
  const r = await rig.psql(['-c', 'SELECT 1'], { token: 'not-a-token' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /login refused/);
  const failed = await waitFor(() => rig.since(m).find((e) => e.type === 'AuthenticationFailed'), 'AuthenticationFailed');
  assert.ok(failed.type === 'AuthenticationFailed');
  assert.match(failed.code, /^AFF_E_AUTH_/);
  assert.equal(failed.actor, null);
  assert.ok(!rig.since(m).some((e) => e.type === 'SessionStarted'));
});

test('an expired token gets SQLSTATE 28P01 and names the subject it claimed', async () => {
  const m = rig.mark();
  const expired = await rig.issuer.mint('alice', { ttlSeconds: -3600 });
  const c = new pg.Client({ host: '127.0.0.1', port: rig.port, user: 'alice', database: 'app', password: expired, ssl: { rejectUnauthorized: false } });
  await assert.rejects(c.connect(), (e: Error & { code?: string }) => {
    assert.equal(e.code, '28P01');
    assert.match(e.message, /expired/);
    return true;
  });
  const failed = await waitFor(() => rig.since(m).find((e) => e.type === 'AuthenticationFailed'), 'AuthenticationFailed');
  assert.ok(failed.type === 'AuthenticationFailed');
  assert.equal(failed.code, 'AFF_E_AUTH_TOKEN_EXPIRED');
  assert.equal(failed.claimedSubject, 'alice');
});

test('without TLS the token is not even asked for: 28000', async () => {
  const m = rig.mark();
  const r = await rig.psql(['-c', 'SELECT 1'], { sslmode: 'disable' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /AFF_E_PG_TLS_REQUIRED/);
  const failed = await waitFor(() => rig.since(m).find((e) => e.type === 'AuthenticationFailed'), 'AuthenticationFailed');
  assert.ok(failed.type === 'AuthenticationFailed' && failed.code === 'AFF_E_PG_TLS_REQUIRED');
});

test('a GSSENCRequest is declined with N, and the client falls back to TLS and logs in on the same connection', async () => {
  const m = rig.mark();
  const socket = connect({ host: '127.0.0.1', port: rig.port });
  await once(socket, 'connect');
  // What libpq sends first when it holds Kerberos credentials: length 8, code 80877104.
  const gssenc = Buffer.alloc(8);
  gssenc.writeInt32BE(8, 0);
  gssenc.writeInt32BE(80877104, 4);
  socket.write(gssenc);
  const [answer] = (await once(socket, 'data')) as [Buffer];
  assert.equal(answer.toString('latin1'), 'N');
  // node-postgres takes over the open connection as libpq does after an N: SSLRequest, then
  // the startup packet inside TLS. Its `connect` is made a no-op, as the socket is connected.
  socket.connect = (() => {
    process.nextTick(() => socket.emit('connect'));
    return socket;
  }) as typeof socket.connect;
  const c = new pg.Client({ stream: () => socket, user: 'alice', database: 'app', password: await rig.token(), ssl: { ca: readFileSync(rig.caFile, 'utf8') } });
  await c.connect();
  try {
    const r = await c.query('SELECT 6 * 7 AS answer');
    assert.equal(r.rows[0].answer, 42);
  } finally {
    await c.end();
  }
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  const started = rig.since(m).find((e) => e.type === 'SessionStarted');
  assert.ok(started?.type === 'SessionStarted' && started.tls === true && started.actor?.subject === 'alice');
  assert.deepEqual(
    commandsOf(rig.since(m)).map((x) => [x.text, x.outcome]),
    [['SELECT 6 * 7 AS answer', 'ok']],
  );
});
