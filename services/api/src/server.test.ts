// The API through app.inject(): authentication, roles, queries and keyset pagination, proofs,
// mutations through a fake DecisionService, error masking and the hardening limits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { MaskRevealInvalidError, SelfApprovalError, TokenExpiredError } from '@affidavit/access';
import { openSqliteLedgerStore, type LedgerStore } from '@affidavit/ledger';
import { decodeBase64Strict, hashLeaf, openNote, parseCheckpoint, verifyConsistency, verifyInclusion } from '@affidavit/tlog';
import { encodeEvent } from '@affidavit/schemas';
import { openSqliteReadModel } from './adapters/sqlite/sqlite-read-model.ts';
import type { DecideRequest, DecisionService, RevealRequest, RevealService } from './ports.ts';
import { createProofService } from './proofs.ts';
import { ReadModelProjector } from './read-model/projector.ts';
import type { ReadModelStore } from './read-model/read-model-store.ts';
import { buildServer } from './server.ts';
import { MAX_RECORDED_FORBIDDEN_PER_MINUTE } from './graphql/resolvers.ts';
import { rolesOf } from './auth/roles.ts';
import { identity, story, TEST_LOG, testNoteVerifier, writeLedger } from './test-support.ts';
import { exampleEvent } from '@affidavit/schemas';
import type { Logger } from '@affidavit/common';

const USERS: Record<string, ReturnType<typeof identity>> = {
  'tok-auditor': identity('olivia', ['compliance']),
  'tok-approver': identity('bob', ['approvers']),
  'tok-admin': identity('root', ['ops-admin']),
  'tok-nobody': identity('nina', ['analysts']),
};
const verify = async (t: string) => {
  const id = USERS[t];
  if (!id) throw new TokenExpiredError();
  return id;
};
const roleGroups = { auditor: ['compliance'], approver: ['approvers'], admin: ['ops-admin'] };

type Gql = { data?: Record<string, any>; errors?: Array<{ message: string; extensions?: { code?: string } }> };

async function gql(app: FastifyInstance, token: string | null, query: string, variables: Record<string, unknown> = {}): Promise<Gql & { status: number }> {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    payload: JSON.stringify({ query, variables }),
  });
  return { status: res.statusCode, ...(JSON.parse(res.body) as Gql) };
}

