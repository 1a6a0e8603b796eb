import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { isAffidavitError } from '@affidavit/common';
import { createDevTokenMinter, devIssuerOptions } from './dev-issuer.ts';
import { loadOrCreateDevSigningKey } from './dev-issuer-key.ts';
import { createTokenVerifier } from './token-verifier.ts';
import { fakeClock, fakeIssuer } from './test-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'aff-dev-issuer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ISS = 'http://127.0.0.1:7777';
const AUD = 'urn:affidavit:proxies';
const T0 = 1_800_000_000_000;
const users = { alice: { groups: ['analysts'], email: 'alice@example.test', amr: ['pwd', 'otp'] }, bob: { groups: ['dba', 'approvers'] } };

async function minterWith(alg: 'EdDSA' | 'RS256', file = join(dir, `${alg}-${Math.random()}.jwk`)) {
  const options = devIssuerOptions({ audience: AUD, users, keyFile: file, algorithm: alg });
  const key = await loadOrCreateDevSigningKey(file, alg);
  const clock = fakeClock(T0);
  const minter = createDevTokenMinter({ issuer: ISS, options, key }, { clock, newId: (ms) => `id-${ms}` });
  const idp = fakeIssuer(ISS, minter.jwks().keys);
  const verifier = createTokenVerifier({ issuer: ISS, audience: AUD, requiredTyp: 'at+jwt' }, { clock, fetchJson: idp.fetchJson });
  return { minter, verifier, clock, key, file };
}

describe('dev issuer minting', () => {
  for (const alg of ['EdDSA', 'RS256'] as const) {
    test(`${alg}: minted tokens are accepted by the verifier with the configured claims`, async () => {
      const { minter, verifier } = await minterWith(alg);
      const alice = await verifier.verify(await minter.mint('alice'));
      assert.equal(alice.subject, 'alice');
      assert.deepEqual(alice.groups, ['analysts']);
      assert.equal(alice.email, 'alice@example.test');
      assert.equal(alice.mfa, true);
      assert.equal(alice.tokenId, `id-${T0}`);
      assert.equal(alice.expiresAt, T0 + 900_000);
      const bob = await verifier.verify(await minter.mint('bob'));
      assert.deepEqual(bob.groups, ['dba', 'approvers']);
      assert.deepEqual(bob.amr, ['pwd'], 'amr defaults to a single password factor');
      assert.equal(bob.mfa, false);
      assert.equal(bob.email, undefined);
    });
  }

  test('tokens carry iss, aud, sub, exp, iat, nbf, jti and the at+jwt typ', async () => {
    const { minter, key } = await minterWith('EdDSA');
    const token = await minter.mint('alice');
    const c = decodeJwt(token);
    assert.deepEqual(Object.keys(c).sort(), ['amr', 'aud', 'email', 'exp', 'groups', 'iat', 'iss', 'jti', 'nbf', 'sub']);
    assert.equal(c.iat, T0 / 1000);
    assert.equal(c.nbf, T0 / 1000);
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' });
  });

  test('an unknown user is refused with AFF_E_AUTH_DEV_UNKNOWN_USER', async () => {
    const { minter } = await minterWith('EdDSA');
    for (const u of ['mallory', '__proto__', 'constructor']) {
      await assert.rejects(minter.mint(u), (e: unknown) => isAffidavitError(e, 'AFF_E_AUTH_DEV_UNKNOWN_USER'));
    }
  });

  test('a short ttl expires under the verifier; amr override enables MFA', async () => {
    const { minter, verifier, clock } = await minterWith('EdDSA');
    const token = await minter.mint('bob', { ttlSeconds: 60, amr: ['hwk', 'pin'] });
    assert.equal((await verifier.verify(token)).mfa, true);
    clock.advance(91_000);
    await assert.rejects(verifier.verify(token), (e: unknown) => isAffidavitError(e, 'AFF_E_AUTH_TOKEN_EXPIRED'));
  });
});

describe('dev issuer key file', () => {
  test('the key is persisted (mode 0600) and reloaded: tokens survive a restart', async () => {
    const first = await minterWith('EdDSA', join(dir, 'persist.jwk'));
    const token = await first.minter.mint('alice');
    assert.equal(statSync(first.file).mode & 0o777, 0o600);
    assert.ok(JSON.parse(readFileSync(first.file, 'utf8')).d, 'the private key is stored');
    const second = await minterWith('EdDSA', first.file);
    assert.equal(second.key.kid, first.key.kid);
    assert.equal((await second.verifier.verify(token)).subject, 'alice');
    assert.equal(second.key.publicJwk.d, undefined, 'the published JWK has no private part');
  });

  test('a corrupt file, a public-only key or a key of the other algorithm is refused, not replaced', async () => {
    const corrupt = join(dir, 'corrupt.jwk');
    writeFileSync(corrupt, 'not json');
    await assert.rejects(loadOrCreateDevSigningKey(corrupt, 'EdDSA'), (e: unknown) => isAffidavitError(e, 'AFF_E_AUTH_DEV_KEY_INVALID'));
    assert.equal(readFileSync(corrupt, 'utf8'), 'not json');

    const ed = await minterWith('EdDSA', join(dir, 'ed.jwk'));
    await assert.rejects(loadOrCreateDevSigningKey(ed.file, 'RS256'), (e: unknown) => isAffidavitError(e, 'AFF_E_AUTH_DEV_KEY_INVALID'));

    const pub = join(dir, 'public.jwk');
    writeFileSync(pub, JSON.stringify(ed.key.publicJwk));
    await assert.rejects(loadOrCreateDevSigningKey(pub, 'EdDSA'), (e: unknown) => isAffidavitError(e, 'AFF_E_AUTH_DEV_KEY_INVALID'));
  });
});

describe('dev issuer options', () => {
  const ok = { audience: AUD, users, keyFile: join(dir, 'k.jwk') };
  test('defaults and freezing', () => {
    const o = devIssuerOptions(ok);
    assert.equal(o.algorithm, 'EdDSA');
    assert.equal(o.port, 0);
    assert.equal(o.tokenTtlSeconds, 900);
    assert.deepEqual(o.users.bob.amr, ['pwd']);
    assert.ok(Object.isFrozen(o.users.alice.groups));
  });
  test('invalid options are refused naming the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ ...ok, users: {} }, /users/],
      [{ ...ok, users: { 'bad name!': {} } }, /users/],
      [{ ...ok, users: { a: { groups: 'x' } } }, /groups/],
      [{ ...ok, algorithm: 'HS256' }, /algorithm/],
      [{ ...ok, tokenTtlSeconds: 86_400 }, /tokenTtlSeconds/],
      [{ ...ok, port: 70_000 }, /port/],
    ];
    for (const [input, field] of bad) {
      assert.throws(
        () => devIssuerOptions(input as typeof ok),
        (e: unknown) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID') && field.test((e as Error).message),
      );
    }
  });
});
