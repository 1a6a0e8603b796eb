import { globMatch } from './glob.ts';
import type { Policy, PolicyRule } from './load-policy.ts';
import { effectiveSearchPath, fallbackResolution, isCatalogCandidate, resolveRelation, TEMP_SCHEMA } from './resolve-names.ts';
import type { Candidate } from './resolve-names.ts';
import { ACTION_STRICTNESS } from './types.ts';
import type { MaskSpec, PolicyDecision, Operation, OperationClass, PolicyRequest, QualifiedName, ResolutionContext } from './types.ts';

/**
 * Pure policy evaluation. For every operation of every statement the FIRST matching
 * rule decides (no match: the policy's default action, deny unless configured); across
 * operations the strictest outcome wins (deny > require-approval > mask > allow) and the
 * decision names the rule that produced it.
 *
 * Relation names are resolved as the session's server resolves them (resolve-names.ts):
 * a name may have several candidate relations (an unqualified name and a search_path of
 * several schemas), so a rule can match YES (for every candidate), MAYBE (for some) or NO.
 * Every candidate world is possible, so the decision is the strictest of the rules that
 * MAYBE-match up to the first rule that matches YES (the one every world reaches at the
 * latest), plus the default when no rule matches YES. With one candidate per name, that is
 * plain first-match-wins.
 */

const NO = 0;
const MAYBE = 1;
const YES = 2;
type Tri = 0 | 1 | 2;

/** A relation item of an operation after resolution: each candidate it may be. */
type RelItem = readonly Candidate[];

type Resolved = {
  readonly cls: OperationClass;
  readonly reads: readonly RelItem[];
  readonly writes: readonly RelItem[];
};

const tri = (b: boolean): Tri => (b ? YES : NO);

function patternOnCandidate(pattern: string, c: Candidate): boolean {
  const dot = pattern.indexOf('.');
  if (dot < 0) return globMatch(pattern, c.name);
  return globMatch(pattern.slice(0, dot), c.schema) && globMatch(pattern.slice(dot + 1), c.name);
}

/** relItemTri: does SOME pattern match the relation item, in every world (YES), some (MAYBE) or none (NO)? */
function relItemTri(patterns: readonly string[], item: RelItem): Tri {
  let hits = 0;
  for (const c of item) if (patterns.some((p) => patternOnCandidate(p, c))) hits++;
  return hits === 0 ? NO : hits === item.length ? YES : MAYBE;
}

/**
 * setTri applies one list condition. A restricting rule (deny, require-approval, mask)
 * matches when ANY item matches a pattern; an `allow` rule only when there are items and
 * EVERY item matches, so `allow reads: [public.*]` cannot open a join with another schema.
 */
function setTri<T>(patterns: readonly string[] | undefined, items: readonly T[], every: boolean, itemTri: (ps: readonly string[], item: T) => Tri): Tri {
  if (patterns === undefined) return YES;
  if (every) {
    if (items.length === 0) return NO;
    let t: Tri = YES;
    for (const it of items) t = Math.min(t, itemTri(patterns, it)) as Tri;
    return t;
  }
  let t: Tri = NO;
  for (const it of items) t = Math.max(t, itemTri(patterns, it)) as Tri;
  return t;
}

function functionMatches(pattern: string, q: QualifiedName): boolean {
  const dot = pattern.indexOf('.');
  if (dot < 0) return globMatch(pattern, q.name);
  return q.schema !== undefined && globMatch(pattern.slice(0, dot), q.schema) && globMatch(pattern.slice(dot + 1), q.name);
}

/**
 * functionTri matches a rule's function pattern. An unqualified call resolves in pg_catalog
 * first, then along the search_path, so a `schema.fn` pattern matches it YES for pg_catalog
 * and MAYBE for a schema on the path.
 */
function functionTri(ps: readonly string[], q: QualifiedName, ctx: ResolutionContext): Tri {
  let t: Tri = NO;
  for (const p of ps) {
    if (functionMatches(p, q)) return YES;
    const dot = p.indexOf('.');
    if (dot < 0 || q.schema !== undefined || !globMatch(p.slice(dot + 1), q.name)) continue;
    const schema = p.slice(0, dot);
    if (globMatch(schema, 'pg_catalog')) return YES;
    if (effectiveSearchPath(ctx).some((s) => globMatch(schema, s))) t = MAYBE;
  }
  return t;
}

function columnTri(rule: PolicyRule, ps: readonly string[], c: string): Tri {
  const last = c.slice(c.lastIndexOf('.') + 1);
  // `*` reads every column, so it may touch a listed one; that counts for restricting
  // rules, never for an allow rule (which would otherwise open every column).
  if (last === '*') return rule.action !== 'allow' ? YES : NO;
  return tri(ps.some((p) => globMatch(p, last) || globMatch(p, c)));
}

