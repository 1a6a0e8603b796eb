// AES-256-GCM sealing of original values, bound to where they were masked.
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import type { EncryptedValue, SealedOriginals } from '@affidavit/schemas';
import { MaskContextMismatchError, MaskKeyUnknownError, MaskSealedMalformedError, MaskTamperedError } from './errors.ts';
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

// ---------------------------------------------------------------------------------------
// Chunks: the originals of consecutive masked values sealed together, one GCM operation per
// chunk instead of one per value (a cipher setup costs ~10 us; a chunk of 256 short values
// costs about as much as one). Every security property of the single-value form is kept:
// the aad binds the chunk to its session, command, place in the event (first, count) and
// the (column, row) of each covered value, and each chunk gets a fresh CSPRNG nonce.

/** CHUNK_AAD_VERSION prefixes a chunk's associated data; it differs from AAD_VERSION, so a chunk's aad can never equal a single value's. */
export const CHUNK_AAD_VERSION = 'affidavit.masked-originals.v2';

/** MAX_CHUNK_VALUES bounds the originals one chunk may cover (a DataMasked event carries at most a few thousand). */
export const MAX_CHUNK_VALUES = 4096;

/** MaskPosition is where one covered value was masked: its column name and row index. */
export type MaskPosition = { readonly column: string; readonly row: number };

/** ChunkContext is where a chunk's originals were masked; the chunk is bound to all of it. */
export type ChunkContext = {
  readonly sessionId: string;
  readonly commandId: string;
  /** first is the index, in the event's masks, of the first covered value. */
  readonly first: number;
  /** positions are the covered values' (column, row), in masks order; their count is the chunk's. */
  readonly positions: readonly MaskPosition[];
};

/**
 * chunkAadFor renders a chunk's context as associated data: a JSON array of the version tag,
 * session, command, first, count and the SHA-256 (hex) of the canonical JSON of the covered
 * [column, row] pairs. The digest keeps the aad small while binding every position; JSON
 * keeps fields from running into each other.
 */
export function chunkAadFor(ctx: ChunkContext): string {
  const n = ctx.positions.length;
  const pairs: [string, number][] = new Array(n);
  for (let i = 0; i < n; i++) pairs[i] = [ctx.positions[i].column, ctx.positions[i].row];
  // One JSON.stringify and one hash update per chunk: per-position hash updates cost ~1 us each.
  const digest = createHash('sha256').update(JSON.stringify(pairs), 'utf8').digest('hex');
  return JSON.stringify([CHUNK_AAD_VERSION, ctx.sessionId, ctx.commandId, ctx.first, n, digest]);
}

/** ChunkSealer seals chunks of originals under one key (createChunkSealer). */
export type ChunkSealer = {
  readonly keyId: string;
  /**
   * seal encrypts `originals` (one per `ctx.positions` entry, in the same order, 1 to
   * MAX_CHUNK_VALUES of them) as one JSON array of strings, with one AES-256-GCM operation,
   * a fresh 96-bit CSPRNG nonce and `chunkAadFor(ctx)`. The caller SHOULD drop its clear
   * originals right after.
   */
  seal(originals: readonly string[], ctx: ChunkContext): SealedOriginals;
};

/**
 * createChunkSealer returns a ChunkSealer for `key` (checked and imported once here:
 * MaskKeyInvalidError). Every chunk gets a fresh nonce from the CSPRNG (`nonce` is
 * injectable for tests only; a nonce MUST NOT repeat under one key). Rotate keys well before
 * 2^32 chunks per key (NIST SP 800-38D §8.3).
 */
