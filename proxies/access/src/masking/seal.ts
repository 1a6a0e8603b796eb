// AES-256-GCM sealing of original values, bound to where they were masked.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import type { EncryptedValue } from '@affidavit/schemas';
import { MaskContextMismatchError, MaskKeyUnknownError, MaskTamperedError } from './errors.ts';
import { checkDataKey, type DataKey, type KeyProvider } from './key-provider.ts';

/** NONCE_BYTES is the GCM nonce size. SPEC: NIST SP 800-38D §5.2.1.1 "For IVs, it is recommended that implementations restrict support to the length of 96 bits". */
export const NONCE_BYTES = 12;
/** TAG_BYTES is the GCM tag size appended to the ciphertext. */
export const TAG_BYTES = 16;

/** AAD_VERSION prefixes the associated data, so a future layout cannot be confused with this one. */
export const AAD_VERSION = 'affidavit.masked-original.v1';

/** SealContext is where a value was masked; the ciphertext is bound to it. */
export type SealContext = {
  readonly sessionId: string;
  readonly commandId: string;
  /** column is the column's name as the DataMasked event carries it. */
  readonly column: string;
  /** row is the row's index within the command's result, from 0. */
  readonly row: number;
};

/** EncryptedOriginal is a sealed original, shaped as the event contract's EncryptedValue. */
export type EncryptedOriginal = EncryptedValue;

/**
 * aadFor renders a context as the associated data: a JSON array with a version tag and
 * fields in a fixed order, so equal contexts give equal bytes and no field can run into
 * the next (unlike plain concatenation).
 */
export function aadFor(ctx: SealContext): string {
  return JSON.stringify([AAD_VERSION, ctx.sessionId, ctx.commandId, ctx.column, ctx.row]);
}

/**
 * Sealer seals originals under one key. Made once per result (createSealer), it checks and
 * imports the key once instead of per value, which is most of a lone seal's cost.
 */
export type Sealer = {
  readonly keyId: string;
  /** seal is sealOriginal with the sealer's key; a fresh random nonce per value. */
  seal(value: string, ctx: SealContext): EncryptedOriginal;
};

// Nonces are drawn from the CSPRNG this many at a time (one call instead of one per value).
const NONCES_PER_DRAW = 64;

/**
 * createSealer returns a Sealer for `key` (checked here: MaskKeyInvalidError). Every seal
 * uses a fresh 96-bit nonce from the CSPRNG (`nonce` is injectable for tests only; a nonce
 * MUST NOT repeat under one key) and `aadFor(ctx)` as associated data. Rotate keys well
 * before 2^32 values per key (NIST SP 800-38D §8.3).
 */
export function createSealer(key: DataKey, nonce?: () => Uint8Array): Sealer {
  checkDataKey(key);
  const secret = createSecretKey(key.key);
  let pool = Buffer.alloc(0);
  let at = 0;
  const next = (): Uint8Array => {
    if (nonce) return nonce();
    if (at + NONCE_BYTES > pool.length) {
      pool = randomBytes(NONCE_BYTES * NONCES_PER_DRAW);
      at = 0;
    }
    at += NONCE_BYTES;
    return pool.subarray(at - NONCE_BYTES, at);
  };
  return Object.freeze({
    keyId: key.keyId,
    seal(value: string, ctx: SealContext): EncryptedOriginal {
      const iv = next();
      if (iv.length !== NONCE_BYTES) throw new TypeError(`nonce must be ${NONCE_BYTES} bytes`);
      const aad = aadFor(ctx);
      const c = createCipheriv('aes-256-gcm', secret, iv, { authTagLength: TAG_BYTES });
      c.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([c.update(value, 'utf8'), c.final(), c.getAuthTag()]);
      return { keyId: key.keyId, nonce: Buffer.from(iv), ciphertext: body, aad };
    },
  });
}

/**
 * sealOriginal encrypts `value` with AES-256-GCM under `key`, a fresh random 96-bit nonce
 * (`nonce` is injectable for tests only; a nonce MUST NOT repeat under one key) and `aadFor(ctx)`
 * as associated data. For many values under one key, createSealer is cheaper.
 */
export function sealOriginal(value: string, ctx: SealContext, key: DataKey, nonce: Uint8Array = randomBytes(NONCE_BYTES)): EncryptedOriginal {
  return createSealer(key, () => nonce).seal(value, ctx);
}

/**
 * openOriginal decrypts a sealed original for a key holder. It MUST fail, and never return
 * a guess, when:
 * - the record says another context than `ctx` (MaskContextMismatchError, checked first:
 *   a ciphertext copied into another event does not open there);
 * - the provider does not hold `record.keyId` (MaskKeyUnknownError);
 * - GCM authentication fails: a flipped bit in nonce, ciphertext or tag, or a wrong key
 *   (MaskTamperedError).
 */
export async function openOriginal(record: EncryptedOriginal, keys: KeyProvider, ctx: SealContext): Promise<string> {
  const aad = aadFor(ctx);
  if (record.aad !== aad) throw new MaskContextMismatchError(`sealed for ${record.aad}, opened for ${aad}`);
  const key = await keys.byId(record.keyId);
  if (!key) throw new MaskKeyUnknownError(`no key with id ${JSON.stringify(record.keyId)}`);
  if (record.nonce.length !== NONCE_BYTES || record.ciphertext.length < TAG_BYTES) throw new MaskTamperedError('nonce or ciphertext has the wrong length');
  try {
    const d = createDecipheriv('aes-256-gcm', key.key, record.nonce, { authTagLength: TAG_BYTES });
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(record.ciphertext.subarray(record.ciphertext.length - TAG_BYTES));
    const clear = Buffer.concat([d.update(record.ciphertext.subarray(0, record.ciphertext.length - TAG_BYTES)), d.final()]);
    return clear.toString('utf8');
  } catch (cause) {
    throw new MaskTamperedError('the encrypted original does not authenticate: it was altered or the key is wrong', { cause });
  }
}
