import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'aff-config-'));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('defaults alone give a valid frozen config with absolute paths under cwd', () => {
  const c = loadConfig({ cwd: dir, env: {} });
  assert.equal(c.dataDir, join(dir, 'data'));
  assert.equal(c.policyFile, join(dir, 'data', 'policy.yaml'));
  assert.equal(c.recording.mode, 'sync');
  assert.ok(Object.isFrozen(c));
});

test('a file overrides defaults, relative paths resolve against the file, users replace', () => {
  const file = write('a.yaml', 'dataDir: ./state\nissuer:\n  users:\n    dave: { groups: [ops] }\npostgres:\n  port: 7000\n');
  const c = loadConfig({ file, cwd: '/', env: {} });
  assert.equal(c.dataDir, join(dir, 'state'));
  assert.deepEqual(Object.keys(c.issuer.users), ['dave']);
  assert.equal(c.postgres.port, 7000);
  assert.equal(c.issuer.audience, 'affidavit', 'unset fields keep their defaults');
});

test('environment overrides the file', () => {
  const file = write('b.yaml', 'postgres:\n  port: 7000\n');
  const c = loadConfig({ file, cwd: dir, env: { AFFIDAVIT_PG_PORT: '7100', AFFIDAVIT_RECORDING_MODE: 'async' } });
  assert.equal(c.postgres.port, 7100);
  assert.equal(c.recording.mode, 'async');
});

test('errors name the bad field', () => {
  assert.throws(() => loadConfig({ file: write('c.yaml', 'postgres:\n  port: 70000\n'), cwd: dir, env: {} }), (e: Error & { code?: string }) => e.code === 'AFF_E_CONFIG_INVALID' && /config\.postgres\.port/.test(e.message));
  assert.throws(() => loadConfig({ file: write('d.yaml', 'recordng: {}\n'), cwd: dir, env: {} }), /unknown field "recordng"/);
  assert.throws(() => loadConfig({ cwd: dir, env: { AFFIDAVIT_PG_PORT: 'abc' } }), /AFFIDAVIT_PG_PORT=abc: must be an integer/);
  assert.throws(() => loadConfig({ file: join(dir, 'missing.yaml'), cwd: dir, env: {} }), /does not exist/);
  assert.throws(() => loadConfig({ file: write('e.yaml', 'a: [\n'), cwd: dir, env: {} }), /not valid YAML/);
});
