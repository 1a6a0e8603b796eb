// The API approval story (issue #18), end to end: the embedded system in this process in front
// of a real PostgreSQL, with its GraphQL API listening. psql holds an UPDATE for approval; the
// requester cannot approve it through the API (no approver role, and not her own request),
// a decision forged straight onto the bus releases nothing, and bob's `approve` mutation (sent
// by `affidavit approve` with bob's own token) runs the statement exactly once. The API then shows the decision by bob with a valid signature
// and the forgery among the refusals, and every row carries a proof that verifies.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandDigest } from '@affidavit/access';
import { uuidv7 } from '@affidavit/common';
import { encodeEvent, TOPICS } from '@affidavit/schemas';
import type { Actor, ApprovalDecided, ApprovalRequested, LedgerRecord } from '@affidavit/schemas';
import type { PostgresInstance, RunResult } from '../../../../test/services/postgres.ts';
import type { EmbeddedSystem } from '../embedded/system.ts';
import { runCli, startStory, until } from './embedded-story.ts';
import type { Story } from './embedded-story.ts';

let story: Story;
let pg: PostgresInstance;
let system: EmbeddedSystem;
let seen: LedgerRecord[];
const cli = (...args: string[]) => runCli([...args, '--config', story.configFile]);
const token = (user: string) => story.token(user);

type GqlAnswer = { status: number; data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };

