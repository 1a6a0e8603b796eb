import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@affidavit/common';
import { privateDataDir, privateFiles } from './private-data.ts';

const logger = createLogger({ name: 'private-data-test', level: 'silent' });
const mode = (p: string) => statSync(p).mode & 0o777;
const paths = (root: string) => ({ dataDir: join(root, 'data'), keysDir: join(root, 'data', 'keys'), ledgerFile: join(root, 'data', 'ledger.sqlite') });

test('given nothing yet, then the folders are created 0700 and the ledger file 0600', () => {
  const previous = process.umask();
  try {
    const p = paths(mkdtempSync(join(tmpdir(), 'aff-private-')));
    assert.deepEqual(privateDataDir(p, logger), []);
    assert.equal(mode(p.dataDir), 0o700);
    assert.equal(mode(p.keysDir), 0o700);
    assert.equal(mode(p.ledgerFile), 0o600);
    assert.equal(statSync(p.ledgerFile).size, 0, 'an empty file, which SQLite opens as a new database');
    // What the process creates afterwards is private too (umask).
    writeFileSync(join(p.dataDir, 'later'), 'x');
    assert.equal(mode(join(p.dataDir, 'later')), 0o600);
  } finally {
    process.umask(previous);
  }
});

test('given a data folder an older version left world-readable, then every private path is tightened and reported', () => {
  const previous = process.umask(0);
  try {
    const p = paths(mkdtempSync(join(tmpdir(), 'aff-private-')));
    mkdirSync(join(p.keysDir, 'tls'), { recursive: true, mode: 0o755 });
    chmodSync(p.dataDir, 0o755);
    for (const f of [p.ledgerFile, `${p.ledgerFile}-wal`, `${p.ledgerFile}-shm`, join(p.keysDir, 'ledger-signing.key'), join(p.keysDir, 'tls', 'proxy.key')])
      writeFileSync(f, 'x', { mode: 0o644 });
    writeFileSync(join(p.keysDir, 'ledger.pub'), 'x', { mode: 0o644 });
    const tightened = privateDataDir(p, logger);
    assert.equal(mode(p.dataDir), 0o700);
    assert.equal(mode(join(p.keysDir, 'tls')), 0o700);
    for (const f of [p.ledgerFile, `${p.ledgerFile}-wal`, `${p.ledgerFile}-shm`, join(p.keysDir, 'ledger-signing.key'), join(p.keysDir, 'tls', 'proxy.key')])
      assert.equal(mode(f), 0o600, f);
    assert.equal(mode(join(p.keysDir, 'ledger.pub')), 0o644, 'a public key may stay readable (its folder is not)');
    assert.ok(tightened.some((t) => t.path === p.ledgerFile && t.from === 0o644 && t.to === 0o600));
    assert.equal(tightened.length, 8);
    assert.deepEqual(privateFiles(p, logger), [], 'a second pass finds nothing left to do');
  } finally {
    process.umask(previous);
  }
});
