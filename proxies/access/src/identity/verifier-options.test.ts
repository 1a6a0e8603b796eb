import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAffidavitError } from '@affidavit/common';
import { verifierOptions, DEFAULT_ALGORITHMS } from './verifier-options.ts';

const ok = { issuer: 'https://idp.example.test', audience: 'https://affidavit.test/proxies' };
const invalid = (input: unknown, field: RegExp) =>
  assert.throws(
    () => verifierOptions(input as typeof ok),
    (e: unknown) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID') && field.test((e as Error).message),
  );

test('defaults are applied and the result is frozen', () => {
  const o = verifierOptions(ok);
  assert.deepEqual(o.algorithms, DEFAULT_ALGORITHMS);
  assert.equal(o.clockSkewSeconds, 30);
  assert.equal(o.maxTokenBytes, 8192);
  assert.equal(o.groupsClaim, 'groups');
  assert.equal(o.jwksCooldownMs, 30_000);
  assert.equal(o.allowInsecureHttp, false);
  assert.ok(Object.isFrozen(o) && Object.isFrozen(o.algorithms));
});

test('none and HMAC algorithms cannot be configured', () => {
  invalid({ ...ok, algorithms: ['none'] }, /algorithms/);
  invalid({ ...ok, algorithms: ['RS256', 'HS256'] }, /algorithms/);
  invalid({ ...ok, algorithms: [] }, /algorithms/);
});

test('issuer and audience are required; unknown fields are refused', () => {
  invalid({ audience: 'x' }, /issuer/);
  invalid({ issuer: ok.issuer }, /audience/);
  invalid({ ...ok, sharedSecret: 'x' }, /sharedSecret/);
});

test('plain http is allowed only for loopback unless allowInsecureHttp', () => {
  assert.equal(verifierOptions({ ...ok, issuer: 'http://127.0.0.1:9000' }).issuer, 'http://127.0.0.1:9000');
  invalid({ ...ok, issuer: 'http://idp.internal' }, /issuer: plain http/);
  invalid({ ...ok, jwksUri: 'http://idp.internal/jwks' }, /jwksUri: plain http/);
  assert.equal(verifierOptions({ ...ok, issuer: 'http://idp.internal', allowInsecureHttp: true }).issuer, 'http://idp.internal');
  invalid({ ...ok, issuer: 'ftp://idp.internal' }, /issuer: must be an https/);
});

test('bounds and cross-field rules', () => {
  invalid({ ...ok, clockSkewSeconds: -1 }, /clockSkewSeconds/);
  invalid({ ...ok, maxTokenBytes: 10 }, /maxTokenBytes/);
  invalid({ ...ok, jwksCooldownMs: 0 }, /jwksCooldownMs/);
  invalid({ ...ok, jwksCooldownMs: 60_000, jwksMaxAgeMs: 10_000 }, /jwksMaxAgeMs/);
  invalid({ ...ok, groupsClaim: 'a..b' }, /groupsClaim/);
});

test("the caller's object is not mutated", () => {
  const input = { ...ok };
  verifierOptions(input);
  assert.deepEqual(input, ok);
});
