// The PgBouncer harness, checked with the real psql and pgbench: logins go through PgBouncer's
// SCRAM, queries reach the cluster, pgbench -S runs in transaction pooling, stop cleans up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startPostgres, stopPostgres, type PostgresInstance } from './postgres.ts';
import { pgbouncerIni, startPgBouncer, supportsMaxPreparedStatements, type PgBouncerInstance } from './pgbouncer.ts';

let pg: PostgresInstance;
let bouncer: PgBouncerInstance;

before(async () => {
  pg = await startPostgres();
  bouncer = await startPgBouncer(pg, { poolMode: 'transaction' });
});

after(async () => {
  await bouncer?.stop();
  await stopPostgres();
});

test('psql through PgBouncer reaches the cluster as app, on a port other than the server', async () => {
  assert.notEqual(bouncer.port, pg.port);
  const r = await bouncer.psql(['-tA', '-c', "SELECT current_user || ',' || current_database() || ',' || inet_server_port()"]);
  assert.equal(r.code, 0, `${r.stderr}\n${bouncer.log()}`);
  // inet_server_port() is the server's port: the query ran on a PgBouncer server connection.
  assert.equal(r.stdout.trim(), `app,app,${pg.port}`);
});

test('PgBouncer runs in transaction pooling and lists the app pool', async () => {
  const r = await bouncer.admin('SHOW POOLS');
  assert.equal(r.code, 0, `${r.stderr}\n${bouncer.log()}`);
  const appPool = r.stdout.split('\n').find((l) => l.startsWith('app|app|'));
  assert.ok(appPool, `no app pool in:\n${r.stdout}`);
  assert.match(appPool, /\|transaction$/);
});

test('a wrong password is refused by PgBouncer', async () => {
  const r = await bouncer.psql(['-c', 'SELECT 1'], { password: 'not-the-password' });
  assert.notEqual(r.code, 0);
  // PgBouncer answers itself (SCRAM against its userlist) before any server connection is used.
  assert.match(r.stderr, /SASL authentication failed/);
});

test('pgbench -S runs through PgBouncer', async () => {
  // Tables are created directly on the server, as the benchmark does.
  const init = await pg.pgbench(['-i', '-s', '1', '-q'], { sslmode: 'disable' });
  assert.equal(init.code, 0, init.stderr);
  const run = await bouncer.pgbench(['-S', '-c', '4', '-j', '2', '-t', '50']);
  assert.equal(run.code, 0, `${run.stderr}\n${bouncer.log()}`);
  assert.match(run.stdout, /number of transactions actually processed: 200\/200/);
  assert.match(run.stdout, /query mode: simple/);
});

test('pgbench -M prepared works through PgBouncer when its pool mode supports it', async () => {
  if (bouncer.preparedStatements) {
    const run = await bouncer.pgbench(['-S', '-M', 'prepared', '-c', '4', '-j', '2', '-t', '50']);
    assert.equal(run.code, 0, `${run.stderr}\n${bouncer.log()}`);
    assert.match(run.stdout, /number of transactions actually processed: 200\/200/);
    return;
  }
  // PgBouncer < 1.21 has no max_prepared_statements: prepared mode needs session pooling.
  assert.equal(supportsMaxPreparedStatements(bouncer.version), false);
  const session = await startPgBouncer(pg, { poolMode: 'session' });
  try {
    assert.equal(session.preparedStatements, true);
    const run = await session.pgbench(['-S', '-M', 'prepared', '-c', '4', '-j', '2', '-t', '50']);
    assert.equal(run.code, 0, `${run.stderr}\n${session.log()}`);
    assert.match(run.stdout, /number of transactions actually processed: 200\/200/);
    assert.match(run.stdout, /query mode: prepared/);
  } finally {
    await session.stop();
  }
  assert.equal(existsSync(session.dir), false, 'stop() left the temp dir behind');
});

test('supportsMaxPreparedStatements follows the 1.21 cut-over; the ini only names it when asked', () => {
  assert.equal(supportsMaxPreparedStatements('1.18.0'), false);
  assert.equal(supportsMaxPreparedStatements('1.20.1'), false);
  assert.equal(supportsMaxPreparedStatements('1.21.0'), true);
  assert.equal(supportsMaxPreparedStatements('2.0'), true);
  const base = {
    dir: '/tmp/x',
    port: 1,
    serverPort: 2,
    database: 'app',
    adminUser: 'app',
    poolMode: 'transaction' as const,
    defaultPoolSize: 20,
    maxClientConn: 200,
    serverTlsSslmode: 'disable',
  };
  assert.doesNotMatch(pgbouncerIni(base), /max_prepared_statements/);
  assert.match(pgbouncerIni({ ...base, maxPreparedStatements: 200 }), /^max_prepared_statements = 200$/m);
  assert.match(pgbouncerIni(base), /^pool_mode = transaction$/m);
});

test('stop ends PgBouncer and removes its temp dir', async () => {
  const extra = await startPgBouncer(pg);
  const ok = await extra.psql(['-tA', '-c', 'SELECT 1']);
  assert.equal(ok.stdout.trim(), '1', ok.stderr);
  await extra.stop();
  assert.equal(existsSync(extra.dir), false);
  const probe = await extra.psql(['-c', 'SELECT 1'], { timeoutMs: 15_000 });
  assert.notEqual(probe.code, 0, 'PgBouncer still answers after stop');
});
