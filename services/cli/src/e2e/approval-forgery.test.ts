// Approvals cannot be forged: the embedded system in this process, in front of a real
// PostgreSQL, with real psql sessions holding UPDATEs for approval and the real `affidavit`
// CLI deciding them. Forged ApprovalDecided events published straight onto the system's bus
// (no signature, a wrong one, another key's, a self-approval and a wrong group correctly
// signed with the service's own key, a genuine decision replayed from another request, a
// second decision, an unknown id, a decision after expiry) release nothing and each lands in
// the ledger as ApprovalRefused; attempts the CLI makes through the GraphQL API and the API or
// the decision service behind it refuses (no approver role, self-approval, not in the rule's
// group) are recorded too; bob's approval through the CLI runs the statement exactly once;
// `affidavit verify` then checks every decision offline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { commandDigest, signDecision } from '@affidavit/access';
import type { DecisionSigner } from '@affidavit/access';
import { uuidv7 } from '@affidavit/common';
import { encodeEvent, TOPICS } from '@affidavit/schemas';
import type { Actor, ApprovalDecided, ApprovalRefused, ApprovalRequested, LedgerRecord } from '@affidavit/schemas';
import { ed25519NoteSigner, generateEd25519NoteKey } from '@affidavit/tlog';
import type { PostgresInstance, RunResult } from '../../../../test/services/postgres.ts';
import type { EmbeddedSystem } from '../embedded/system.ts';
import { runCli, startStory, until } from './embedded-story.ts';
import type { Run, Story } from './embedded-story.ts';

const TIMEOUT_S = 60;

let story: Story;
let pg: PostgresInstance;
let system: EmbeddedSystem;
let dataDir: string;
let issuer: string;
let proxyPort: number;
let seen: LedgerRecord[];

/** cli runs the real `affidavit` binary; the embedded-mode commands are pointed at the running system's config. */
function cli(...args: string[]): Promise<Run> {
  return runCli(['token', 'approve', 'deny', 'approvals'].includes(args[0]) ? [...args, '--config', story.configFile] : args);
}

before(async () => {
  story = await startStory({
    name: 'forgery',
    setupSql:
      'CREATE TABLE IF NOT EXISTS payments (id int PRIMARY KEY, amount int); DELETE FROM payments; INSERT INTO payments VALUES (1, 100), (2, 200), (3, 300)',
    // alice holds the admin role at the API (so the rules, not the role, refuse her own request);
    // erin is an admin outside the rule's approver group; carol has no API role at all.
    issuerUsers: {
      alice: { groups: ['analysts', 'admins'] },
      bob: { groups: ['approvers', 'analysts'] },
      carol: { groups: ['dba'] },
      erin: { groups: ['admins'] },
    },
    approvalTimeoutSeconds: TIMEOUT_S,
  });
  ({ pg, system, dataDir, seen } = story);
  issuer = system.issuer;
  proxyPort = system.proxyPort;
});
after(() => story?.stop());

const of = <T extends LedgerRecord['type']>(type: T) => seen.filter((e) => e.type === type) as Extract<LedgerRecord, { type: T }>[];
const amount = async (id: number) => (await pg.psql(['-At', '-c', `SELECT amount FROM payments WHERE id = ${id}`])).stdout.trim();

/** held starts psql as alice with an UPDATE that waits for approval, and returns its request. */
async function held(id: number): Promise<{ done: Promise<RunResult>; request: ApprovalRequested }> {
  const token = (await cli('token', 'alice')).stdout.trim();
  const text = `UPDATE payments SET amount = amount + 1 WHERE id = ${id}`;
  // The proxy's certificate is self-signed and the test CA is in PGSSLROOTCERT (which makes libpq
  // verify even under sslmode=require): loopback cleartext, which the embedded proxy allows.
  const done = pg.psql(['-c', text], { port: proxyPort, user: 'alice', password: token, sslmode: 'disable', timeoutMs: 150_000 });
  let ended: RunResult | undefined;
  void done.then((r) => (ended = r));
  const request = await until(() => {
    if (ended) throw new Error(`psql ended before its statement was held: ${JSON.stringify(ended)}`);
    return of('ApprovalRequested').find((r) => r.text === text);
  }, `the approval request of payment ${id}`);
  return { done, request };
}

const actor = (subject: string, groups: string[]): Actor => ({
  issuer,
  subject,
  email: `${subject}@example.com`,
  groups,
  authMethods: ['pwd'],
  acr: null,
  mfa: false,
  tokenId: `jti-${uuidv7()}`,
});

