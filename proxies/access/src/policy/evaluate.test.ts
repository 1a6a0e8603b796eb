import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from './evaluate.ts';
import { parsePolicy } from './load-policy.ts';
import type { Classification, Operation, PolicyRequest } from './types.ts';

// Hand-built classifications: evaluate is pure and needs no parser.
function op(o: Partial<Operation> & Pick<Operation, 'class'>): Operation {
  return { reads: [], writes: [], functions: [], columns: [], settings: [], args: [], paths: [], ...o };
}
function req(ops: Operation[][], extra: Partial<PolicyRequest> = {}): PolicyRequest {
  const classification: Classification = { kind: 'sql', text: 'x', statements: ops.map((o) => ({ nodeType: 'X', text: 'x', operations: o })) };
  return { target: { kind: 'postgres', resource: 'prod-1' }, groups: ['dev'], classification, ...extra };
}

const policy = parsePolicy(`
version: 1
rules:
  - id: deny-kill
    reason: no killing
    match: { functions: [pg_terminate_backend] }
    action: deny
  - id: approve-secret-writes
    reason: secrets need approval
    match: { writes: ['secret.*'] }
    action: require-approval
    approvers: [leads]
  - id: mask-a
    reason: a is personal
    match: { reads: [public.a] }
    action: mask
    mask: { columns: [email] }
    capture: true
  - id: mask-b
    reason: b is personal
    match: { reads: [b] }
    action: mask
    mask: { columns: [phone], detectors: [email] }
  - id: reads-public-for-dev
    reason: dev may read public
    groups: [dev]
    target: { kind: postgres, resource: 'prod-*' }
    match: { classes: [select], reads: ['public.*'] }
    action: allow
  - id: all-selects-staging
    reason: staging
    target: { resource: 'staging-*' }
    match: { classes: [select] }
    action: allow
`);

test('first matching rule wins for one operation', () => {
  const d = evaluate(policy, req([[op({ class: 'select', reads: [{ name: 'x' }], functions: [{ name: 'pg_terminate_backend' }] })]]));
  assert.deepEqual([d.action, d.ruleId, d.reason], ['deny', 'deny-kill', 'no killing']);
});

test('no matching rule: default deny naming (default)', () => {
  const d = evaluate(policy, req([[op({ class: 'insert', writes: [{ name: 'x' }] })]]));
  assert.deepEqual([d.action, d.ruleId], ['deny', '(default)']);
});

test('strictest outcome across statements wins and names the deciding rule and statement', () => {
  const d = evaluate(policy, req([[op({ class: 'select', reads: [{ name: 'x' }] })], [op({ class: 'update', writes: [{ schema: 'secret', name: 'k' }] })]]));
  assert.deepEqual([d.action, d.ruleId, d.statementIndex, d.approvers], ['require-approval', 'approve-secret-writes', 1, ['leads']]);
});

test('masks of every masked operation are merged; capture carries over', () => {
  const d = evaluate(policy, req([[op({ class: 'select', reads: [{ name: 'a' }] })], [op({ class: 'select', reads: [{ name: 'b' }] })]]));
  assert.equal(d.action, 'mask');
  assert.deepEqual(d.masks, { columns: ['email', 'phone'], detectors: ['email'] });
  assert.equal(d.capture, true);
});

test('unqualified names take the default schema; other schemas do not match public.*', () => {
  assert.equal(evaluate(policy, req([[op({ class: 'select', reads: [{ name: 'x' }] })]])).action, 'allow');
  assert.equal(evaluate(policy, req([[op({ class: 'select', reads: [{ schema: 'hr', name: 'x' }] })]])).ruleId, '(default)');
});

test('an allow rule needs EVERY relation to match; a join into another schema is not allowed', () => {
  const d = evaluate(policy, req([[op({ class: 'select', reads: [{ name: 'x' }, { schema: 'hr', name: 'pay' }] })]]));
  assert.equal(d.action, 'deny');
});

