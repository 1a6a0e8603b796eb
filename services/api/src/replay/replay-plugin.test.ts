// The replay routes through app.inject(): the page is static and hardened (no data, no inline
// script, CSP), the data needs an auditor's bearer token, and what it serves is each entry's
// exact bytes with a proof that verifies against the signed checkpoint (or a reason past it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { TokenExpiredError } from '@affidavit/access';
import { openSqliteLedgerStore, type LedgerStore } from '@affidavit/ledger';
import type { ReplayData } from '@affidavit/replay';
import { decodeBase64Strict, hashLeaf, openNote, parseCheckpoint, verifyInclusion } from '@affidavit/tlog';
import { openSqliteReadModel } from '../adapters/sqlite/sqlite-read-model.ts';
import { createProofService } from '../proofs.ts';
import type { ReadModelStore } from '../read-model/read-model-store.ts';
import { buildServer } from '../server.ts';
import { identity, story, testNoteVerifier, writeLedger } from '../test-support.ts';

const USERS: Record<string, ReturnType<typeof identity>> = {
  'tok-auditor': identity('olivia', ['compliance']),
  'tok-approver': identity('bob', ['approvers']),
};
const verify = async (t: string) => {
  const id = USERS[t];
  if (!id) throw new TokenExpiredError();
  return id;
};
const roleGroups = { auditor: ['compliance'], approver: ['approvers'], admin: ['ops-admin'] };
const S0 = '0190a5d0-0000-7000-8000-000000000000';
const S1 = '0190a5d0-0000-7000-8000-000000000001';

const records = story(3, 2);
let dir: string;
let ledger: LedgerStore;
let store: ReadModelStore;
let app: FastifyInstance;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'affidavit-replay-api-'));
  await writeLedger(join(dir, 'ledger.sqlite'), records, { batch: 10, lastUnsigned: true });
  ledger = await openSqliteLedgerStore({ path: join(dir, 'ledger.sqlite'), readOnly: true });
  store = openSqliteReadModel({ path: ':memory:' });
  app = await buildServer({ roleGroups, rateLimit: { max: 1000, windowMs: 60_000 } }, { verify, store, ledger, proofs: createProofService(ledger) });
});
after(async () => {
  await app?.close();
  store?.close();
  await ledger?.close();
  rmSync(dir, { recursive: true, force: true });
});

const data = (id: string, token: string | null) =>
  app.inject({ method: 'GET', url: `/sessions/${id}/replay/data`, headers: token ? { authorization: `Bearer ${token}` } : {} });

test('the page needs no token, carries no data and is served with a CSP that forbids inline script', async () => {
  const r = await app.inject({ method: 'GET', url: `/sessions/${S0}/replay` });
  assert.equal(r.statusCode, 200);
  assert.match(String(r.headers['content-type']), /^text\/html/);
  assert.match(String(r.headers['content-security-policy']), /script-src 'self';/);
  assert.match(String(r.headers['content-security-policy']), /frame-ancestors 'none'/);
  assert.equal(r.headers['referrer-policy'], 'no-referrer');
  assert.doesNotMatch(r.body, /<script>|<script [^>]*>[^<]/, 'no inline script');
  assert.ok(!r.body.includes(S0), 'the page does not echo the session id (the script reads it from the address)');
  const js = await app.inject({ method: 'GET', url: '/replay/assets/replay.js' });
  assert.equal(js.statusCode, 200);
  assert.doesNotMatch(js.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, 'the script never renders data as HTML');
});

test('the data needs a bearer token of the auditor role', async () => {
  assert.equal((await data(S0, null)).statusCode, 401);
  assert.equal((await data(S0, 'tok-stolen')).statusCode, 401);
  const approver = await data(S0, 'tok-approver');
  assert.equal(approver.statusCode, 403);
  assert.equal(JSON.parse(approver.body).errors[0].extensions.code, 'AFF_E_API_FORBIDDEN');
  const bad = await data('x%20y', 'tok-auditor');
  assert.equal(bad.statusCode, 400);
  const none = await data('0190a5d0-0000-7000-8000-000000000777', 'tok-auditor');
  assert.equal(none.statusCode, 404);
  assert.equal(JSON.parse(none.body).errors[0].extensions.code, 'AFF_E_REPLAY_SESSION_NOT_FOUND');
});

