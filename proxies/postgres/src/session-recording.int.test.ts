// The proxy's audit guarantees on its fast paths, against a real PostgreSQL over raw sockets
// (so the test controls exactly which messages share one TCP write):
// - pipelined commands (several Query messages, or Parse/Bind/Execute… in one write) are all
//   answered in order and each is recorded, CommandIssued before its CommandCompleted, with a
//   gap-free seq and the outcome of the right command;
// - in sync mode nothing of a command reaches the client (and the command does not reach the
//   server) until its CommandIssued is acknowledged, and a failing bus refuses it (fail closed);
//   the pipelined commands before a held one are still answered while it waits.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { systemClock, uuidv7 } from '@affidavit/common';
import {
  busEventSink,
  initSqlParser,
  parsePolicy,
  parsePostgres,
  Recorder,
  SqlClassifier,
  staticKeyProvider,
  type EncodedEvent,
  type EventSink,
  type Identity,
  type RecordingMode,
} from '@affidavit/access';
import { createMemoryBroker, createMemoryBus } from '@affidavit/bus';
import { decodeEvent, TOPICS, type SessionEvent } from '@affidavit/schemas';
import { startPostgres, stopPostgres, type PostgresInstance } from '../../../test/services/postgres.ts';
import { createMaskingPort } from './masking-port.ts';
import { createPostgresProxy, type PostgresProxy } from './server.ts';
import { BackendReader, type BackendFrame } from './wire/backend-reader.ts';
import { encodeFrontendMessage, passwordMessage, query, startupMessage, sync, terminate } from './wire/frontend-writer.ts';

const POLICY = parsePolicy(`version: 1
description: session-recording.int.test.ts
defaults: { action: deny, onUnparsable: deny, defaultSchema: public }
rules:
  - id: allow-all
    reason: test
    target: { kind: postgres }
    action: allow
`);

const IDENTITY: Identity = {
  issuer: 'https://issuer.test',
  subject: 'tester',
  email: 'tester@example.com',
  groups: ['dev'],
  amr: ['pwd'],
  mfa: false,
  expiresAt: Date.now() + 3_600_000,
};

/** GatedSink holds every publish (or, with `holdOnly`, those carrying a matching event) until `open()`, or rejects while `failing`. */
class GatedSink implements EventSink {
  readonly events: SessionEvent[] = [];
  failing = false;
  holdOnly?: (e: SessionEvent) => boolean;
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => {};
  close(): void {
    this.#gate = new Promise((r) => (this.#open = r));
  }
  open(): void {
    this.#open();
    this.#gate = Promise.resolve();
  }
  async publish(batch: readonly EncodedEvent[]): Promise<void> {
    const hold = this.holdOnly;
    if (!hold || batch.some((e) => hold(decodeEvent(e.value) as SessionEvent))) await this.#gate;
    if (this.failing) throw new Error('bus down (test)');
    for (const e of batch) this.events.push(decodeEvent(e.value) as SessionEvent);
  }
}

let pg: PostgresInstance;
before(async () => {
  pg = await startPostgres();
  await initSqlParser();
});
after(() => stopPostgres());

const MASK_POLICY = parsePolicy(`version: 1
description: session-recording.int.test.ts (masking)
defaults: { action: deny, onUnparsable: deny, defaultSchema: public }
rules:
  - id: mask-v
    reason: test
    target: { kind: postgres }
    match: { classes: [select] }
    action: mask
    mask: { columns: [v], detectors: [] }
`);

