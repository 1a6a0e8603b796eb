// signatureValid's verifier against decisions signed by the access core's signDecision.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandDigest, signDecision } from '@affidavit/access';
import { exampleEvent } from '@affidavit/schemas';
import { testDecisionKey } from '../../../proxies/access/src/approvals/decision-signature-test-keys.ts';
import { decisionSignatureVerifier } from './decision-signature-verifier.ts';

test('a decision signed by a trusted key verifies; forged, altered, replayed or unkeyed ones do not', async () => {
  const key = testDecisionKey(1);
  const other = testDecisionKey(2);
  const requested = exampleEvent('ApprovalRequested', { requestId: 'r1', text: 'delete from customers' });
  const base = exampleEvent('ApprovalDecided', { requestId: 'r1', decision: 'approved', justification: 'ticket 9', signature: null });
  const signed = {
    requestId: 'r1',
    commandDigest: commandDigest(requested.text),
    decision: 'approved' as const,
    approver: base.approver!,
    justification: 'ticket 9',
    decidedAt: base.occurredAt,
  };
  const good = { ...base, signature: Buffer.from(await signDecision(signed, key.signer)) };
  const v = decisionSignatureVerifier([key.verifier]);
  assert.equal(await v.verify(good, requested), true);
  assert.equal(await v.verify(base, requested), false, 'unsigned');
  assert.equal(await v.verify({ ...good, justification: 'changed' }, requested), false, 'altered');
  assert.equal(await v.verify({ ...good, requestId: 'r2' }, { ...requested, requestId: 'r2' }), false, 'replayed onto another request');
  assert.equal(await v.verify(good, { ...requested, text: 'drop table customers' }), false, 'another command');
  assert.equal(await v.verify(good, undefined), false, 'no request to check against');
  assert.equal(await decisionSignatureVerifier([other.verifier]).verify(good, requested), false, 'signed by an untrusted key');
  assert.equal(await decisionSignatureVerifier([]).verify(good, requested), false, 'no key: fail closed');
});
