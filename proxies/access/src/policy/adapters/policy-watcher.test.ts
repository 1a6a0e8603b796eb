import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyWatcher } from './policy-watcher.ts';
import type { WatcherLogger } from './policy-watcher.ts';
import type { Policy, PolicyFinding } from '../load-policy.ts';

const policyText = (id: string) => `version: 1\nrules:\n  - { id: ${id}, reason: r, action: allow }\n`;

function recordingLogger(): WatcherLogger & { lines: Array<[string, object, string?]> } {
  const lines: Array<[string, object, string?]> = [];
  return {
    lines,
    info: (o, m) => lines.push(['info', o, m]),
    warn: (o, m) => lines.push(['warn', o, m]),
    error: (o, m) => lines.push(['error', o, m]),
  };
}

function next<T>(register: (resolve: (v: T) => void) => void, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out waiting for the watcher')), ms);
    register((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

test('a valid change is applied; an invalid change is rejected and the old policy kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aff-watch-'));
  const path = join(dir, 'policy.yaml');
  writeFileSync(path, policyText('first'));
  const logger = recordingLogger();
  let onChange: (p: Policy) => void = () => {};
  let onRejected: (f: readonly PolicyFinding[]) => void = () => {};
  const w = await PolicyWatcher.start({
    path,
    logger,
    debounceMs: 50,
    onChange: (p) => onChange(p),
    onRejected: (f) => onRejected(f),
  });
  try {
    assert.equal(w.current.rules[0].id, 'first');

    const changed = next<Policy>((r) => (onChange = r));
    writeFileSync(path, policyText('second'));
    assert.equal((await changed).rules[0].id, 'second');
    assert.equal(w.current.rules[0].id, 'second');

    const rejected = next<readonly PolicyFinding[]>((r) => (onRejected = r));
    writeFileSync(path, 'version: 1\nrules:\n  - { id: third, reason: r, action: permit }\n');
    const findings = await rejected;
    assert.match(findings[0].message, /rules.0.action/);
    assert.equal(w.current.rules[0].id, 'second', 'the previous policy stays in force');
    const warn = logger.lines.find((l) => l[0] === 'warn');
    assert.ok(warn && /previous policy stays/.test(warn[2] ?? ''));

    // Editors often save by renaming a new file over the old one.
    const renamed = next<Policy>((r) => (onChange = r));
    writeFileSync(join(dir, 'tmp.yaml'), policyText('fourth'));
    renameSync(join(dir, 'tmp.yaml'), path);
    assert.equal((await renamed).rules[0].id, 'fourth');
  } finally {
    w.close();
  }
});

test('start refuses an invalid file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aff-watch-'));
  const path = join(dir, 'policy.yaml');
  writeFileSync(path, 'version: 1\n');
  await assert.rejects(PolicyWatcher.start({ path, logger: recordingLogger() }), /rules: is required/);
});
