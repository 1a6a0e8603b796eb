import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAffidavitError } from '@affidavit/common';
import { generateKeyFile, loadKeyFile, openOriginal, parseKeyFile, rotateKeyFile, sealOriginal } from './index.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'affidavit-keys-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
const invalid = (e: unknown) => isAffidavitError(e, 'AFF_E_MASK_KEY_INVALID');
const ctx = { sessionId: 's', commandId: 'c', column: 'col', row: 0 };

describe('key-file adapter', () => {
  test('generateKeyFile creates a 0600 file that loads, and refuses to overwrite it', async () => {
    const path = join(dir, 'gen.json');
    assert.equal(await generateKeyFile(path), 'k1');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const p = await loadKeyFile(path);
    assert.deepEqual(p.keyIds, ['k1']);
    assert.equal((await p.current()).key.length, 32);
    await assert.rejects(generateKeyFile(path), invalid);
  });
  test('rotateKeyFile adds a current key and old originals still open', async () => {
    const path = join(dir, 'rot.json');
    await generateKeyFile(path);
    const before = await loadKeyFile(path);
    const rec = sealOriginal('secret', ctx, await before.current());
    assert.equal(await rotateKeyFile(path), 'k2');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const afterRotate = await loadKeyFile(path);
    assert.equal(afterRotate.currentId, 'k2');
    assert.equal(await openOriginal(rec, afterRotate, ctx), 'secret');
  });
  test('a file others can read is refused unless explicitly allowed', async () => {
    const path = join(dir, 'open.txt');
    await writeFile(path, `k1 ${Buffer.alloc(32, 3).toString('base64')}\n`);
    await chmod(path, 0o644);
    await assert.rejects(loadKeyFile(path), (e) => invalid(e) && /chmod 600/.test((e as Error).message));
    const p = await loadKeyFile(path, { allowInsecurePermissions: true });
    assert.deepEqual(Buffer.from((await p.current()).key), Buffer.alloc(32, 3));
  });
  test('a missing file is a typed error', async () => {
    await assert.rejects(loadKeyFile(join(dir, 'none')), invalid);
  });
});

describe('parseKeyFile', () => {
  const b = (n: number) => Buffer.alloc(32, n).toString('base64');
  test('text format: last key is current, comments and blank lines ignored', () => {
    const r = parseKeyFile(`# keys\nold ${b(1)}\n\nnew ${b(2)}\n`);
    assert.deepEqual(
      r.keys.map((k) => k.keyId),
      ['old', 'new'],
    );
    assert.equal(r.currentId, 'new');
  });
  test('JSON format with an explicit current', () => {
    const r = parseKeyFile(JSON.stringify({ current: 'a', keys: { a: b(1), b: b(2) } }));
    assert.equal(r.currentId, 'a');
  });
  test('bad contents are refused', () => {
    assert.throws(() => parseKeyFile(''), invalid);
    assert.throws(() => parseKeyFile(`k1 ${Buffer.alloc(16).toString('base64')}`), /16 bytes/);
    assert.throws(() => parseKeyFile(`k1 ${b(1)}!`), /canonical base64/);
    assert.throws(() => parseKeyFile(`k1 ${b(1)}\nk1 ${b(2)}`), /twice/);
    assert.throws(() => parseKeyFile(`bad/id ${b(1)}`), invalid);
    assert.throws(() => parseKeyFile(JSON.stringify({ current: 'z', keys: { a: b(1) } })), /not in the file/);
    assert.throws(() => parseKeyFile('{"keys": [1]}'), invalid);
    assert.throws(() => parseKeyFile('{not json'), invalid);
  });
});
