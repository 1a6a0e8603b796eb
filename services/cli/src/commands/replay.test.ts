// `affidavit replay` through runCli against a ledger file written with the real append path
// (tiles, signed checkpoints): help and usage errors, what a line shows, escaping of hostile
// text, anomalies as exit 1, keygen refusing to overwrite, and a bundle round trip.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { openSqliteLedgerStore, type NewEntry } from '@affidavit/ledger';
import { encodeEvent, exampleEvent, type LedgerRecord } from '@affidavit/schemas';
import { ed25519NoteSigner, formatCheckpoint, generateEd25519NoteKey, hashLeaf, integrate, signNote } from '@affidavit/tlog';
import { runCli } from '../main.ts';
import { commandsFor } from './index.ts';
import { pauseMs } from './replay.ts';

const KEY = generateEd25519NoteKey('test.replay', (n) => randomBytes(n));
const LOG = 'affidavit.session-events.v1:0';
const S = '0190a5d0-0000-7000-8000-000000000001';
const GAPPY = '0190a5d0-0000-7000-8000-000000000002';
const T0 = 1_760_000_000_000_000;
let ids = 0;
const eid = () => `0190a5d0-0000-7000-9000-${String(++ids).padStart(12, '0')}`;
const ev = <T extends LedgerRecord['type']>(type: T, sessionId: string, seq: number, o: Record<string, unknown> = {}) =>
  exampleEvent(type, { eventId: eid(), sessionId, seq, occurredAt: T0 + seq * 1000, ...o } as never);

