import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { isAffidavitError } from '@affidavit/common';
import { createTokenVerifier, type TokenVerifierDeps } from './token-verifier.ts';
import type { AuthenticationFailure } from './authentication-failure.ts';
import type { VerifierOptionsInput } from './verifier-options.ts';
import { IssuerUnreachableError } from './errors.ts';
import { fakeClock, fakeIssuer, hmacWithPublicKey, makeKey, rsaSignRaw, sign, tamperPayload, unsignedToken, weakRsaKey, type TestKey } from './test-support.ts';

const ISS = 'https://idp.example.test';
const AUD = 'https://affidavit.test/proxies';
const T0 = 1_800_000_000_000; // ms; tokens below use whole seconds around it
const S0 = T0 / 1000;

function claims(over: Record<string, unknown> = {}) {
  return {
    iss: ISS,
    aud: AUD,
    sub: 'alice',
    iat: S0,
    nbf: S0,
    exp: S0 + 300,
    jti: 'tok-1',
    groups: ['analysts'],
    email: 'alice@example.test',
    amr: ['pwd', 'otp'],
    ...over,
  };
}

async function setup(opts: Partial<VerifierOptionsInput> = {}, keys?: TestKey[]) {
  const ks = keys ?? [await makeKey('RS256')];
  const idp = fakeIssuer(
    ISS,
    ks.map((k) => k.publicJwk),
  );
  const clock = fakeClock(T0);
  const failures: AuthenticationFailure[] = [];
  const deps: TokenVerifierDeps = { clock, fetchJson: idp.fetchJson, onRejected: (f) => failures.push(f) };
  const verifier = createTokenVerifier({ issuer: ISS, audience: AUD, ...opts }, deps);
  return { keys: ks, key: ks[0], idp, clock, failures, verifier };
}

/** rejects asserts verify() throws `code` and the sink got exactly one failure with that code. */
async function rejects(s: Awaited<ReturnType<typeof setup>>, token: string, code: string): Promise<AuthenticationFailure> {
  const before = s.failures.length;
  await assert.rejects(s.verifier.verify(token), (e: unknown) => {
    assert.ok(isAffidavitError(e, code), `expected ${code}, got ${(e as { code?: string }).code}: ${(e as Error).message}`);
    return true;
  });
  assert.equal(s.failures.length, before + 1, 'onRejected called exactly once');
  const f = s.failures.at(-1)!;
  assert.equal(f.code, code);
  assert.equal(f.at, s.clock.now());
  assert.ok(f.reason.length > 0);
  return f;
}

describe('accepts', () => {
  for (const alg of ['RS256', 'ES256', 'EdDSA', 'PS256'] as const) {
    test(`a valid ${alg} token and returns its identity`, async () => {
      const s = await setup({}, [await makeKey(alg)]);
      const id = await s.verifier.verify(await sign(s.key, claims()));
      assert.equal(id.issuer, ISS);
      assert.equal(id.subject, 'alice');
      assert.equal(id.email, 'alice@example.test');
      assert.deepEqual(id.groups, ['analysts']);
      assert.deepEqual(id.amr, ['pwd', 'otp']);
      assert.equal(id.mfa, true);
      assert.equal(id.tokenId, 'tok-1');
      assert.equal(id.expiresAt, (S0 + 300) * 1000);
      assert.equal(s.failures.length, 0);
      assert.ok(Object.isFrozen(id));
    });
  }

  test('an aud array that contains the audience', async () => {
    const s = await setup();
    const id = await s.verifier.verify(await sign(s.key, claims({ aud: ['https://other.test', AUD] })));
    assert.equal(id.subject, 'alice');
  });

  test('a token without kid when the JWKS has two keys of its type (tries each)', async () => {
    const a = await makeKey('RS256');
    const b = await makeKey('RS256');
    const s = await setup({}, [a, b]);
    const id = await s.verifier.verify(await sign(b, claims(), { kid: undefined }));
    assert.equal(id.subject, 'alice');
    await rejects(
      s,
      tamperPayload(await sign(b, claims(), { kid: undefined }), (c) => (c.sub = 'mallory')),
      'AFF_E_AUTH_BAD_SIGNATURE',
    );
  });

  test('reads groups from a configured nested claim path', async () => {
    const s = await setup({ groupsClaim: 'realm_access.roles' });
    const id = await s.verifier.verify(await sign(s.key, claims({ groups: undefined, realm_access: { roles: ['dba', 'approvers'] } })));
    assert.deepEqual(id.groups, ['dba', 'approvers']);
  });
});