const records = story(7, 3);
// writeLedger signs a checkpoint after every batch of 10 but the last.
const SIGNED = Math.floor((records.length - 1) / 10) * 10;
let dir: string;
let ledger: LedgerStore;
let store: ReadModelStore;
let app: FastifyInstance;
let projector: ReadModelProjector;
const decided: DecideRequest[] = [];
const decisions: DecisionService = {
  async decide(r) {
    decided.push(r);
    if (r.requestId === 'mine') return { error: new SelfApprovalError('bob requested r-mine and cannot decide it') };
    if (r.requestId === 'boom') throw new Error('database password is hunter2');
    return { requestId: r.requestId, decision: r.decision, decidedAt: 1_760_000_000_000 };
  },
  async refused(r, error) {
    refusedAttempts.push([r.requestId, r.approver.subject, error.code]);
  },
};
const refusedAttempts: Array<[string, string, string]> = [];
const revealed: RevealRequest[] = [];
const reveals: RevealService = {
  async reveal(r) {
    revealed.push(r);
    if (r.index === 99) return { error: new MaskRevealInvalidError("index 99 is outside the event's masked values") };
    return { value: 'alice@example.com', column: 'email', row: r.index, recordedAs: 'opened-1' };
  },
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'affidavit-api-'));
  // Batches of 10 with the last left unsigned: entries from 40 on are past the latest checkpoint.
  await writeLedger(join(dir, 'ledger.sqlite'), records, { batch: 10, lastUnsigned: true });
  ledger = await openSqliteLedgerStore({ path: join(dir, 'ledger.sqlite'), readOnly: true });
  store = openSqliteReadModel({ path: ':memory:' });
  projector = new ReadModelProjector({ ledger, store });
  assert.equal(await projector.catchUp(), records.length);
  app = await buildServer(
    { roleGroups, rateLimit: { max: 1000, windowMs: 60_000 } },
    {
      verify,
      store,
      proofs: createProofService(ledger),
      decisions,
      reveals,
      signatures: { verify: (d) => d.signature?.toString() === 'sig' },
      changes: (l) => projector.onChange(l),
    },
  );
});
after(async () => {
  await app?.close();
  store?.close();
  await ledger?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('authentication and roles', () => {
  test('no bearer token: HTTP 401 with AFF_E_API_UNAUTHENTICATED', async () => {
    const r = await gql(app, null, '{ me { subject } }');
    assert.equal(r.status, 401);
    assert.equal(r.errors?.[0].extensions?.code, 'AFF_E_API_UNAUTHENTICATED');
  });
  test("a refused token: HTTP 401 with the verifier's code", async () => {
    const r = await gql(app, 'tok-stolen', '{ me { subject } }');
    assert.equal(r.status, 401);
    assert.equal(r.errors?.[0].extensions?.code, 'AFF_E_AUTH_TOKEN_EXPIRED');
  });
  test('roles come from groups; admin implies all', async () => {
    assert.deepEqual((await gql(app, 'tok-auditor', '{ me { subject roles } }')).data?.me, { subject: 'olivia', roles: ['auditor'] });
    assert.deepEqual((await gql(app, 'tok-admin', '{ me { roles } }')).data?.me.roles, ['admin', 'approver', 'auditor']);
  });
  test('wrong role: a GraphQL error with extensions.code AFF_E_API_FORBIDDEN, no data leaked', async () => {
    for (const tok of ['tok-approver', 'tok-nobody']) {
      const r = await gql(app, tok, '{ sessions { nodes { sessionId } } }');
      assert.equal(r.status, 200);
      assert.equal(r.errors?.[0].extensions?.code, 'AFF_E_API_FORBIDDEN');
      assert.equal(r.data, null);
    }
    const ok = await gql(app, 'tok-approver', '{ approvals { nodes { requestId } } }');
    assert.equal(ok.errors, undefined);
  });
  test('GET /healthz needs no token; GraphiQL is not served outside development', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const page = await app.inject({ method: 'GET', url: '/graphql', headers: { accept: 'text/html', authorization: 'Bearer tok-auditor' } });
    assert.doesNotMatch(page.body, /graphiql/i);
  });
});

describe('queries and keyset pagination', () => {
  test('sessions page through every session exactly once, newest first', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const r = await gql(
        app,
        'tok-auditor',
        'query($a: String) { sessions(first: 3, after: $a) { nodes { sessionId startedAt } pageInfo { hasNextPage endCursor } } }',
        { a: after },
      );
      assert.equal(r.errors, undefined);
      const c = r.data!.sessions;
      seen.push(...c.nodes.map((n: { sessionId: string }) => n.sessionId));
      after = c.pageInfo.hasNextPage ? c.pageInfo.endCursor : null;
      pages++;
    } while (after);
    assert.equal(pages, 3);
    assert.equal(seen.length, 7);
    assert.equal(new Set(seen).size, 7);
    assert.deepEqual(seen, [...seen].sort().reverse());
  });
  test('sessions filter by subject and show how the session ended', async () => {
    const r = await gql(
      app,
      'tok-auditor',
      '{ sessions(filter: { subject: "bob" }) { nodes { subject sourceAddress targetResource endReason commandCount endedAt } } }',
    );
    assert.equal(r.data!.sessions.nodes.length, 2);
    for (const n of r.data!.sessions.nodes)
      assert.deepEqual(
        { ...n, sourceAddress: undefined, endedAt: undefined },
        { subject: 'bob', sourceAddress: undefined, targetResource: 'demo', endReason: 'client-closed', commandCount: 3, endedAt: undefined },
      );
    const since = await gql(app, 'tok-auditor', '{ sessions(filter: { since: "2025-10-09T08:53:25Z" }) { nodes { sessionId } } }');
    assert.equal(since.data!.sessions.nodes.length, 2);
  });
  test('commands of a session in order, with decision, rule and outcome', async () => {
    const r = await gql(
      app,
      'tok-auditor',
      '{ commands(sessionId: "0190a5d0-0000-7000-8000-000000000000", first: 2) { nodes { commandId decision ruleId outcome } pageInfo { endCursor } } }',
    );
    assert.deepEqual(r.data!.commands.nodes, [
      { commandId: 'c0', decision: 'allow', ruleId: 'reads', outcome: 'ok' },
      { commandId: 'c1', decision: 'allow', ruleId: 'reads', outcome: 'ok' },
    ]);
    const rest = await gql(
      app,
      'tok-auditor',
      'query($a: String) { commands(sessionId: "0190a5d0-0000-7000-8000-000000000000", after: $a) { nodes { commandId decision } } }',
      { a: r.data!.commands.pageInfo.endCursor },
    );
    assert.deepEqual(rest.data!.commands.nodes, [
      { commandId: 'c2', decision: 'allow' },
      { commandId: 'cb', decision: 'deny' },
      { commandId: 'ch', decision: 'require_approval' },
    ]);
  });
  test('blocked commands, approvals (decided, by whom, signature), masked data, identities, authentication failures', async () => {
    const r = await gql(
      app,
      'tok-admin',
      `{ blockedCommands { nodes { commandId ruleId reason } }
         approvals { nodes { requestId status approver justification signatureValid requester } }
         maskedData { nodes { commandId count columns } }
         identities { nodes { subject sessions } }
         authenticationFailures { nodes { code claimedSubject } } }`,
    );
    assert.equal(r.errors, undefined);
    assert.deepEqual(r.data!.blockedCommands.nodes, [{ commandId: 'cb', ruleId: 'no-ddl', reason: 'DDL is not allowed' }]);
    assert.deepEqual(r.data!.approvals.nodes, [
      { requestId: 'r1', status: 'approved', approver: 'bob', justification: 'ticket 42', signatureValid: true, requester: 'alice' },
    ]);
    assert.equal(r.data!.maskedData.nodes.length, 1);
    assert.deepEqual(r.data!.identities.nodes, [
      { subject: 'alice', sessions: 3 },
      { subject: 'bob', sessions: 2 },
      { subject: 'carol', sessions: 2 },
    ]);
    assert.deepEqual(r.data!.authenticationFailures.nodes, [{ code: 'AFF_E_AUTH_BAD_SIGNATURE', claimedSubject: 'mallory' }]);
  });
  test('approvals list every decision of a request with its own signature check', async () => {
    const r = await gql(
      app,
      'tok-approver',
      '{ approval(requestId: "r1") { status decisions { decision approver signatureValid position { index } proof { reason } } } }',
    );
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.equal(r.data!.approval.status, 'approved');
    assert.deepEqual(
      r.data!.approval.decisions.map((d: { decision: string; approver: string; signatureValid: boolean }) => [d.decision, d.approver, d.signatureValid]),
      [['approved', 'bob', true]],
    );
  });
  test('a cursor the API did not issue is refused with AFF_E_API_CURSOR_INVALID; first is bounded', async () => {
    const bad = await gql(app, 'tok-auditor', '{ sessions(after: "WyJ4Il0") { nodes { sessionId } } }');
    assert.equal(bad.errors?.[0].extensions?.code, 'AFF_E_API_CURSOR_INVALID');
    const big = await gql(app, 'tok-auditor', '{ sessions(first: 501) { nodes { sessionId } } }');
    assert.equal(big.errors?.[0].extensions?.code, 'AFF_E_API_INPUT_INVALID', JSON.stringify(big));
  });
});

