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
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable, written as the user would
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

const names = parsePolicy(`
version: 1
rules:
  - { id: deny-hr, reason: hr is closed, match: { reads: [hr.customers] }, action: deny }
  - { id: mask-customers, reason: pii, match: { reads: [public.customers] }, action: mask, mask: { columns: [email] } }
  - { id: approve-writes, reason: writes, match: { classes: [update], writes: [public.customers] }, action: require-approval, approvers: [leads] }
  - { id: reads-public, reason: public is open, match: { classes: [select], reads: ['public.*'] }, action: allow }
  - { id: updates, reason: updates are open, match: { classes: [update] }, action: allow }
`);
const sel = (...reads: Operation['reads']) => req([[op({ class: 'select', reads: [...reads] })]]);

test('a database-qualified name resolves to the same relation in the session database, else is refused', () => {
  const db = { target: { kind: 'postgres' as const, resource: 'prod-1', database: 'demo' } };
  const mine = { ...sel({ catalog: 'demo', schema: 'public', name: 'customers' }), ...db };
  assert.deepEqual([evaluate(names, mine).action, evaluate(names, mine).ruleId], ['mask', 'mask-customers']);
  const other = { ...sel({ catalog: 'other', schema: 'public', name: 'orders' }), ...db };
  assert.deepEqual([evaluate(names, other).action, evaluate(names, other).ruleId], ['deny', '(cross-database)']);
  assert.match(evaluate(names, other).reason, /other\.public\.orders names database "other", not this session's database "demo"/);
  // Database unknown (no target database, no resolution): the strict reading is the same relation.
  assert.equal(evaluate(names, sel({ catalog: 'whatever', schema: 'public', name: 'customers' })).action, 'mask');
  const upd = req([[op({ class: 'update', writes: [{ catalog: 'demo', schema: 'public', name: 'customers' }] })]]);
  assert.equal(evaluate(names, upd).action, 'require-approval');
  const resolution = { database: 'demo', searchPath: ['public'] };
  assert.equal(evaluate(names, { ...sel({ catalog: 'x', schema: 'public', name: 'orders' }), resolution }).ruleId, '(cross-database)');
  const fn = req([[op({ class: 'select', functions: [{ catalog: 'other', schema: 'pg_catalog', name: 'lower' }] })]], db);
  assert.equal(evaluate(names, fn).ruleId, '(cross-database)');
});

test('unqualified names follow the session search_path: the strictest candidate wins', () => {
  const path = (...searchPath: string[]) => ({ resolution: { database: 'demo', searchPath, user: 'app' } });
  const customers = sel({ name: 'customers' });
  // [hr, public]: hr.customers (deny) or public.customers (mask): deny, though mask comes first.
  const d = evaluate(names, { ...customers, ...path('hr', 'public') });
  assert.deepEqual([d.action, d.ruleId], ['deny', 'deny-hr']);
  assert.match(d.reason, /may resolve to a relation this rule covers/);
  assert.equal(evaluate(names, { ...customers, ...path('public') }).action, 'mask');
  // An allow rule must hold for every candidate: app.orders is not public.*.
  assert.deepEqual([evaluate(names, { ...sel({ name: 'orders' }), ...path('$user', 'public') }).action], ['deny']);
  assert.equal(evaluate(names, { ...sel({ name: 'orders' }), ...path('public') }).action, 'allow');
  // Without a resolution, the policy's defaultSchema is the path.
  assert.equal(evaluate(names, sel({ name: 'orders' })).action, 'allow');
  // A write to customers is held whichever candidate the server picks.
  const upd = req([[op({ class: 'update', writes: [{ name: 'customers' }] })]], path('$user', 'public'));
  assert.deepEqual([evaluate(names, upd).action, evaluate(names, upd).ruleId], ['require-approval', 'approve-writes']);
});

test('a temp table shadowing customers never lifts the rules of the real one', () => {
  // CREATE TEMP TABLE customers, then UPDATE customers: the temp schema is searched first, but
  // public.customers stays a candidate, so the write is still held and reads still masked.
  const resolution = { database: 'demo', searchPath: ['pg_temp', 'public'] };
  const upd = req([[op({ class: 'update', writes: [{ name: 'customers' }] })]], { resolution });
  assert.equal(evaluate(names, upd).action, 'require-approval');
  assert.equal(evaluate(names, { ...sel({ name: 'customers' }), resolution }).action, 'mask');
  // Naming the temp schema explicitly is the temp table only.
  assert.equal(evaluate(names, { ...sel({ schema: 'pg_temp', name: 'customers' }), resolution }).ruleId, '(default)');
});

test('a write that may land in a catalog schema is catalog-write, which rules allowing update do not match', () => {
  const upd = (w: Operation['writes'][number], searchPath = ['public']) =>
    evaluate(names, req([[op({ class: 'update', writes: [w] })]], { resolution: { database: 'demo', searchPath } }));
  assert.deepEqual([upd({ name: 'orders' }).action], ['allow']);
  // Unqualified pg_* may be pg_catalog's (searched first): default deny, not the `updates` allow.
  assert.deepEqual([upd({ name: 'pg_settings' }).action, upd({ name: 'pg_settings' }).ruleId], ['deny', '(default)']);
  // information_schema on the path turns an unqualified write into a possible catalog write.
  assert.equal(upd({ name: 'tables' }, ['information_schema', 'public']).action, 'deny');
  const cw = parsePolicy(
    'version: 1\nrules:\n  - { id: no-catalog, reason: r, match: { classes: [catalog-write] }, action: deny }\n  - { id: rest, reason: r, action: allow }\n',
  );
  assert.equal(
    evaluate(cw, req([[op({ class: 'update', writes: [{ name: 'tables' }] })]], { resolution: { searchPath: ['information_schema'] } })).ruleId,
    'no-catalog',
  );
});

test('a setting the classifier could not name matches every restricting settings rule, no allow rule', () => {
  const p = parsePolicy(`
version: 1
rules:
  - { id: no-path, reason: r, match: { classes: [catalog-write], settings: [search_path] }, action: deny }
  - { id: cw-work-mem, reason: r, match: { classes: [catalog-write], settings: [work_mem] }, action: allow }
`);
  const cw = (settings: string[]) => evaluate(p, req([[op({ class: 'catalog-write', writes: [{ name: 'pg_settings' }], settings })]]));
  assert.equal(cw(['*']).ruleId, 'no-path');
  assert.equal(cw(['work_mem']).ruleId, 'cw-work-mem');
  assert.equal(cw(['search_path']).ruleId, 'no-path');
});

test('function allow-list: only listed functions may be called, named in the refusal', () => {
  const p = parsePolicy(`
version: 1
lists: { safe: [count, lower, 'app.*'] }
functions: { mode: allow-list, allow: ['@safe', now], target: { resource: 'prod-*' } }
rules:
  - { id: all, reason: r, action: allow }
`);
  const call = (...functions: Operation['functions']) => req([[op({ class: 'select', functions: [...functions] })]]);
  assert.equal(evaluate(p, call({ name: 'count' }, { schema: 'pg_catalog', name: 'lower' }, { name: 'now' }, { schema: 'app', name: 'f' })).action, 'allow');
  const d = evaluate(p, call({ name: 'count' }, { name: 'table_to_xml' }));
  assert.deepEqual([d.action, d.ruleId], ['deny', '(function-allow-list)']);
  assert.match(d.reason, /function table_to_xml\(\) is not on this target's function allow-list/);
  // An unqualified entry is the built-in: another schema's function of that name is not allowed.
  assert.match(evaluate(p, call({ schema: 'evil', name: 'lower' })).reason, /evil\.lower\(\)/);
  // Other targets are not governed by this list.
  assert.equal(evaluate(p, call({ name: 'table_to_xml' })).action, 'deny');
  assert.equal(evaluate(p, { ...call({ name: 'table_to_xml' }), target: { kind: 'postgres', resource: 'staging' } }).action, 'allow');
  assert.equal(evaluate(p, call()).action, 'allow');
});

test('a qualified function pattern matches an unqualified call that resolves to it', () => {
  const p = parsePolicy(
    'version: 1\ndefaults: { action: allow }\nrules:\n  - { id: kill, reason: r, match: { functions: [pg_catalog.pg_terminate_backend] }, action: deny }\n  - { id: app, reason: r, match: { functions: [app.f] }, action: deny }\n',
  );
  const call = (f: Operation['functions'][number], searchPath = ['public']) =>
    evaluate(p, req([[op({ class: 'select', functions: [f] })]], { resolution: { searchPath } })).ruleId;
  assert.equal(call({ name: 'pg_terminate_backend' }), 'kill');
  assert.equal(call({ name: 'f' }), '(default)');
  assert.equal(call({ name: 'f' }, ['app', 'public']), 'app');
});

test('a read of a relation the classifier could not name follows onUnparsable with its reason', () => {
  const d = evaluate(
    names,
    req([[op({ class: 'select', unresolved: true, unresolvedReason: 'table_to_xml() reads a relation named by an expression, not a constant' })]]),
  );
  assert.deepEqual([d.action, d.ruleId], ['deny', '(unresolved)']);
  assert.match(d.reason, /table_to_xml\(\) reads a relation named by an expression/);
});

test('with a catalog, a view reads the tables under it', () => {
  const catalog = {
    known: () => true,
    lookup: (s: string, n: string) =>
      s === 'public' && n === 'v_people'
        ? { oid: 9, schema: 'public', name: 'v_people', kind: 'view' as const, reads: [{ schema: 'public', name: 'customers' }] }
        : s === 'public' && n === 'customers'
          ? { oid: 8, schema: 'public', name: 'customers', kind: 'table' as const }
          : undefined,
  };
  const d = evaluate(names, { ...sel({ name: 'v_people' }), resolution: { database: 'demo', searchPath: ['public'], catalog } });
  assert.deepEqual([d.action, d.ruleId], ['mask', 'mask-customers']);
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
  assert.throws(
    () =>
      parsePolicy(`
version: 1
rules:
  - id: m
    reason: m
    action: mask
    mask: { columns: [x], predicates: sometimes }
`),
    /predicates: must be one of allow, deny/,
  );
});

test('a held write that also reads masked columns carries the masks of every matching mask rule', () => {
  const p = parsePolicy(`
version: 1
rules:
  - { id: hold-writes, reason: writes, match: { classes: [update], writes: [customers] }, action: require-approval, approvers: [leads] }
  - { id: mask-pii, reason: pii, match: { classes: [update, select], reads: [customers] }, action: mask, mask: { columns: [email] } }
`);
  const returning = evaluate(p, req([[op({ class: 'update', reads: [{ name: 'customers' }], writes: [{ name: 'customers' }] })]]));
  assert.deepEqual(
    [returning.action, returning.ruleId, returning.maskRuleId, returning.masks?.columns],
    ['require-approval', 'hold-writes', 'mask-pii', ['email']],
  );
  // A write that reads nothing masked is held without masks.
  const blind = evaluate(p, req([[op({ class: 'update', writes: [{ name: 'customers' }] })]]));
  assert.deepEqual([blind.action, blind.masks, blind.maskRuleId], ['require-approval', undefined, undefined]);
});