test('groups are any-of and targets are globs', () => {
  const o = [[op({ class: 'select', reads: [{ name: 'x' }] })]];
  assert.equal(evaluate(policy, req(o, { groups: ['ops', 'dev'] })).action, 'allow');
  assert.equal(evaluate(policy, req(o, { groups: ['ops'] })).action, 'deny');
  assert.equal(evaluate(policy, req(o, { groups: [], target: { kind: 'postgres', resource: 'staging-3' } })).ruleId, 'all-selects-staging');
  assert.equal(evaluate(policy, req(o, { target: { kind: 'ssh', resource: 'prod-1' } })).ruleId, '(default)');
});

test('unparsable and unresolved follow onUnparsable (deny by default, allow when configured)', () => {
  const bad: PolicyRequest = { ...req([]), classification: { kind: 'sql', text: 'x', statements: [], unparsable: { message: 'syntax error' } } };
  assert.deepEqual([evaluate(policy, bad).action, evaluate(policy, bad).ruleId], ['deny', '(unparsable)']);
  assert.match(evaluate(policy, bad).reason, /syntax error/);
  const lax = parsePolicy('version: 1\ndefaults: { onUnparsable: allow }\nrules: []\n');
  assert.equal(evaluate(lax, bad).action, 'allow');
  assert.equal(evaluate(policy, req([[op({ class: 'execute', unresolved: true })]])).ruleId, '(unresolved)');
  assert.equal(evaluate(lax, req([[op({ class: 'exec', program: '${X}', dynamic: true })]])).action, 'allow');
});

test('default action allow is honoured; empty input is allowed', () => {
  const open = parsePolicy('version: 1\ndefaults: { action: allow }\nrules: []\n');
  assert.equal(evaluate(open, req([[op({ class: 'ddl' })]])).action, 'allow');
  assert.deepEqual([evaluate(policy, req([])).action, evaluate(policy, req([])).ruleId], ['allow', '(empty)']);
});

test('a star column counts for restricting rules but not for allow rules', () => {
  const p = parsePolicy(`
version: 1
rules:
  - { id: ssn, reason: r, match: { columns: [ssn] }, action: require-approval, approvers: [a] }
  - { id: ok, reason: r, match: { columns: [id, name] }, action: allow }
`);
  assert.equal(evaluate(p, req([[op({ class: 'select', columns: ['*'] })]])).ruleId, 'ssn');
  assert.equal(evaluate(p, req([[op({ class: 'select', columns: ['t.id', 'name'] })]])).ruleId, 'ok');
  assert.equal(evaluate(p, req([[op({ class: 'select', columns: ['id', 'salary'] })]])).ruleId, '(default)');
});

test('evaluate is pure: same input, same output, input untouched', () => {
  const r = req([[op({ class: 'select', reads: [{ name: 'a' }] })]]);
  const before = JSON.stringify(r);
  assert.deepEqual(evaluate(policy, r), evaluate(policy, r));
  assert.equal(JSON.stringify(r), before);
});

test('predicates on masked columns: allowed only where every rule masking the column allows them', () => {
  const p = parsePolicy(`
version: 1
rules:
  - id: mask-a
    reason: a
    match: { reads: [a] }
    action: mask
    mask: { columns: [email, name], predicates: allow }
  - id: mask-b
    reason: b
    match: { reads: [b] }
    action: mask
    mask: { columns: [name] }
  - id: mask-c
    reason: c
    match: { reads: [c] }
    action: mask
    mask: { columns: [phone], predicates: deny }
`);
  assert.deepEqual(p.rules[0].mask?.allowPredicates, ['email', 'name']);
  assert.equal(p.rules[2].mask?.allowPredicates, undefined);
  const a = evaluate(p, req([[op({ class: 'select', reads: [{ name: 'a' }] })]]));
  assert.deepEqual(a.masks?.allowPredicates, ['email', 'name']);
  const ab = evaluate(p, req([[op({ class: 'select', reads: [{ name: 'a' }] })], [op({ class: 'select', reads: [{ name: 'b' }] })]]));
  assert.deepEqual(ab.masks?.allowPredicates, ['email']);
  const c = evaluate(p, req([[op({ class: 'select', reads: [{ name: 'c' }] })]]));
  assert.equal(c.masks?.allowPredicates, undefined);
  assert.throws(() => parsePolicy(`
version: 1
rules:
  - id: m
    reason: m
    action: mask
    mask: { columns: [x], predicates: sometimes }
`), /predicates: must be one of allow, deny/);
});