test('the data holds the session’s entries, a timeline, and proofs that verify against the signed checkpoint', async () => {
  const r = await data(S0, 'tok-auditor');
  assert.equal(r.statusCode, 200, r.body);
  const d = JSON.parse(r.body) as ReplayData;
  const mine = records.filter((e) => e.type !== 'InputRejected' && e.sessionId === S0);
  assert.equal(d.entries.length, mine.length);
  assert.deepEqual(
    d.timeline.steps.map((s) => s.kind),
    ['session-started', 'command', 'command', 'command', 'command', 'session-ended'],
  );
  for (const e of d.entries) {
    assert.ok(e.proof, `entry ${e.index} is covered (session 0 is in the signed part)`);
    const cp = parseCheckpoint(openNote(e.proof.checkpoint, [testNoteVerifier]).text);
    verifyInclusion(
      hashLeaf(decodeBase64Strict(e.bytes)!),
      e.index,
      cp.size,
      e.proof.hashes.map((h) => decodeBase64Strict(h)!),
      cp.root,
    );
  }
  // The last session's entries are past the latest checkpoint (the last batch is unsigned).
  const late = JSON.parse((await data('0190a5d0-0000-7000-8000-000000000002', 'tok-auditor')).body) as ReplayData;
  const unproved = late.entries.filter((e) => e.proof === null);
  assert.ok(unproved.length > 0);
  assert.match(unproved[0].reason ?? '', /past the latest signed checkpoint/);
  assert.equal(JSON.parse((await data(S1, 'tok-auditor')).body).sessionId, S1);
});

test('in development mode (GraphiQL served), a browser-like request without a token still gets no data', async () => {
  const dev = await buildServer({ roleGroups, development: true }, { verify, store, ledger, proofs: createProofService(ledger) });
  try {
    const r = await dev.inject({ method: 'GET', url: `/sessions/${S0}/replay/data`, headers: { accept: 'text/html' } });
    assert.equal(r.statusCode, 401);
    assert.equal(JSON.parse(r.body).errors[0].extensions.code, 'AFF_E_API_UNAUTHENTICATED');
  } finally {
    await dev.close();
  }
});

test('at most 2 scans run and 8 wait; the next caller gets 429 at once instead of queueing', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let started = 0;
  const slow: LedgerStore = {
    openLog: (id) => ledger.openLog(id),
    close: async () => {},
    listLogs: async () => {
      started++;
      await held;
      return ledger.listLogs();
    },
  };
  const gated = await buildServer(
    { roleGroups, rateLimit: { max: 1000, windowMs: 60_000 } },
    { verify, store, ledger: slow, proofs: createProofService(ledger) },
  );
  try {
    const get = () => gated.inject({ method: 'GET', url: `/sessions/${S0}/replay/data`, headers: { authorization: 'Bearer tok-auditor' } });
    let answered = 0;
    const all = Array.from({ length: 11 }, () => get().finally(() => answered++));
    // While the two running scans are held, the only request that can finish is the one refused.
    while (answered === 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal(started, 2, 'two scans run, the others wait');
    release();
    const codes = (await Promise.all(all)).map((r) => r.statusCode).sort();
    assert.deepEqual(codes, [...Array(10).fill(200), 429]);
    const refused = (await Promise.all(all)).find((r) => r.statusCode === 429)!;
    assert.equal(JSON.parse(refused.body).errors[0].extensions.code, 'AFF_E_API_RATE_LIMITED');
  } finally {
    await gated.close();
  }
});