function settingTri(rule: PolicyRule, ps: readonly string[], s: string): Tri {
  // `*` is "a setting the classifier could not name" (UPDATE pg_settings without a plain WHERE name = ...).
  if (s === '*') return rule.action !== 'allow' ? YES : NO;
  return tri(ps.some((p) => globMatch(p, s)));
}

function programMatch(p: string, program: string): boolean {
  if (p.includes('/')) return globMatch(p, program, true);
  return globMatch(p, program.slice(program.lastIndexOf('/') + 1));
}

/** resolutionOf is the request's resolution context, or the policy's fallback. */
function resolutionOf(policy: Policy, req: PolicyRequest): ResolutionContext {
  const r = req.resolution;
  if (r === undefined) return fallbackResolution(policy.defaults.defaultSchema, req.target.database);
  if (r.database === undefined && req.target.database !== undefined) return { ...r, database: req.target.database };
  return r;
}

/**
 * resolveOperation resolves every relation of `op`, adds the tables under views the catalog
 * knows, and turns a write that may land in a catalog schema into `catalog-write`. It returns
 * a cross-database refusal instead when a name points at another database.
 */
function resolveOperation(op: Operation, ctx: ResolutionContext): Resolved | { readonly otherDatabase: string; readonly name: QualifiedName } {
  const reads: RelItem[] = [];
  const writes: RelItem[] = [];
  // A function of another database fails the same way a relation of one does.
  const foreignFn = op.functions.find((f) => f.catalog !== undefined && ctx.database !== undefined && f.catalog !== ctx.database);
  if (foreignFn) return { otherDatabase: foreignFn.catalog!, name: foreignFn };
  for (const [list, out] of [
    [op.reads, reads],
    [op.writes, writes],
  ] as const) {
    for (const q of list) {
      const r = resolveRelation(q, ctx);
      if (r.kind === 'other-database') return { otherDatabase: r.database, name: q };
      out.push(r.candidates);
    }
  }
  // A view reads the tables under it (as the catalog names them), whatever the view is called.
  if (ctx.catalog) {
    const seen = new Set<string>();
    for (let i = 0; i < reads.length; i++) {
      for (const c of reads[i]) {
        const rel = ctx.catalog.lookup(c.schema, c.name);
        for (const under of rel?.reads ?? []) {
          const key = `${under.schema}.${under.name}`;
          if (seen.has(key)) continue;
          seen.add(key);
          reads.push([{ schema: under.schema, name: under.name }]);
        }
      }
    }
  }
  const catalogWrite =
    (WRITE_LIKE.has(op.class) && writes.some((item) => item.some(isCatalogCandidate))) ||
    (op.class === 'lock' && reads.some((item) => item.some(isCatalogCandidate)));
  return { cls: catalogWrite ? 'catalog-write' : op.class, reads, writes };
}

const WRITE_LIKE: ReadonlySet<OperationClass> = new Set<OperationClass>(['insert', 'update', 'delete', 'merge', 'truncate', 'copy-from']);

/** ruleTri tells whether one rule applies to one resolved operation: YES, MAYBE or NO. */
function ruleTri(rule: PolicyRule, req: PolicyRequest, op: Operation, r: Resolved, ctx: ResolutionContext): Tri {
  const t = rule.target;
  if (t?.kind !== undefined && t.kind !== req.target.kind) return NO;
  if (t?.resource !== undefined && !globMatch(t.resource, req.target.resource)) return NO;
  if (rule.groups !== undefined && !req.groups.some((g) => rule.groups!.some((p) => globMatch(p, g)))) return NO;
  const m = rule.match;
  const every = rule.action === 'allow';
  if (m.classes !== undefined && !m.classes.includes(r.cls)) return NO;
  let out: Tri = YES;
  const and = (x: Tri): boolean => {
    out = Math.min(out, x) as Tri;
    return out === NO;
  };
  if (and(setTri(m.relations, [...r.reads, ...r.writes], every, relItemTri))) return NO;
  if (and(setTri(m.reads, r.reads, every, relItemTri))) return NO;
  if (and(setTri(m.writes, r.writes, every, relItemTri))) return NO;
  if (and(setTri(m.functions, op.functions, every, (ps, f) => functionTri(ps, f, ctx)))) return NO;
  if (and(setTri(m.columns, op.columns, every, (ps, c) => columnTri(rule, ps, c)))) return NO;
  if (and(setTri(m.settings, op.settings, every, (ps, s) => settingTri(rule, ps, s)))) return NO;
  if (and(setTri(m.programs, op.program === undefined ? [] : [op.program], every, (ps, p) => tri(ps.some((x) => programMatch(x, p)))))) return NO;
  if (and(setTri(m.paths, op.paths, every, (ps, v) => tri(ps.some((p) => globMatch(p, v, true)))))) return NO;
  return out;
}