describe('proofs', () => {
  test("a row's inclusion proof verifies against the signed checkpoint", async () => {
    const r = await gql(
      app,
      'tok-auditor',
      '{ blockedCommands { nodes { proof { position { log index } proof { index treeSize checkpoint hashes } reason } } } }',
    );
    const ev = r.data!.blockedCommands.nodes[0].proof;
    assert.equal(ev.reason, null);
    const note = openNote(ev.proof.checkpoint, [testNoteVerifier]);
    const cp = parseCheckpoint(note.text);
    assert.equal(cp.size, ev.proof.treeSize);
    const leaf = hashLeaf(encodeEvent(records[ev.position.index]));
    verifyInclusion(
      leaf,
      ev.proof.index,
      ev.proof.treeSize,
      ev.proof.hashes.map((h: string) => decodeBase64Strict(h)),
      cp.root,
    );
    assert.throws(() =>
      verifyInclusion(
        hashLeaf(Buffer.from('forged')),
        ev.proof.index,
        ev.proof.treeSize,
        ev.proof.hashes.map((h: string) => decodeBase64Strict(h)),
        cp.root,
      ),
    );
  });
  test('a row past the latest checkpoint has proof null and a reason', async () => {
    const r = await gql(
      app,
      'tok-auditor',
      '{ commands(sessionId: "0190a5d0-0000-7000-8000-000000000006") { nodes { position { index } proof { proof { index } reason } } } }',
    );
    const n = r.data!.commands.nodes.at(-1);
    assert.ok(n.position.index >= SIGNED, `index ${n.position.index}`);
    assert.equal(n.proof.proof, null);
    assert.match(n.proof.reason, new RegExp(`past the latest signed checkpoint \\(tree size ${SIGNED}\\)`));
  });
  test('consistency proofs between checkpoints verify; other sizes are refused', async () => {
    const cps = (await gql(app, 'tok-auditor', `{ checkpoints(log: "${TEST_LOG}") { treeSize note } }`)).data!.checkpoints;
    assert.deepEqual(
      cps.map((c: { treeSize: number }) => c.treeSize),
      Array.from({ length: SIGNED / 10 }, (_, i) => (i + 1) * 10),
    );
    const r = await gql(app, 'tok-auditor', `{ consistencyProof(log: "${TEST_LOG}", from: 10, to: ${SIGNED}) { hashes fromCheckpoint toCheckpoint } }`);
    const p = r.data!.consistencyProof;
    const root = (n: string) => parseCheckpoint(openNote(n, [testNoteVerifier]).text).root;
    verifyConsistency(
      10,
      SIGNED,
      p.hashes.map((h: string) => decodeBase64Strict(h)),
      root(p.fromCheckpoint),
      root(p.toCheckpoint),
    );
    const bad = await gql(app, 'tok-auditor', `{ consistencyProof(log: "${TEST_LOG}", from: 11, to: ${SIGNED}) { hashes } }`);
    assert.equal(bad.errors?.[0].extensions?.code, 'AFF_E_API_NO_CHECKPOINT');
  });
});

