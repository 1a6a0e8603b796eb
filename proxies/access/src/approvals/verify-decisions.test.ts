import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXAMPLE_ACTOR, exampleEvent } from '@affidavit/schemas';
import type { Actor, ApprovalDecided, LedgerRecord } from '@affidavit/schemas';
import { commandDigest, signDecision } from './decision-signature.ts';
import { testDecisionKey } from './decision-signature-test-keys.ts';
import { verifyApprovalDecisions } from './verify-decisions.ts';

const key = testDecisionKey(7);
const other = testDecisionKey(9);
const T0 = 1_700_000_000_000_000;
const bob: Actor = { ...EXAMPLE_ACTOR, subject: 'bob', groups: ['approvers'], tokenId: 'jti-bob' };
const requested = (id: string) => exampleEvent('ApprovalRequested', { eventId: `req-ev-${id}`, requestId: id, occurredAt: T0, expiresAt: T0 + 60_000_000 });
let n = 0;
async function decided(
  id: string,
  o: { approver?: Actor; signer?: typeof key.signer | null; at?: number; decision?: 'approved' | 'denied'; forRequest?: string } = {},
): Promise<ApprovalDecided> {
  const approver = o.approver ?? bob;
  const at = o.at ?? T0 + 1_000_000;
  const e = exampleEvent('ApprovalDecided', {
    eventId: `dec-${++n}`,
    requestId: id,
    occurredAt: at,
    approver,
    decision: o.decision ?? 'approved',
    justification: 'ticket 42',
    commandDigest: commandDigest(requested(id).text),
  });
  const signer = o.signer === undefined ? key.signer : o.signer;
  if (signer)
    e.signature = Buffer.from(
      await signDecision(
        {
          requestId: o.forRequest ?? id,
          commandDigest: commandDigest(requested(id).text),
          decision: e.decision as 'approved',
          approver,
          justification: e.justification,
          decidedAt: at,
        },
        signer,
      ),
    );
  return e;
}
const refusalOf = (d: ApprovalDecided) => exampleEvent('ApprovalRefused', { eventId: `ref-${d.eventId}`, requestId: d.requestId, refusedEventId: d.eventId });

test('a ledger of genuine decisions, expiries and refused forgeries verifies', async () => {
  const forged = await decided('r1', { signer: other.signer });
  const selfApproval = await decided('r1', { approver: { ...EXAMPLE_ACTOR, groups: ['approvers'] } });
  const genuine = await decided('r1');
  const expiry = exampleEvent('ApprovalDecided', {
    eventId: 'exp',
    requestId: 'r2',
    decision: 'expired',
    approver: null,
    signature: null,
    occurredAt: T0 + 60_000_000,
  });
  const records: LedgerRecord[] = [requested('r1'), requested('r2'), forged, refusalOf(forged), selfApproval, refusalOf(selfApproval), genuine, expiry];
  const r = verifyApprovalDecisions(records, [key.verifier]);
  assert.deepEqual(r, { ok: true, decisions: 4, valid: 1, refused: 2, expiries: 1, problems: [] });
});

test('every decision that is not signed, or breaks a rule, and was not refused is a problem', async () => {
  const cases: Array<[string, LedgerRecord[], RegExp]> = [
    ['unsigned', [requested('a'), await decided('a', { signer: null })], /not signed/],
    ['another key', [requested('b'), await decided('b', { signer: other.signer })], /not a trusted decision key/],
    ['replayed from another request', [requested('c'), await decided('c', { forRequest: 'd' })], /does not match/],
    ['self-approval', [requested('e'), await decided('e', { approver: { ...EXAMPLE_ACTOR, groups: ['approvers'] } })], /AFF_E_APPROVAL_SELF/],
    ['wrong group', [requested('f'), await decided('f', { approver: { ...bob, groups: ['analysts'] } })], /AFF_E_APPROVAL_NOT_APPROVER/],
    ['after expiry', [requested('g'), await decided('g', { at: T0 + 60_000_000 })], /AFF_E_APPROVAL_EXPIRED/],
    ['second decision', [requested('h'), await decided('h'), await decided('h', { decision: 'denied' })], /AFF_E_APPROVAL_DECIDED/],
    ['unknown request', [await decided('i')], /no ApprovalRequested/],
    [
      'naming another statement',
      [requested('k'), { ...(await decided('k')), commandDigest: commandDigest('drop table customers') }],
      /AFF_E_APPROVAL_COMMAND_MISMATCH/,
    ],
  ];
  for (const [why, records, pattern] of cases) {
    const r = verifyApprovalDecisions(records, [key.verifier]);
    assert.equal(r.ok, false, why);
    assert.equal(r.problems.length, 1, why);
    assert.match(r.problems[0].problem, pattern, why);
  }
  // With no key, even a genuine decision cannot be trusted.
  const r = verifyApprovalDecisions([requested('j'), await decided('j')], []);
  assert.match(r.problems[0].problem, /no decision-verifier key/);
});
