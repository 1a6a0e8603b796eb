// The codec against a real PostgreSQL: a SCRAM-SHA-256 login over a raw TCP socket with our
// writers, BackendReader (pg-protocol) and SCRAM client, then a query. This is exactly the
// upstream half of the proxy, minus TLS (the harness allows SCRAM over plain loopback TCP).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startPostgres, stopPostgres } from '../../../../test/services/postgres.ts';
import { BackendReader, type BackendFrame } from './backend-reader.ts';
import { createScramClient, randomScramNonce, SCRAM_MECHANISM } from './scram-client.ts';
import { query, saslInitialResponse, saslResponse, startupMessage, terminate } from './frontend-writer.ts';

after(() => stopPostgres());

// frames yields backend frames from a socket as they arrive.
function frameStream(sock: Socket) {
  const reader = new BackendReader();
  const queue: BackendFrame[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  sock.on('data', (d: Buffer) => {
    try {
      queue.push(...reader.read(d));
    } catch (e) {
      failure = e;
    }
    wake?.();
  });
  sock.on('close', () => {
    failure ??= new Error('socket closed');
    wake?.();
  });
  return async function next(): Promise<BackendFrame> {
    while (queue.length === 0) {
      if (failure) throw failure;
      await new Promise<void>((r) => (wake = r));
    }
    return queue.shift()!;
  };
}

async function login(port: number, user: string, password: string) {
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
  const next = frameStream(sock);
  sock.write(startupMessage({ user, database: 'app', application_name: 'affidavit-wire-int' }));
  const sasl = (await next()).message as unknown as { name: string; mechanisms: string[] };
  assert.equal(sasl.name, 'authenticationSASL');
  assert.ok(sasl.mechanisms.includes(SCRAM_MECHANISM), sasl.mechanisms.join());
  const scram = createScramClient({ password, nonce: randomScramNonce() });
  sock.write(saslInitialResponse(SCRAM_MECHANISM, scram.clientFirst()));
  const cont = (await next()).message as unknown as { name: string; data: string };
  assert.equal(cont.name, 'authenticationSASLContinue');
  sock.write(saslResponse(scram.clientFinal(cont.data)));
  return { sock, next, scram };
}

test('SCRAM-SHA-256 login with the wire codec, then a simple query', async () => {
  const pg = await startPostgres();
  const { sock, next, scram } = await login(pg.port, pg.user, pg.password);
  const fin = (await next()).message as unknown as { name: string; data: string };
  assert.equal(fin.name, 'authenticationSASLFinal');
  scram.verifyServerFinal(fin.data);
  assert.equal((await next()).message.name, 'authenticationOk');
  const seen: string[] = [];
  for (let f = await next(); ; f = await next()) {
    seen.push(f.message.name);
    if (f.message.name === 'readyForQuery') break;
  }
  assert.ok(seen.includes('backendKeyData') && seen.includes('parameterStatus'), seen.join());
  sock.write(query('SELECT current_user, 6 * 7 AS answer'));
  const rd = (await next()).message as unknown as { fields: { name: string }[] };
  assert.deepEqual(
    rd.fields.map((f) => f.name),
    ['current_user', 'answer'],
  );
  const row = await next();
  assert.equal(row.type, 'D');
  assert.deepEqual((row.message as unknown as { fields: string[] }).fields, ['app', '42']);
  assert.equal(((await next()).message as unknown as { text: string }).text, 'SELECT 1');
  assert.equal((await next()).message.name, 'readyForQuery');
  sock.end(terminate());
});

test('a wrong password gets the server FATAL before any server signature', async () => {
  const pg = await startPostgres();
  const { sock, next } = await login(pg.port, pg.user, 'wrong-password');
  const err = (await next()).message as unknown as { name: string; code: string; message: string };
  assert.equal(err.name, 'error');
  assert.equal(err.code, '28P01');
  assert.match(err.message, /password authentication failed/);
  sock.destroy();
});
