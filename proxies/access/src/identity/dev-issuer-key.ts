// The development issuer's signing key, persisted so tokens minted before a restart still
// verify after it. Development only: the private key sits in a plain file (mode 0600).
import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { DevKeyInvalidError } from './errors.ts';

/** DevKeyAlgorithm is a signing algorithm the development issuer can use. */
export type DevKeyAlgorithm = 'EdDSA' | 'RS256';

/** DevSigningKey is a loaded key pair: the private key to sign, the public JWK to publish. */
export type DevSigningKey = {
  readonly alg: DevKeyAlgorithm;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  /** publicJwk carries kid, alg and use; it MUST NOT contain private members. */
  readonly publicJwk: Readonly<JWK>;
};

const KTY: Record<DevKeyAlgorithm, string> = { EdDSA: 'OKP', RS256: 'RSA' };

function publicPart(jwk: JWK): JWK {
  return jwk.kty === 'OKP' ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x } : { kty: jwk.kty, n: jwk.n, e: jwk.e };
}

async function fromPrivateJwk(jwk: JWK, alg: DevKeyAlgorithm, file: string): Promise<DevSigningKey> {
  if (jwk.kty !== KTY[alg] || typeof jwk.d !== 'string' || (alg === 'EdDSA' && jwk.crv !== 'Ed25519')) {
    throw new DevKeyInvalidError(`${file} does not hold a private ${alg} key; delete it to generate a new one (tokens it signed will stop verifying)`);
  }
  let privateKey: CryptoKey;
  try {
    privateKey = (await importJWK(jwk, alg)) as CryptoKey;
  } catch (cause) {
    throw new DevKeyInvalidError(`${file} holds a key that cannot be imported; delete it to generate a new one`, { cause });
  }
  const pub = publicPart(jwk);
  // An RFC 7638 thumbprint as kid: stable across restarts, and changes when the key does.
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  return Object.freeze({ alg, kid, privateKey, publicJwk: Object.freeze({ ...pub, kid, alg, use: 'sig' }) });
}

/**
 * loadOrCreateDevSigningKey returns the key stored in `file`, or generates one and stores it.
 * The file is written to a temporary name and renamed, so a crash never leaves half a key. It
 * MUST throw DevKeyInvalidError when the file exists but is not a private key of `alg`, rather
 * than silently replace a key whose tokens are still in use.
 */
export async function loadOrCreateDevSigningKey(file: string, alg: DevKeyAlgorithm): Promise<DevSigningKey> {
  if (existsSync(file)) {
    let jwk: JWK;
    try {
      jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    } catch (cause) {
      throw new DevKeyInvalidError(`${file} is not a JSON Web Key; delete it to generate a new one`, { cause });
    }
    if (jwk === null || typeof jwk !== 'object') throw new DevKeyInvalidError(`${file} is not a JSON Web Key`);
    return fromPrivateJwk(jwk, alg, file);
  }
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(jwk)}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file);
  return fromPrivateJwk(jwk, alg, file);
}