/** forge publishes an ApprovalDecided straight onto the bus, signed by `signer` (or with `signature` as given). */
async function forge(
  req: ApprovalRequested,
  o: { approver: Actor; signer?: DecisionSigner; signature?: Buffer | null; requestId?: string },
): Promise<ApprovalDecided> {
  const occurredAt = Date.now() * 1000;
  const requestId = o.requestId ?? req.requestId;
  const signature = o.signer
    ? Buffer.from(
        await signDecision(
          { requestId, commandDigest: commandDigest(req.text), decision: 'approved', approver: o.approver, justification: 'forged', decidedAt: occurredAt },
          o.signer,
        ),
      )
    : (o.signature ?? null);
  const e: ApprovalDecided = {
    eventId: uuidv7(),
    type: 'ApprovalDecided',
    occurredAt,
    sessionId: requestId,
    seq: 0,
    actor: o.approver,
    source: { address: '127.0.0.1', port: null, application: 'forger' },
    target: req.target,
    feeder: { id: 'forger', version: '0' },
    requestId,
    decision: 'approved',
    approver: o.approver,
    justification: 'forged',
    signature,
    commandDigest: commandDigest(req.text),
  };
  await publish(e);
  return e;
}
const publish = (e: ApprovalDecided) =>
  system.bus.publish(TOPICS.sessionEvents, [{ key: e.sessionId, value: encodeEvent(e), headers: { type: e.type, eventId: e.eventId } }]);
const refusalOf = (eventId: string) => until(() => of('ApprovalRefused').find((r) => r.refusedEventId === eventId), `the refusal of ${eventId}`);