describe('algorithm allow-list', () => {
  test('alg none is refused before any key is fetched', async () => {
    const s = await setup();
    const f = await rejects(s, unsignedToken(claims()), 'AFF_E_AUTH_ALG_NOT_ALLOWED');
    assert.equal(f.claimedSubject, 'alice');
    assert.equal(f.claimedIssuer, ISS);
    assert.equal(f.tokenId, 'tok-1');
    assert.equal(s.idp.calls.length, 0);
  });

  test('alg NONE in another case is refused too', async () => {
    const s = await setup();
    await rejects(s, unsignedToken(claims(), { alg: 'NoNe' }), 'AFF_E_AUTH_ALG_NOT_ALLOWED');
  });

  test('HS256 signed with the RSA public key as HMAC secret is refused', async () => {
    const s = await setup();
    const pem = createPublicKey({ key: s.key.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    await rejects(s, hmacWithPublicKey(claims(), pem, { kid: s.key.kid }), 'AFF_E_AUTH_ALG_NOT_ALLOWED');
    assert.equal(s.idp.calls.length, 0, 'no JWKS fetch for an HMAC token');
  });

  test('a valid signature with an algorithm outside the allow-list is refused', async () => {
    const s = await setup({}, [await makeKey('RS384')]);
    await rejects(s, await sign(s.key, claims()), 'AFF_E_AUTH_ALG_NOT_ALLOWED');
  });

  test('a narrowed allow-list refuses a default algorithm', async () => {
    const s = await setup({ algorithms: ['ES256'] });
    await rejects(s, await sign(s.key, claims()), 'AFF_E_AUTH_ALG_NOT_ALLOWED');
  });

  test('a token whose alg differs from the key alg in the JWKS finds no key', async () => {
    // The JWKS key is marked RS256; a PS256 token naming its kid MUST NOT be verified with it.
    const rs = await makeKey('RS256');
    const s = await setup({}, [rs]);
    const ps = { ...(await makeKey('PS256')), kid: rs.kid };
    await rejects(s, await sign(ps, claims()), 'AFF_E_AUTH_UNKNOWN_KID');
  });
});

describe('claims', () => {
  test('wrong iss is refused before the JWKS is fetched', async () => {
    const s = await setup();
    const f = await rejects(s, await sign(s.key, claims({ iss: 'https://evil.test' })), 'AFF_E_AUTH_WRONG_ISSUER');
    assert.equal(f.claimedIssuer, 'https://evil.test');
    assert.equal(s.idp.calls.length, 0);
  });

  test('iss is compared exactly (trailing slash differs)', async () => {
    const s = await setup();
    await rejects(s, await sign(s.key, claims({ iss: `${ISS}/` })), 'AFF_E_AUTH_WRONG_ISSUER');
  });

  test('wrong aud is refused', async () => {
    const s = await setup();
    await rejects(s, await sign(s.key, claims({ aud: 'https://other.test' })), 'AFF_E_AUTH_WRONG_AUDIENCE');
    await rejects(s, await sign(s.key, claims({ aud: undefined })), 'AFF_E_AUTH_CLAIM_INVALID');
  });

  test('missing sub or exp is refused', async () => {
    const s = await setup();
    await rejects(s, await sign(s.key, claims({ sub: undefined })), 'AFF_E_AUTH_CLAIM_INVALID');
    await rejects(s, await sign(s.key, claims({ exp: undefined })), 'AFF_E_AUTH_CLAIM_INVALID');
  });

  test('a groups claim of the wrong type is refused', async () => {
    const s = await setup();
    await rejects(s, await sign(s.key, claims({ groups: 7 })), 'AFF_E_AUTH_CLAIM_INVALID');
    await rejects(s, await sign(s.key, claims({ groups: ['ok', 3] })), 'AFF_E_AUTH_CLAIM_INVALID');
  });

  test('typ is checked only when configured', async () => {
    const s = await setup({ requiredTyp: 'at+jwt' });
    assert.equal((await s.verifier.verify(await sign(s.key, claims(), { typ: 'at+jwt' }))).subject, 'alice');
    assert.equal((await s.verifier.verify(await sign(s.key, claims(), { typ: 'application/at+jwt' }))).subject, 'alice');
    await rejects(s, await sign(s.key, claims(), { typ: 'JWT' }), 'AFF_E_AUTH_WRONG_TYPE');
    await rejects(s, await sign(s.key, claims()), 'AFF_E_AUTH_WRONG_TYPE');
    const loose = await setup({}, [s.key]);
    assert.equal((await loose.verifier.verify(await sign(s.key, claims(), { typ: 'JWT' }))).subject, 'alice');
  });
});

describe('exp and nbf with clock skew (default 30 s)', () => {
  // jose compares whole seconds: exp <= now - skew is expired; nbf > now + skew is not yet valid.
  const EXP = S0 + 300;
  const cases: Array<[string, number, string | undefined]> = [
    ['well before exp', (EXP - 60) * 1000, undefined],
    ['at exp, within skew', EXP * 1000, undefined],
    ['last millisecond of the skew', (EXP + 30) * 1000 - 1, undefined],
    ['exp + skew exactly', (EXP + 30) * 1000, 'AFF_E_AUTH_TOKEN_EXPIRED'],
    ['long after exp', (EXP + 3600) * 1000, 'AFF_E_AUTH_TOKEN_EXPIRED'],
  ];
  for (const [name, now, code] of cases) {
    test(`exp: ${name}`, async () => {
      const s = await setup();
      const token = await sign(s.key, claims({ exp: EXP }));
      await s.verifier.verify(await sign(s.key, claims())); // warm the key cache at T0
      s.clock.set(now);
      if (code === undefined) assert.equal((await s.verifier.verify(token)).subject, 'alice');
      else await rejects(s, token, code);
    });
  }

  const NBF = S0 + 600;
  const nbfCases: Array<[string, number, string | undefined]> = [
    ['far before nbf', (NBF - 300) * 1000, 'AFF_E_AUTH_NOT_YET_VALID'],
    ['one ms before nbf - skew', (NBF - 30) * 1000 - 1, 'AFF_E_AUTH_NOT_YET_VALID'],
    ['nbf - skew exactly', (NBF - 30) * 1000, undefined],
    ['at nbf', NBF * 1000, undefined],
  ];
  for (const [name, now, code] of nbfCases) {
    test(`nbf: ${name}`, async () => {
      const s = await setup();
      const token = await sign(s.key, claims({ nbf: NBF, exp: NBF + 300 }));
      s.clock.set(now);
      if (code === undefined) assert.equal((await s.verifier.verify(token)).subject, 'alice');
      else await rejects(s, token, code);
    });
  }

  test('a configured skew of 0 refuses at exp', async () => {
    const s = await setup({ clockSkewSeconds: 0 });
    const token = await sign(s.key, claims());
    s.clock.set((S0 + 300) * 1000 - 1);
    assert.equal((await s.verifier.verify(token)).subject, 'alice');
    s.clock.set((S0 + 300) * 1000);
    await rejects(s, token, 'AFF_E_AUTH_TOKEN_EXPIRED');
  });
});

describe('signature and key lookup', () => {
  test('an altered payload fails the signature check', async () => {
    const s = await setup();
    const token = tamperPayload(await sign(s.key, claims()), (c) => (c.groups = ['admins']));
    const f = await rejects(s, token, 'AFF_E_AUTH_BAD_SIGNATURE');
    assert.equal(f.claimedSubject, 'alice');
  });

  test('a token signed by another key under a published kid fails the signature check', async () => {
    const s = await setup();
    const attacker = { ...(await makeKey('RS256')), kid: s.key.kid };
    await rejects(s, await sign(attacker, claims()), 'AFF_E_AUTH_BAD_SIGNATURE');
  });

  test('an unknown kid triggers one refresh, then AFF_E_AUTH_UNKNOWN_KID', async () => {
    const s = await setup();
    await s.verifier.verify(await sign(s.key, claims()));
    const fetchesAfterWarmup = s.idp.calls.length;
    s.clock.advance(31_000);
    const stranger = await makeKey('RS256');
    await rejects(s, await sign(stranger, claims()), 'AFF_E_AUTH_UNKNOWN_KID');
    assert.equal(s.idp.calls.length, fetchesAfterWarmup + 1, 'exactly one JWKS refetch');
  });

  test('a flood of random kids refetches at most once per cooldown', async () => {
    const s = await setup({ jwksCooldownMs: 10_000 });
    await s.verifier.verify(await sign(s.key, claims()));
    const jwksFetches = () => s.idp.calls.filter((u) => u.endsWith('/jwks')).length;
    assert.equal(jwksFetches(), 1);
    const stranger = await makeKey('RS256');
    for (let i = 0; i < 200; i++) {
      await rejects(s, await sign({ ...stranger, kid: randomUUID() }, claims()), 'AFF_E_AUTH_UNKNOWN_KID');
      s.clock.advance(100); // 200 tokens over 20 s
    }
    // The flood spans t=0..19.9 s after the warm-up fetch at t=0: only t=10 s may refetch.
    assert.equal(jwksFetches(), 1 + 1);
    assert.equal(s.failures.length, 200);
  });

  test('concurrent unknown kids share one in-flight refresh', async () => {
    const s = await setup();
    await s.verifier.verify(await sign(s.key, claims()));
    s.clock.advance(60_000);
    const stranger = await makeKey('ES256');
    const tokens = await Promise.all(Array.from({ length: 20 }, () => sign({ ...stranger, kid: randomUUID() }, claims())));
    const results = await Promise.allSettled(tokens.map((t) => s.verifier.verify(t)));
    assert.ok(results.every((r) => r.status === 'rejected' && isAffidavitError(r.reason, 'AFF_E_AUTH_UNKNOWN_KID')));
    assert.equal(s.idp.calls.filter((u) => u.endsWith('/jwks')).length, 2);
  });

  test('a rotated-in key is picked up by the refresh on its unknown kid', async () => {
    const s = await setup();
    await s.verifier.verify(await sign(s.key, claims()));
    const next = await makeKey('EdDSA');
    s.idp.keys.push(next.publicJwk);
    s.clock.advance(30_000);
    assert.equal((await s.verifier.verify(await sign(next, claims()))).subject, 'alice');
  });

  test('keys older than jwksMaxAgeMs are fetched again, and a removed key stops verifying', async () => {
    const s = await setup({ jwksMaxAgeMs: 60_000 });
    const token = await sign(s.key, claims({ exp: S0 + 3600 }));
    await s.verifier.verify(token);
    s.idp.keys.length = 0;
    s.clock.advance(59_000);
    assert.equal((await s.verifier.verify(token)).subject, 'alice', 'cached key still used');
    s.clock.advance(1_000);
    await rejects(s, token, 'AFF_E_AUTH_UNKNOWN_KID');
  });

  test('an RSA key under 2048 bits is refused', async () => {
    const weak = weakRsaKey('weak');
    const s = await setup();
    s.idp.keys.push(weak.publicJwk);
    await rejects(s, rsaSignRaw(weak.privateKey, claims(), { kid: 'weak' }), 'AFF_E_AUTH_KEY_REJECTED');
  });

  test('a configured jwksUri skips discovery', async () => {
    const s = await setup({ jwksUri: `${ISS}/jwks` });
    await s.verifier.verify(await sign(s.key, claims()));
    assert.deepEqual(s.idp.calls, [`${ISS}/jwks`]);
  });
});

describe('issuer availability', () => {
  test('an unreachable issuer is retriable and retried at most once per cooldown', async () => {
    const s = await setup();
    s.idp.fail = new IssuerUnreachableError('connection refused');
    const token = await sign(s.key, claims());
    await assert.rejects(s.verifier.verify(token), (e: unknown) => isAffidavitError(e, 'AFF_E_AUTH_ISSUER_UNREACHABLE') && e.retriable === true);
    await rejects(s, token, 'AFF_E_AUTH_ISSUER_UNREACHABLE');
    assert.equal(s.idp.calls.length, 1, 'the second attempt within the cooldown did not fetch');
    s.idp.fail = undefined;
    s.clock.advance(30_000);
    assert.equal((await s.verifier.verify(token)).subject, 'alice');
  });

  test('a fetcher that throws something untyped is reported as unreachable', async () => {
    const s = await setup();
    s.idp.fail = new Error('socket hang up');
    await rejects(s, await sign(s.key, claims()), 'AFF_E_AUTH_ISSUER_UNREACHABLE');
  });

  test('a discovery document naming another issuer is refused', async () => {
    const s = await setup();
    s.idp.discoveryIssuer = 'https://evil.test';
    await rejects(s, await sign(s.key, claims()), 'AFF_E_AUTH_ISSUER_METADATA_INVALID');
  });
});

describe('size and shape', () => {
  test('a token of exactly maxTokenBytes is accepted and one byte more is refused', async () => {
    const key = await makeKey('RS256');
    const token = await sign(key, claims({ pad: 'x'.repeat(500) }));
    const exact = await setup({ maxTokenBytes: token.length }, [key]);
    assert.equal((await exact.verifier.verify(token)).subject, 'alice');
    const tight = await setup({ maxTokenBytes: token.length - 1 }, [key]);
    const f = await rejects(tight, token, 'AFF_E_AUTH_TOO_LARGE');
    assert.equal(f.claimedSubject, undefined, 'an oversized token is not decoded, not even for the audit record');
    assert.equal(tight.idp.calls.length, 0);
  });

  test('the default limit is 8 KiB', async () => {
    const s = await setup();
    const big = await sign(s.key, claims({ pad: 'x'.repeat(6500) }));
    assert.ok(big.length > 8192);
    await rejects(s, big, 'AFF_E_AUTH_TOO_LARGE');
  });

  test('an oversized value is refused before parsing: garbage gets TOO_LARGE, not MALFORMED, and no fetch', async () => {
    const s = await setup();
    const f = await rejects(s, '\u0000'.repeat(8193), 'AFF_E_AUTH_TOO_LARGE');
    assert.equal(f.claimedSubject, undefined);
    await rejects(s, 'a.b.c'.padEnd(1_000_000, 'A'), 'AFF_E_AUTH_TOO_LARGE');
    assert.equal(s.idp.calls.length, 0);
  });

  const malformed: Array<[string, string]> = [
    ['empty', ''],
    ['one part', 'notajwt'],
    ['two parts', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0'],
    ['four parts', 'a.b.c.d'],
    ['a JWE (five parts)', 'a.b.c.d.e'],
    ['header not base64url JSON', 'bm90IGpzb24.eyJzdWIiOiJhIn0.c2ln'],
    ['header an array', `${Buffer.from('[1]').toString('base64url')}.eyJzdWIiOiJhIn0.c2ln`],
    ['claims not JSON', `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.bm90.c2ln`],
    ['illegal characters', 'ey J.ey+/.sig'],
    ['no alg', `${Buffer.from('{"kid":"k"}').toString('base64url')}.eyJzdWIiOiJhIn0.c2ln`],
  ];
  for (const [name, token] of malformed) {
    test(`malformed: ${name}`, async () => {
      const s = await setup();
      await rejects(s, token, 'AFF_E_AUTH_MALFORMED');
    });
  }

  test('a non-string token is malformed, not a crash', async () => {
    const s = await setup();
    await rejects(s, 42 as unknown as string, 'AFF_E_AUTH_MALFORMED');
  });
});

describe('onRejected sink', () => {
  test('a throwing sink does not change the error the caller sees', async () => {
    const idp = fakeIssuer(ISS, []);
    const v = createTokenVerifier(
      { issuer: ISS, audience: AUD },
      {
        clock: fakeClock(T0),
        fetchJson: idp.fetchJson,
        onRejected: () => {
          throw new Error('sink down');
        },
      },
    );
    await assert.rejects(v.verify(unsignedToken(claims())), (e: unknown) => isAffidavitError(e, 'AFF_E_AUTH_ALG_NOT_ALLOWED'));
  });

  test('claimed values are truncated to 256 characters', async () => {
    const s = await setup();
    const f = await rejects(s, unsignedToken(claims({ sub: 's'.repeat(5000) })), 'AFF_E_AUTH_ALG_NOT_ALLOWED');
    assert.equal(f.claimedSubject?.length, 256);
  });
});
