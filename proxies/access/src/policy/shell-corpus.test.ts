import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { classifyShell, classifyShellSession } from './classify-shell.ts';
import { classifySftp } from './classify-sftp.ts';
import type { SftpRequest } from './classify-sftp.ts';
import { evaluate } from './evaluate.ts';
import { FIXTURES_DIR } from '../../../../test/fixtures/policies.ts';
import { parsePolicy } from './load-policy.ts';
import type { Action } from './types.ts';

type Case = { line: string; expect: Action; note: string; target?: string; groups?: string[] };
const corpus = parse(readFileSync(join(FIXTURES_DIR, 'shell-corpus.yaml'), 'utf8')) as { policy: string; cases: Case[] };
const policy = parsePolicy(readFileSync(join(FIXTURES_DIR, corpus.policy), 'utf8'));

test('the shell corpus holds at least 40 lines', () => {
  assert.ok(corpus.cases.length >= 40, `only ${corpus.cases.length}`);
});

for (const [i, c] of corpus.cases.entries()) {
  test(`shell corpus #${i} ${c.expect}: ${c.line}`, () => {
    const d = evaluate(policy, {
      target: { kind: 'ssh', resource: c.target ?? 'web-1' },
      groups: c.groups ?? ['engineers'],
      classification: classifyShell(c.line),
    });
    assert.equal(d.action, c.expect, `${c.note}: got ${d.action} by ${d.ruleId} (${d.reason})`);
  });
}

const sftp: Array<[SftpRequest, string[], Action, string]> = [
  [{ operation: 'open', path: '/srv/app/config.yml', flags: { read: true } }, ['engineers'], 'allow', 'read under /srv'],
  [{ operation: 'readdir', path: '/var/log/nginx' }, ['engineers'], 'allow', 'list under /var/log'],
  [{ operation: 'open', path: '/srv/app/x', flags: { write: true, create: true } }, ['engineers'], 'require-approval', 'write under /srv'],
  [{ operation: 'remove', path: '/srv/app/x' }, ['engineers'], 'require-approval', 'remove under /srv'],
  [{ operation: 'open', path: '/etc/shadow', flags: { read: true } }, ['ops'], 'deny', 'secret file'],
  [{ operation: 'open', path: '/srv/../etc/shadow', flags: { read: true } }, ['ops'], 'deny', 'dot-dot is folded before matching'],
  [{ operation: 'open', path: '/srv/../home/bob/x', flags: { read: true } }, ['ops'], 'deny', 'dot-dot leaves /srv'],
  [{ operation: 'rename', path: '/srv/a', targetPath: '/root/.bashrc' }, ['ops'], 'deny', 'rename into a secret path'],
  [{ operation: 'open', path: '/home/bob/notes', flags: { read: true } }, ['ops'], 'deny', 'no rule allows /home'],
  [{ operation: 'symlink', path: '/srv/link', targetPath: '/srv/app' }, ['ops'], 'require-approval', 'symlink under /srv'],
];
for (const [req, groups, expect, note] of sftp) {
  test(`sftp ${req.operation} ${req.path} → ${expect} (${note})`, () => {
    const d = evaluate(policy, { target: { kind: 'ssh', resource: 'web-1' }, groups, classification: classifySftp(req) });
    assert.equal(d.action, expect, `got ${d.ruleId}`);
  });
}

test('interactive shells are for ops only', () => {
  const req = (groups: string[]) => ({ target: { kind: 'ssh' as const, resource: 'web-1' }, groups, classification: classifyShellSession() });
  assert.equal(evaluate(policy, req(['ops'])).action, 'allow');
  assert.equal(evaluate(policy, req(['engineers'])).action, 'deny');
});