export function createChunkSealer(key: DataKey, nonce?: () => Uint8Array): ChunkSealer {
  checkDataKey(key);
  const secret: KeyObject = createSecretKey(key.key);
  const keyId = key.keyId;
  return Object.freeze({
    keyId,
    seal(originals: readonly string[], ctx: ChunkContext): SealedOriginals {
      const count = originals.length;
      if (count === 0 || count > MAX_CHUNK_VALUES) throw new RangeError(`a chunk holds 1 to ${MAX_CHUNK_VALUES} originals, not ${count}`);
      if (ctx.positions.length !== count) throw new RangeError(`${count} originals but ${ctx.positions.length} positions`);
      if (!Number.isSafeInteger(ctx.first) || ctx.first < 0) throw new RangeError(`first must be an index, not ${ctx.first}`);
      for (let i = 0; i < count; i++) if (typeof originals[i] !== 'string') throw new TypeError(`original ${i} is not a string`);
      const iv = nonce ? nonce() : randomBytes(NONCE_BYTES);
      if (iv.length !== NONCE_BYTES) throw new TypeError(`nonce must be ${NONCE_BYTES} bytes`);
      const aad = chunkAadFor(ctx);
      const c = createCipheriv('aes-256-gcm', secret, iv, { authTagLength: TAG_BYTES });
      c.setAAD(Buffer.from(aad, 'utf8'));
      // JSON.stringify escapes lone surrogates (well-formed JSON.stringify), so every JS string,
      // binary-as-latin1 ones included, comes back exactly.
      const body = Buffer.concat([c.update(JSON.stringify(originals), 'utf8'), c.final(), c.getAuthTag()]);
      return { first: ctx.first, count, keyId, nonce: Buffer.from(iv), ciphertext: body, aad };
    },
  });
}

/**
 * openSealedOriginals decrypts a chunk for a key holder and returns its originals in masks
 * order. It MUST fail, and never return a guess, when:
 * - the record says another context than `ctx` (another session, command, first, count or
 *   position list: MaskContextMismatchError, checked first, so a chunk moved into another
 *   event or place does not open there);
 * - the provider does not hold `record.keyId` (MaskKeyUnknownError);
 * - GCM authentication fails: a flipped bit in nonce, ciphertext or tag, a rewritten aad, or
 *   a wrong key (MaskTamperedError);
 * - the authenticated plaintext is not a JSON array of exactly `count` strings
 *   (MaskSealedMalformedError).
 */
export async function openSealedOriginals(record: SealedOriginals, keys: KeyProvider, ctx: ChunkContext): Promise<string[]> {
  const aad = chunkAadFor(ctx);
  if (record.first !== ctx.first || record.count !== ctx.positions.length || record.aad !== aad) {
    throw new MaskContextMismatchError(`chunk sealed for ${record.aad} (first ${record.first}, count ${record.count}), opened for ${aad}`);
  }
  const key = await keys.byId(record.keyId);
  if (!key) throw new MaskKeyUnknownError(`no key with id ${JSON.stringify(record.keyId)}`);
  if (record.nonce.length !== NONCE_BYTES || record.ciphertext.length < TAG_BYTES) throw new MaskTamperedError('nonce or ciphertext has the wrong length');
  let clear: string;
  try {
    const d = createDecipheriv('aes-256-gcm', key.key, record.nonce, { authTagLength: TAG_BYTES });
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(record.ciphertext.subarray(record.ciphertext.length - TAG_BYTES));
    clear = Buffer.concat([d.update(record.ciphertext.subarray(0, record.ciphertext.length - TAG_BYTES)), d.final()]).toString('utf8');
  } catch (cause) {
    throw new MaskTamperedError('the sealed originals do not authenticate: they were altered or the key is wrong', { cause });
  }
  let values: unknown;
  try {
    values = JSON.parse(clear);
  } catch (cause) {
    throw new MaskSealedMalformedError('the sealed originals are not JSON', { cause });
  }
  if (!Array.isArray(values) || values.length !== record.count || !values.every((v) => typeof v === 'string')) {
    throw new MaskSealedMalformedError(`the sealed originals are not an array of exactly ${record.count} strings`);
  }
  return values as string[];
}
