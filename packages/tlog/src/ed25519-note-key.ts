import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { decodeBase64Strict, encodeBase64 } from './base64.ts';
import { TlogKeyInvalidError } from './errors.ts';
import type { NoteSigner, NoteVerifier } from './signed-note.ts';
import { isValidKeyName } from './signed-note.ts';

/**
 * ED25519_ALGORITHM is the signed-note signature type byte of Ed25519.
 * SPEC: https://c2sp.org/signed-note "0x01 — Ed25519 signatures as specified by this document."
 */
export const ED25519_ALGORITHM = 0x01;

// RFC 8410 DER prefixes: PKCS#8 for a 32-byte Ed25519 seed, SPKI for a 32-byte public key.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * noteKeyHash is the key ID: the first 4 bytes, big-endian, of SHA-256(name || 0x0A || type || public key).
 * SPEC: https://c2sp.org/signed-note "key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]"
 */
export function noteKeyHash(name: string, typeAndKey: Uint8Array): number {
  const d = createHash('sha256').update(name, 'utf8').update(Uint8Array.of(0x0a)).update(typeAndKey).digest();
  return d.readUInt32BE(0);
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyBytes(priv: KeyObject): Uint8Array {
  const der = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

function checkName(name: string): void {
  if (!isValidKeyName(name))
    throw new TlogKeyInvalidError(`invalid key name ${JSON.stringify(String(name).slice(0, 60))}: it must be non-empty, without spaces or '+'`);
}

/** Ed25519NoteKeyPair is a freshly generated key in golang.org/x/mod/sumdb/note encodings. */
export type Ed25519NoteKeyPair = { readonly signerKey: string; readonly verifierKey: string };

/**
 * generateEd25519NoteKey makes a key named `name` from 32 bytes of `randomBytes` (injected, so tests
 * are deterministic; production passes node:crypto's randomBytes). Encodings are those of
 * golang.org/x/mod/sumdb/note: verifier `<name>+<hash>+<base64(0x01||pub)>` and signer
 * `PRIVATE+KEY+<name>+<hash>+<base64(0x01||seed)>`. The signer key is a secret and MUST NOT be logged.
 */
export function generateEd25519NoteKey(name: string, randomBytes: (n: number) => Uint8Array): Ed25519NoteKeyPair {
  checkName(name);
  const seed = randomBytes(32);
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TlogKeyInvalidError('randomBytes(32) did not return 32 bytes');
  const pub = Uint8Array.of(ED25519_ALGORITHM, ...publicKeyBytes(privateKeyFromSeed(seed)));
  const hash = hex8(noteKeyHash(name, pub));
  return {
    signerKey: `PRIVATE+KEY+${name}+${hash}+${encodeBase64(Uint8Array.of(ED25519_ALGORITHM, ...seed))}`,
    verifierKey: `${name}+${hash}+${encodeBase64(pub)}`,
  };
}

function splitKey(key: string, what: string): { name: string; hash: number; material: Uint8Array } {
  if (typeof key !== 'string' || key.length > 1024) throw new TlogKeyInvalidError(`${what} is not a short string`);
  // Cut at the first two '+' only: the base64 key material may itself contain '+'.
  const a = key.indexOf('+');
  const b = a < 0 ? -1 : key.indexOf('+', a + 1);
  if (b < 0) throw new TlogKeyInvalidError(`${what} must be <name>+<hex key ID>+<base64 key>`);
  const [name, hashHex, b64] = [key.slice(0, a), key.slice(a + 1, b), key.slice(b + 1)];
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(hashHex)) throw new TlogKeyInvalidError(`${what} key ID ${JSON.stringify(hashHex.slice(0, 20))} is not 8 lowercase hex digits`);
  const material = decodeBase64Strict(b64);
  if (material === undefined || material.length === 0) throw new TlogKeyInvalidError(`${what} key material is not canonical base64`);
  if (material[0] !== ED25519_ALGORITHM)
    throw new TlogKeyInvalidError(
      `${what} has signature type 0x${material[0].toString(16).padStart(2, '0')}, only Ed25519 (0x01) is supported by this adapter`,
    );
  if (material.length !== 33) throw new TlogKeyInvalidError(`${what} Ed25519 key is ${material.length - 1} bytes, want 32`);
  return { name, hash: Number.parseInt(hashHex, 16), material };
}

/**
 * ed25519NoteVerifier parses a verifier key `<name>+<hash>+<base64(0x01||pub)>` into a NoteVerifier,
 * checking that the key ID matches the name and key.
 * SPEC: https://c2sp.org/signed-note "<key name>+hex(32-bit key ID)+base64(signature type || public key)"
 */
export function ed25519NoteVerifier(verifierKey: string): NoteVerifier {
  const { name, hash, material } = splitKey(verifierKey, 'verifier key');
  if (noteKeyHash(name, material) !== hash) throw new TlogKeyInvalidError(`verifier key ID ${hex8(hash)} does not match the name and key of ${name}`);
  let pub: KeyObject;
  try {
    pub = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, material.subarray(1)]), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new TlogKeyInvalidError(`verifier key of ${name} is not an Ed25519 public key`, { cause });
  }
  return Object.freeze({
    name,
    keyHash: hash,
    verify: (message: Uint8Array, signature: Uint8Array) => signature.length === 64 && verify(null, message, pub, signature),
  });
}

/** Ed25519NoteSigner is a NoteSigner that can also tell its verifier key. */
export type Ed25519NoteSigner = NoteSigner & { readonly verifierKey: string };

/**
 * ed25519NoteSigner parses a signer key `PRIVATE+KEY+<name>+<hash>+<base64(0x01||seed)>` (as made by
 * generateEd25519NoteKey or golang.org/x/mod/sumdb/note.GenerateKey) into a NoteSigner. Error messages
 * never include the key material.
 */
export function ed25519NoteSigner(signerKey: string): Ed25519NoteSigner {
  if (typeof signerKey !== 'string' || !signerKey.startsWith('PRIVATE+KEY+')) throw new TlogKeyInvalidError('signer key must start with PRIVATE+KEY+');
  const { name, hash, material } = splitKey(signerKey.slice('PRIVATE+KEY+'.length), 'signer key');
  const priv = privateKeyFromSeed(material.subarray(1));
  const pub = Uint8Array.of(ED25519_ALGORITHM, ...publicKeyBytes(priv));
  if (noteKeyHash(name, pub) !== hash) throw new TlogKeyInvalidError(`signer key ID ${hex8(hash)} does not match the name and key of ${name}`);
  return Object.freeze({
    name,
    keyHash: hash,
    verifierKey: `${name}+${hex8(hash)}+${encodeBase64(pub)}`,
    sign: (message: Uint8Array) => new Uint8Array(sign(null, message, priv)),
  });
}