async function startProxy(
  mode: RecordingMode,
  masked = false,
  busSink?: EventSink,
): Promise<{ proxy: PostgresProxy; port: number; sink: GatedSink; recorder: Recorder }> {
  const sink = new GatedSink();
  const recorder = new Recorder(busSink ?? sink, { mode, retryInitialMs: 10, retryMaxMs: 20 }, { clock: systemClock });
  const proxy = createPostgresProxy(
    {
      listen: { host: '127.0.0.1', port: 0 },
      allowCleartextOnLoopback: true,
      recordingMode: mode,
      upstream: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database },
    },
    {
      recorder,
      authenticate: async () => IDENTITY,
      policy: () => (masked ? MASK_POLICY : POLICY),
      ...(masked ? { masking: createMaskingPort({ keys: staticKeyProvider([{ keyId: 'k1', key: new Uint8Array(32).fill(5) }]) }) } : {}),
      classifier: new SqlClassifier({ parse: parsePostgres }),
      clock: systemClock,
      newId: () => uuidv7(),
    },
  );
  const addr = await proxy.listen();
  return { proxy, port: addr.port, sink, recorder };
}

/** Client is a raw protocol client: `frames` holds every backend frame received so far. */
type Client = { sock: Socket; frames: BackendFrame[]; until(pred: (f: BackendFrame[]) => boolean, what: string, ms?: number): Promise<void> };

async function login(port: number): Promise<Client> {
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
  const reader = new BackendReader();
  const frames: BackendFrame[] = [];
  let wake = () => {};
  sock.on('data', (d: Buffer) => {
    frames.push(...reader.read(d));
    wake();
  });
  const until = async (pred: (f: BackendFrame[]) => boolean, what: string, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!pred(frames)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${frames.map((f) => f.type).join('')}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 20);
      });
    }
  };
  sock.write(startupMessage({ user: 'tester', database: 'app' }));
  await until((f) => f.some((x) => x.message.name === 'authenticationCleartextPassword'), 'password request');
  sock.write(passwordMessage('token'));
  await until((f) => f.some((x) => x.type === 'Z'), 'ReadyForQuery after login');
  frames.length = 0;
  return { sock, frames, until };
}

const count = (frames: readonly BackendFrame[], type: string) => frames.filter((f) => f.type === type).length;
const dataRows = (frames: readonly BackendFrame[]) => frames.filter((f) => f.type === 'D').map((f) => (f.message as unknown as { fields: string[] }).fields[0]);

function commandEvents(events: readonly SessionEvent[], sessionId: string) {
  return events.filter((e) => e.sessionId === sessionId && (e.type === 'CommandIssued' || e.type === 'CommandCompleted'));
}

test('pipelined simple and extended commands are all answered in order and recorded in order, gap-free', async () => {
  const { proxy, port, sink, recorder } = await startProxy('async');
  try {
    const c = await login(port);
    const texts = Array.from({ length: 6 }, (_, i) => `SELECT ${i + 1} AS n`);
    const extended = [
      encodeFrontendMessage({ type: 'Parse', name: '', query: 'SELECT $1::int * 10 AS n', paramTypes: [] }),
      ...[7, 8, 9].flatMap((v) => [
        encodeFrontendMessage({ type: 'Bind', portal: '', statement: '', paramFormats: [], params: [Buffer.from(String(v))], resultFormats: [] }),
        encodeFrontendMessage({ type: 'Execute', portal: '', maxRows: 0 }),
      ]),
      sync(),
    ];
    // One write: every message arrives in one chunk (the proxy's fast path).
    c.sock.write(Buffer.concat([...texts.map(query), ...extended]));
    await c.until((f) => count(f, 'Z') === texts.length + 1, 'one ReadyForQuery per Query and one for the Sync');
    assert.deepEqual(dataRows(c.frames), ['1', '2', '3', '4', '5', '6', '70', '80', '90']);
    c.sock.end(terminate());
    await recorder.flush(5000);
    const started = sink.events.find((e) => e.type === 'SessionStarted');
    assert.ok(started);
    await new Promise((r) => setTimeout(r, 50));
    await recorder.flush(5000);
    const all = sink.events.filter((e) => e.sessionId === started.sessionId);
    assert.deepEqual(
      all.map((e) => e.seq),
      [...all.keys()],
      'seq is gap-free and in publish order',
    );
    const cmds = commandEvents(all, started.sessionId);
    const issued = cmds.filter((e) => e.type === 'CommandIssued');
    const completed = cmds.filter((e) => e.type === 'CommandCompleted');
    assert.deepEqual(
      issued.map((e) => e.text),
      [...texts, 'SELECT $1::int * 10 AS n', 'SELECT $1::int * 10 AS n', 'SELECT $1::int * 10 AS n'],
    );
    assert.deepEqual(
      issued.map((e) => e.parameters),
      [[], [], [], [], [], [], ['7'], ['8'], ['9']],
    );
    assert.deepEqual(
      completed.map((e) => e.commandId),
      issued.map((e) => e.commandId),
      'each command completes in the order it was issued',
    );
    assert.deepEqual(
      completed.map((e) => [e.outcome, e.tag, e.rows]),
      issued.map(() => ['ok', 'SELECT 1', 1]),
    );
    for (const done of completed) {
      const mine = issued.find((e) => e.commandId === done.commandId)!;
      assert.ok(mine.seq < done.seq, 'CommandIssued precedes its CommandCompleted');
    }
  } finally {
    await proxy.close();
    await recorder.close(2000).catch(() => {});
  }
});

