// Integration tests for the embedded demo database: a real PGlite on a temporary folder,
// served on a private Unix socket behind SCRAM, reached by the real `psql` client, by
// node-postgres (`pg`) and by a raw wire client. They pin what the proxy's upstream relies on
// (no TCP port, the password checked, SSL refused with `N`, one session at a time on the one
// backend and its state reset between sessions, the connection cap).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { createLogger } from '@affidavit/common';
import { wire } from '@affidavit/postgres-proxy';
import { listeningTcpPorts } from '../../../../test/services/listening-tcp.ts';
import { startDemoDatabase, DEMO_DB_MAX_CONNECTIONS, DEMO_DB_LEASE_WAIT_MS } from './demo-database.ts';
import type { DemoDatabase } from './demo-database.ts';

const run = promisify(execFile);
const logger = createLogger({ name: 'demo-database-test', level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The seed's size, as demo-seed.sql promises it. */
const SEEDED_CUSTOMERS = 20;
const SEEDED_ORDERS = 12;

/** luhnValid is an independent implementation of the Luhn (mod 10) check, for the assertion only. */
function luhnValid(digits: string): boolean {
  if (!/^[0-9]{12,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

function psql(db: DemoDatabase, sql: string, conn: Record<string, string> = {}, password = db.password) {
  const dsn = Object.entries({
    host: db.socketDir,
    port: String(db.port),
    user: db.user,
    dbname: db.database,
    sslmode: 'disable',
    gssencmode: 'disable',
    connect_timeout: '5',
    ...conn,
  })
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return run('/usr/bin/psql', [dsn, '-X', '-w', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: password, LC_ALL: 'C.UTF-8' },
  });
}

async function client(db: DemoDatabase, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({
    host: db.socketDir,
    port: db.port,
    user: db.user,
    password: db.password,
    database: db.database,
    ssl: false,
    connectionTimeoutMillis: 5_000,
    ...extra,
  });
  await c.connect();
  return c;
}

function frame(bytes: number[]): Buffer {
  const b = Buffer.alloc(bytes.length * 4);
  bytes.forEach((v, i) => b.writeInt32BE(v, i * 4));
  return b;
}

/** rawLogin logs in over the socket with the wire helpers (SCRAM) and returns the socket and what it received. */
async function rawLogin(
  db: DemoDatabase,
  password = db.password,
): Promise<{ s: Socket; names: string[]; frames: Array<Record<string, unknown>>; until: (name: string) => Promise<Record<string, unknown>> }> {
  const s = connect({ path: db.socketPath });
  await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
  const reader = new wire.BackendReader();
  const frames: Array<Record<string, unknown>> = [];
  const names: string[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  s.on('data', (d: Buffer) => {
    for (const f of reader.read(d)) {
      frames.push(f.message as unknown as Record<string, unknown>);
      names.push((f.message as unknown as { name: string }).name);
    }
    wake?.();
  });
  s.on('close', () => {
    closed = true;
    wake?.();
  });
  let seen = 0;
  const until = async (name: string) => {
    for (;;) {
      while (seen < frames.length) {
        const f = frames[seen++];
        if (f.name === name || f.name === 'error') return f;
      }
      if (closed) throw new Error(`connection closed before ${name}; got ${names.join(',')}`);
      await new Promise<void>((r) => (wake = r));
    }
  };
  s.write(wire.startupMessage({ user: db.user, database: db.database }));
  await until('authenticationSASL');
  const scram = wire.createScramClient({ password, nonce: wire.randomScramNonce() });
  s.write(wire.saslInitialResponse(wire.SCRAM_MECHANISM, scram.clientFirst()));
  const cont = await until('authenticationSASLContinue');
  if (cont.name === 'error') return { s, names, frames, until };
  s.write(wire.saslResponse(scram.clientFinal(cont.data as string)));
  await until('readyForQuery');
  return { s, names, frames, until };
}

const closedSocket = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('demo database (PGlite on a private Unix socket behind SCRAM)', { timeout: 180_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'affidavit-demo-db-'));
  const dataDir = join(root, 'data', 'demo-db');
  let db: DemoDatabase;

  before(async () => {
    db = await startDemoDatabase({ dataDir, logger });
  });

  after(async () => {
    await db?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('first start seeds, opens no TCP port, and keeps its data and socket folders private', () => {
    assert.equal(db.seeded, true);
    assert.equal(db.authMethod, 'scram-sha-256');
    assert.deepEqual(listeningTcpPorts(), [], 'the demo database MUST NOT listen on any TCP port');
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    const dir = statSync(db.socketDir);
    assert.equal(dir.mode & 0o777, 0o700, 'the socket folder is private');
    assert.equal(dir.uid, process.getuid!());
    const sock = statSync(db.socketPath);
    assert.ok(sock.isSocket());
    assert.equal(sock.mode & 0o077, 0, 'the socket itself grants nothing to group or others');
    assert.equal(db.socketPath, join(db.socketDir, '.s.PGSQL.5432'));
    assert.ok(db.password.length >= 40, 'a random password of 32 bytes');
  });

  test('psql connects and counts the seeded customers', async () => {
    const { stdout } = await psql(db, 'select count(*) from customers');
    assert.equal(stdout.trim(), String(SEEDED_CUSTOMERS));
  });
  test('psql runs a join between orders and customers', async () => {
    const { stdout } = await psql(
      db,
      "select c.name || '|' || count(o.id) from customers c join orders o on o.customer_id = c.id group by c.name having count(o.id) > 1 order by c.name",
    );
    assert.deepEqual(stdout.trim().split('\n'), ['Amelia Hartley|2', 'Yuki Tanaka|2']);
  });

  test('the password is checked: none, a wrong one and a forged proof are refused with 28P01', async () => {
    await assert.rejects(psql(db, 'select 1', {}, ''), (err: Error & { stderr?: string }) => {
      assert.match(err.stderr ?? '', /no password supplied|password authentication failed/);
      return true;
    });
    await assert.rejects(psql(db, 'select 1', {}, 'postgres'), (err: Error & { stderr?: string }) => {
      assert.match(err.stderr ?? '', /password authentication failed/);
      return true;
    });
    await assert.rejects(client(db, { password: 'wrong password' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, '28P01');
      return true;
    });
    const raw = await rawLogin(db, 'not the password').catch((e: Error) => e);
    assert.ok(raw instanceof Error || raw.names.includes('error'));
    // Right password: the session runs as the one superuser whatever user and database were named.
    const { stdout } = await psql(db, "select current_user || '@' || current_database()", { user: 'someone_else', dbname: 'no_such_database' });
    assert.equal(stdout.trim(), 'postgres@postgres');
  });

  test('SSLRequest is answered N (libpq never asks on a Unix socket; a raw client may)', async () => {
    const { stdout } = await psql(db, "select 'clear'", { sslmode: 'prefer' });
    assert.equal(stdout.trim(), 'clear');
    const g = connect({ path: db.socketPath });
    const got: Buffer[] = [];
    g.on('data', (d) => got.push(d));
    await new Promise<void>((res, rej) => g.once('connect', res).once('error', rej));
    g.write(frame([8, 80877103]));
    await sleep(200);
    assert.equal(Buffer.concat(got).toString(), 'N');
    g.destroy();
  });

  test('node-postgres runs parameterized queries (extended protocol)', async () => {
    const c = await client(db);
    try {
      const se = await c.query('select name, email from customers where country = $1', ['SE']);
      assert.deepEqual(se.rows, [{ name: 'Jonas Lindqvist', email: 'jonas.lindqvist@example.com' }]);

      const joined = await c.query(
        'select o.product, o.amount_cents from orders o join customers c on c.id = o.customer_id where c.email = $1 and o.amount_cents > $2 order by o.id',
        ['amelia.hartley@example.com', 5000],
      );
      assert.deepEqual(joined.rows, [{ product: 'Noise-cancelling headphones', amount_cents: 24900 }]);

      // A named prepared statement: Parse once, then Bind/Execute with new values.
      const name = `by_id_${process.pid}`;
      const a = await c.query({ name, text: 'select name from customers where id = $1', values: [3] });
      const b = await c.query({ name, text: 'select name from customers where id = $1', values: [15] });
      assert.equal(a.rows[0].name, 'Priya Raghunathan');
      assert.equal(b.rows[0].name, "Liam O'Connor");

      const counts = await c.query('select (select count(*) from customers)::int as c, (select count(*) from orders)::int as o');
      assert.deepEqual(counts.rows[0], { c: SEEDED_CUSTOMERS, o: SEEDED_ORDERS });
    } finally {
      await c.end();
    }
  });
  test('every seeded card number passes the Luhn check, every e-mail is on a reserved example domain', async () => {
    assert.equal(luhnValid('4111111111111112'), false, 'the Luhn check itself must be able to fail');
    const c = await client(db);
    try {
      const r = await c.query<{ card_number: string; email: string }>('select card_number, email from customers order by id');
      assert.equal(r.rows.length, SEEDED_CUSTOMERS);
      for (const row of r.rows) {
        assert.ok(luhnValid(row.card_number), `card ${row.card_number} fails Luhn`);
        assert.match(row.email, /^[a-z.]+@example\.(com|net|org)$/);
      }
      assert.equal(new Set(r.rows.map((x) => x.card_number)).size, SEEDED_CUSTOMERS, 'card numbers are distinct');
    } finally {
      await c.end();
    }
  });

  test('two clients one after another: nothing the first left behind reaches the second', async () => {
    const served = db.sessionsServed;
    const a = await client(db, { application_name: 'client-a' });
    await a.query('prepare secret_stmt as select email from customers where id = 1');
    await a.query('begin');
    await a.query('declare held_cur cursor with hold for select card_number from customers order by id');
    await a.query('commit');
    await a.query("set application_name = 'left-behind-by-a'");
    await a.query('set search_path = pg_catalog');
    await a.query('create temp table a_temp (x text)');
    await a.query("insert into a_temp values ('a was here')");
    await a.query('listen a_channel');
    await a.query('select pg_advisory_lock(4242)');
    await a.query({ name: 'a_protocol_stmt', text: 'select email from public.customers where id = $1', values: [1] });
    await a.query('begin');
    await a.query("update public.customers set name = 'changed by a' where id = 1");
    await a.end();

    const b = await client(db);
    try {
      const fails = async (sql: string, code: string) =>
        assert.rejects(b.query(sql), (e: Error & { code?: string }) => {
          assert.equal(e.code, code, `${sql}: ${e.message}`);
          return true;
        });
      await fails('execute secret_stmt', '26000');
      await fails('fetch 1 from held_cur', '34000');
      await fails('select * from a_temp', '42P01');
      const r = await b.query(
        "select current_setting('application_name') as app, current_setting('search_path') as sp, (select count(*)::int from pg_prepared_statements) as prepared, (select count(*)::int from pg_cursors) as cursors, (select count(*)::int from pg_listening_channels()) as listening, (select count(*)::int from pg_locks where locktype = 'advisory') as advisory, (select name from customers where id = 1) as name",
      );
      assert.deepEqual(r.rows[0], { app: '', sp: 'public', prepared: 0, cursors: 0, listening: 0, advisory: 0, name: 'Amelia Hartley' });
      assert.equal(db.sessionsServed, served + 2);
    } finally {
      await b.end();
    }
  });

  test('two concurrent clients: the second waits for the backend until the first left, then finds nothing of it', async () => {
    const a = await client(db);
    await a.query('prepare a_only as select 1 as one');
    let bConnected = false;
    const bPromise = client(db).then((c) => ((bConnected = true), c));
    await sleep(400);
    assert.equal(bConnected, false, 'b MUST NOT share the backend with a while a is connected');
    const stillA = await a.query('execute a_only');
    assert.equal(stillA.rows[0].one, 1, 'a keeps its own state while b waits');
    await a.end();
    const b = await bPromise;
    try {
      await assert.rejects(b.query('execute a_only'), { code: '26000' });
    } finally {
      await b.end();
    }
  });

  test('a session that waits past the lease wait gets FATAL 53300 with a clear message', { timeout: DEMO_DB_LEASE_WAIT_MS + 20_000 }, async () => {
    const a = await client(db);
    try {
      const started = Date.now();
      await assert.rejects(client(db, { connectionTimeoutMillis: DEMO_DB_LEASE_WAIT_MS + 5_000 }), (e: Error & { code?: string }) => {
        assert.equal(e.code, '53300');
        assert.match(e.message, /one session at a time/);
        return true;
      });
      assert.ok(Date.now() - started >= DEMO_DB_LEASE_WAIT_MS - 100);
    } finally {
      await a.end();
    }
  });

  test('concurrent clients are served one session after another, each with its own results', async () => {
    const mismatches: string[] = [];
    await Promise.all(
      [0, 1, 2, 3].map(async (k) => {
        const c = await client(db);
        try {
          for (let i = 0; i < 25; i++) {
            const id = ((k * 7 + i) % SEEDED_CUSTOMERS) + 1;
            const r = await c.query('select id, $2::text as tag from customers where id = $1', [id, `c${k}-${i}`]);
            if (r.rows.length !== 1 || r.rows[0].id !== id || r.rows[0].tag !== `c${k}-${i}`)
              mismatches.push(`client ${k} query ${i}: ${JSON.stringify(r.rows)}`);
          }
        } finally {
          await c.end();
        }
      }),
    );
    assert.deepEqual(mismatches, []);
  });

  test('a transaction left open by a closed connection is rolled back', async () => {
    const a = await client(db);
    await a.query('begin');
    await a.query("insert into customers (name, email, card_number, country) values ('Ghost', 'ghost@example.com', '4111111111111111', 'ZZ')");
    await a.end();
    const b = await client(db);
    try {
      const r = await b.query('select count(*)::int as n from customers where email = $1', ['ghost@example.com']);
      assert.equal(r.rows[0].n, 0);
    } finally {
      await b.end();
    }
  });

  test('a client that leaves in the middle of an extended-protocol batch leaves the backend clean', async () => {
    // A raw client: Parse of a named statement and Bind, no Sync, then it goes.
    const raw = await rawLogin(db);
    raw.s.write(Buffer.concat([wire.encodeFrontendMessage({ type: 'Parse', name: 'raw_left', query: 'select 1', paramTypes: [] } as never)]));
    await sleep(200);
    raw.s.destroy();
    await closedSocket(raw.s);

    const b = await client(db);
    try {
      const r = await b.query('select count(*)::int as prepared from pg_prepared_statements');
      assert.deepEqual(r.rows[0], { prepared: 0 });
    } finally {
      await b.end();
    }
  });

  test('COPY FROM STDIN (which would stop PGlite for everyone) is refused before it reaches PGlite', async () => {
    const c = await client(db);
    await assert.rejects(c.query('/* sneaky */ COPY orders (product) FROM STDIN'), (e: Error & { code?: string }) => {
      assert.equal(e.code, '0A000');
      assert.match(e.message, /not supported by the demo database/);
      return true;
    });
    await c.end().catch(() => undefined);
    const { stdout } = await psql(db, 'select count(*) from orders');
    assert.equal(stdout.trim(), String(SEEDED_ORDERS), 'the demo database still serves everyone');
  });

  test('a PasswordMessage after login ends that connection only (it never reaches PGlite)', async () => {
    const raw = await rawLogin(db);
    raw.s.write(wire.passwordMessage('again'));
    const e = await raw.until('never');
    assert.equal(e.name, 'error');
    assert.equal(e.code, '08P01');
    await closedSocket(raw.s);
    const { stdout } = await psql(db, 'select 1');
    assert.equal(stdout.trim(), '1');
  });

  test('CancelRequest is dropped and GSSENCRequest answered N', async () => {
    const c = await client(db);
    try {
      const running = c.query('select pg_sleep(0.4) is null as slept');
      await sleep(100);
      const s = connect({ path: db.socketPath });
      await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
      s.write(frame([16, 80877102, 42, 0]));
      const r = await running;
      assert.equal(r.rows[0].slept, false);
      await closedSocket(s);
    } finally {
      await c.end();
    }
    const g = connect({ path: db.socketPath });
    const got: Buffer[] = [];
    g.on('data', (d) => got.push(d));
    await new Promise<void>((res, rej) => g.once('connect', res).once('error', rej));
    g.write(frame([8, 80877104]));
    await sleep(200);
    assert.equal(Buffer.concat(got).toString(), 'N');
    g.destroy();
  });

  test('a connection past maxConnections is closed without a PostgreSQL error', async () => {
    await sleep(100); // let the sockets closed by earlier tests be counted as gone
    const open: Socket[] = [];
    try {
      // Connections that have not logged in still count.
      for (let i = 0; i < DEMO_DB_MAX_CONNECTIONS; i++) {
        const s = connect({ path: db.socketPath });
        await new Promise<void>((res, rej) => s.once('connect', res).once('error', rej));
        open.push(s);
      }
      await sleep(100);
      await assert.rejects(client(db), (err: Error) => {
        assert.match(err.message, /terminated|ECONNRESET|EPIPE|closed/i);
        return true;
      });
    } finally {
      for (const s of open) s.destroy();
    }
    await sleep(100);
    const again = await client(db);
    const r = await again.query('select 1 as one');
    assert.equal(r.rows[0].one, 1);
    await again.end();
  });

  test('options are checked; a second open of the same folder is refused', async () => {
    await assert.rejects(startDemoDatabase({ dataDir: join(root, 'other'), maxConnections: 0, logger }), { code: 'AFF_E_CONFIG_INVALID' });
    await assert.rejects(startDemoDatabase({ dataDir: join(root, 'other'), host: '127.0.0.1', logger } as never), { code: 'AFF_E_CONFIG_INVALID' });
    await assert.rejects(startDemoDatabase({ dataDir, logger }), { code: 'AFF_E_CLI_DEMO_DB_START_FAILED' });
  });

  test('restart on the same folder keeps every row, adds none, and new ids follow the seed', async () => {
    const c = await client(db);
    const added = await c.query<{ id: number }>(
      "insert into customers (name, email, card_number, country) values ('Ada Lovelace', 'ada.lovelace@example.org', '5555555555554444', 'GB') returning id",
    );
    await c.end();
    // Greater, not equal: the rolled-back insert above used up a sequence value (sequences are not transactional).
    const adaId = added.rows[0].id;
    assert.ok(adaId > SEEDED_CUSTOMERS, `new id ${adaId} collides with the seed`);

    await db.stop();
    await db.stop(); // stopping twice is harmless
    db = await startDemoDatabase({ dataDir, logger });
    assert.equal(db.seeded, false);

    const { stdout } = await psql(db, "select count(*) || '|' || count(distinct email) from customers");
    assert.equal(stdout.trim(), `${SEEDED_CUSTOMERS + 1}|${SEEDED_CUSTOMERS + 1}`);
    const d = await client(db);
    try {
      const r = await d.query('select count(*)::int as n from orders');
      assert.equal(r.rows[0].n, SEEDED_ORDERS);
      const ada = await d.query('select name from customers where id = $1', [adaId]);
      assert.equal(ada.rows[0].name, 'Ada Lovelace');
    } finally {
      await d.end();
    }
  });
});
