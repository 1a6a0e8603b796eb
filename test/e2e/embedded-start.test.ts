// What a new user does (issue: embedded start): a fresh clone, `npm install && npm start` in the
// background, `affidavit token`, psql through the proxy (a masked SELECT, a denied DROP, a held
// UPDATE approved from the CLI), stop with Ctrl-C, `affidavit verify` on the data directory —
// then one byte of the SQLite file changed, and verify names the entry.
//
// AFFIDAVIT_E2E_USE_WORKTREE=1 runs from this working tree instead of a fresh clone (faster while developing).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../services/free-port.ts';
import { listeningTcpPorts } from '../services/listening-tcp.ts';

const repo = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'aff-newuser-'));
let root = repo;
if (process.env.AFFIDAVIT_E2E_USE_WORKTREE !== '1') {
  root = join(work, 'affidavit');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', repo, root]);
  // The README's install step, offline from the npm cache the outer install filled.
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, stdio: 'inherit' });
}
const [pgPort, issuerPort, apiPort] = await freePorts(3);
const dataDir = join(work, 'data');
const env = {
  ...process.env,
  AFFIDAVIT_DATA_DIR: dataDir,
  AFFIDAVIT_PG_PORT: String(pgPort),
  AFFIDAVIT_ISSUER_PORT: String(issuerPort),
  AFFIDAVIT_API_PORT: String(apiPort),
  AFFIDAVIT_LOG_LEVEL: 'info',
};
const node = join(root, 'node_modules', '.bin', 'node');
const cli = (...args: string[]) => spawnSync(node, [join(root, 'services/cli/src/main.ts'), ...args], { cwd: root, env, encoding: 'utf8' });

let out = '';
const servers: number[] = [];
/** npmStart runs the README's start command in its own process group, like a terminal would. */
function npmStart() {
  out = '';
  const server = spawn('npm', ['start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  servers.push(server.pid!);
  server.stdout.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => server.once('exit', (code, signal) => r({ code, signal })));
  return { server, exited };
}
/** ctrlC sends SIGINT to the whole foreground group (npm and node) and checks the clean stop. */
async function ctrlC(s: ReturnType<typeof npmStart>) {
  process.kill(-s.server.pid!, 'SIGINT');
  const end = await s.exited;
  assert.ok(end.code === 0 || end.signal === 'SIGINT', `npm start ended ${JSON.stringify(end)}`);
  assert.match(out, /"msg":"stopped"/, 'the system stopped cleanly (final checkpoint written)');
}
after(() => {
  for (const pid of servers) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  }
});
/** groupPids lists the processes of a process group (npm, the shell it runs, node). */
function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // The fields after the command name, which is in parentheses and may hold spaces.
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) pids.push(Number(d));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}
const modeOf = (p: string) => statSync(p).mode & 0o777;

/**
 * privateAndClosed checks the class-6/7 promises of a running embedded system: no TCP port
 * but the proxy, the issuer and the API (the demo database is on a private Unix
 * socket behind a password), and a data directory only its user can read.
 */
