// Key-file adapter of the KeyProvider port: AES-256 keys in a local file readable only by
// its owner. Two formats are read:
//   JSON: {"current": "k2", "keys": {"k1": "<base64>", "k2": "<base64>"}}
//   text: one "<key id> <base64>" per line, `#` comments; the last key is current.
import { randomBytes } from 'node:crypto';
import { chmod, open, readFile, rename, stat } from 'node:fs/promises';
import { MaskKeyInvalidError } from '../errors.ts';
import { KEY_BYTES, KEY_ID_PATTERN, checkDataKey, staticKeyProvider, type DataKey, type KeyProvider } from '../key-provider.ts';

const MAX_FILE_BYTES = 1 << 20;

/** KeyFileOptions tunes loadKeyFile. */
export type KeyFileOptions = {
  /** allowInsecurePermissions accepts a file that group or others may read (never in production). */
  readonly allowInsecurePermissions?: boolean;
};

/** KeyFileProvider is a KeyProvider loaded from a file, with the ids it holds. */
export type KeyFileProvider = KeyProvider & { readonly keyIds: readonly string[]; readonly currentId: string };

/**
 * loadKeyFile reads a key file and returns a provider over its keys. It MUST refuse
 * (MaskKeyInvalidError) a file group or others can access (mode & 0o077, as OpenSSH does
 * for private keys), a file over 1 MiB, a key that is not strict base64 of 32 bytes, a bad
 * or duplicate key id, and a `current` that names no key.
 */
export async function loadKeyFile(path: string, opts: KeyFileOptions = {}): Promise<KeyFileProvider> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (cause) {
    throw new MaskKeyInvalidError(`cannot read key file ${path}`, { cause });
  }
  if (!st.isFile()) throw new MaskKeyInvalidError(`key file ${path} is not a regular file`);
  if (st.size > MAX_FILE_BYTES) throw new MaskKeyInvalidError(`key file ${path} is larger than ${MAX_FILE_BYTES} bytes`);
  if ((st.mode & 0o077) !== 0 && !opts.allowInsecurePermissions) {
    throw new MaskKeyInvalidError(`key file ${path} has mode ${(st.mode & 0o777).toString(8)}; run chmod 600 ${path}`);
  }
  const { keys, currentId } = parseKeyFile(await readFile(path, 'utf8'));
  const provider = staticKeyProvider(keys, currentId);
  return Object.freeze({ ...provider, keyIds: Object.freeze(keys.map((k) => k.keyId)), currentId });
}

/** parseKeyFile parses either key-file format; exported for tests and `affidavit` tooling. */
export function parseKeyFile(text: string): { keys: DataKey[]; currentId: string } {
  const trimmed = text.trimStart();
  const keys: DataKey[] = [];
  let currentId: string | undefined;
  if (trimmed.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch (cause) {
      throw new MaskKeyInvalidError('key file is not valid JSON', { cause });
    }
    const d = doc as { current?: unknown; keys?: unknown };
    if (typeof d.keys !== 'object' || d.keys === null || Array.isArray(d.keys))
      throw new MaskKeyInvalidError('key file JSON needs an object "keys" of id → base64 key');
    for (const [id, b64] of Object.entries(d.keys as Record<string, unknown>)) keys.push(decodeKey(id, b64));
    if (d.current !== undefined) {
      if (typeof d.current !== 'string') throw new MaskKeyInvalidError('key file "current" must be a key id');
      currentId = d.current;
    }
  } else {
    text.split(/\r?\n/).forEach((line, i) => {
      const l = line.trim();
      if (l === '' || l.startsWith('#')) return;
      const parts = l.split(/\s+/);
      if (parts.length !== 2) throw new MaskKeyInvalidError(`key file line ${i + 1}: expected "<key id> <base64 key>"`);
      keys.push(decodeKey(parts[0], parts[1]));
    });
  }
  if (keys.length === 0) throw new MaskKeyInvalidError('key file holds no keys');
  const ids = new Set<string>();
  for (const k of keys) {
    if (ids.has(k.keyId)) throw new MaskKeyInvalidError(`key id ${k.keyId} appears twice`);
    ids.add(k.keyId);
  }
  currentId ??= keys[keys.length - 1].keyId;
  if (!ids.has(currentId)) throw new MaskKeyInvalidError(`current key ${currentId} is not in the file`);
  return { keys, currentId };
}

function decodeKey(id: string, b64: unknown): DataKey {
  if (!KEY_ID_PATTERN.test(id)) throw new MaskKeyInvalidError(`key id ${JSON.stringify(id)} must match ${KEY_ID_PATTERN}`);
  if (typeof b64 !== 'string') throw new MaskKeyInvalidError(`key ${id} must be a base64 string`);
  const key = Buffer.from(b64, 'base64');
  // Node's base64 decoder skips junk silently; re-encoding shows whether the text was strict base64.
  if (key.toString('base64') !== b64) throw new MaskKeyInvalidError(`key ${id} is not canonical base64`);
  if (key.length !== KEY_BYTES) throw new MaskKeyInvalidError(`key ${id} is ${key.length} bytes, not ${KEY_BYTES}`);
  return checkDataKey({ keyId: id, key });
}

/** GenerateKeyFileOptions tunes generateKeyFile. */
export type GenerateKeyFileOptions = {
  readonly keyId?: string;
  /** random supplies key bytes (tests); defaults to crypto.randomBytes. */
  readonly random?: (n: number) => Uint8Array;
};

/**
 * generateKeyFile creates a new JSON key file with one fresh key, mode 0600. It MUST NOT
 * overwrite an existing file (MaskKeyInvalidError): that would make every value sealed with
 * the old keys unreadable. Returns the new key's id.
 */
export async function generateKeyFile(path: string, opts: GenerateKeyFileOptions = {}): Promise<string> {
  const keyId = opts.keyId ?? 'k1';
  const key = checkDataKey({ keyId, key: (opts.random ?? randomBytes)(KEY_BYTES) });
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'wx', 0o600);
  } catch (cause) {
    throw new MaskKeyInvalidError(`cannot create key file ${path} (it may already exist)`, { cause });
  }
  try {
    await fh.chmod(0o600); // the umask can only clear bits, but a pre-set ACL default could add some
    await fh.writeFile(render([key], keyId));
  } finally {
    await fh.close();
  }
  return keyId;
}

/**
 * rotateKeyFile adds a fresh key to an existing key file and makes it current; old keys stay
 * so earlier originals still open. The file is replaced atomically (write a 0600 temporary
 * file, then rename). Returns the new key's id.
 */
export async function rotateKeyFile(path: string, opts: GenerateKeyFileOptions & KeyFileOptions = {}): Promise<string> {
  const { keys } = parseKeyFile(await readFileChecked(path, opts));
  const keyId = opts.keyId ?? `k${keys.length + 1}`;
  if (keys.some((k) => k.keyId === keyId)) throw new MaskKeyInvalidError(`key id ${keyId} already exists`);
  keys.push(checkDataKey({ keyId, key: (opts.random ?? randomBytes)(KEY_BYTES) }));
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(render(keys, keyId));
  } finally {
    await fh.close();
  }
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return keyId;
}

async function readFileChecked(path: string, opts: KeyFileOptions): Promise<string> {
  await loadKeyFile(path, opts); // same checks as loading (mode, size, format)
  return readFile(path, 'utf8');
}

function render(keys: readonly DataKey[], currentId: string): string {
  const obj = { current: currentId, keys: Object.fromEntries(keys.map((k) => [k.keyId, Buffer.from(k.key).toString('base64')])) };
  return `${JSON.stringify(obj, null, 2)}\n`;
}
