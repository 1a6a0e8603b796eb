// Helpers shared by the identity tests (not exported from index.ts): key generation, token
// forging, a fake clock and a fake issuer (discovery + JWKS) that counts its fetches.
import { createHmac, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { Clock } from '@affidavit/common';
import type { FetchJson } from './fetch-json.ts';

/** FakeClock is a settable Clock. */
export type FakeClock = Clock & { set(ms: number): void; advance(ms: number): void };

/** fakeClock starts at `start` ms and moves only when told. */
export function fakeClock(start: number): FakeClock {
  let t = start;
  return { now: () => t, set: (ms) => void (t = ms), advance: (ms) => void (t += ms) };
}

/** TestKey is a signing key with its public JWK (kid, alg, use set). */
export type TestKey = { readonly alg: string; readonly kid: string; readonly privateKey: CryptoKey; readonly publicJwk: JWK };

/** makeKey generates a key pair for `alg` with a thumbprint kid. */
export async function makeKey(alg: 'RS256' | 'PS256' | 'ES256' | 'EdDSA' | 'RS384', kid?: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const k = kid ?? (await calculateJwkThumbprint(jwk));
  return { alg, kid: k, privateKey, publicJwk: { ...jwk, kid: k, alg, use: 'sig' } };
}

/** sign signs claims with a TestKey; header fields override the defaults (alg, kid). */
export function sign(key: TestKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header } as { alg: string }).sign(key.privateKey);
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** unsignedToken builds `alg: none` JWT (empty signature part). */
export function unsignedToken(claims: unknown, header: Record<string, unknown> = {}): string {
  return `${b64({ alg: 'none', ...header })}.${b64(claims)}.`;
}

/**
 * hmacWithPublicKey builds the classic key-confusion forgery: HS256 over header.payload with the
 * issuer's RSA *public* key (as PEM text) as the HMAC secret.
 */
export function hmacWithPublicKey(claims: unknown, publicKeyPem: string, header: Record<string, unknown> = {}): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT', ...header })}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', publicKeyPem).update(input).digest('base64url')}`;
}

/** rsaSignRaw signs RS256 with node:crypto (no modulus check), to test weak keys. */
export function rsaSignRaw(privateKey: KeyObject, claims: unknown, header: Record<string, unknown>): string {
  const input = `${b64({ alg: 'RS256', ...header })}.${b64(claims)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
}

/** weakRsaKey generates a 1024-bit RSA key (below jose's 2048-bit floor) and its public JWK. */
export function weakRsaKey(kid: string): { privateKey: KeyObject; publicJwk: JWK } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return { privateKey, publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'RS256', use: 'sig' } };
}

/** tamperPayload replaces a signed token's claims, keeping header and signature. */
export function tamperPayload(token: string, edit: (claims: Record<string, unknown>) => void): string {
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  edit(claims);
  return `${h}.${b64(claims)}.${s}`;
}

/** FakeIssuer serves a discovery document and a mutable JWKS through a FetchJson, counting calls. */
export type FakeIssuer = {
  readonly issuer: string;
  readonly fetchJson: FetchJson;
  /** keys is the published key set; tests push and remove keys to rotate. */
  readonly keys: JWK[];
  /** calls lists every URL fetched, in order. */
  readonly calls: string[];
  /** fail makes every fetch throw this error until set back to undefined. */
  fail: Error | undefined;
  /** discoveryIssuer overrides the `issuer` member of the discovery document. */
  discoveryIssuer: string | undefined;
};

/** fakeIssuer builds a FakeIssuer for `issuer`, publishing `keys`. */
export function fakeIssuer(issuer: string, keys: JWK[]): FakeIssuer {
  const fake: FakeIssuer = {
    issuer,
    keys,
    calls: [],
    fail: undefined,
    discoveryIssuer: undefined,
    fetchJson: async (url) => {
      fake.calls.push(url);
      if (fake.fail) throw fake.fail;
      if (url === `${issuer}/.well-known/openid-configuration`) return { issuer: fake.discoveryIssuer ?? issuer, jwks_uri: `${issuer}/jwks` };
      if (url === `${issuer}/jwks`) return { keys: fake.keys.map((k) => ({ ...k })) };
      throw new Error(`fake issuer: unexpected fetch ${url}`);
    },
  };
  return fake;
}
