// Deterministic Ed25519 keys for tests (RFC 8032: a 32-byte seed is the private key).
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import type { DecisionSigner, DecisionVerifier } from './decision-signature.ts';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** testDecisionKey makes a signer and its verifier from a seed byte (not for production: the seed is public). */
export function testDecisionKey(
  seedByte: number,
  name = `test-decisions-${seedByte}`,
  keyHash = 0x0a0b0c00 + seedByte,
): { signer: DecisionSigner; verifier: DecisionVerifier } {
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.alloc(32, seedByte)]), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(priv);
  return {
    signer: { name, keyHash, sign: (m) => sign(null, m, priv) },
    verifier: { name, keyHash, verify: (m, s) => verify(null, m, pub, s) },
  };
}