test('forged decisions never release a held UPDATE and are recorded; bob through the CLI releases it once; verify checks every decision', {
  timeout: 300_000,
}, async () => {
  const serviceKey = ed25519NoteSigner(readFileSync(join(dataDir, 'keys', 'decision-signing.key'), 'utf8').trim());
  const otherKey = ed25519NoteSigner(generateEd25519NoteKey('affidavit-decisions', (n) => randomBytes(n)).signerKey);
  const ledgerKey = ed25519NoteSigner(readFileSync(join(dataDir, 'keys', 'ledger-signing.key'), 'utf8').trim());
  const bob = actor('bob', ['approvers', 'analysts']);

  // C waits from the start and is left to expire; B is approved genuinely, its decision then replayed for A.
  const c = await held(3);
  const b = await held(2);
  const okB = await cli('approve', b.request.requestId, '--as', 'bob', '--reason', 'ticket 7');
  assert.equal(okB.code, 0, okB.stderr);
  assert.equal((await b.done).code, 0);
  const genuineB = await until(() => of('ApprovalDecided').find((d) => d.requestId === b.request.requestId && d.decision === 'approved'), 'B decided');
  assert.equal(genuineB.signature?.length, 68, 'the decision service behind the API signed the decision');

  const a = await held(1);
  const req = a.request;
  const forgeries: Array<[string, ApprovalDecided, string]> = [
    ['no signature', await forge(req, { approver: bob, signature: null }), 'AFF_E_APPROVAL_SIGNATURE'],
    [
      'a wrong signature',
      await forge(req, { approver: bob, signature: Buffer.concat([genuineB.signature!.subarray(0, 4), randomBytes(64)]) }),
      'AFF_E_APPROVAL_SIGNATURE',
    ],
    ['signed by another key', await forge(req, { approver: bob, signer: otherKey }), 'AFF_E_APPROVAL_SIGNATURE'],
    ["signed by the ledger's key", await forge(req, { approver: bob, signer: ledgerKey }), 'AFF_E_APPROVAL_SIGNATURE'],
    [
      'self-approval, signed by the service key',
      await forge(req, { approver: { ...req.actor!, groups: ['approvers'] }, signer: serviceKey }),
      'AFF_E_APPROVAL_SELF',
    ],
    ['wrong group, signed by the service key', await forge(req, { approver: actor('carol', ['dba']), signer: serviceKey }), 'AFF_E_APPROVAL_NOT_APPROVER'],
    [
      'replayed from request B',
      await (async () => {
        const e = { ...genuineB, eventId: uuidv7(), requestId: req.requestId };
        await publish(e);
        return e;
      })(),
      'AFF_E_APPROVAL_SIGNATURE',
    ],
    [
      'a second decision for B',
      await (async () => {
        const e = { ...genuineB, eventId: uuidv7() };
        await publish(e);
        return e;
      })(),
      'AFF_E_APPROVAL_DECIDED',
    ],
    ['an unknown request id', await forge(req, { approver: bob, signer: serviceKey, requestId: uuidv7() }), 'AFF_E_APPROVAL_UNKNOWN'],
  ];
  for (const [why, e, code] of forgeries) {
    const r = await refusalOf(e.eventId);
    assert.equal(r.code, code, why);
    assert.equal(r.refusedBy, 'gate', why);
  }
  // Refused through the API (the CLI acts with each user's own token): recorded by the service with the verified caller.
  // At once: each is a process of its own, and A must still be held when bob decides it.
  const [self, carol, erin, unknown] = await Promise.all([
    cli('approve', req.requestId, '--as', 'alice', '--reason', 'mine'),
    cli('approve', req.requestId, '--as', 'carol', '--reason', 'dba says ok'),
    cli('approve', req.requestId, '--as', 'erin', '--reason', 'admin says ok'),
    cli('approve', uuidv7(), '--as', 'bob', '--reason', 'which one?'),
  ]);
  assert.equal(self.code, 1);
  assert.match(self.stderr, /AFF_E_APPROVAL_SELF/);
  assert.equal(carol.code, 1, 'no approver role: the API refuses, with a documented exit code');
  assert.match(carol.stderr, /refused: approve needs one of the roles approver, admin.*\[AFF_E_API_FORBIDDEN\]/);
  assert.equal(erin.code, 1);
  assert.match(erin.stderr, /AFF_E_APPROVAL_NOT_APPROVER/);
  assert.match(unknown.stderr, /AFF_E_APPROVAL_UNKNOWN/);

  assert.equal(await amount(1), '100', 'nothing released the UPDATE');
  assert.equal(await Promise.race([a.done.then(() => 'ended'), new Promise((r) => setTimeout(() => r('held'), 300))]), 'held', 'psql still waits');

  const ok = await cli('approve', req.requestId, '--as', 'bob', '--reason', 'ticket 42');
  assert.equal(ok.code, 0, ok.stderr);
  const ran = await a.done;
  // A token the API's issuer did not sign is refused whatever it claims (alg none, subject bob).
  const stranger = await cli('approve', req.requestId, '--token', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IifQ.', '--reason', 'x');
  assert.equal(stranger.code, 1);
  assert.match(stranger.stderr, /refused: .*\[AFF_E_AUTH_/);
  assert.equal(ran.code, 0, ran.stderr);
  assert.match(ran.stdout, /UPDATE 1/);
  const twice = await cli('approve', req.requestId, '--as', 'bob', '--reason', 'again');
  assert.match(twice.stderr, /AFF_E_APPROVAL_DECIDED/);
  const genuineA = of('ApprovalDecided').find((d) => d.requestId === req.requestId && d.justification === 'ticket 42')!;
  await publish({ ...genuineA, eventId: uuidv7() }); // the genuine approval replayed: decided once
  await until(
    () => (of('ApprovalRefused').filter((r) => r.requestId === req.requestId && r.code === 'AFF_E_APPROVAL_DECIDED').length >= 2 ? true : undefined),
    'the replay refused',
  );
  assert.equal(await amount(1), '101', 'ran exactly once');

  const serviceRefusals = of('ApprovalRefused').filter((r) => r.refusedBy === 'service');
  assert.deepEqual(serviceRefusals.map((r) => [r.code, r.actor?.subject, r.refusedEventId]).sort(), [
    ['AFF_E_API_FORBIDDEN', 'carol', null],
    ['AFF_E_APPROVAL_DECIDED', 'bob', null],
    ['AFF_E_APPROVAL_NOT_APPROVER', 'erin', null],
    ['AFF_E_APPROVAL_SELF', 'alice', null],
    ['AFF_E_APPROVAL_UNKNOWN', 'bob', null],
  ]);

  // C expires; a correctly signed approval arriving afterwards is refused, by the gate and by the CLI.
  const expired = await c.done;
  assert.notEqual(expired.code, 0);
  assert.match(expired.stderr, /expired/);
  const late = await forge(c.request, { approver: bob, signer: serviceKey });
  assert.equal((await refusalOf(late.eventId)).code, 'AFF_E_APPROVAL_EXPIRED');
  const lateCli = await cli('approve', c.request.requestId, '--as', 'bob', '--reason', 'too late');
  assert.match(lateCli.stderr, /AFF_E_APPROVAL_EXPIRED/);
  assert.equal(await amount(3), '300');

  // Everything is in the ledger, and verify checks each decision offline.
  await story.stopSystem();
  const show = await cli('ledger', 'show', '--data', dataDir, '--type', 'ApprovalRefused');
  assert.equal(show.code, 0, show.stderr);
  const inLedger = show.stdout
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { event: ApprovalRefused }).event);
  for (const [why, e] of forgeries)
    assert.ok(
      inLedger.some((r) => r.refusedEventId === e.eventId),
      `${why}: its refusal is in the ledger`,
    );
  assert.ok(inLedger.some((r) => r.refusedEventId === late.eventId));
  assert.equal(inLedger.filter((r) => r.refusedBy === 'service').length, 6);
  const verify = await cli('verify', dataDir);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stderr, /approval decisions: ok: \d+ decisions: 2 signed and valid, 1[0-9] refused attempts, 1 expiries/);
  const wrongKey = join(dataDir, 'keys', 'ledger.pub');
  const bad = await cli('verify', dataDir, '--decision-key', wrongKey);
  assert.equal(bad.code, 1, 'with the wrong decision key the genuine decisions do not verify');
  assert.match(bad.stdout, /approval decisions: FAILED/);
});
