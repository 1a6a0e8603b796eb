// Isolation between users of one proxy (issue #15, classes 6 and 7), with real clients:
// - per-identity and total connection limits (FATAL 53300), released on every end path;
// - the idle timeout closes idle and idle-in-transaction sessions alike;
// - rejections before login (garbage, oversized startup, TLS required, login timeout, bad
//   token, limits) are recorded, aggregated per source address;
// - the embedded demo database reached through the proxy on its private Unix socket: nothing
//   one user's session leaves behind reaches the next user.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createLogger } from '@affidavit/common';
import type { SessionEvent } from '@affidavit/schemas';
import { stopPostgres } from '../../services/postgres.ts';
import { startDemoDatabase, type DemoDatabase } from '../../../services/cli/src/embedded/demo-database.ts';
import { startRig, waitFor, type Rig } from './harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

after(async () => {
  await stopPostgres();
});

async function pgClient(rig: Rig, user = 'alice', extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: rig.port,
    user,
    database: 'app',
    password: await rig.token(user),
    ssl: false,
    connectionTimeoutMillis: 10_000,
    ...extra,
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

function rawSocket(rig: Rig): Promise<{ s: Socket; received: () => Buffer; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: rig.port });
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => undefined);
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.once('connect', () => resolve({ s, received: () => Buffer.concat(chunks), closed }));
    s.once('error', reject);
  });
}

const authFailures = (events: readonly SessionEvent[]) =>
  events.filter((e): e is Extract<SessionEvent, { type: 'AuthenticationFailed' }> => e.type === 'AuthenticationFailed');

describe('connection limits per identity and in total', () => {
  let rig: Rig;
  let closed = false;
  before(async () => {
    rig = await startRig({
      allowCleartextOnLoopback: true,
      maxConnectionsPerIdentity: 2,
      maxConnections: 6,
      idleTimeoutMs: 1000,
      preLogin: { recordsPerSource: 1 },
    });
  });
  after(async () => {
    if (!closed) await rig?.close();
  });

  test('the third session of one identity gets FATAL 53300 too_many_connections, recorded; others are not affected', async () => {
    const m = rig.mark();
    const a1 = await pgClient(rig);
    const a2 = await pgClient(rig);
    await assert.rejects(pgClient(rig), (e: Error & { code?: string }) => {
      assert.equal(e.code, '53300');
      assert.match(e.message, /too_many_connections: alice already has 2 sessions open/);
      assert.match(e.message, /AFF_E_PG_TOO_MANY_CONNECTIONS/);
      return true;
    });
    const b = await pgClient(rig, 'bob');
    assert.equal((await b.query('select 1 as one')).rows[0].one, 1, 'bob is counted apart from alice');
    const refused = await waitFor(
      () => authFailures(rig.since(m)).find((e) => e.code === 'AFF_E_PG_TOO_MANY_CONNECTIONS'),
      'AuthenticationFailed for the limit',
    );
    assert.equal(refused.claimedSubject, 'alice');
    await Promise.all([a1.end(), a2.end(), b.end()]);
  });

  test('the slot is given back on every end path: Terminate, a dropped socket, the idle timeout', async () => {
    const clean = await pgClient(rig);
    const dropped = await pgClient(rig);
    await clean.end(); // Terminate
    // A dropped TCP connection, no Terminate.
    (dropped as unknown as { connection: { stream: Socket } }).connection.stream.destroy();
    await sleep(200);
    const c1 = await pgClient(rig);
    const c2 = await pgClient(rig);
    // Both left idle past idleTimeoutMs (1 s): closed by the proxy, slots freed.
    await sleep(1600);
    const c3 = await pgClient(rig);
    const c4 = await pgClient(rig);
    assert.equal((await c4.query('select 2 as two')).rows[0].two, 2);
    await Promise.all([c3.end(), c4.end(), c1.end().catch(() => undefined), c2.end().catch(() => undefined)]);
  });

  test('the idle timeout closes a session idle in a transaction too (57P05)', async () => {
    const c = await pgClient(rig);
    await c.query('begin');
    await c.query('select 1');
    await sleep(1600);
    await assert.rejects(c.query('select 2'), /idle-session timeout|Connection terminated|not queryable/);
    await c.end().catch(() => undefined);
  });

  test('past maxConnections a connection gets FATAL 53300 before login, and the refusal is recorded', async () => {
    const m = rig.mark();
    const held = await Promise.all([1, 2, 3, 4, 5, 6].map(() => rawSocket(rig)));
    const extra = await rawSocket(rig);
    await extra.closed;
    const got = extra.received();
    assert.equal(got[0], 0x45, 'an ErrorResponse');
    assert.match(got.toString('utf8'), /C53300\0/);
    assert.match(got.toString('utf8'), /too many clients already.*AFF_E_PG_PROXY_FULL/);
    for (const h of held) h.s.destroy();
    await sleep(200);
    const ok = await pgClient(rig);
    await ok.end();
    // This source's first rejection of the window (the identity limit above) was recorded at once;
    // this one is counted, and the summary recorded at shutdown names it.
    closed = true;
    await rig.close();
    const summary = authFailures(rig.since(m)).find((e) => e.code === 'AFF_E_PG_PRELOGIN_REJECTIONS');
    assert.ok(summary, 'a summary of the counted rejections');
    assert.match(summary.reason, /1 × AFF_E_PG_PROXY_FULL/);
  });
});

