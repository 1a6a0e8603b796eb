// Integration: the verifier against a REAL OpenID provider (oidc-provider on 127.0.0.1) and the
// development issuer over real HTTP. Attack tokens are forged here: tampered copies of the
// provider's real tokens, tokens signed with our own keys, or claims signed with the provider's
// key that it would never issue (test/services/oidc.ts signAsProvider).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey, randomUUID, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { isAffidavitError, systemClock, type Clock } from '@affidavit/common';
import { startOidcProvider, type OidcProviderInstance } from '../../../../test/services/oidc.ts';
import { createTokenVerifier, type TokenVerifier } from './token-verifier.ts';
import type { AuthenticationFailure } from './authentication-failure.ts';
import { httpFetchJson } from './fetch-json.ts';
import { startDevIssuer } from './dev-issuer.ts';
import { hmacWithPublicKey, makeKey, sign, tamperPayload, unsignedToken } from './test-support.ts';

describe('verifier against a real oidc-provider', () => {
  let idp: OidcProviderInstance;
  let other: OidcProviderInstance;
  let failures: AuthenticationFailure[];
  let offsetMs = 0;
  const clock: Clock = { now: () => systemClock.now() + offsetMs };
  let verifier: TokenVerifier;

  before(async () => {
    idp = await startOidcProvider();
    other = await startOidcProvider(); // a second, different issuer with its own key
    failures = [];
    verifier = createTokenVerifier({ issuer: idp.issuer, audience: idp.audience, requiredTyp: 'at+jwt' }, { clock, onRejected: (f) => failures.push(f) });
  });
  after(async () => {
    await idp?.stop();
    await other?.stop();
  });

  async function refused(token: string, code: string, v: TokenVerifier = verifier): Promise<AuthenticationFailure> {
    const before = failures.length;
    await assert.rejects(v.verify(token), (e: unknown) => {
      assert.ok(isAffidavitError(e, code), `expected ${code}, got ${(e as { code?: string }).code}: ${(e as Error).message}`);
      return true;
    });
    assert.equal(failures.length, before + 1, 'onRejected called once');
    assert.equal(failures.at(-1)!.code, code);
    return failures.at(-1)!;
  }

  test('a token the provider issues is accepted, over discovery + JWKS fetched by HTTP', async () => {
    const token = await idp.issueToken('alice');
    const id = await verifier.verify(token);
    assert.equal(id.issuer, idp.issuer);
    assert.equal(id.subject, 'alice');
    assert.deepEqual(id.groups, ['analysts']);
    assert.equal(id.email, 'alice@example.test');
    assert.equal(id.mfa, true);
    assert.equal(id.tokenId, decodeJwt(token).jti);
    const bob = await verifier.verify(await idp.issueToken('bob'));
    assert.deepEqual(bob.groups, ['dba', 'approvers']);
    assert.equal(bob.mfa, false);
    assert.equal(failures.length, 0);
  });

  test('alg none', async () => {
    const real = decodeJwt(await idp.issueToken('alice'));
    const f = await refused(unsignedToken(real, { typ: 'at+jwt' }), 'AFF_E_AUTH_ALG_NOT_ALLOWED');
    assert.equal(f.claimedSubject, 'alice');
    assert.equal(f.tokenId, real.jti);
  });

  test("HS256 signed with the provider's RSA public key as HMAC secret", async () => {
    const jwk = idp.publicJwks.keys[0];
    const pem = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const real = decodeJwt(await idp.issueToken('bob'));
    await refused(hmacWithPublicKey({ ...real, groups: ['admins'] }, pem, { kid: jwk.kid, typ: 'at+jwt' }), 'AFF_E_AUTH_ALG_NOT_ALLOWED');
  });

  test('wrong audience', async () => {
    const real = decodeJwt(await idp.issueToken('alice'));
    await refused(await idp.signAsProvider({ ...real, aud: 'https://other-service.test' }), 'AFF_E_AUTH_WRONG_AUDIENCE');
    // and a real token checked by a verifier configured for another audience
    const elsewhere = createTokenVerifier({ issuer: idp.issuer, audience: 'https://elsewhere.test' }, { clock, onRejected: (f) => failures.push(f) });
    await refused(await idp.issueToken('alice'), 'AFF_E_AUTH_WRONG_AUDIENCE', elsewhere);
  });

  test("wrong issuer (signed with the provider's own key)", async () => {
    const real = decodeJwt(await idp.issueToken('alice'));
    const f = await refused(await idp.signAsProvider({ ...real, iss: 'https://evil.test' }), 'AFF_E_AUTH_WRONG_ISSUER');
    assert.equal(f.claimedIssuer, 'https://evil.test');
  });

  test('expired (the real token, checked after exp + skew)', async () => {
    const token = await idp.issueToken('alice');
    const exp = decodeJwt(token).exp! * 1000;
    offsetMs = exp + 31_000 - systemClock.now();
    try {
      await refused(token, 'AFF_E_AUTH_TOKEN_EXPIRED');
    } finally {
      offsetMs = 0;
    }
    assert.equal((await verifier.verify(token)).subject, 'alice', 'the same token is fine now');
  });

  test("not yet valid (nbf an hour ahead, signed by the provider's key)", async () => {
    const real = decodeJwt(await idp.issueToken('alice'));
    const now = Math.floor(Date.now() / 1000);
    await refused(await idp.signAsProvider({ ...real, nbf: now + 3600, exp: now + 7200 }), 'AFF_E_AUTH_NOT_YET_VALID');
  });

  test('unknown kid (own key), and a flood of random kids costs at most one JWKS refetch', async () => {
    const real = decodeJwt(await idp.issueToken('alice'));
    const mine = await makeKey('RS256');
    const before = verifier.keySource.fetchCount();
    for (let i = 0; i < 25; i++) {
      await refused(await sign({ ...mine, kid: randomUUID() }, real, { typ: 'at+jwt' }), 'AFF_E_AUTH_UNKNOWN_KID');
    }
    assert.ok(verifier.keySource.fetchCount() - before <= 1, `refetched ${verifier.keySource.fetchCount() - before} times`);
  });

  test('altered payload (groups escalated, signature kept)', async () => {
    const token = tamperPayload(await idp.issueToken('alice'), (c) => (c.groups = ['approvers', 'dba']));
    const f = await refused(token, 'AFF_E_AUTH_BAD_SIGNATURE');
    assert.equal(f.claimedSubject, 'alice');
  });

  test('oversized token (9 KiB of claims signed by the provider)', async () => {
    const real = decodeJwt(await idp.issueToken('alice'));
    const big = await idp.signAsProvider({ ...real, groups: Array.from({ length: 600 }, (_, i) => `group-${i}`) });
    assert.ok(big.length > 8192);
    const f = await refused(big, 'AFF_E_AUTH_TOO_LARGE');
    assert.equal(f.claimedSubject, undefined, 'not parsed');
  });

  test('a token from a second, different issuer', async () => {
    const foreign = await other.issueToken('alice');
    const f = await refused(foreign, 'AFF_E_AUTH_WRONG_ISSUER');
    assert.equal(f.claimedIssuer, other.issuer);
    // The foreign issuer's token under our issuer's name fails on the key, not on the name.
    const relabeled = tamperPayload(foreign, (c) => (c.iss = idp.issuer));
    await refused(relabeled, 'AFF_E_AUTH_UNKNOWN_KID');
  });
});