describe('mutations', () => {
  test('approve needs the approver role; the refused attempt is recorded through the decision service', async () => {
    const r = await gql(app, 'tok-auditor', 'mutation { approve(id: "r9", justification: "ok") { requestId } }');
    assert.equal(r.errors?.[0].extensions?.code, 'AFF_E_API_FORBIDDEN');
    assert.equal(decided.length, 0);
    assert.deepEqual(refusedAttempts, [['r9', 'olivia', 'AFF_E_API_FORBIDDEN']]);
    const long = await gql(app, 'tok-nobody', 'mutation ($id: ID!) { deny(id: $id, justification: "x") { requestId } }', { id: 'r'.repeat(5000) });
    assert.equal(long.errors?.[0].extensions?.code, 'AFF_E_API_INPUT_INVALID', 'an oversized id is refused before it is recorded');
    assert.equal(refusedAttempts.length, 1);
  });
  test('a caller without the role cannot flood the ledger with recorded attempts (aliases, repeats): a per-minute budget', async () => {
    const before = refusedAttempts.length;
    const aliases = Array.from({ length: 15 }, (_, i) => `a${i}: deny(id: "flood-${i}", justification: "x") { requestId }`).join(' ');
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await gql(app, 'tok-nobody', `mutation { ${aliases} }`));
    assert.ok(answers.every((r) => r.errors?.every((e) => e.extensions?.code === 'AFF_E_API_FORBIDDEN')));
    const recorded = refusedAttempts.slice(before);
    assert.equal(recorded.length, MAX_RECORDED_FORBIDDEN_PER_MINUTE, `${recorded.length} attempts recorded for 60 refused`);
    assert.match(answers[3].errors![0].message, /not recorded/);
    // Another caller has a budget of its own.
    await gql(app, 'tok-auditor', 'mutation { deny(id: "other", justification: "x") { requestId } }');
    assert.deepEqual(refusedAttempts.at(-1), ['other', 'olivia', 'AFF_E_API_FORBIDDEN']);
  });
  test("approve and deny pass the caller's verified identity and token id to the decision service", async () => {
    const r = await gql(app, 'tok-approver', 'mutation { approve(id: "r9", justification: " ticket 7 ") { requestId decision } }');
    assert.deepEqual(r.data!.approve, { requestId: 'r9', decision: 'approved' });
    const d = await gql(app, 'tok-approver', 'mutation { deny(id: "r10", justification: "no") { decision } }');
    assert.equal(d.data!.deny.decision, 'denied');
    assert.deepEqual(
      decided.map((x) => [x.requestId, x.decision, x.justification, x.approver.subject, x.tokenId, x.token]),
      [
        ['r9', 'approved', 'ticket 7', 'bob', 'jti-bob', 'tok-approver'],
        ['r10', 'denied', 'no', 'bob', 'jti-bob', 'tok-approver'],
      ],
    );
  });
  test("the decision service's typed error (self-approval) reaches the client with its code", async () => {
    const r = await gql(app, 'tok-approver', 'mutation { approve(id: "mine", justification: "trust me") { requestId } }');
    assert.equal(r.errors?.[0].extensions?.code, 'AFF_E_APPROVAL_SELF');
    assert.match(r.errors![0].message, /cannot decide/);
  });
  test('an empty justification is refused before the decision service', async () => {
    const before = decided.length;
    const r = await gql(app, 'tok-approver', 'mutation { approve(id: "r11", justification: "   ") { requestId } }');
    assert.equal(r.errors?.[0].extensions?.code, 'AFF_E_API_INPUT_INVALID');
    assert.equal(decided.length, before);
  });
  test('unexpected errors are masked', async () => {
    const r = await gql(app, 'tok-approver', 'mutation { approve(id: "boom", justification: "x") { requestId } }');
    assert.equal(r.errors?.[0].message, 'Unexpected error.');
    assert.doesNotMatch(JSON.stringify(r), /hunter2/);
  });
});