test('a pipelined error fails that command only and is recorded with its SQLSTATE', async () => {
  const { proxy, port, sink, recorder } = await startProxy('async');
  try {
    const c = await login(port);
    c.sock.write(Buffer.concat([query('SELECT 1'), query('SELECT 1/0'), query('SELECT 3')]));
    await c.until((f) => count(f, 'Z') === 3, 'three ReadyForQuery');
    assert.deepEqual(dataRows(c.frames), ['1', '3']);
    c.sock.end(terminate());
    await new Promise((r) => setTimeout(r, 50));
    await recorder.flush(5000);
    const sessionId = sink.events.find((e) => e.type === 'SessionStarted')!.sessionId;
    const completed = commandEvents(sink.events, sessionId).filter((e) => e.type === 'CommandCompleted');
    assert.deepEqual(
      completed.map((e) => [e.outcome, e.errorCode]),
      [
        ['ok', null],
        ['error', '22012'],
        ['ok', null],
      ],
    );
  } finally {
    await proxy.close();
    await recorder.close(2000).catch(() => {});
  }
});

test('sync mode: nothing of a command runs or answers until its CommandIssued is acknowledged', async () => {
  const { proxy, port, sink, recorder } = await startProxy('sync');
  try {
    const c = await login(port);
    sink.close();
    c.sock.write(query("SELECT current_setting('application_name') AS app, 42 AS n"));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.frames.length, 0, 'the client got an answer before the event was acknowledged');
    const sessionId = sink.events.find((e) => e.type === 'SessionStarted')!.sessionId;
    assert.equal(commandEvents(sink.events, sessionId).length, 0);
    sink.open();
    await c.until((f) => count(f, 'Z') === 1, 'the answer after the acknowledgement');
    assert.equal(count(c.frames, 'D'), 1);
    const issued = commandEvents(sink.events, sessionId).find((e) => e.type === 'CommandIssued');
    assert.ok(issued, 'CommandIssued was published before the answer');
    c.sock.end(terminate());
  } finally {
    sink.open();
    await proxy.close();
    await recorder.close(2000).catch(() => {});
  }
});

