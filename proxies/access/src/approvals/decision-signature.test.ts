import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalDecision, commandDigest, DECISION_CONTEXT, signDecision, verifyDecisionSignature } from './decision-signature.ts';
import type { SignedDecision } from './decision-signature.ts';
import { testDecisionKey } from './decision-signature-test-keys.ts';

const TEXT = "update customers set tier = 'gold' where id = 1";
const vector: SignedDecision = {
  requestId: '01890a5d-ac96-774b-bcce-b302099a8057',
  commandDigest: commandDigest(TEXT),
  decision: 'approved',
  approver: { issuer: 'http://127.0.0.1:9000', subject: 'bob', groups: ['dba', 'approvers', 'dba'], tokenId: 'jti-1' },
  justification: 'ticket 42 — ok',
  decidedAt: 1_700_000_000_123_456,
};
// Test vectors: the signature was checked against an independent Ed25519 (Python `cryptography`,
// Ed25519PrivateKey.from_private_bytes(bytes([7] * 32)).sign(canonical)).
const DIGEST = '85d8f994a245f289b55157d9c614be0ba1f905ad579e95875cb357495ad14073';
const CANONICAL = [
  '6166666964617669742f617070726f76616c2d6465636973696f6e2f76310a', // the context line
  '00000024',
  '30313839306135642d616339362d373734622d626363652d623330323039396138303537', // requestId
  '00000040',
  Buffer.from(DIGEST, 'ascii').toString('hex'), // commandDigest
  '00000008',
  '617070726f766564', // approved
  '00000015',
  '687474703a2f2f3132372e302e302e313a39303030',
  '00000003',
  '626f62', // issuer, subject
  '00000014',
  '00000009',
  '617070726f76657273',
  '00000003',
  '646261', // groups: distinct, sorted, each prefixed
  '00000010',
  '7469636b657420343220e28094206f6b', // justification (UTF-8 em dash)
  '00000010',
  '31373030303030303030313233343536',
  '00000005',
  '6a74692d31', // decidedAt, jti
].join('');
const SIGNATURE =
  '0a0b0c07' + '86ddad6552adaefb38eaf98a7527c82fbac997903b97ddf8e13e5c48d6369d5d10cae9c84bcf837abfbdb9e265e2dc716f4ca702732179a105fa4b1bd9a15602';

test('the command digest is SHA-256 of the UTF-8 text (sha256sum agrees)', () => assert.equal(commandDigest(TEXT), DIGEST));

test('test vector: the canonical form is stable, byte for byte', () => {
  const c = Buffer.from(canonicalDecision(vector));
  assert.equal(c.toString('hex'), CANONICAL);
  assert.equal(
    c.toString('hex'),
    '6166666964617669742f617070726f76616c2d6465636973696f6e2f76310a0000002430313839306135642d616339362d373734622d626363652d623330323039396138303537000000403835643866393934613234356632383962353531353764396336313462653062613166393035616435373965393538373563623335373439356164313430373300000008617070726f76656400000015687474703a2f2f3132372e302e302e313a3930303000000003626f620000001400000009617070726f7665727300000003646261000000107469636b657420343220e28094206f6b0000001031373030303030303030313233343536000000056a74692d31',
  );
  assert.equal(c.subarray(0, DECISION_CONTEXT.length).toString('ascii'), 'affidavit/approval-decision/v1\n');
});

test('test vector: the signature is key id || Ed25519, deterministic', async () => {
  const { signer, verifier } = testDecisionKey(7);
  assert.equal(Buffer.from(await signDecision(vector, signer)).toString('hex'), SIGNATURE);
  assert.deepEqual(verifyDecisionSignature(vector, Buffer.from(SIGNATURE, 'hex'), [verifier]), { ok: true, keyName: 'test-decisions-7' });
});

test('group order and duplicates do not change the canonical form; every other field does', () => {
  const base = Buffer.from(canonicalDecision(vector));
  assert.deepEqual(Buffer.from(canonicalDecision({ ...vector, approver: { ...vector.approver, groups: ['approvers', 'dba'] } })), base);
  const variants: SignedDecision[] = [
    { ...vector, requestId: `${vector.requestId}0` },
    { ...vector, commandDigest: commandDigest(`${TEXT} `) },
    { ...vector, decision: 'denied' },
    { ...vector, approver: { ...vector.approver, issuer: 'http://127.0.0.1:9001' } },
    { ...vector, approver: { ...vector.approver, subject: 'alice' } },
    { ...vector, approver: { ...vector.approver, groups: ['approvers'] } },
    { ...vector, approver: { ...vector.approver, tokenId: null } },
    { ...vector, justification: 'ticket 42 — ok ' },
    { ...vector, decidedAt: vector.decidedAt + 1 },
  ];
  const seen = new Set([base.toString('hex')]);
  for (const v of variants) seen.add(Buffer.from(canonicalDecision(v)).toString('hex'));
  assert.equal(seen.size, variants.length + 1);
});

test('length prefixes keep field boundaries: moving bytes between fields changes the form', () => {
  const a = canonicalDecision({ ...vector, approver: { ...vector.approver, issuer: 'ab', subject: 'c' } });
  const b = canonicalDecision({ ...vector, approver: { ...vector.approver, issuer: 'a', subject: 'bc' } });
  assert.notDeepEqual(Buffer.from(a), Buffer.from(b));
  const g1 = canonicalDecision({ ...vector, approver: { ...vector.approver, groups: ['ab'] } });
  const g2 = canonicalDecision({ ...vector, approver: { ...vector.approver, groups: ['a', 'b'] } });
  assert.notDeepEqual(Buffer.from(g1), Buffer.from(g2));
});

test('hostile input is refused, never replaced: lone surrogates, bad digests, expired, unsafe times', () => {
  assert.throws(() => canonicalDecision({ ...vector, justification: 'x\ud800' }), TypeError);
  assert.throws(() => commandDigest('\udc00'), TypeError);
  assert.throws(() => canonicalDecision({ ...vector, commandDigest: DIGEST.toUpperCase() }), TypeError);
  assert.throws(() => canonicalDecision({ ...vector, decision: 'expired' as 'denied' }), TypeError);
  assert.throws(() => canonicalDecision({ ...vector, decidedAt: 2 ** 53 }), TypeError);
});

test('verification fails closed: no key, no signature, wrong length, unknown key id, other key, altered decision', async () => {
  const { signer, verifier } = testDecisionKey(7);
  const other = testDecisionKey(8);
  const sig = await signDecision(vector, signer);
  const failed = (r: ReturnType<typeof verifyDecisionSignature>, pattern: RegExp) => {
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, pattern);
  };
  failed(verifyDecisionSignature(vector, sig, []), /no decision-verifier key/);
  failed(verifyDecisionSignature(vector, null, [verifier]), /not signed/);
  failed(verifyDecisionSignature(vector, sig.subarray(0, 67), [verifier]), /67 bytes/);
  failed(verifyDecisionSignature(vector, sig, [other.verifier]), /not a trusted decision key/);
  // Another key claiming our key id: the id only picks the candidate, the signature decides.
  const impostor = await signDecision(vector, { ...other.signer, keyHash: signer.keyHash });
  failed(verifyDecisionSignature(vector, impostor, [verifier]), /does not match/);
  failed(verifyDecisionSignature({ ...vector, requestId: 'another-request' }, sig, [verifier]), /does not match/);
  failed(verifyDecisionSignature({ ...vector, justification: 'x\ud800' }, sig, [verifier]), /no canonical form/);
  assert.equal(verifyDecisionSignature(vector, sig, [other.verifier, verifier]).ok, true, 'any trusted key will do');
});