describe('revealMaskedValue', () => {
  const REVEAL = 'mutation ($id: ID!, $i: Int!, $why: String!) { revealMaskedValue(eventId: $id, index: $i, reason: $why) { value column row recordedAs } }';
  const maskedId = async () => (await gql(app, 'tok-auditor', '{ maskedData(first: 1) { nodes { eventId } } }')).data!.maskedData.nodes[0].eventId as string;

  test("a key holder opens a value: the API hands the service the ledger's DataMasked event and the caller's verified identity", async () => {
    const id = await maskedId();
    const r = await gql(app, 'tok-approver', REVEAL, { id, i: 0, why: '  incident 7 ' });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.equal(r.data!.revealMaskedValue.value, 'alice@example.com');
    assert.equal(r.data!.revealMaskedValue.recordedAs, 'opened-1');
    const last = revealed.at(-1)!;
    assert.deepEqual([last.event.type, last.event.eventId, last.index, last.reason, last.opener.subject], ['DataMasked', id, 0, 'incident 7', 'bob']);
  });
  test('needs the auditor, approver or admin role; the service is not called otherwise', async () => {
    const before = revealed.length;
    const r = await gql(app, 'tok-nobody', REVEAL, { id: await maskedId(), i: 0, why: 'curious' });
    assert.equal(r.errors?.[0].extensions?.code, 'AFF_E_API_FORBIDDEN');
    assert.equal(r.data, null);
    assert.equal(revealed.length, before);
  });
  test("an unknown event, an empty reason, or the service's refusal: coded errors, no value", async () => {
    const unknown = await gql(app, 'tok-auditor', REVEAL, { id: '0190a5d0-0000-7000-8000-00000000dead', i: 0, why: 'x' });
    assert.equal(unknown.errors?.[0].extensions?.code, 'AFF_E_API_NOT_FOUND');
    const session = await gql(app, 'tok-auditor', '{ sessions(first: 1) { nodes { sessionId } } }');
    const notMasked = await gql(app, 'tok-auditor', REVEAL, { id: session.data!.sessions.nodes[0].sessionId, i: 0, why: 'x' });
    assert.equal(notMasked.errors?.[0].extensions?.code, 'AFF_E_API_NOT_FOUND');
    const empty = await gql(app, 'tok-auditor', REVEAL, { id: await maskedId(), i: 0, why: '  ' });
    assert.equal(empty.errors?.[0].extensions?.code, 'AFF_E_API_INPUT_INVALID');
    const refused = await gql(app, 'tok-auditor', REVEAL, { id: await maskedId(), i: 99, why: 'x' });
    assert.equal(refused.errors?.[0].extensions?.code, 'AFF_E_MASK_REVEAL_INVALID');
    assert.doesNotMatch(JSON.stringify([unknown, notMasked, empty, refused]), /alice@example\.com/);
  });
});