test('sync mode: while a pipelined command waits for its acknowledgement, the commands before it are answered', async () => {
  const { proxy, port, sink, recorder } = await startProxy('sync');
  try {
    const c = await login(port);
    sink.holdOnly = (e) => e.type === 'CommandIssued' && e.text.includes('held');
    sink.close();
    // One write: a simple query, an extended one, then one of each whose CommandIssued is held.
    c.sock.write(
      Buffer.concat([
        query('SELECT 1 AS first'),
        encodeFrontendMessage({ type: 'Parse', name: '', query: 'SELECT 2 AS second', paramTypes: [] }),
        encodeFrontendMessage({ type: 'Bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] }),
        encodeFrontendMessage({ type: 'Execute', portal: '', maxRows: 0 }),
        sync(),
        encodeFrontendMessage({ type: 'Parse', name: '', query: 'SELECT 3 AS held', paramTypes: [] }),
        encodeFrontendMessage({ type: 'Bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] }),
        encodeFrontendMessage({ type: 'Execute', portal: '', maxRows: 0 }),
        sync(),
        query('SELECT 4 AS also_held'),
      ]),
    );
    await c.until((f) => count(f, 'Z') === 2, 'the answers of the two commands before the held one');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(dataRows(c.frames), ['1', '2'], 'only the commands before the held one were answered');
    sink.open();
    await c.until((f) => count(f, 'Z') === 4, 'every answer after the acknowledgement');
    assert.deepEqual(dataRows(c.frames), ['1', '2', '3', '4']);
    c.sock.end(terminate());
  } finally {
    sink.open();
    await proxy.close();
    await recorder.close(2000).catch(() => {});
  }
});

test('sync mode fails closed: with the bus down the statement is refused and never reaches the server', async () => {
  const table = `h3_failclosed_${process.pid}`;
  const made = await pg.psql(['-c', `DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (v int)`]);
  assert.equal(made.code, 0, made.stderr);
  const { proxy, port, sink, recorder } = await startProxy('sync');
  try {
    const c = await login(port);
    sink.failing = true;
    c.sock.write(query(`INSERT INTO ${table} VALUES (1)`));
    await c.until((f) => count(f, 'Z') === 1, 'the refusal');
    const err = c.frames.find((f) => f.type === 'E')!.message as unknown as { code: string; message: string };
    assert.equal(err.code, '58000');
    assert.match(err.message, /could not record this statement/);
    const rows = await pg.psql(['-At', '-c', `SELECT count(*) FROM ${table}`]);
    assert.equal(rows.stdout.trim(), '0', 'the refused INSERT ran');
    sink.failing = false;
    await recorder.flush(5000);
    c.frames.length = 0;
    c.sock.write(query(`INSERT INTO ${table} VALUES (2)`));
    await c.until((f) => count(f, 'Z') === 1, 'the INSERT after recovery');
    assert.equal(count(c.frames, 'E'), 0);
    const after = await pg.psql(['-At', '-c', `SELECT array_agg(v) FROM ${table}`]);
    assert.equal(after.stdout.trim(), '{2}');
    c.sock.end(terminate());
  } finally {
    await proxy.close();
    await recorder.close(2000).catch(() => {});
    await pg.psql(['-c', `DROP TABLE IF EXISTS ${table}`]);
  }
});

test('sync mode over the in-process bus (acknowledged within the call): answered once recorded, refused and never run while the broker is down', async () => {
  const table = `h3_inproc_${process.pid}`;
  const made = await pg.psql(['-c', `DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (v int)`]);
  assert.equal(made.code, 0, made.stderr);
  const broker = createMemoryBroker({ clock: systemClock });
  const bus = createMemoryBus({}, { broker });
  await bus.ensureTopic(TOPICS.sessionEvents, 2);
  const events: SessionEvent[] = [];
  const sub = await bus.subscribe({
    group: 'test',
    topics: [TOPICS.sessionEvents],
    handler: async (b) => void events.push(...b.records.map((r) => decodeEvent(r.value) as SessionEvent)),
  });
  const { proxy, port, recorder } = await startProxy('sync', false, busEventSink(bus));
  try {
    const c = await login(port);
    c.sock.write(query(`INSERT INTO ${table} VALUES (1)`));
    await c.until((f) => count(f, 'Z') === 1, 'the INSERT');
    assert.equal(count(c.frames, 'E'), 0);
    broker.setAvailable(false);
    c.frames.length = 0;
    c.sock.write(query(`INSERT INTO ${table} VALUES (2)`));
    await c.until((f) => count(f, 'Z') === 1, 'the refusal');
    const err = c.frames.find((f) => f.type === 'E')!.message as unknown as { code: string; message: string };
    assert.equal(err.code, '58000');
    assert.match(err.message, /could not record this statement/);
    broker.setAvailable(true);
    await recorder.flush(5000);
    c.frames.length = 0;
    c.sock.write(query(`INSERT INTO ${table} VALUES (3)`));
    await c.until((f) => count(f, 'Z') === 1, 'the INSERT after recovery');
    assert.equal(count(c.frames, 'E'), 0);
    const rows = await pg.psql(['-At', '-c', `SELECT array_agg(v ORDER BY v) FROM ${table}`]);
    assert.equal(rows.stdout.trim(), '{1,3}', 'the refused INSERT ran');
    // Every command was recorded, the refused one too (its event was kept and delivered late), in seq order.
    await recorder.flush(5000);
    for (let i = 0; i < 100 && events.filter((e) => e.type === 'CommandIssued').length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    const issued = events.filter((e) => e.type === 'CommandIssued').map((e) => (e as { text: string }).text);
    assert.deepEqual(
      issued,
      [1, 2, 3].map((v) => `INSERT INTO ${table} VALUES (${v})`),
    );
    const seqs = events.filter((e) => e.sessionId === events[0].sessionId).map((e) => e.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i),
      'gap-free, in order',
    );
    c.sock.end(terminate());
  } finally {
    broker.setAvailable(true);
    await proxy.close();
    await recorder.close(2000).catch(() => {});
    await sub.close();
    await bus.close();
    await pg.psql(['-c', `DROP TABLE IF EXISTS ${table}`]);
  }
});

test('a large result split across many reads reaches the client intact and its digest is of exactly the bytes sent', async () => {
  const { proxy, port, sink, recorder } = await startProxy('async');
  try {
    const c = await login(port);
    // ~2 MB of rows of varying width: the server's writes and the proxy's reads split messages anywhere.
    const sql = `SELECT i, repeat(md5(i::text), 1 + i % 7) AS v FROM generate_series(1, 20000) AS i`;
    c.sock.write(Buffer.concat([query(sql), query('SELECT 1/0'), query('SELECT 7')]));
    await c.until((f) => count(f, 'Z') === 3, 'three ReadyForQuery', 20_000);
    const rows = c.frames.filter((f) => f.type === 'D');
    assert.equal(rows.length, 20_001);
    assert.deepEqual(
      rows.slice(0, 3).map((f) => (f.message as unknown as { fields: string[] }).fields[0]),
      ['1', '2', '3'],
    );
    const { createHash } = await import('node:crypto');
    const want = createHash('sha256');
    for (const f of rows.slice(0, 20_000)) want.update(f.raw);
    c.sock.end(terminate());
    await new Promise((r) => setTimeout(r, 50));
    await recorder.flush(5000);
    const sessionId = sink.events.find((e) => e.type === 'SessionStarted')!.sessionId;
    const completed = commandEvents(sink.events, sessionId).filter((e) => e.type === 'CommandCompleted');
    assert.deepEqual(
      completed.map((e) => [e.outcome, e.tag, e.rows, e.errorCode]),
      [
        ['ok', 'SELECT 20000', 20000, null],
        ['error', null, null, '22012'],
        ['ok', 'SELECT 1', 1, null],
      ],
    );
    assert.equal(completed[0].resultDigest, want.digest('hex'));
    assert.equal(completed[1].resultDigest, null);
    assert.equal(completed[2].resultDigest, createHash('sha256').update(rows[20_000].raw).digest('hex'));
  } finally {
    await proxy.close();
    await recorder.close(2000).catch(() => {});
  }
});

test('a large masked result: no original reaches the client, the digest is of exactly the bytes sent, 1,000 originals sealed', async () => {
  const { proxy, port, sink, recorder } = await startProxy('async', true);
  try {
    const c = await login(port);
    const sql = `SELECT i, md5(i::text) AS v FROM generate_series(1, 30000) AS i`;
    c.sock.write(query(sql));
    await c.until((f) => count(f, 'Z') === 1, 'ReadyForQuery', 20_000);
    const rows = c.frames.filter((f) => f.type === 'D');
    assert.equal(rows.length, 30_000);
    const fields = rows.map((f) => (f.message as unknown as { fields: (string | null)[] }).fields);
    assert.deepEqual(
      fields.slice(0, 2).map((v) => v[0]),
      ['1', '2'],
    );
    const mask = fields[0][1];
    assert.ok(mask !== null && !/^[0-9a-f]{32}$/.test(mask));
    assert.ok(
      fields.every((v) => v[1] === mask),
      'every value masked',
    );
    const { createHash } = await import('node:crypto');
    const want = createHash('sha256');
    for (const f of rows) want.update(f.raw);
    c.sock.end(terminate());
    await new Promise((r) => setTimeout(r, 50));
    await recorder.flush(5000);
    const sessionId = sink.events.find((e) => e.type === 'SessionStarted')!.sessionId;
    const completed = commandEvents(sink.events, sessionId).filter((e) => e.type === 'CommandCompleted');
    assert.deepEqual(
      completed.map((e) => [e.outcome, e.tag, e.rows]),
      [['ok', 'SELECT 30000', 30000]],
    );
    assert.equal(completed[0].resultDigest, want.digest('hex'));
    const masked = sink.events.filter((e) => e.sessionId === sessionId && e.type === 'DataMasked');
    assert.equal(masked.length, 1);
    const m = masked[0];
    assert.ok(m.type === 'DataMasked' && m.count === 30_000 && m.masks.length === 1000 && m.truncated);
    assert.deepEqual(
      m.masks.slice(0, 3).map((x) => x.row),
      [0, 1, 2],
    );
  } finally {
    await proxy.close();
    await recorder.close(2000).catch(() => {});
  }
});

test('a client that leaves in the middle of a masked result: the masks sent so far are recorded, their originals sealed', async () => {
  const { proxy, port, sink, recorder } = await startProxy('async', true);
  try {
    const c = await login(port);
    // The server sends the first rows (its 8 KiB output buffer fills) and then sleeps: the
    // client leaves while the result is still open.
    c.sock.write(query(`SELECT i, md5(i::text) AS v, pg_sleep(CASE WHEN i = 400 THEN 20 ELSE 0 END) AS s FROM generate_series(1, 500) AS i`));
    await c.until((f) => count(f, 'D') >= 100, 'the first rows', 10_000);
    const seen = count(c.frames, 'D');
    c.sock.destroy();
    await new Promise((r) => setTimeout(r, 100));
    await recorder.flush(5000);
    const sessionId = sink.events.find((e) => e.type === 'SessionStarted')!.sessionId;
    const ended = sink.events.find((e) => e.sessionId === sessionId && e.type === 'SessionEnded');
    assert.ok(ended, 'the session end is recorded');
    const masked = sink.events.filter((e) => e.sessionId === sessionId && e.type === 'DataMasked');
    assert.equal(masked.length, 1, 'the command still open when the client left has its DataMasked event');
    const m = masked[0];
    assert.ok(m.type === 'DataMasked');
    assert.ok(m.count >= seen && m.count < 400, `masked ${m.count} values; the client saw ${seen} rows before leaving`);
    assert.equal(m.masks.length, m.count);
    // Every kept mask is covered by a sealed chunk, the last (partial) one included.
    const covered = m.sealedOriginals.reduce((n, s) => n + s.count, 0);
    assert.equal(covered, m.masks.length, 'no original was left unsealed when the session ended');
    assert.deepEqual(
      m.sealedOriginals.map((s) => s.first),
      m.sealedOriginals.map((_, i) => i * 256),
    );
    const completed = commandEvents(sink.events, sessionId).filter((e) => e.type === 'CommandCompleted');
    assert.equal(completed.length, 1, 'and its CommandCompleted');
  } finally {
    await proxy.close();
    await recorder.close(2000).catch(() => {});
  }
});
