import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAffidavitError } from '@affidavit/common';
import { FIXTURES_DIR } from '../../../../test/fixtures/policies.ts';
import { analysePolicy, parsePolicy } from './load-policy.ts';
import { loadPolicyFile, policyCheck } from './adapters/policy-check.ts';
import { BUILTIN_DETECTORS, DETECTOR_GROUPS, expandDetectorNames } from '../masking/detectors/registry.ts';

const codes = (text: string) => analysePolicy(text).findings.map((f) => `${f.code}@${f.line}`);

test('every example policy in test/fixtures/policies is valid with no warning', async () => {
  const files = readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('.policy.yaml'));
  assert.ok(files.length >= 3);
  for (const f of files) {
    const r = await policyCheck(join(FIXTURES_DIR, f));
    assert.deepEqual(r.findings, [], f);
    assert.equal(r.ok, true);
  }
});

test('lists are expanded into rules', () => {
  const p = parsePolicy(readFileSync(join(FIXTURES_DIR, 'demo.policy.yaml'), 'utf8'));
  const rule = p.rules.find((r) => r.id === 'deny-dangerous-functions')!;
  assert.ok(rule.match.functions!.includes('pg_terminate_backend'));
  assert.ok(!rule.match.functions!.some((f) => f.startsWith('@')));
  assert.ok(Object.isFrozen(p) && Object.isFrozen(p.rules[0]));
});

test('unknown fields are errors naming the field and its line', () => {
  const f = analysePolicy('version: 1\nrules:\n  - id: a\n    reason: r\n    action: allow\n    grups: [x]\n').findings;
  assert.equal(f.length, 1);
  assert.equal(f[0].code, 'schema');
  assert.equal(f[0].message, 'rules.0.grups: unknown field "grups"');
  assert.equal(f[0].line, 6);
});

test('bad values name the field: action, class, missing approvers, mask on a non-mask rule', () => {
  const f = analysePolicy(`version: 1
rules:
  - { id: a, reason: r, action: permit }
  - { id: b, reason: r, action: deny, match: { classes: [selekt] } }
  - { id: c, reason: r, action: require-approval }
  - { id: d, reason: r, action: deny, mask: { columns: [x] } }
`).findings.map((x) => `${x.line}: ${x.message}`);
  assert.ok(
    f.some((m) => m.startsWith('3: rules.0.action: must be one of allow, deny, require-approval, mask')),
    f.join('\n'),
  );
  assert.ok(
    f.some((m) => m.startsWith('4: rules.1.match.classes.0: must be one of')),
    f.join('\n'),
  );
  assert.ok(
    f.some((m) => m.startsWith('5: rules.2.approvers: is required')),
    f.join('\n'),
  );
  assert.ok(
    f.some((m) => m.includes('rules.3') && m.includes('action is not "mask"')),
    f.join('\n'),
  );
});

test('duplicate ids, unknown lists and unknown detectors are errors; shadowed rules are warnings', () => {
  assert.deepEqual(
    codes(`version: 1
rules:
  - { id: a, reason: r, action: deny, match: { functions: ['@nope'] } }
  - { id: a, reason: r, action: mask, match: { classes: [select] }, mask: { detectors: [swift-code] } }
  - { id: everything, reason: r, action: deny }
  - { id: late, reason: r, action: allow, match: { classes: [select] } }
`),
    ['unknown-list@3', 'duplicate-id@4', 'unknown-detector@4', 'unreachable@6'],
  );
  const warn = analysePolicy('version: 1\nrules:\n  - { id: all, reason: r, action: allow }\n  - { id: x, reason: r, action: deny }\n');
  assert.ok(warn.policy, 'warnings alone do not reject the policy');
  assert.equal(warn.findings[0].severity, 'warning');
  const scoped = analysePolicy(
    'version: 1\nrules:\n  - { id: ssh, reason: r, action: allow, target: { kind: ssh } }\n  - { id: pg, reason: r, action: deny, target: { kind: postgres } }\n',
  );
  assert.deepEqual(scoped.findings, [], 'a catch-all for another kind does not shadow');
});

test('custom detector names can be supplied', () => {
  const text = 'version: 1\nrules:\n  - { id: m, reason: r, action: mask, mask: { detectors: [swift-code] } }\n';
  assert.ok(analysePolicy(text, { detectors: ['swift-code'] }).policy);
  assert.equal(analysePolicy(text).policy, undefined);
});