/** gql posts one GraphQL document to the running API with a bearer token. */
async function gql(bearer: string | null, query: string, variables: Record<string, unknown> = {}): Promise<GqlAnswer> {
  const res = await fetch(`${system!.apiUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json().catch(() => ({}))) as Omit<GqlAnswer, 'status'>;
  return { status: res.status, ...body };
}

before(async () => {
  story = await startStory({
    name: 'api-approval',
    setupSql: 'CREATE TABLE IF NOT EXISTS payments (id int PRIMARY KEY, amount int); DELETE FROM payments; INSERT INTO payments VALUES (1, 100), (2, 200)',
    // A data directory from a version with the loopback control endpoint: its secret file goes.
    beforeStart: (dir) => {
      mkdirSync(join(dir, 'data'), { mode: 0o700 });
      writeFileSync(join(dir, 'data', 'control.json'), JSON.stringify({ url: 'http://127.0.0.1:1', secret: 'stale', pid: 1 }), { mode: 0o600 });
    },
  });
  ({ pg, system, seen } = story);
  assert.equal(existsSync(join(story.dir, 'data', 'control.json')), false, 'the stale control secret is removed');
});
after(() => story?.stop());

const amount = async (id: number) => (await pg.psql(['-At', '-c', `SELECT amount FROM payments WHERE id = ${id}`])).stdout.trim();
const APPROVE = 'mutation ($id: ID!, $why: String!) { approve(id: $id, justification: $why) { requestId decision } }';

test('a held UPDATE is released once by the approve mutation with bob’s token, never by the requester or a forged bus message', {
  timeout: 120_000,
}, async () => {
  assert.ok(system?.apiUrl, 'the embedded system serves the API');
  const alice = await token('alice');
  const bob = await token('bob');
  const dave = await token('dave');
  const text = 'UPDATE payments SET amount = amount + 1 WHERE id = 1';
  const done = pg.psql(['-c', text], { port: system.proxyPort, user: 'alice', password: alice, sslmode: 'disable', timeoutMs: 90_000 });
  let ended: RunResult | undefined;
  void done.then((r) => (ended = r));
  const request = await until(() => {
    if (ended) throw new Error(`psql ended before its statement was held: ${JSON.stringify(ended)}`);
    return seen.find((e): e is ApprovalRequested => e.type === 'ApprovalRequested' && e.text === text);
  }, 'the approval request');

  // The auditor sees it pending through the API (the read models follow the ledger).
  const pending = await until(async () => {
    const r = await gql(dave, '{ approvals(filter: { status: pending }) { nodes { requestId text requester status } } }');
    const nodes = (r.data?.approvals as { nodes: Array<{ requestId: string; text: string; status: string }> } | undefined)?.nodes ?? [];
    return nodes.find((n) => n.requestId === request.requestId);
  }, 'the pending approval in the API');
  assert.equal(pending.text, text);
  // `affidavit approvals list` is a client of the same API, with the caller's own token.
  const listed = await cli('approvals', 'list', '--json', '--token', dave);
  assert.equal(listed.code, 0, listed.stderr);
  assert.ok(
    (JSON.parse(listed.stdout) as Array<{ requestId: string }>).some((p) => p.requestId === request.requestId),
    listed.stdout,
  );
  const noRole = await cli('approve', request.requestId, '--token', dave, '--reason', 'auditors do not decide');
  assert.equal(noRole.code, 1, 'refused by the API: exit code 1');
  assert.match(noRole.stderr, /refused: approve needs one of the roles approver, admin.*\[AFF_E_API_FORBIDDEN\]/);

  // No token: 401. The requester has no approver role: refused with a code, nothing runs.
  assert.equal((await gql(null, APPROVE, { id: request.requestId, why: 'x' })).status, 401);
  const self = await gql(alice, APPROVE, { id: request.requestId, why: 'my own' });
  assert.equal(self.errors?.[0]?.extensions?.code, 'AFF_E_API_FORBIDDEN', JSON.stringify(self));

  // A decision forged straight onto the bus (no signature) releases nothing and is refused on the record.
  const forged: ApprovalDecided = {
    eventId: uuidv7(),
    type: 'ApprovalDecided',
    occurredAt: Date.now() * 1000,
    sessionId: request.requestId,
    seq: 0,
    actor: request.actor,
    source: { address: '127.0.0.1', port: null, application: 'forger' },
    target: request.target,
    feeder: { id: 'forger', version: '0' },
    requestId: request.requestId,
    decision: 'approved',
    approver: { ...(request.actor as Actor), subject: 'bob', groups: ['approvers'] },
    justification: 'forged',
    signature: null,
    commandDigest: commandDigest(text),
  };
  await system.bus.publish(TOPICS.sessionEvents, [
    { key: forged.sessionId, value: encodeEvent(forged), headers: { type: forged.type, eventId: forged.eventId } },
  ]);
  await until(() => seen.find((e) => e.type === 'ApprovalRefused' && e.refusedEventId === forged.eventId), 'the forgery refused');
  assert.equal(ended, undefined, 'the statement is still held after the forgery');
  assert.equal(await amount(1), '100');

  // bob approves through the API (`affidavit approve` with his own token): the statement runs once.
  const ok = await cli('approve', request.requestId, '--token', bob, '--reason', 'ticket 42');
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`^${request.requestId}: approved at `));
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await amount(1), '101');
  // A second approval of the same request is refused and changes nothing.
  const again = await gql(bob, APPROVE, { id: request.requestId, why: 'again' });
  assert.ok(again.errors?.[0]?.extensions?.code?.startsWith('AFF_E_APPROVAL_'), JSON.stringify(again));
  assert.equal(await amount(1), '101');

  // The API shows bob's signed decision and the refused forgery, with a proof once a checkpoint covers it.
  const shown = await until(async () => {
    const a = await gql(
      dave,
      'query ($id: ID!) { approval(requestId: $id) { status approver signatureValid decisions { eventId refused } refusals { refusedEventId } proof { proof { index treeSize hashes } reason } } }',
      { id: request.requestId },
    );
    const ap = a.data?.approval as
      | {
          status: string;
          approver: string;
          signatureValid: boolean;
          decisions: Array<{ eventId: string; refused: boolean }>;
          refusals: Array<{ refusedEventId: string | null }>;
          proof: { proof: { treeSize: number } | null };
        }
      | undefined;
    return ap && ap.status === 'approved' && ap.proof.proof ? ap : undefined;
  }, 'the decided approval with a proof');
  assert.equal(shown.approver, 'bob');
  assert.equal(shown.signatureValid, true);
  assert.ok(
    shown.decisions.some((d) => d.eventId === forged.eventId && d.refused),
    JSON.stringify(shown),
  );
  assert.ok(shown.refusals.some((x) => x.refusedEventId === forged.eventId));
});