describe('HTTP fetch of issuer metadata', () => {
  let server: Server;
  let base: string;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/slow') return void setTimeout(() => res.end('{}'), 2_000);
      if (req.url === '/500') return void res.writeHead(500).end();
      if (req.url === '/404') return void res.writeHead(404).end();
      if (req.url === '/redirect') return void res.writeHead(302, { location: 'https://evil.test/jwks' }).end();
      if (req.url === '/html') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
      if (req.url === '/huge') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys":["');
        return void res.end(`${'A'.repeat(400_000)}"]}`); // chunked: no content-length to trust
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );

  const cases: Array<[string, string, boolean]> = [
    ['/slow', 'AFF_E_AUTH_ISSUER_UNREACHABLE', true],
    ['/500', 'AFF_E_AUTH_ISSUER_UNREACHABLE', true],
    ['/404', 'AFF_E_AUTH_ISSUER_METADATA_INVALID', false],
    ['/redirect', 'AFF_E_AUTH_ISSUER_METADATA_INVALID', false],
    ['/html', 'AFF_E_AUTH_ISSUER_METADATA_INVALID', false],
    ['/huge', 'AFF_E_AUTH_ISSUER_METADATA_INVALID', false],
  ];
  for (const [path, code, retriable] of cases) {
    test(`${path} → ${code}`, async () => {
      const t0 = Date.now();
      await assert.rejects(
        httpFetchJson(`${base}${path}`, { timeoutMs: 300, maxBytes: 256 * 1024 }),
        (e: unknown) => isAffidavitError(e, code) && e.retriable === retriable,
      );
      assert.ok(Date.now() - t0 < 1_500, 'bounded by the timeout');
    });
  }

  test('a closed port is unreachable', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await assert.rejects(httpFetchJson(`http://127.0.0.1:${port}/jwks`, { timeoutMs: 1000, maxBytes: 1024 }), (e: unknown) =>
      isAffidavitError(e, 'AFF_E_AUTH_ISSUER_UNREACHABLE'),
    );
  });

  test('a good answer is parsed', async () => {
    assert.deepEqual(await httpFetchJson(`${base}/ok`, { timeoutMs: 1000, maxBytes: 1024 }), { keys: [] });
  });
});