test('every masking detector and group can be selected by a policy, and selects what it names', () => {
  // One source of truth: the names a policy may use are the masking registry's own.
  const names = [...BUILTIN_DETECTORS.keys(), ...Object.keys(DETECTOR_GROUPS)];
  assert.ok(BUILTIN_DETECTORS.has('iban'), 'the registry still has the detector this test was written for');
  for (const name of names) {
    const p = parsePolicy(`version: 1\nrules:\n  - { id: m, reason: r, action: mask, mask: { detectors: [${name}] } }\n`);
    const { names: selected, unknown } = expandDetectorNames(p.rules[0].mask!.detectors);
    assert.deepEqual(unknown, [], name);
    assert.ok(selected.length > 0, name);
    if (BUILTIN_DETECTORS.has(name)) assert.deepEqual(selected, [name]);
  }
  // Every detector is reachable, IBAN included.
  const reachable = new Set(names.flatMap((n) => expandDetectorNames([n]).names));
  assert.deepEqual([...reachable].sort(), [...BUILTIN_DETECTORS.keys()].sort());
});

test('YAML syntax errors carry a line', () => {
  const f = analysePolicy('version: 1\nrules:\n  - id: [unclosed\n').findings;
  assert.equal(f[0].code, 'yaml');
  assert.equal(typeof f[0].line, 'number');
});

test('parsePolicy and loadPolicyFile throw AFF_E_POLICY_INVALID; policyCheck reports unreadable files', async () => {
  assert.throws(
    () => parsePolicy('version: 2\nrules: []\n'),
    (e) => isAffidavitError(e, 'AFF_E_POLICY_INVALID') && /version/.test((e as Error).message),
  );
  const dir = mkdtempSync(join(tmpdir(), 'aff-policy-'));
  writeFileSync(join(dir, 'p.yaml'), 'version: 1\nrules: [{ id: a, reason: r, action: allow, bogus: 1 }]\n');
  await assert.rejects(
    loadPolicyFile(join(dir, 'p.yaml')),
    (e) => isAffidavitError(e, 'AFF_E_POLICY_INVALID') && /line 2: rules.0.bogus/.test((e as Error).message),
  );
  const r = await policyCheck(join(dir, 'missing.yaml'));
  assert.deepEqual([r.ok, r.findings[0].code], [false, 'io']);
});

test('functions: an allow-list is compiled with @lists expanded; bad sections name the field', () => {
  const p = parsePolicy(
    "version: 1\nlists: { safe: [count, lower] }\nfunctions: { mode: allow-list, allow: ['@safe', 'app.*'], target: { kind: postgres } }\nrules: []\n",
  );
  assert.deepEqual(p.functions, { mode: 'allow-list', allow: ['count', 'lower', 'app.*'], target: { kind: 'postgres' } });
  assert.ok(Object.isFrozen(p.functions) && Object.isFrozen(p.functions!.allow));
  assert.equal(parsePolicy('version: 1\nfunctions: { mode: any }\nrules: []\n').functions, undefined);
  const msgs = (text: string) => analysePolicy(text).findings.map((f) => `${f.line}: ${f.message}`);
  assert.deepEqual(msgs('version: 1\nfunctions: { mode: allow-list }\nrules: []\n'), ['2: functions.allow: is required']);
  assert.deepEqual(msgs('version: 1\nfunctions: { mode: any, allow: [x] }\nrules: []\n'), ['2: functions.allow: is only for mode "allow-list"']);
  assert.ok(
    msgs('version: 1\nfunctions: { mode: deny-list, allow: [x] }\nrules: []\n').some((m) => m.includes('functions.mode: must be one of allow-list, any')),
  );
  assert.deepEqual(msgs('version: 1\nfunctions: { mode: allow-list, allow: [x], alow: [y] }\nrules: []\n'), ['2: functions.alow: unknown field "alow"']);
  assert.deepEqual(msgs("version: 1\nfunctions: { mode: allow-list, allow: ['@nope'] }\nrules: []\n"), [
    '2: functions.allow: list "nope" is not defined under lists',
  ]);
});

test('the new classes are classes of their own: a policy naming only old classes does not match them', () => {
  const p = parsePolicy('version: 1\nrules:\n  - { id: w, reason: r, match: { classes: [insert, update, delete, copy-from, copy-to] }, action: allow }\n');
  assert.ok(!p.rules[0].match.classes!.includes('catalog-write'));
  assert.ok(!p.rules[0].match.classes!.includes('copy-file'));
  assert.ok(analysePolicy('version: 1\nrules:\n  - { id: w, reason: r, match: { classes: [catalog-write, copy-file] }, action: deny }\n').policy);
});
