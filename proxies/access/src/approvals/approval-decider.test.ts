// Given/when/then specs of the approval rules (emmett DeciderSpecification style).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXAMPLE_ACTOR } from '@affidavit/schemas';
import { decide, fold } from './approval-decider.ts';
import type { ApprovalCommand, ApprovalFact, ApprovalRequest } from './approval-decider.ts';

const alice = { ...EXAMPLE_ACTOR, subject: 'alice', groups: ['analysts'] };
const bob = { ...EXAMPLE_ACTOR, subject: 'bob', groups: ['approvers'] };
const carol = { ...EXAMPLE_ACTOR, subject: 'carol', groups: ['analysts'] };
const request: ApprovalRequest = {
  requestId: 'r1',
  commandId: 'c1',
  sessionId: 's1',
  requester: alice,
  text: 'delete from customers',
  ruleId: 'hold-writes',
  reason: 'writes need approval',
  approverGroups: ['approvers'],
  requestedAt: 0,
  expiresAt: 1_000,
};
const requested: ApprovalFact = { type: 'ApprovalRequested', request };

function spec(given: ApprovalFact[], when: ApprovalCommand) {
  return {
    then: (expected: ApprovalFact[]) => assert.deepEqual(decide(when, fold(given)), expected),
    thenThrows: (code: string) => assert.throws(() => decide(when, fold(given)), { code }),
  };
}
const approve = (approver = bob, now = 10, justification = 'ticket 42'): ApprovalCommand => ({
  type: 'DecideApproval',
  requestId: 'r1',
  approver,
  decision: 'approved',
  justification,
  now,
});

test('given nothing, when requested, then ApprovalRequested', () => spec([], { type: 'RequestApproval', request }).then([requested]));
test('given a pending request, when an approver approves, then ApprovalDecided(approved)', () =>
  spec([requested], approve()).then([{ type: 'ApprovalDecided', requestId: 'r1', decision: 'approved', approver: bob, justification: 'ticket 42' }]));
test('the requester cannot approve their own request, even when an approver', () =>
  spec([requested], approve({ ...alice, groups: ['approvers'] })).thenThrows('AFF_E_APPROVAL_SELF'));
test('someone outside the approver groups cannot decide', () => spec([requested], approve(carol)).thenThrows('AFF_E_APPROVAL_NOT_APPROVER'));
test('a decision needs a justification', () => spec([requested], approve(bob, 10, '  ')).thenThrows('AFF_E_APPROVAL_JUSTIFICATION'));
test('no decision at or after expiry', () => spec([requested], approve(bob, 1_000)).thenThrows('AFF_E_APPROVAL_EXPIRED'));
test('a request is decided once', () =>
  spec([requested, { type: 'ApprovalDecided', requestId: 'r1', decision: 'denied', approver: bob, justification: 'no' }], approve()).thenThrows(
    'AFF_E_APPROVAL_DECIDED',
  ));
test('given a request with its command digest, a decision naming another statement (or none) is refused', () => {
  const held: ApprovalFact = { type: 'ApprovalRequested', request: { ...request, commandDigest: 'aa'.repeat(32) } };
  spec([held], { ...approve(), commandDigest: 'bb'.repeat(32) } as ApprovalCommand).thenThrows('AFF_E_APPROVAL_COMMAND_MISMATCH');
  spec([held], approve()).thenThrows('AFF_E_APPROVAL_COMMAND_MISMATCH');
  spec([held], { ...approve(), commandDigest: 'aa'.repeat(32) } as ApprovalCommand).then([
    { type: 'ApprovalDecided', requestId: 'r1', decision: 'approved', approver: bob, justification: 'ticket 42' },
  ]);
});
test('an unknown request cannot be decided', () => spec([], approve()).thenThrows('AFF_E_APPROVAL_UNKNOWN'));
test('expiry before the deadline does nothing; after it, expired', () => {
  spec([requested], { type: 'ExpireApproval', requestId: 'r1', now: 999 }).then([]);
  spec([requested], { type: 'ExpireApproval', requestId: 'r1', now: 1_000 }).then([
    { type: 'ApprovalDecided', requestId: 'r1', decision: 'expired', approver: null, justification: 'no decision before the deadline' },
  ]);
});
test('an expired request cannot be approved later', () =>
  spec([requested, { type: 'ApprovalDecided', requestId: 'r1', decision: 'expired', approver: null, justification: '' }], approve()).thenThrows(
    'AFF_E_APPROVAL_EXPIRED',
  ));
