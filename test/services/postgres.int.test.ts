// The PostgreSQL harness itself, checked with the real psql: TLS + SCRAM works, a wrong password
// does not, start is idempotent and stop leaves nothing behind.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startPostgres, stopPostgres } from './postgres.ts';

after(() => stopPostgres());

test('psql over verify-full TLS with SCRAM returns a query result', async () => {
  const pg = await startPostgres();
  const r = await pg.psql(['-tA', '-c', "SELECT current_user || ',' || ssl::text || ',' || (40 + 2) FROM pg_stat_ssl WHERE pid = pg_backend_pid()"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'app,true,42');
  const method = await pg.psql(['-tA', '-c', "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'app'"], {
    user: pg.superuser,
    password: pg.superuserPassword,
    database: 'postgres',
  });
  assert.equal(method.stdout.trim(), 't', method.stderr);
});

test('a wrong password is refused', async () => {
  const pg = await startPostgres();
  const r = await pg.psql(['-c', 'SELECT 1'], { password: 'not-the-password' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /password authentication failed for user "app"/);
});

test('pgbench runs against the app database', async () => {
  const pg = await startPostgres();
  const init = await pg.pgbench(['-i', '-s', '1', '-q']);
  assert.equal(init.code, 0, init.stderr);
  const run = await pg.pgbench(['-c', '2', '-t', '20', '-S']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /number of transactions actually processed: 40\/40/);
});

test('a second start returns the running instance; stop removes the temp dir', async () => {
  const a = await startPostgres();
  const b = await startPostgres();
  assert.equal(a, b);
  assert.equal(a.port, b.port);
  assert.ok(existsSync(a.dir));
  await a.stop();
  assert.equal(existsSync(a.dir), false);
  const probe = await a.psql(['-c', 'SELECT 1'], { timeoutMs: 15_000 });
  assert.notEqual(probe.code, 0, 'server still answers after stop');
  const c = await startPostgres();
  assert.notEqual(c, a);
  assert.notEqual(c.dir, a.dir);
  const r = await c.psql(['-tA', '-c', 'SELECT 1']);
  assert.equal(r.stdout.trim(), '1', r.stderr);
});