describe('hardening', () => {
  test('introspection is refused outside development (__typename still works)', async () => {
    for (const q of ['{ __schema { types { name } } }', '{ __type(name: "Session") { fields { name } } }']) {
      const r = await gql(app, 'tok-admin', q);
      assert.equal(r.data, undefined, q);
      assert.match(JSON.stringify(r.errors), /introspection/i, q);
    }
    const t = await gql(app, 'tok-auditor', '{ me { __typename subject } }');
    assert.deepEqual(t.data, { me: { __typename: 'Me', subject: 'olivia' } });
  });
  test('bodyLimit is the bound: a small query passes, one byte-heavy query past it is 413', async () => {
    const small = await buildServer({ roleGroups, bodyLimit: 2048 }, { verify, store });
    try {
      assert.equal((await gql(small, 'tok-auditor', '{ me { subject } }')).status, 200);
      const big = await small.inject({
        method: 'POST',
        url: '/graphql',
        headers: { 'content-type': 'application/json', authorization: 'Bearer tok-auditor' },
        payload: JSON.stringify({ query: `{ me { subject } } # ${'x'.repeat(2048)}` }),
      });
      assert.equal(big.statusCode, 413);
    } finally {
      await small.close();
    }
  });
  test('a too-deep query is refused', async () => {
    const shallow = await buildServer({ roleGroups, maxDepth: 4 }, { verify, store });
    try {
      assert.equal((await gql(shallow, 'tok-auditor', '{ sessions { nodes { position { log } } } }')).errors, undefined);
      const r = await gql(shallow, 'tok-auditor', '{ sessions { nodes { proof { proof { hashes } } } } }');
      assert.equal(r.data, undefined);
      assert.match(JSON.stringify(r.errors), /depth/i);
    } finally {
      await shallow.close();
    }
  });
  test('too many aliases are refused', async () => {
    const q = `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: me { subject }`).join(' ')} }`;
    const r = await gql(app, 'tok-auditor', q);
    assert.match(JSON.stringify(r.errors), /alias/i);
  });
  test('a body over the limit is refused with 413', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tok-auditor' },
      payload: JSON.stringify({ query: `{ me { subject } } # ${'x'.repeat(100 * 1024)}` }),
    });
    assert.equal(res.statusCode, 413);
  });
  test('the rate limit is per identity', async () => {
    const small = await buildServer({ roleGroups, rateLimit: { max: 3, windowMs: 60_000 } }, { verify, store });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await gql(small, 'tok-auditor', '{ me { subject } }')).status);
      assert.deepEqual(codes, [200, 200, 200, 429]);
      const limited = await gql(small, 'tok-auditor', '{ me { subject } }');
      assert.equal(limited.errors?.[0].extensions?.code, 'AFF_E_API_RATE_LIMITED');
      // Another identity has its own budget.
      assert.equal((await gql(small, 'tok-admin', '{ me { subject } }')).status, 200);
    } finally {
      await small.close();
    }
  });
});