describe('pre-login rejections are recorded, aggregated per source address', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ authTimeoutMs: 400, maxMessageSize: 1 << 20, preLogin: { recordsPerSource: 1 } });
  });

  test('the first from a source is recorded at once; garbage, oversize, TLS-less, timeout and bad tokens are counted into one summary', async () => {
    // 1. garbage instead of a startup packet: recorded at once.
    const g = await rawSocket(rig);
    g.s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await g.closed;
    const first = await waitFor(() => authFailures(rig.events())[0], 'the first rejection recorded at once');
    assert.match(first.code, /^AFF_E_PG_PROTOCOL/);
    assert.match(first.source.address, /127\.0\.0\.1/);
    assert.equal(first.actor, null);

    // 2. more of the same and other kinds from the same address: counted, not recorded.
    for (let i = 0; i < 20; i++) {
      const x = await rawSocket(rig);
      x.s.write(Buffer.from('\x16\x03\x01 definitely not postgres'));
      await x.closed;
    }
    const big = await rawSocket(rig); // a startup packet claiming 1 GB
    const len = Buffer.alloc(8);
    len.writeInt32BE(1 << 30, 0);
    len.writeInt32BE(196608, 4);
    big.s.write(len);
    await big.closed;
    const slow = await rawSocket(rig); // connects, never logs in: login timeout
    await slow.closed;
    // psql-like client without TLS where TLS is required, and a bad token over TLS-less loopback is refused the same way.
    const noTls = new pg.Client({ host: '127.0.0.1', port: rig.port, user: 'alice', database: 'app', password: 'not-a-token', ssl: false });
    noTls.on('error', () => undefined);
    await assert.rejects(noTls.connect(), (e: Error & { code?: string }) => e.code === '28000');
    const badToken = new pg.Client({
      host: '127.0.0.1',
      port: rig.port,
      user: 'alice',
      database: 'app',
      password: 'not-a-token',
      ssl: { ca: await import('node:fs').then((f) => f.readFileSync(rig.caFile, 'utf8')), servername: '127.0.0.1' },
    });
    badToken.on('error', () => undefined);
    await assert.rejects(badToken.connect(), (e: Error & { code?: string }) => e.code === '28P01');

    await sleep(300);
    assert.equal(
      authFailures(rig.events()).length,
      1,
      `a flood of 25 rejections from one address MUST NOT give 25 events: ${authFailures(rig.events())
        .map((e) => e.code)
        .join(', ')}`,
    );

    // 3. the summary is recorded when the window ends, or at shutdown.
    await rig.close();
    const all = authFailures(rig.events());
    assert.equal(all.length, 2, all.map((e) => `${e.code}: ${e.reason}`).join('\n'));
    const summary = all[1];
    assert.equal(summary.code, 'AFF_E_PG_PRELOGIN_REJECTIONS');
    assert.match(summary.source.address, /127\.0\.0\.1/);
    assert.match(summary.reason, /^24 more pre-login rejection\(s\) from \S*127\.0\.0\.1 /);
    assert.match(summary.reason, /21 × AFF_E_PG_PROTOCOL_BAD_STARTUP/, 'garbage and the oversized startup packet');
    assert.match(summary.reason, /1 × AFF_E_PG_LOGIN_TIMEOUT/);
    assert.match(summary.reason, /1 × AFF_E_PG_TLS_REQUIRED/);
    assert.match(summary.reason, /1 × AFF_E_AUTH/);
  });
});

describe('the demo database through the proxy: one user leaves nothing for the next', { timeout: 240_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'affidavit-isolation-'));
  let demo: DemoDatabase;
  let rig: Rig;
  before(async () => {
    demo = await startDemoDatabase({ dataDir: join(root, 'demo-db'), logger: createLogger({ name: 'isolation-test', level: 'silent' }) });
    rig = await startRig({
      allowCleartextOnLoopback: true,
      upstream: { host: 'localhost', port: demo.port, socketPath: demo.socketPath, user: demo.user, password: demo.password, database: demo.database },
    });
  });
  after(async () => {
    await rig?.close();
    await demo?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('psql through the proxy reaches the demo database on its Unix socket', async () => {
    const r = await rig.psql(['-At', '-c', 'select count(*) from orders']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '12');
  });

  test('alice leaves prepared statements, a cursor WITH HOLD, settings and a temp table; bob, next, sees none of them', async () => {
    const a = await pgClient(rig, 'alice');
    await a.query({ name: 'alice_stmt', text: 'select name from customers where id = $1', values: [1] });
    await a.query('begin');
    await a.query('declare alice_cur cursor with hold for select name from customers order by id');
    await a.query('commit');
    await a.query("set application_name = 'alice-was-here'");
    await a.query('create temp table alice_tmp (x int)');
    // bob logs in while alice is still connected: he waits for the backend, he does not share it.
    let bobIn = false;
    const bPromise = pgClient(rig, 'bob').then((c) => ((bobIn = true), c));
    await sleep(500);
    assert.equal(bobIn, false, 'bob MUST NOT share the backend with alice');
    await a.end();
    const b = await bPromise;
    try {
      // (FETCH of a cursor bob never declared is refused by the proxy itself; the catalog below shows the server has none either.)
      await assert.rejects(b.query('select * from alice_tmp'), (e: Error & { code?: string }) => e.code === '42P01');
      const r = await b.query(
        "select current_setting('application_name') as app, (select count(*)::int from pg_prepared_statements) as prepared, (select count(*)::int from pg_cursors) as cursors",
      );
      assert.deepEqual(r.rows[0], { app: '', prepared: 0, cursors: 0 });
    } finally {
      await b.end();
    }
  });
});
