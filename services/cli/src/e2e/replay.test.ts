// Forensic replay (issue #20), end to end: a real psql session through the embedded proxy in
// front of a real PostgreSQL (a masked SELECT, a denied one, a statement carrying a terminal
// escape, an UPDATE held and approved), then
//   - `affidavit replay --follow` watching it live, and `affidavit replay` from the ledger file,
//   - the replay page in headless Chromium (proofs checked in the browser; a lying server caught),
//   - a replay bundle: keygen, export, offline replay equal to the ledger's event for event;
//     the wrong identity and a re-encrypted edited bundle both refused, naming what failed.
// The page's screenshot is saved under test-artifacts/ (git-ignored).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { Decrypter, Encrypter } from 'age-encryption';
import { codec, encodeEvent } from '@affidavit/schemas';
import type { CommandIssued, LedgerRecord } from '@affidavit/schemas';
import type { Timeline } from '@affidavit/replay';
import { generateEd25519NoteKey } from '@affidavit/tlog';
import type { PostgresInstance, RunResult } from '../../../../test/services/postgres.ts';
import type { EmbeddedSystem } from '../embedded/system.ts';
import { runCli, startStory, until as untilValue } from './embedded-story.ts';
import type { Run, Story } from './embedded-story.ts';

const root = join(import.meta.dirname, '..', '..', '..', '..');
const node = join(root, 'node_modules', '.bin', 'node');
const main = join(root, 'services', 'cli', 'src', 'main.ts');
const artifacts = join(root, 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let story: Story;
let pg: PostgresInstance;
let system: EmbeddedSystem;
let work: string;
let configFile: string;
let dataDir: string;
let browser: Browser | undefined;
let seen: LedgerRecord[];

const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> => runCli(args, { cwd: work, env });
const token = (user: string) => story.token(user);
const until = <T>(f: () => T | undefined | Promise<T | undefined>, what: string, ms = 30_000) => untilValue(f, what, ms);

const ESCAPE_STATEMENT = "SELECT 'red\u001b[31m' AS painted";
const MASKED = 'SELECT id, email FROM customers ORDER BY id';
const DENIED = 'SELECT * FROM secrets';
const HELD = 'UPDATE payments SET amount = amount + 1 WHERE id = 1';

before(async () => {
  story = await startStory({
    name: 'replay',
    setupSql: `CREATE TABLE IF NOT EXISTS payments (id int PRIMARY KEY, amount int); DELETE FROM payments; INSERT INTO payments VALUES (1, 100);
     CREATE TABLE IF NOT EXISTS secrets (id int); CREATE TABLE IF NOT EXISTS customers (id int PRIMARY KEY, name text, email text, card_number text);
     DELETE FROM customers; INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '4111111111111111'), (2, 'Bob', 'bob@example.com', NULL)`,
  });
  ({ pg, system, dir: work, configFile, dataDir, seen } = story);
});
after(async () => {
  await browser?.close();
  await story?.stop();
});

let sessionId: string;
let requestId: string;
let followed: Run;

test('a psql session through the proxy is followed live by `affidavit replay --follow`, which ends with it', { timeout: 120_000 }, async () => {
  const alice = await token('alice');
  const done = pg.psql(['-v', 'ON_ERROR_STOP=0', '-c', MASKED, '-c', DENIED, '-c', ESCAPE_STATEMENT, '-c', HELD], {
    port: system.proxyPort,
    user: 'alice',
    password: alice,
    sslmode: 'disable',
    timeoutMs: 90_000,
  });
  let ended: RunResult | undefined;
  void done.then((r) => (ended = r));
  const request = await until(() => {
    if (ended) throw new Error(`psql ended before its UPDATE was held: ${JSON.stringify(ended)}`);
    return seen.find((e) => e.type === 'ApprovalRequested' && e.text === HELD);
  }, 'the approval request');
  assert.ok(request.type === 'ApprovalRequested');
  sessionId = request.sessionId;
  requestId = request.requestId;

  // Follow the live session from the ledger file; it must show the held statement before anyone decides.
  const follower = spawn(node, [main, 'replay', sessionId, '--data', dataDir, '--follow'], { cwd: work, env: { ...process.env, AFFIDAVIT_CONFIG: '' } });
  let out = '';
  let err = '';
  follower.stdout.on('data', (d: Buffer) => (out += d.toString()));
  follower.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((r) => follower.once('exit', (code) => r(code ?? -1)));
  await until(() => (out.includes('held for approval') ? true : undefined), `the follower to show the held UPDATE (so far: ${out}${err})`);
  assert.equal(ended, undefined, 'still held');

  const approved = await cli(['approve', requestId, '--as', 'bob', '--reason', 'ticket 7', '--config', configFile]);
  assert.equal(approved.code, 0, approved.stderr);
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  const code = await Promise.race([exited, new Promise<number>((res) => setTimeout(() => res(-2), 30_000))]);
  followed = { code, stdout: out, stderr: err };
  assert.equal(code, 0, `the follower ends by itself when the session ends (${err})`);
  assert.match(out, /by bob \(signed\): ticket 7/);
  assert.match(out, /session ended /);
});

test('`affidavit replay` from the ledger shows each step with its decision, rule, rows, masking, approvals and position, escaped', {
  timeout: 60_000,
}, async () => {
  const r = await cli(['replay', sessionId, '--data', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, new RegExp(`^session ${sessionId}: alice to postgres e2e`, 'm'));
  assert.match(out, /#\d+ +MASK rule mask-customer-pii: SELECT id, email FROM customers ORDER BY id/);
  assert.match(out, /masked email by mask-customer-pii#columns: 2 values/);
  assert.match(out, /-> ok SELECT 2, 2 rows in [\d.]+ ms/);
  assert.match(out, /DENY rule deny-secrets: SELECT \* FROM secrets/);
  assert.match(out, /HOLD rule payments-need-approval: UPDATE payments SET amount = amount \+ 1 WHERE id = 1/);
  assert.match(out, /held for approval by approvers/);
  assert.match(out, /approved by bob \(signed\): ticket 7/);
  assert.match(out, /-> ok UPDATE 1, 1 row/);
  // The escape arrives as text, never as the byte that repaints a terminal.
  assert.ok(!out.includes('\u001b'), 'no raw ESC in the output');
  assert.ok(out.includes("SELECT 'red\\x1b[31m' AS painted"));
  // One line per entry: the same lines as the live follower printed (which may add "(of #n)").
  const lines = (s: string) =>
    s
      .split('\n')
      .filter((l) => /^\d{4}-\d\d-\d\dT/.test(l))
      .map((l) => l.replace(/ {2}\(of [^)]+\)$/, ''))
      .sort();
  assert.deepEqual(lines(followed.stdout), lines(out));
  const events = seen.filter((e) => e.type !== 'InputRejected' && (e.sessionId === sessionId || ('requestId' in e && e.requestId === requestId)));
  assert.equal(lines(out).length, events.length, 'one line per recorded event');

  // The same lines through the API (entries decoded by the CLI itself), for an auditor only.
  const viaApi = await cli(['replay', sessionId, '--api', system.apiUrl!], { AFFIDAVIT_TOKEN: await token('dave') });
  assert.equal(viaApi.code, 0, viaApi.stderr);
  assert.deepEqual(lines(viaApi.stdout), lines(out));
  const followApi = await cli(['replay', sessionId, '--api', system.apiUrl!, '--follow'], { AFFIDAVIT_TOKEN: await token('dave') });
  assert.equal(followApi.code, 0, `--follow over the API stops at the session's end (${followApi.stderr})`);
  assert.deepEqual(lines(followApi.stdout), lines(out));
  const approver = await cli(['replay', sessionId, '--api', system.apiUrl!], { AFFIDAVIT_TOKEN: await token('bob') });
  assert.equal(approver.code, 1);
  assert.match(approver.stderr, /the API refused \(HTTP 403\): session replay needs one of the roles auditor, admin.*\[AFF_E_API_FORBIDDEN\]/);
});

/** verdictOf waits for the page to finish checking, and fails with what its status line says when it does not. */
async function verdictOf(page: import('playwright-core').Page): Promise<string> {
  try {
    await page.waitForFunction(() => (document.querySelector('#verdict')?.textContent ?? '') !== '', null, { timeout: 30_000 });
  } catch (e) {
    throw new Error(`the page did not finish: status ${JSON.stringify(await page.textContent('#status'))}: ${(e as Error).message}`);
  }
  return (await page.textContent('#verdict')) ?? '';
}

let ledgerTimeline: Timeline;
let ledgerPub: string;

test('the replay page in Chromium shows the timeline and verifies every proof in the browser; a lying server is caught', { timeout: 120_000 }, async () => {
  const j = await cli(['replay', sessionId, '--data', dataDir, '--json']);
  assert.equal(j.code, 0, j.stderr);
  ledgerTimeline = JSON.parse(j.stdout) as Timeline;
  ledgerPub = readFileSync(system.verifierKeyFile, 'utf8').trim();
  const dave = await token('dave');
  // Wait until a checkpoint covers the whole session (checkpoints every 200 ms).
  await until(async () => {
    const res = await fetch(`${system.apiUrl}/sessions/${sessionId}/replay/data`, { headers: { authorization: `Bearer ${dave}` } });
    const d = (await res.json()) as { entries: Array<{ proof: unknown }> };
    return res.status === 200 && d.entries.every((e) => e.proof) ? true : undefined;
  }, 'a checkpoint covering the session');

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const url = `${system.apiUrl}/sessions/${sessionId}/replay#token=${encodeURIComponent(dave)}&key=${encodeURIComponent(ledgerPub)}`;
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(String(e)));
  await page.goto(url);
  const verdict = await verdictOf(page).catch((e) => {
    throw new Error(`${(e as Error).message}; console: ${logs.join(' | ')}`);
  });
  const n = ledgerTimeline.steps.reduce((k, s) => k + s.events.length, 0);
  assert.match(verdict, new RegExp(`^${n} of ${n} entries verified against checkpoints signed by affidavit\\.test/replay\\+[0-9a-f]{8}$`));
  assert.ok(!page.url().includes('#'), 'the token left the address bar');
  const rows = await page.$$eval('#timeline tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
  assert.equal(rows.length, ledgerTimeline.steps.length);
  const row = (needle: string) => rows.find((r) => r[3].includes(needle));
  assert.match(row('FROM customers')?.[2] ?? '', /MASK · mask-customer-pii/);
  assert.match(row('FROM customers')?.[4] ?? '', /masked email \(mask-customer-pii#columns\): 2 values/);
  assert.match(row('FROM secrets')?.[2] ?? '', /DENY · deny-secrets/);
  assert.match(row('UPDATE payments')?.[4] ?? '', /approved by bob \(signed\): ticket 7/);
  assert.match(row('UPDATE payments')?.[1] ?? '', /#\d+ ApprovalDecided/);
  assert.equal(row('painted')?.[3], "SELECT 'red\\x1b[31m' AS painted", 'a control character is shown as an escape');
  assert.equal(await page.$$eval('.badge.verified', (b) => b.length), n);
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, 'replay-page.png'), fullPage: true });

  // A server that changes the statement of one entry: its bytes no longer hash to the proved leaf.
  const liar = await browser.newPage();
  await liar.route('**/replay/data', async (route) => {
    const res = await route.fetch();
    const d = (await res.json()) as { entries: Array<{ bytes: string; index: number }> };
    for (const e of d.entries) {
      const rec = codec().decode(Buffer.from(e.bytes, 'base64'));
      if (rec.type === 'CommandIssued' && rec.text === DENIED) e.bytes = encodeEvent({ ...(rec as CommandIssued), text: 'SELECT 1' }).toString('base64');
    }
    await route.fulfill({ response: res, json: d });
  });
  await liar.goto(url);
  assert.match(await verdictOf(liar), /^1 of \d+ entries FAILED verification$/);
  const failed = await liar.$$eval('.badge.failed', (b) => b.map((x) => x.textContent ?? ''));
  assert.equal(failed.length, 1);
  assert.match(failed[0], /FAILED: the proof leads to another root/);
  await liar.screenshot({ path: join(artifacts, 'replay-page-tampered.png'), fullPage: true });

  // Another key of the same name, whose base64 holds a '+' (the separator of the key's fields):
  // parsed, and every entry fails for want of its signature.
  let otherKey: string;
  do otherKey = generateEd25519NoteKey('affidavit.test/replay', (k) => randomBytes(k)).verifierKey;
  while (!otherKey.split('+').slice(2).join('+').includes('+'));
  const wrongKey = await browser.newPage();
  await wrongKey.goto(`${system.apiUrl}/sessions/${sessionId}/replay#token=${encodeURIComponent(dave)}&key=${encodeURIComponent(otherKey)}`);
  assert.equal(await verdictOf(wrongKey), `${n} of ${n} entries FAILED verification`);
  assert.match((await wrongKey.$$eval('.badge.failed', (b) => b.map((x) => x.textContent ?? '')))[0], /carries no signature by affidavit\.test\/replay\+/);

  // Without a token the page asks for one and shows no data; an approver's token is refused.
  const bare = await browser.newPage();
  await bare.goto(`${system.apiUrl}/sessions/${sessionId}/replay`);
  await bare.waitForSelector('#login:not([hidden])');
  assert.equal(await bare.$$eval('#timeline tbody tr', (t) => t.length), 0);
  await bare.fill('#token', await token('bob'));
  await bare.click('button[type=submit]');
  await bare.waitForFunction(() => /refused \(HTTP 403\)/.test(document.querySelector('#status')?.textContent ?? ''));
});

test('a replay bundle round trip: keygen, export, offline verify and replay equal to the ledger, event for event', { timeout: 60_000 }, async () => {
  const key = join(work, 'analyst.key');
  const kg = await cli(['replay', 'keygen', '--output', key]);
  assert.equal(kg.code, 0, kg.stderr);
  const recipient = kg.stdout.trim();
  assert.match(recipient, /^age1[0-9a-z]+$/);
  const bundle = join(work, 'session.bundle');
  const ex = await cli(['replay', 'export', sessionId, '--recipient', `${key}.pub`, '--data', dataDir, '--output', bundle]);
  assert.equal(ex.code, 0, ex.stderr);
  assert.ok(!readFileSync(bundle).includes(Buffer.from('customers')), 'the bundle is encrypted');

  const pub = join(work, 'ledger.pub');
  writeFileSync(pub, `${ledgerPub}\n`);
  const replayed = await cli(['replay', bundle, '--identity', key, '--key', pub, '--json']);
  assert.equal(replayed.code, 0, replayed.stderr);
  const fromBundle = JSON.parse(replayed.stdout) as Timeline;
  assert.deepEqual(fromBundle, ledgerTimeline);
  const shown = fromBundle.steps.flatMap((s) => s.events.map((e) => e.eventId)).sort();
  const recorded = seen
    .filter((e) => e.type !== 'InputRejected' && (e.sessionId === sessionId || ('requestId' in e && e.requestId === requestId)))
    .map((e) => e.eventId)
    .sort();
  assert.deepEqual(shown, recorded, 'the replay holds exactly the events recorded, event for event');
  const text = await cli(['replay', bundle, '--identity', key, '--key', pub]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /entries, every one verified offline against checkpoints signed by affidavit\.test\/replay\+[0-9a-f]{8}:\n {2}affidavit\.test\/replay\/affidavit\.session-events\.v1:0 tree size \d+/,
  );
  assert.match(text.stdout, /approved by bob \(signed\): ticket 7/);

  // The wrong identity: refused, saying so.
  const other = join(work, 'other.key');
  assert.equal((await cli(['replay', 'keygen', '--output', other])).code, 0);
  const wrong = await cli(['replay', bundle, '--identity', other, '--key', pub]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /is not encrypted to the identity given .*\[AFF_E_REPLAY_BUNDLE_KEY\]/);
  assert.equal(wrong.stdout, '');

  // Anyone holding the public recipient can re-encrypt an edited bundle: the proofs name the edited entry.
  const d = new Decrypter();
  d.addIdentity(
    readFileSync(key, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('AGE-SECRET-KEY-'))!,
  );
  const plain = (await d.decrypt(readFileSync(bundle), 'text')).split('\n');
  const at = plain.findIndex((l) => {
    if (!l.includes('"b":')) return false;
    const rec = codec().decode(Buffer.from(JSON.parse(l).b, 'base64'));
    return rec.type === 'CommandIssued' && rec.text === DENIED;
  });
  const line = JSON.parse(plain[at]);
  const original = codec().decode(Buffer.from(line.b, 'base64')) as CommandIssued;
  line.b = encodeEvent({ ...original, text: 'SELECT 1' }).toString('base64');
  const e = new Encrypter();
  e.addRecipient(recipient);
  const tampered = join(work, 'tampered.bundle');
  writeFileSync(tampered, await e.encrypt(plain.with(at, JSON.stringify(line)).join('\n')));
  const bad = await cli(['replay', tampered, '--identity', key, '--key', pub]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, new RegExp(`entry ${line.log.replace(/[.]/g, '\\.')}:${line.i} \\(CommandIssued ${original.eventId}\\) is not in the signed tree`));
  assert.match(bad.stderr, /\[AFF_E_REPLAY_BUNDLE_UNVERIFIED\]/);
  assert.equal(bad.stdout, '', 'nothing is replayed from a bundle that does not verify');

  // A flipped ciphertext byte is caught by age itself.
  const flipped = readFileSync(bundle);
  flipped[flipped.length - 20] ^= 1;
  writeFileSync(join(work, 'flipped.bundle'), flipped);
  const broken = await cli(['replay', join(work, 'flipped.bundle'), '--identity', key, '--key', pub]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /\[AFF_E_REPLAY_BUNDLE_DECRYPT\]/);
});
