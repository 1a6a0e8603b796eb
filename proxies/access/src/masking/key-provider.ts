// The KeyProvider port: where the keys that seal encrypted originals come from.
import { MaskKeyInvalidError } from './errors.ts';

/** KEY_BYTES is the AES-256 key size. */
export const KEY_BYTES = 32;

/** KEY_ID_PATTERN constrains key ids (they travel in events and file names). */
export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** DataKey is one AES-256 key and its id. */
export type DataKey = { readonly keyId: string; readonly key: Uint8Array };

/**
 * KeyProvider is the port the masking module seals and opens originals with.
 *
 * `current()` MUST return the key new values are sealed with; `byId()` MUST return the key
 * with that id, or undefined when this provider does not hold it (opening then fails with
 * MaskKeyUnknownError). Adapters: `staticKeyProvider` (keys in memory), `loadKeyFile`
 * (a 0600 key file). A KMS adapter fits the same port: `current()` returns a data key the
 * KMS generated (its wrapped form kept as the key id's payload), `byId()` asks the KMS to
 * unwrap; both are async for that reason. The proxy SHOULD call `current()` once per result,
 * not per value.
 */
export type KeyProvider = {
  readonly current: () => Promise<DataKey>;
  readonly byId: (keyId: string) => Promise<DataKey | undefined>;
};

/** checkDataKey throws MaskKeyInvalidError unless `k` has a valid id and a 32-byte key. */
export function checkDataKey(k: DataKey): DataKey {
  if (typeof k.keyId !== 'string' || !KEY_ID_PATTERN.test(k.keyId))
    throw new MaskKeyInvalidError(`key id ${JSON.stringify(k.keyId)} must match ${KEY_ID_PATTERN}`);
  if (!(k.key instanceof Uint8Array) || k.key.length !== KEY_BYTES)
    throw new MaskKeyInvalidError(`key ${k.keyId} must be ${KEY_BYTES} bytes, not ${k.key?.length}`);
  return k;
}

/**
 * staticKeyProvider holds keys in memory; `currentId` (default: the last key) seals new
 * values. Keys are copied, so later changes to the caller's buffers have no effect.
 */
export function staticKeyProvider(keys: readonly DataKey[], currentId?: string): KeyProvider {
  if (keys.length === 0) throw new MaskKeyInvalidError('a key provider needs at least one key');
  const map = new Map<string, DataKey>();
  for (const k of keys) {
    checkDataKey(k);
    if (map.has(k.keyId)) throw new MaskKeyInvalidError(`key id ${k.keyId} appears twice`);
    map.set(k.keyId, Object.freeze({ keyId: k.keyId, key: Uint8Array.from(k.key) }));
  }
  const cur = map.get(currentId ?? keys[keys.length - 1].keyId);
  if (!cur) throw new MaskKeyInvalidError(`current key ${currentId} is not among the keys`);
  return Object.freeze({
    current: async () => cur,
    byId: async (id: string) => map.get(id),
  });
}
