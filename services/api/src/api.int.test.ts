// End to end inside one process: the real Ledger (in-process bus, SQLite store on a worker
// thread, signed checkpoints) records a story; startApi projects the ledger file into its own
// read-model file and serves it on a loopback port; answers come back over HTTP, a returned
// inclusion proof verifies with packages/tlog, the API follows new entries live (and pushes them
// over SSE), and dropping the read models and rebuilding from the ledger gives identical answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryBus, type Bus } from '@affidavit/bus';
import { systemClock } from '@affidavit/common';
import { Ledger, openWorkerSqliteLedgerStore, type LedgerStore } from '@affidavit/ledger';
import { encodeEvent, TOPICS, type LedgerRecord } from '@affidavit/schemas';
import { decodeBase64Strict, ed25519NoteSigner, hashLeaf, openNote, parseCheckpoint, verifyInclusion } from '@affidavit/tlog';
import { startApi, type RunningApi } from './start-api.ts';
import { identity, story, TEST_KEY, TEST_ORIGIN, testNoteVerifier } from './test-support.ts';

const USERS: Record<string, ReturnType<typeof identity>> = { 'tok-auditor': identity('olivia', ['auditor']), 'tok-approver': identity('bob', ['approver']) };

let dir: string;
let bus: Bus;
let store: LedgerStore;
let ledger: Ledger;
let api: RunningApi;
const records = story(12, 4);

async function record(events: readonly LedgerRecord[]): Promise<void> {
  const wait = ledger.appended(events.map((e) => e.eventId));
  await bus.publish(
    TOPICS.sessionEvents,
    events.map((e) => ({ key: 'sessionId' in e ? e.sessionId : 'x', value: encodeEvent(e) })),
  );
  await wait;
}

async function gql(token: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data!;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'affidavit-api-int-'));
  bus = createMemoryBus({}, {});
  for (const t of [TOPICS.sessionEvents, TOPICS.sessionEventsDlq, TOPICS.checkpoints]) await bus.ensureTopic(t, 1);
  store = await openWorkerSqliteLedgerStore({ path: join(dir, 'ledger.sqlite') });
  ledger = new Ledger(
    { origin: TEST_ORIGIN.split('/')[0], checkpointEveryEntries: 16, checkpointEveryMs: 20, ephemeralBus: true },
    { bus, store, signer: ed25519NoteSigner(TEST_KEY.signerKey), clock: systemClock },
  );
  await ledger.start();
  await record(records);
  api = await startApi(
    { ledgerFile: join(dir, 'ledger.sqlite'), readModelFile: join(dir, 'read-models.sqlite'), host: '127.0.0.1', port: 0, pollMs: 20 },
    {
      verify: async (t) => {
        const id = USERS[t];
        if (!id) throw new Error('unknown');
        return id;
      },
    },
  );
});
after(async () => {
  await api?.stop();
  await ledger?.stop();
  await store?.close();
  await bus?.close();
  rmSync(dir, { recursive: true, force: true });
});

// Every list, every field that comes from the ledger (proof text included).
const SNAPSHOT = `{
  sessions(first: 500) { nodes { sessionId subject sourceAddress targetResource startedAt endedAt endReason commandCount position { log index } } }
  blockedCommands { nodes { eventId commandId ruleId reason occurredAt position { index } } }
  approvals { nodes { requestId status approver justification requester decidedAt } }
  maskedData { nodes { eventId count columns rules } }
  identities { nodes { subject issuer groups sessions firstSeen lastSeen } }
  authenticationFailures { nodes { eventId code claimedSubject } }
}`;

async function allCommands(): Promise<unknown[]> {
  const out: unknown[] = [];
  const sessions = (await gql('tok-auditor', '{ sessions(first: 500) { nodes { sessionId } } }')).sessions.nodes as Array<{ sessionId: string }>;
  for (const s of sessions) {
    let after: string | null = null;
    do {
      const c: any = (
        await gql(
          'tok-auditor',
          'query($s: ID!, $a: String) { commands(sessionId: $s, first: 2, after: $a) { nodes { commandId seq text decision ruleId outcome tag } pageInfo { endCursor } } }',
          { s: s.sessionId, a: after },
        )
      ).commands;
      out.push(...c.nodes);
      after = c.pageInfo.endCursor;
    } while (after);
  }
  return out;
}

test('the API answers from the projected ledger, with proofs that verify', async () => {
  const snap = await gql('tok-auditor', SNAPSHOT);
  assert.equal(snap.sessions.nodes.length, 12);
  assert.equal(snap.identities.nodes.length, 3);
  assert.equal(snap.approvals.nodes[0].status, 'approved');
  // Wait for a checkpoint covering the whole story, then check a blocked command's proof.
  let ev: any;
  for (let i = 0; i < 100; i++) {
    ev = (await gql('tok-auditor', '{ blockedCommands { nodes { proof { position { log index } proof { index treeSize checkpoint hashes } reason } } } }'))
      .blockedCommands.nodes[0].proof;
    if (ev.proof) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(ev.proof, ev.reason);
  const cp = parseCheckpoint(openNote(ev.proof.checkpoint, [testNoteVerifier]).text);
  const blocked = records.find((r) => r.type === 'CommandBlocked')!;
  verifyInclusion(
    hashLeaf(encodeEvent(blocked)),
    ev.proof.index,
    cp.size,
    ev.proof.hashes.map((h: string) => decodeBase64Strict(h)),
    cp.root,
  );
});

test('the read models follow the ledger live, and push new sessions over SSE', async () => {
  const res = await fetch(`${api.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: 'Bearer tok-auditor' },
    body: JSON.stringify({ query: 'subscription { liveSessions { sessionId subject endReason } }' }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = res.body!.getReader();
  const more = story(14, 1, false).filter((r) => 'sessionId' in r && r.sessionId.endsWith('000000000013'));
  await record(more);
  let text = '';
  const deadline = Date.now() + 5_000;
  while (!text.includes('000000000013') && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
  }
  await reader.cancel();
  assert.match(text, /"sessionId":"0190a5d0-0000-7000-8000-000000000013"/);
  const s = await gql('tok-auditor', '{ session(sessionId: "0190a5d0-0000-7000-8000-000000000013") { subject endReason } }');
  assert.deepEqual(s.session, { subject: 'bob', endReason: 'client-closed' });
});

test('dropping the read models and rebuilding from the ledger gives identical answers', async () => {
  await api.projector.catchUp();
  const before = { snap: await gql('tok-auditor', SNAPSHOT), commands: await allCommands() };
  const rebuilt = await api.projector.rebuild();
  assert.ok(rebuilt >= records.length);
  const after = { snap: await gql('tok-auditor', SNAPSHOT), commands: await allCommands() };
  assert.deepEqual(after, before);
  assert.equal(before.snap.sessions.nodes.length, 13);
});