let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aff-replay-cli-'));
  const records: LedgerRecord[] = [
    ev('SessionStarted', S, 0, { source: { address: '10.0.0.1', port: 1, application: 'psql\u202e' } }),
    ev('CommandIssued', S, 1, { commandId: 'c1', text: "SELECT 'x\u001b[2J\r' FROM customers", decision: 'mask', ruleId: 'mask-pii' }),
    ev('CommandCompleted', S, 2, { commandId: 'c1', rows: 3, durationMicros: 1500, tag: 'SELECT 3' }),
    ev('SessionStarted', GAPPY, 0),
    ev('SessionEnded', S, 3, { commands: 1 }),
    ev('SessionEnded', GAPPY, 5),
  ];
  const store = await openSqliteLedgerStore({ path: join(dir, 'ledger.sqlite') });
  const log = await store.openLog(LOG);
  const entries: NewEntry[] = records.map((r) => ({ eventId: r.eventId, kind: 'event', bytes: encodeEvent(r), source: null, appendedAt: 0 }));
  const res = await integrate(
    log.readTiles.bind(log),
    0,
    entries.map((e) => hashLeaf(e.bytes)),
  );
  const checkpoint = await signNote(formatCheckpoint({ origin: `test.replay/${LOG}`, size: res.size, root: res.root, extensions: [] }), [
    ed25519NoteSigner(KEY.signerKey),
  ]);
  await log.append({ entries, tiles: res.tiles, checkpoint }, 0);
  await store.close();
  writeFileSync(join(dir, 'ledger.pub'), `${KEY.verifierKey}\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string; raw: Buffer }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => err.push(d));
  const code = await runCli(argv, { stdout, stderr, env: {}, cwd: dir }, await commandsFor(argv));
  const raw = Buffer.concat(out);
  return { code, stdout: raw.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), raw };
}

test('--help documents the sources, the bundle, the SSH gap and the exit codes', async () => {
  for (const argv of [
    ['replay', '--help'],
    ['replay', 'export', '--help'],
    ['replay', 'keygen', '--help'],
  ]) {
    const r = await run(...argv);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Exit codes: 0/);
  }
  assert.match((await run('replay', '--help')).stdout, /SSH proxy is not built yet/);
});

test('usage errors exit 2 and say what is wrong', async () => {
  assert.equal((await run('replay')).code, 2);
  assert.match((await run('replay', S)).stderr, /give exactly one source/);
  assert.match((await run('replay', S, '--data', '.', '--api', 'http://x')).stderr, /give exactly one source/);
  assert.match((await run('replay', S, '--store', 'ledger.sqlite', '--speed', '0')).stderr, /--speed must be a number above 0/);
  assert.match((await run('replay', S, '--store', 'ledger.sqlite', '--json', '--follow')).stderr, /cannot be combined with --follow/);
  assert.match((await run('replay', 'x.bundle', '--identity', 'k')).stderr, /give the ledger verifier key with --key/);
  assert.match((await run('replay', S, '--api', 'http://127.0.0.1:1')).stderr, /AFFIDAVIT_TOKEN/);
  assert.match((await run('replay', 'export', S, '--store', 'ledger.sqlite')).stderr, /--recipient KEY is required/);
});

test('a session replays one line per entry, hostile characters escaped, positions shown', async () => {
  const r = await run('replay', S, '--store', 'ledger.sqlite');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], new RegExp(`^session ${S}: alice to postgres demo/app, entries in log ${LOG}`));
  assert.match(r.stdout, /#0 +session started: alice from 10\.0\.0\.1 \(psql\\u202e\)/);
  assert.match(r.stdout, /#1 +MASK rule mask-pii: SELECT 'x\\x1b\[2J\\r' FROM customers/);
  assert.match(r.stdout, /#2 +-> ok SELECT 3, 3 rows in 1\.50 ms/);
  assert.match(r.stdout, /#4 +session ended: client-closed after 1 commands/);
  assert.ok(!r.raw.includes(0x1b) && !r.raw.includes(0x0d), 'no raw ESC or CR reaches the terminal');
  assert.ok(!r.stdout.includes('\u202e'), 'no bidi override reaches the terminal');
});

test('a gap in the session’s seq is printed as an ANOMALY and exits 1; an unknown session exits 1', async () => {
  const r = await run('replay', GAPPY, '--store', 'ledger.sqlite');
  assert.equal(r.code, 1);
  assert.match(r.stdout, /ANOMALY: seq 1 to 4 are missing/);
  const none = await run('replay', '0190a5d0-0000-7000-8000-000000000099', '--store', 'ledger.sqlite');
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no entry of session .*\[AFF_E_REPLAY_SESSION_NOT_FOUND\]/);
});

test('keygen writes a private key file 0600 and never replaces one; a bundle round trip replays the same timeline', async () => {
  const kg = await run('replay', 'keygen', '--output', 'a.key');
  assert.equal(kg.code, 0, kg.stderr);
  assert.equal(statSync(join(dir, 'a.key')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(dir, 'a.key.pub'), 'utf8').trim(), kg.stdout.trim());
  const again = await run('replay', 'keygen', '--output', 'a.key');
  assert.equal(again.code, 2);
  assert.match(again.stderr, /exists; keygen never replaces a key/);

  const ex = await run('replay', 'export', S, '--recipient', 'a.key.pub', '--store', 'ledger.sqlite', '--output', 's.bundle');
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(statSync(join(dir, 's.bundle')).mode & 0o777, 0o600);
  assert.equal(
    (await run('replay', 'export', S, '--recipient', 'a.key.pub', '--store', 'ledger.sqlite', '--output', 's.bundle')).code,
    2,
    'never over an existing file',
  );
  const direct = JSON.parse((await run('replay', S, '--store', 'ledger.sqlite', '--json')).stdout);
  const opened = await run('replay', 's.bundle', '--identity', 'a.key', '--key', 'ledger.pub', '--json');
  assert.equal(opened.code, 0, opened.stderr);
  assert.deepEqual(JSON.parse(opened.stdout), direct);
  const shown = await run('replay', 's.bundle', '--identity', 'a.key', '--key', 'ledger.pub');
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(
    shown.stdout,
    /^bundle .*s\.bundle: 4 entries, every one verified offline against checkpoints signed by test\.replay\+[0-9a-f]{8}:\n {2}test\.replay\/affidavit\.session-events\.v1:0 tree size 6\n/,
  );
  const hint = await run('replay', 's.bundle', '--store', 'ledger.sqlite');
  assert.match(hint.stderr, /is a file: to replay a bundle, give --identity/);
});

test('a timed replay waits the recorded gap divided by the speed, capped by the idle limit', () => {
  assert.equal(pauseMs(null, 5_000_000, 1, 2), 0, 'nothing before the first entry');
  assert.equal(pauseMs(0, 500_000, null, 2), 0, 'no waiting without --speed');
  assert.equal(pauseMs(0, 500_000, 1, 2), 500);
  assert.equal(pauseMs(0, 500_000, 2, 2), 250);
  assert.equal(pauseMs(0, 500_000, 0.5, 2), 1000);
  assert.equal(pauseMs(0, 60_000_000, 1, 2), 2000, 'an idle minute is capped');
  assert.equal(pauseMs(1000, 10, 1, 2), 0, 'a clock going backwards is no pause');
});