function privateAndClosed(): string {
  assert.equal(existsSync(join(dataDir, 'control.json')), false, 'no control endpoint and no secret file: approvals go through the API');
  const expected = [pgPort, issuerPort, apiPort].sort((a, b) => a - b);
  const listening = [...new Set(groupPids(firstGroup).flatMap((pid) => listeningTcpPorts(pid)))].sort((a, b) => a - b);
  assert.deepEqual(listening, expected, 'the embedded system listens on no other TCP port (none for the demo database)');

  const socketDir = /"socketDir":"([^"]+)"/.exec(out)?.[1];
  assert.ok(socketDir, 'the demo database logged its socket folder');
  assert.equal(modeOf(socketDir), 0o700);
  assert.ok(statSync(join(socketDir, '.s.PGSQL.5432')).isSocket());
  // Straight to the demo database without the proxy's password: refused.
  const direct = spawnSync('psql', [`host=${socketDir} port=5432 user=postgres dbname=postgres`, '-X', '-w', '-At', '-c', 'select 1'], {
    env: { ...env, PGPASSWORD: 'postgres' },
    encoding: 'utf8',
  });
  assert.notEqual(direct.status, 0);
  assert.match(direct.stderr, /password authentication failed/);

  assert.equal(modeOf(dataDir), 0o700, 'data directory');
  assert.equal(modeOf(join(dataDir, 'keys')), 0o700, 'keys directory');
  for (const f of ['ledger.sqlite', 'ledger.sqlite-wal', 'ledger.sqlite-shm']) {
    if (f === 'ledger.sqlite' || existsSync(join(dataDir, f))) assert.equal(modeOf(join(dataDir, f)), 0o600, f);
  }
  for (const f of readdirSync(join(dataDir, 'keys'), { recursive: true, withFileTypes: true })) {
    if (f.isFile() && !/\.(pub|crt)$/.test(f.name)) assert.equal(modeOf(join(f.parentPath, f.name)), 0o600, f.name);
  }
  return socketDir;
}
let firstGroup = 0;

const entriesOf = (text: string) => [...text.matchAll(/ok: (\d+) entries/g)].reduce((n, m) => n + Number(m[1]), 0);