/**
 * ruleMatches tells whether one rule applies to one operation of a request (pure): true only
 * when it applies whatever the operation's names resolve to (a MAYBE is not a match here).
 */
export function ruleMatches(rule: PolicyRule, req: PolicyRequest, op: Operation, defaultSchema: string): boolean {
  const ctx = req.resolution ?? fallbackResolution(defaultSchema, req.target.database);
  const r = resolveOperation(op, ctx);
  if ('otherDatabase' in r) return false;
  return ruleTri(rule, req, op, r, ctx) === YES;
}

/**
 * functionRefusal returns the first function `op` calls that the policy's function allow-list
 * does not list for this target, or undefined. An unqualified allow-list entry allows the
 * built-in (an unqualified or `pg_catalog.` call); any other schema must be listed as such,
 * so `evil.lower()` is not `lower()`.
 */
function functionRefusal(policy: Policy, req: PolicyRequest, op: Operation): QualifiedName | undefined {
  const f = policy.functions;
  if (f === undefined || f.mode !== 'allow-list') return undefined;
  if (f.target?.kind !== undefined && f.target.kind !== req.target.kind) return undefined;
  if (f.target?.resource !== undefined && !globMatch(f.target.resource, req.target.resource)) return undefined;
  const plain = plainNames(f);
  const allowed = (q: QualifiedName): boolean =>
    ((q.schema === undefined || q.schema === 'pg_catalog') && plain.has(q.name)) ||
    f.allow.some((p) => {
      if (p.includes('.')) return q.schema !== undefined && functionMatches(p, q);
      return (q.schema === undefined || q.schema === 'pg_catalog') && globMatch(p, q.name);
    });
  return op.functions.find((q) => !allowed(q));
}

// The unqualified, wildcard-free entries of an allow-list, as a set (a demo list has ~150).
const plainCache = new WeakMap<object, ReadonlySet<string>>();
function plainNames(f: NonNullable<Policy['functions']>): ReadonlySet<string> {
  let set = plainCache.get(f);
  if (!set) {
    set = new Set(f.allow.filter((p) => !p.includes('.') && !p.includes('*') && !p.includes('?')));
    plainCache.set(f, set);
  }
  return set;
}

function display(q: QualifiedName): string {
  return [q.catalog, q.schema, q.name].filter((x) => x !== undefined).join('.');
}

/** decideOperation applies the rules to one operation (first-match-wins per resolution, strictest across resolutions). */
export function decideOperation(policy: Policy, req: PolicyRequest, op: Operation): PolicyDecision {
  // The allow-list first: its refusal names the function, clearer than "cannot tell".
  const fn = functionRefusal(policy, req, op);
  if (fn !== undefined) {
    return {
      action: 'deny',
      ruleId: '(function-allow-list)',
      reason: `function ${display(fn)}() is not on this target's function allow-list`,
    };
  }
  if (op.unresolved || op.dynamic) {
    const what = op.dynamic ? 'a program name computed at run time' : (op.unresolvedReason ?? `${op.class} of a statement this session never prepared`);
    return {
      action: policy.defaults.onUnparsable,
      ruleId: '(unresolved)',
      reason: `cannot tell what the command does (${what}); policy onUnparsable is ${policy.defaults.onUnparsable}`,
    };
  }
  const ctx = resolutionOf(policy, req);
  const r = resolveOperation(op, ctx);
  if ('otherDatabase' in r) {
    return {
      action: 'deny',
      ruleId: '(cross-database)',
      reason: `${display(r.name)} names database "${r.otherDatabase}", not this session's database "${ctx.database}"`,
    };
  }
  let best: { rule: PolicyRule; tri: Tri } | undefined;
  const masks = { columns: new Set<string>(), detectors: new Set<string>() };
  // A column glob may be used in predicates only when every rule masking it allows that.
  const predicates = { allow: new Set<string>(), deny: new Set<string>() };
  let capture = false;
  let decided = false;
  for (const rule of policy.rules) {
    const t = ruleTri(rule, req, op, r, ctx);
    if (t === NO) continue;
    if (rule.mask) {
      for (const c of rule.mask.columns) masks.columns.add(c);
      for (const d of rule.mask.detectors) masks.detectors.add(d);
      const allowed = new Set(rule.mask.allowPredicates ?? []);
      for (const c of rule.mask.columns) (allowed.has(c) ? predicates.allow : predicates.deny).add(c);
      capture ||= rule.capture === true;
    }
    if (!best || ACTION_STRICTNESS[rule.action] > ACTION_STRICTNESS[best.rule.action]) best = { rule, tri: t };
    if (t === YES) {
      decided = true;
      break;
    }
  }
  if (!decided && (!best || ACTION_STRICTNESS[policy.defaults.action] > ACTION_STRICTNESS[best.rule.action])) {
    return {
      action: policy.defaults.action,
      ruleId: '(default)',
      reason: best
        ? `${describe(r)} may resolve to a relation no rule covers; the default action is ${policy.defaults.action}`
        : `no rule matches ${r.cls}; the default action is ${policy.defaults.action}`,
    };
  }
  const rule = best!.rule;
  // A held write that also reads masked columns keeps every matching rule's masks, including
  // rules after the one that decided: approval releases the write, not the values.
  let maskRuleId: string | undefined;
  if (rule.action === 'require-approval') {
    for (const m of policy.rules) {
      if (!m.mask || m.action !== 'mask' || ruleTri(m, req, op, r, ctx) === NO) continue;
      maskRuleId ??= m.id;
      for (const c of m.mask.columns) masks.columns.add(c);
      for (const d of m.mask.detectors) masks.detectors.add(d);
      const allowed = new Set(m.mask.allowPredicates ?? []);
      for (const c of m.mask.columns) (allowed.has(c) ? predicates.allow : predicates.deny).add(c);
    }
  }
  return {
    action: rule.action,
    ruleId: rule.id,
    reason: best!.tri === YES ? rule.reason : `${rule.reason} (${describe(r)} may resolve to a relation this rule covers)`,
    ...(rule.action === 'mask' ? { masks: maskSpec(masks, predicates) } : {}),
    ...(maskRuleId !== undefined ? { masks: maskSpec(masks, predicates), maskRuleId } : {}),
    ...(rule.capture || (rule.action === 'mask' && capture) ? { capture: true } : {}),
    ...(rule.approvers ? { approvers: rule.approvers } : {}),
  };
}

