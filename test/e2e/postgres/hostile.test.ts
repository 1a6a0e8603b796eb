// Hostile input on raw sockets: garbage before the startup packet, lying lengths, 1 GB length
// claims, truncated messages, a client that stops reading. Each closes THAT connection with a
// clear error; other sessions keep working. Also: the audit bus down in sync mode.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import pg from 'pg';
import { wire } from '@affidavit/postgres-proxy';
import { stopPostgres } from '../../services/postgres.ts';
import { startRig, waitFor, type Rig } from './harness.ts';

let rig: Rig;
before(async () => {
  rig = await startRig({ allowCleartextOnLoopback: true, maxMessageSize: 1 << 20, slowClientTimeoutMs: 500 });
});
after(async () => {
  await rig?.close();
  await stopPostgres();
});

type Conn = { sock: Socket; received: () => Buffer; closed: Promise<void> };

function open(): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port: rig.port });
    const chunks: Buffer[] = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => {});
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.once('connect', () => resolve({ sock, received: () => Buffer.concat(chunks), closed }));
    sock.once('error', reject);
  });
}

// errorOf walks what the proxy sent (after any one-byte SSL answer) and returns the LAST
// ErrorResponse's SQLSTATE and message.
function errorOf(b: Buffer): { code: string; message: string } | undefined {
  let found: { code: string; message: string } | undefined;
  for (let at = 0; at + 5 <= b.length; ) {
    const len = b.readInt32BE(at + 1);
    if (b[at] === 0x45) {
      const fields = b
        .subarray(at + 5, at + 1 + len)
        .toString('utf8')
        .split('\0');
      found = { code: fields.find((f) => f[0] === 'C')!.slice(1), message: fields.find((f) => f[0] === 'M')!.slice(1) };
    }
    at += 1 + len;
  }
  return found;
}

async function loggedIn(): Promise<Conn> {
  const c = await open();
  c.sock.write(wire.startupMessage({ user: 'alice', database: 'app' }));
  await waitFor(() => (c.received().length >= 9 ? true : undefined), 'password request');
  c.sock.write(wire.passwordMessage(await rig.token()));
  await waitFor(() => (c.received().includes(wire.readyForQuery('I')) ? true : undefined), 'ReadyForQuery');
  return c;
}

async function stillWorks(): Promise<void> {
  const r = await rig.psql(['-A', '-t', '-c', 'SELECT 7']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '7');
}

test('garbage before the startup packet: FATAL 08P01 and close', async () => {
  const c = await open();
  c.sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await c.closed;
  const e = errorOf(c.received());
  assert.equal(e?.code, '08P01');
  assert.match(e!.message, /AFF_E_PG_PROTOCOL_BAD_STARTUP/);
  await stillWorks();
});

test('a 1 GB length claim after login is refused from the header', async () => {
  const c = await loggedIn();
  const before = process.memoryUsage().rss;
  const head = Buffer.alloc(5);
  head.write('Q', 0, 'latin1');
  head.writeInt32BE(0x40000000, 1);
  c.sock.write(head);
  await c.closed;
  const e = errorOf(c.received());
  assert.equal(e?.code, '08P01');
  assert.match(e!.message, /AFF_E_PG_PROTOCOL_TOO_LARGE/);
  assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
  await stillWorks();
});

test('a length that lies (shorter than its content) and a truncated message close only that connection', async () => {
  const liar = await loggedIn();
  // Bind claiming 4 bytes but with a body: the reader sees 'B' with an empty body → malformed.
  liar.sock.write(Buffer.from([0x42, 0, 0, 0, 4, 0x51, 0, 0, 0, 4]));
  await liar.closed;
  const e = errorOf(liar.received());
  assert.equal(e?.code, '08P01');
  const cut = await loggedIn();
  const q = wire.query('SELECT 1');
  cut.sock.end(q.subarray(0, q.length - 3));
  await cut.closed;
  await stillWorks();
});

test('a client that stops reading is cut off after the bound; others keep working', async () => {
  const m = rig.mark();
  const c = await loggedIn();
  c.sock.pause();
  c.sock.removeAllListeners('data');
  c.sock.write(wire.query("SELECT repeat('x', 100000) FROM generate_series(1, 5000)"));
  await stillWorks();
  const ended = await waitFor(
    () => rig.since(m).find((e) => e.type === 'SessionEnded' && e.errorCode === 'AFF_E_PG_CLIENT_TOO_SLOW'),
    'slow-client SessionEnded',
    15_000,
  );
  assert.ok(ended);
  c.sock.destroy();
});

test('sync mode with the bus down: the statement is refused with AFF_E_RECORDING_UNAVAILABLE, then works again', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: rig.port, user: 'alice', database: 'app', password: await rig.token(), ssl: false });
  await c.connect();
  try {
    rig.sink.failing = true;
    await assert.rejects(c.query('SELECT 1'), (e: Error) => {
      assert.match(e.message, /AFF_E_RECORDING_UNAVAILABLE/);
      return true;
    });
    rig.sink.failing = false;
    // The recorder retries with backoff; the first statements may still be refused meanwhile.
    let n: number | undefined;
    for (let i = 0; i < 50 && n === undefined; i++) {
      n = await c.query('SELECT 2 AS n').then(
        (x) => x.rows[0].n as number,
        () => undefined,
      );
      if (n === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(n, 2);
  } finally {
    await c.end();
  }
});