async function until<T>(f: () => T | undefined, what: string, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; output so far:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const conn = `host=127.0.0.1 port=${pgPort} user=alice dbname=demo sslmode=require`;
const psql = (sql: string, token: string) =>
  spawnSync('psql', [conn, '-X', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], { env: { ...env, PGPASSWORD: token }, encoding: 'utf8' });

test('a new user: start, token, psql through the proxy, approve, stop, verify, restart, tamper', { timeout: 10 * 60_000 }, async () => {
  const first = npmStart();
  firstGroup = first.server.pid!;
  await until(() => (out.includes('Affidavit is running') ? true : undefined), 'the start banner');
  const socketDir = privateAndClosed();
  assert.match(out, /npx affidavit token alice/);
  assert.match(out, new RegExp(`port=${pgPort}`));
  assert.match(out, /npx affidavit verify/);

  const token = cli('token', 'alice');
  assert.equal(token.status, 0, token.stderr);
  const alice = token.stdout.trim();

  const select = psql('select email, card_number from customers order by id limit 3', alice);
  assert.equal(select.status, 0, select.stderr);
  const rows = select.stdout.trim().split('\n');
  assert.equal(rows.length, 3);
  for (const r of rows) {
    assert.doesNotMatch(r, /@example\.(com|net|org)/, `e-mail shown in clear: ${r}`);
    assert.doesNotMatch(r, /\d{12,}/, `card number shown in clear: ${r}`);
  }

  // The originals stay sealed in the ledger; a key holder opens one, and the opening is recorded first.
  const masked = await until(
    () => {
      const r = cli('ledger', 'show', '--data', dataDir, '--type', 'DataMasked');
      return r.status === 0 && r.stdout.trim()
        ? (JSON.parse(r.stdout.trim().split('\n')[0]) as { event: { eventId: string; masks: { masked: string }[] } })
        : undefined;
    },
    'the DataMasked event in the ledger',
    30_000,
  );
  assert.ok(masked.event.masks.length > 0);
  const refused = cli('reveal', masked.event.eventId, '0', '--as', 'alice', '--reason', 'curious');
  assert.equal(refused.status, 1, 'alice is no key holder');
  assert.match(refused.stderr, /AFF_E_API_FORBIDDEN/);
  // Through the API: the event is found in its read models, which follow the ledger within a poll.
  const opened = await until(
    () => {
      const r = cli('reveal', masked.event.eventId, '0', '--as', 'bob', '--reason', 'incident 7');
      return r.status === 0 || !/AFF_E_API_NOT_FOUND/.test(r.stderr) ? r : undefined;
    },
    'the DataMasked event in the API',
    30_000,
  );
  assert.equal(opened.status, 0, opened.stderr);
  assert.match(opened.stdout.trim(), /@example\.(com|net|org)$|^\d{13,19}$/, `the original value: ${opened.stdout}`);
  assert.notEqual(opened.stdout.trim(), masked.event.masks[0].masked);

  const drop = psql('drop table orders', alice);
  assert.notEqual(drop.status, 0);
  assert.match(drop.stderr, /policy rule "[^"]+" refused/);

  // A held write: psql waits while an approver decides from the CLI.
  const held = spawn('psql', [conn, '-X', '-v', 'ON_ERROR_STOP=1', '-At', '-c', "update customers set country = 'XX' where id = 2"], {
    env: { ...env, PGPASSWORD: alice },
  });
  let heldOut = '';
  held.stdout.on('data', (d: Buffer) => (heldOut += d.toString()));
  held.stderr.on('data', (d: Buffer) => (heldOut += d.toString()));
  const heldDone = new Promise<number | null>((r) => held.once('exit', (c) => r(c)));
  const requestId = await until(
    () => {
      const l = cli('approvals', 'list', '--json', '--as', 'bob');
      const list = l.status === 0 ? (JSON.parse(l.stdout) as { requestId: string; text: string }[]) : [];
      return list.find((p) => p.text.includes("country = 'XX'"))?.requestId;
    },
    'the approval request',
    30_000,
  );
  // alice (the requester, no approver role) is refused by the API before any rule runs.
  const self = cli('approve', requestId, '--as', 'alice', '--reason', 'mine');
  assert.equal(self.status, 1);
  assert.match(self.stderr, /refused: approve needs one of the roles approver, admin.*\[AFF_E_API_FORBIDDEN\]/);
  const ok = cli('approve', requestId, '--as', 'bob', '--reason', 'ticket 42');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(await heldDone, 0, heldOut);
  assert.match(heldOut, /UPDATE 1/);
  assert.match(heldOut, new RegExp(`approval request ${requestId}`), 'psql was told the request id');
  assert.equal(psql('select country from customers where id = 2', alice).stdout.trim(), 'XX');

  await ctrlC(first);
  assert.equal(existsSync(socketDir), false, 'the demo database removed its socket folder on stop');

  const openings = cli('ledger', 'show', '--data', dataDir, '--type', 'MaskedValueOpened');
  assert.equal(openings.stdout.trim().split('\n').length, 1, 'exactly one opening recorded');
  assert.match(openings.stdout, /"reason":"incident 7"/);
  const verify = cli('verify', dataDir);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /ok: \d+ entries/);
  const before = entriesOf(verify.stdout);

  // A second start on the same data resumes the same logs; the data survived.
  const second = npmStart();
  await until(() => (out.includes('Affidavit is running') ? true : undefined), 'the second start');
  const again = psql('select country from customers where id = 2', cli('token', 'alice').stdout.trim());
  assert.equal(again.stdout.trim(), 'XX', `the demo database kept its data: ${again.stderr}`);
  await ctrlC(second);
  const verify2 = cli('verify', dataDir);
  assert.equal(verify2.status, 0, verify2.stdout + verify2.stderr);
  assert.ok(entriesOf(verify2.stdout) > before, `the same logs grew: ${before} -> ${entriesOf(verify2.stdout)}`);

  // One byte of the ledger file: the held statement's text inside its CommandIssued entry.
  const file = join(dataDir, 'ledger.sqlite');
  const buf = readFileSync(file);
  const at = buf.indexOf(Buffer.from("country = 'XX'"));
  assert.ok(at > 0, 'statement text found in the ledger file');
  buf[at + 11] = 'Y'.charCodeAt(0);
  writeFileSync(file, buf);
  const tampered = cli('verify', dataDir);
  assert.equal(tampered.status, 1, tampered.stdout + tampered.stderr);
  assert.match(tampered.stdout, /FAILED at entry \d+: .*altered/);
});
