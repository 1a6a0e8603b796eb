// `affidavit policy check` as a user runs it: the real CLI process, its output and exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..', '..', '..');
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'services/cli/src/main.ts'), ...args], { cwd: root, encoding: 'utf8' });

test('the demo policy passes with exit 0', () => {
  const r = cli('policy', 'check', 'test/fixtures/policies/demo.policy.yaml');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ok \(\d+ rules\)/);
});

test('a broken policy names each bad field with its line and exits 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aff-policy-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'version: 1\nrules:\n  - id: x\n    action: allw\n    reason: r\n    bogus: 1\n');
  const r = cli('policy', 'check', file);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /:4:\d+: error: rules\.0\.action/);
  assert.match(r.stdout, /:6:\d+: error: .*unknown field "bogus"/);
});

test('usage errors exit 2 and --help exits 0', () => {
  assert.equal(cli('policy', 'check').status, 2);
  assert.equal(cli('nonsense').status, 2);
  const help = cli('policy', 'check', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: affidavit policy check FILE/);
  assert.match(cli('--help').stdout, /policy check/);
});