describe('dev issuer over real HTTP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aff-dev-issuer-int-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const users = { alice: { groups: ['analysts'], email: 'alice@example.test', amr: ['pwd', 'otp'] }, bob: { groups: ['dba', 'approvers'] } };

  test('serves discovery and JWKS; its tokens verify via HTTP; the key survives a restart on the same port', async () => {
    const keyFile = join(dir, 'dev.jwk');
    const dev = await startDevIssuer({ audience: 'urn:affidavit:proxies', users, keyFile }, { clock: systemClock });
    const port = dev.port;
    let token: string;
    try {
      const disc = (await (await fetch(`${dev.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(disc.issuer, dev.issuer);
      assert.equal(disc.jwks_uri, `${dev.issuer}/jwks.json`);
      const jwks = (await (await fetch(dev.jwksUri)).json()) as { keys: Array<Record<string, unknown>> };
      assert.equal(jwks.keys.length, 1);
      assert.equal(jwks.keys[0].kid, dev.kid);
      assert.equal(jwks.keys[0].d, undefined, 'no private member is published');
      assert.equal((await fetch(`${dev.issuer}/nope`)).status, 404);
      assert.equal((await fetch(dev.jwksUri, { method: 'POST' })).status, 405);

      const failures: AuthenticationFailure[] = [];
      const v = createTokenVerifier(
        { issuer: dev.issuer, audience: 'urn:affidavit:proxies', requiredTyp: 'at+jwt' },
        { clock: systemClock, onRejected: (f) => failures.push(f) },
      );
      token = await dev.mint('alice');
      const id = await v.verify(token);
      assert.deepEqual([id.subject, id.mfa, id.groups], ['alice', true, ['analysts']]);
      assert.equal(v.keySource.fetchCount(), 1);
      await assert.rejects(dev.mint('mallory'), (e: unknown) => isAffidavitError(e, 'AFF_E_AUTH_DEV_UNKNOWN_USER'));
      await assert.rejects(v.verify(tamperPayload(await dev.mint('bob'), (c) => (c.sub = 'alice'))), (e: unknown) =>
        isAffidavitError(e, 'AFF_E_AUTH_BAD_SIGNATURE'),
      );
      assert.equal(failures.length, 1);
    } finally {
      await dev.close();
    }
    const again = await startDevIssuer({ audience: 'urn:affidavit:proxies', users, keyFile, port }, { clock: systemClock });
    try {
      assert.equal(again.issuer, dev.issuer);
      const fresh = createTokenVerifier({ issuer: again.issuer, audience: 'urn:affidavit:proxies' }, { clock: systemClock });
      assert.equal((await fresh.verify(token)).subject, 'alice', 'a token minted before the restart verifies after it');
    } finally {
      await again.close();
    }
  });
});