/** maskSpec builds a decision's MaskSpec; `allowPredicates` holds the globs no masking rule denies predicates on. */
function maskSpec(masks: { columns: Set<string>; detectors: Set<string> }, predicates: { allow: Set<string>; deny: Set<string> }): MaskSpec {
  const allowPredicates = [...predicates.allow].filter((c) => !predicates.deny.has(c));
  return { columns: [...masks.columns], detectors: [...masks.detectors], ...(allowPredicates.length > 0 ? { allowPredicates } : {}) };
}

function describe(r: Resolved): string {
  const names = [...r.reads, ...r.writes]
    .filter((i) => i.length > 1 || i[0]?.schema === TEMP_SCHEMA)
    .map((i) => i.map((c) => `${c.schema}.${c.name}`).join(' or '));
  return names.length > 0 ? names.join(', ') : 'a name';
}

/**
 * evaluate decides what the proxy does with one command. It is pure: same policy and
 * request, same decision. It MUST NOT return `allow` for unparsable input unless the
 * policy says `onUnparsable: allow`.
 */
export function evaluate(policy: Policy, req: PolicyRequest): PolicyDecision {
  const c = req.classification;
  if (c.unparsable) {
    return {
      action: policy.defaults.onUnparsable,
      ruleId: '(unparsable)',
      reason: `the command could not be parsed (${c.unparsable.message}); policy onUnparsable is ${policy.defaults.onUnparsable}`,
    };
  }
  let best: PolicyDecision | undefined;
  const masks = { columns: new Set<string>(), detectors: new Set<string>() };
  // A column glob may be used in predicates only when every rule masking it allows that.
  const predicates = { allow: new Set<string>(), deny: new Set<string>() };
  let capture = false;
  let maskRuleId: string | undefined;
  c.statements.forEach((s, i) => {
    for (const op of s.operations) {
      const d = { ...decideOperation(policy, req, op), statementIndex: i };
      if (d.masks) {
        maskRuleId ??= d.maskRuleId ?? d.ruleId;
        for (const col of d.masks.columns) masks.columns.add(col);
        for (const det of d.masks.detectors) masks.detectors.add(det);
        const allowed = new Set(d.masks.allowPredicates ?? []);
        for (const col of d.masks.columns) (allowed.has(col) ? predicates.allow : predicates.deny).add(col);
      }
      capture ||= d.capture === true;
      if (!best || ACTION_STRICTNESS[d.action] > ACTION_STRICTNESS[best.action]) best = d;
    }
  });
  if (!best) return { action: 'allow', ruleId: '(empty)', reason: 'the command holds no statement' };
  const final: PolicyDecision = best;
  if (final.action === 'mask') {
    return { ...final, masks: maskSpec(masks, predicates), ...(capture ? { capture } : {}) };
  }
  // A held statement that also reads masked columns keeps the masks: approval releases the
  // write, not the values (`UPDATE customers … RETURNING email`).
  if (final.action === 'require-approval' && maskRuleId !== undefined) {
    return { ...final, masks: maskSpec(masks, predicates), maskRuleId, ...(capture ? { capture } : {}) };
  }
  if (final.action === 'allow' && capture) return { ...final, capture };
  return final;
}