describe('subscriptions (SSE, fed by the projection)', () => {
  const sse = (tok: string, query: string) =>
    app.yoga.fetch(
      'http://api.test/graphql',
      { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ query }) },
      { req: { identity: USERS[tok], roles: rolesOf(USERS[tok], roleGroups) } },
    );
  async function until(reader: ReadableStreamDefaultReader<Uint8Array>, needle: string): Promise<string> {
    let text = '';
    const deadline = Date.now() + 5_000;
    while (!text.includes(needle) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    return text;
  }

  test('pendingApprovals pushes a request as soon as the projection reaches it, then its decision', async () => {
    const res = await sse('tok-approver', 'subscription { pendingApprovals { requestId status requester } }');
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    const S = '0190a5d0-0000-7000-8000-000000000077';
    await writeLedger(join(dir, 'ledger.sqlite'), [
      exampleEvent('ApprovalRequested', { eventId: '0190a5d0-0000-7000-9000-000000000777', sessionId: S, requestId: 'r77', occurredAt: 1_770_000_000_000_000 }),
    ]);
    await projector.catchUp();
    const first = await until(reader, 'r77');
    assert.match(first, /"requestId":"r77","status":"pending","requester":"alice"/);
    await writeLedger(join(dir, 'ledger.sqlite'), [
      exampleEvent('ApprovalDecided', {
        eventId: '0190a5d0-0000-7000-9000-000000000778',
        sessionId: S,
        seq: 1,
        requestId: 'r77',
        decision: 'denied',
        approver: { ...exampleEvent('SessionStarted').actor!, subject: 'bob' },
        justification: 'no',
      }),
    ]);
    await projector.catchUp();
    const second = await until(reader, 'denied');
    assert.match(second, /"requestId":"r77","status":"denied"/);
    await reader.cancel();
  });

  test('subscriptions check roles too', async () => {
    const res = await sse('tok-nobody', 'subscription { liveSessions { sessionId } }');
    const text = await until(res.body!.getReader(), 'AFF_E_API_FORBIDDEN');
    assert.match(text, /AFF_E_API_FORBIDDEN/);
  });
});

describe('development mode', () => {
  test('GraphiQL is served (the page only, without a token) in development; queries still need one', async () => {
    const dev = await buildServer({ roleGroups, development: true }, { verify, store });
    try {
      const page = await dev.inject({ method: 'GET', url: '/graphql', headers: { accept: 'text/html' } });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /graphiql/i);
      const q = await dev.inject({ method: 'GET', url: '/graphql?query=%7Bme%7Bsubject%7D%7D', headers: { accept: 'text/html' } });
      assert.equal(q.statusCode, 401);
      // The exemption is GraphiQL's page, not "any GET that accepts HTML".
      for (const url of ['/graphql/../me', '/anything', '/sessions/x/replay/data', '/graphql/x']) {
        const other = await dev.inject({ method: 'GET', url, headers: { accept: 'text/html' } });
        assert.equal(other.statusCode, 401, `${url} without a token`);
      }
      const prod = await app.inject({ method: 'GET', url: '/graphql', headers: { accept: 'text/html' } });
      assert.equal(prod.statusCode, 401);
      // GraphiQL needs the schema: introspection is on in development (still behind a token).
      const schema = await gql(dev, 'tok-auditor', '{ __schema { queryType { name } } }');
      assert.deepEqual(schema.data, { __schema: { queryType: { name: 'Query' } } });
    } finally {
      await dev.close();
    }
  });
});

test('the interpreter (jit: false) gives the same answers as the compiled queries', async () => {
  const plain = await buildServer({ roleGroups, jit: false }, { verify, store, proofs: createProofService(ledger) });
  try {
    const q =
      '{ sessions(first: 4) { nodes { sessionId startedAt proof { reason proof { hashes } } } pageInfo { endCursor } } approvals { nodes { requestId status } } }';
    assert.deepEqual(await gql(plain, 'tok-auditor', q), await gql(app, 'tok-auditor', q));
    assert.equal((await gql(plain, 'tok-approver', '{ sessions { nodes { sessionId } } }')).errors?.[0].extensions?.code, 'AFF_E_API_FORBIDDEN');
  } finally {
    await plain.close();
  }
});

test('a refusal with its code is not logged as an error; a masked unexpected error is', async () => {
  const logged: Array<[string, string]> = [];
  const at = (level: string) => (_o: unknown, msg: string) => void logged.push([level, msg]);
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger } as unknown as Logger;
  const quiet = await buildServer({ roleGroups }, { verify, store, decisions, logger });
  try {
    assert.equal(
      (await gql(quiet, 'tok-approver', 'mutation { approve(id: "mine", justification: "x") { requestId } }')).errors?.[0].extensions?.code,
      'AFF_E_APPROVAL_SELF',
    );
    assert.deepEqual(
      logged.filter(([l]) => l === 'error'),
      [],
    );
    await gql(quiet, 'tok-approver', 'mutation { approve(id: "boom", justification: "x") { requestId } }');
    assert.equal(logged.filter(([l]) => l === 'error').length, 1);
  } finally {
    await quiet.close();
  }
});
