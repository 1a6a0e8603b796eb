// The accepting service of decisions (behind the API): rules checked on the book's state, every
// refusal recorded before it is returned, accepted decisions signed so the gate can verify them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXAMPLE_ACTOR, exampleEvent } from '@affidavit/schemas';
import type { Actor, ApprovalDecided, ApprovalRequested } from '@affidavit/schemas';
import { ApprovalBook } from './approval-book.ts';
import { commandDigest, signedDecisionOf, verifyDecisionSignature } from './decision-signature.ts';
import { testDecisionKey } from './decision-signature-test-keys.ts';
import { approvalDecisionService } from './decision-service.ts';
import type { Refusal } from './refusal-recorder.ts';
import { SelfApprovalError } from './errors.ts';

const key = testDecisionKey(7);
const intruder = testDecisionKey(9);
const alice = EXAMPLE_ACTOR;
const bob: Actor = { ...EXAMPLE_ACTOR, subject: 'bob', groups: ['approvers'], tokenId: 'jti-bob' };
const carol: Actor = { ...EXAMPLE_ACTOR, subject: 'carol', groups: ['dba'], tokenId: 'jti-carol' };
const NOW = 1_770_000_000_000;

function setup() {
  const book = new ApprovalBook({ verifierKeys: [key.verifier] });
  const request = exampleEvent('ApprovalRequested', {
    requestId: 'r1',
    actor: alice,
    text: 'update payments set amount = 0',
    approverGroups: ['approvers'],
    occurredAt: NOW * 1000,
    expiresAt: (NOW + 60_000) * 1000,
  }) as ApprovalRequested;
  book.apply(request);
  const published: ApprovalDecided[] = [];
  const refusals: Refusal[] = [];
  let n = 0;
  let now = NOW + 1000;
  const service = approvalDecisionService({
    book,
    signer: key.signer,
    publish: async (e) => void published.push(e),
    recordRefusal: async (r) => void refusals.push(r),
    newId: () => `e${++n}`,
    now: () => now,
    feeder: { id: 'test', version: '0' },
    source: { address: '127.0.0.1', port: 9480, application: 'affidavit-api' },
  });
  return { book, request, published, refusals, service, later: (ms: number) => (now += ms) };
}

test('an approver in the rule’s group: a decision signed with the decision key, published once', async () => {
  const { service, published, refusals, request } = setup();
  const r = await service.decide({ requestId: 'r1', decision: 'approved', justification: 'ticket 42', approver: bob });
  assert.ok(!('error' in r), JSON.stringify(r));
  assert.equal(published.length, 1);
  const e = published[0];
  assert.deepEqual(
    [e.requestId, e.decision, e.approver?.subject, e.actor?.subject, e.commandDigest],
    ['r1', 'approved', 'bob', 'bob', commandDigest(request.text)],
  );
  const signed = signedDecisionOf(e, commandDigest(request.text))!;
  assert.equal(verifyDecisionSignature(signed, e.signature, [key.verifier]).ok, true);
  assert.equal(verifyDecisionSignature(signed, e.signature, [intruder.verifier]).ok, false);
  assert.equal(refusals.length, 0);
  // Decided once: the book folded the accepted decision.
  const again = await service.decide({ requestId: 'r1', decision: 'denied', justification: 'changed my mind', approver: bob });
  assert.equal('error' in again && again.error.code, 'AFF_E_APPROVAL_DECIDED');
  assert.equal(published.length, 1);
});

test('each rule refusal is recorded with the verified caller before it is returned; nothing is published', async () => {
  const { service, published, refusals, later } = setup();
  const self = await service.decide({ requestId: 'r1', decision: 'approved', justification: 'mine', approver: { ...alice, groups: ['approvers'] } });
  const group = await service.decide({ requestId: 'r1', decision: 'approved', justification: 'dba', approver: carol });
  const unknown = await service.decide({ requestId: 'nope', decision: 'approved', justification: 'x', approver: bob });
  later(120_000);
  const late = await service.decide({ requestId: 'r1', decision: 'approved', justification: 'late', approver: bob });
  const codes = [self, group, unknown, late].map((r) => ('error' in r ? r.error.code : 'accepted'));
  assert.deepEqual(codes, ['AFF_E_APPROVAL_SELF', 'AFF_E_APPROVAL_NOT_APPROVER', 'AFF_E_APPROVAL_UNKNOWN', 'AFF_E_APPROVAL_EXPIRED']);
  assert.deepEqual(
    refusals.map((r) => [r.requestId, r.code, r.refusedBy, r.actor?.subject, r.refusedEventId, r.target === null]),
    [
      ['r1', 'AFF_E_APPROVAL_SELF', 'service', alice.subject, null, false],
      ['r1', 'AFF_E_APPROVAL_NOT_APPROVER', 'service', 'carol', null, false],
      ['nope', 'AFF_E_APPROVAL_UNKNOWN', 'service', 'bob', null, true],
      ['r1', 'AFF_E_APPROVAL_EXPIRED', 'service', 'bob', null, false],
    ],
  );
  assert.equal(published.length, 0);
});

test('refused records an attempt the caller refused itself (no role), with its code', async () => {
  const { service, refusals, published } = setup();
  await service.refused({ requestId: 'r1', decision: 'denied', justification: 'x', approver: carol }, new SelfApprovalError('stand-in error'));
  assert.deepEqual(
    refusals.map((r) => [r.code, r.attemptedDecision, r.actor?.subject, r.reason]),
    [['AFF_E_APPROVAL_SELF', 'denied', 'carol', 'stand-in error']],
  );
  assert.equal(published.length, 0);
});

test('the book folds only decisions signed by a trusted key: a forged approval does not make the genuine one a second', async () => {
  const { book, service, request } = setup();
  const forged = exampleEvent('ApprovalDecided', {
    requestId: 'r1',
    decision: 'approved',
    approver: bob,
    justification: 'forged',
    signature: null,
    commandDigest: commandDigest(request.text),
    occurredAt: (NOW + 10) * 1000,
  }) as ApprovalDecided;
  book.apply(forged);
  const r = await service.decide({ requestId: 'r1', decision: 'approved', justification: 'ticket 42', approver: bob });
  assert.ok(!('error' in r), JSON.stringify(r));
});

test('two decisions on one request at once: the second is checked after the first is folded, never both published', async () => {
  const { service, published, refusals } = setup();
  const dave: Actor = { ...EXAMPLE_ACTOR, subject: 'dave', groups: ['approvers'], tokenId: 'jti-dave' };
  // Neither awaits the other: the way two HTTP requests to the API arrive together.
  const [a, b] = await Promise.all([
    service.decide({ requestId: 'r1', decision: 'approved', justification: 'ticket 42', approver: bob }),
    service.decide({ requestId: 'r1', decision: 'denied', justification: 'no ticket', approver: dave }),
  ]);
  assert.deepEqual(
    [a, b].map((r) => ('error' in r ? r.error.code : r.decision)),
    ['approved', 'AFF_E_APPROVAL_DECIDED'],
  );
  assert.equal(published.length, 1, 'one decision on the record, not two contradicting ones');
  assert.deepEqual(
    refusals.map((r) => [r.code, r.actor?.subject]),
    [['AFF_E_APPROVAL_DECIDED', 'dave']],
  );
});
