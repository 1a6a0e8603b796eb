import { globMatch } from './glob.ts';
import type { Policy, PolicyRule } from './load-policy.ts';
import { ACTION_STRICTNESS } from './types.ts';
import type { PolicyDecision, Operation, PolicyRequest, QualifiedName } from './types.ts';

/**
 * Pure policy evaluation. For every operation of every statement the FIRST matching
 * rule decides (no match: the policy's default action, deny unless configured); across
 * operations the strictest outcome wins (deny > require-approval > mask > allow) and the
 * decision names the rule that produced it.
 */

function nameMatches(pattern: string, q: QualifiedName, defaultSchema: string): boolean {
  const dot = pattern.indexOf('.');
  if (dot < 0) return globMatch(pattern, q.name);
  // Unqualified names resolve through search_path; we take the policy's default schema.
  const schema = q.schema ?? defaultSchema;
  return globMatch(pattern.slice(0, dot), schema) && globMatch(pattern.slice(dot + 1), q.name);
}

/**
 * matchSet applies one list condition. A restricting rule (deny, require-approval, mask)
 * matches when ANY item matches a pattern; an `allow` rule only when there are items and
 * EVERY item matches, so `allow reads: [public.*]` cannot open a join with another schema.
 */
function matchSet<T>(patterns: readonly string[] | undefined, items: readonly T[], every: boolean, pred: (p: string, item: T) => boolean): boolean {
  if (patterns === undefined) return true;
  const one = (item: T): boolean => patterns.some((p) => pred(p, item));
  return every ? items.length > 0 && items.every(one) : items.some(one);
}

function columnMatch(rule: PolicyRule, p: string, c: string): boolean {
  const last = c.slice(c.lastIndexOf('.') + 1);
  // `*` reads every column, so it may touch a listed one; that counts for restricting
  // rules, never for an allow rule (which would otherwise open every column).
  if (last === '*') return rule.action !== 'allow';
  return globMatch(p, last) || globMatch(p, c);
}

function programMatch(p: string, program: string): boolean {
  if (p.includes('/')) return globMatch(p, program, true);
  return globMatch(p, program.slice(program.lastIndexOf('/') + 1));
}

/** ruleMatches tells whether one rule applies to one operation of a request (pure). */
export function ruleMatches(rule: PolicyRule, req: PolicyRequest, op: Operation, defaultSchema: string): boolean {
  const t = rule.target;
  if (t?.kind !== undefined && t.kind !== req.target.kind) return false;
  if (t?.resource !== undefined && !globMatch(t.resource, req.target.resource)) return false;
  if (rule.groups !== undefined && !req.groups.some((g) => rule.groups!.some((p) => globMatch(p, g)))) return false;
  const m = rule.match;
  const every = rule.action === 'allow';
  const name = (p: string, q: QualifiedName): boolean => nameMatches(p, q, defaultSchema);
  if (m.classes !== undefined && !m.classes.includes(op.class)) return false;
  if (!matchSet(m.relations, [...op.reads, ...op.writes], every, name)) return false;
  if (!matchSet(m.reads, op.reads, every, name)) return false;
  if (!matchSet(m.writes, op.writes, every, name)) return false;
  if (!matchSet(m.functions, op.functions, every, name)) return false;
  if (!matchSet(m.columns, op.columns, every, (p, c) => columnMatch(rule, p, c))) return false;
  if (!matchSet(m.settings, op.settings, every, (p, s) => globMatch(p, s))) return false;
  if (!matchSet(m.programs, op.program === undefined ? [] : [op.program], every, programMatch)) return false;
  if (!matchSet(m.paths, op.paths, every, (p, v) => globMatch(p, v, true))) return false;
  return true;
}

/** decideOperation applies first-match-wins to one operation. */
export function decideOperation(policy: Policy, req: PolicyRequest, op: Operation): PolicyDecision {
  if (op.unresolved || op.dynamic) {
    const what = op.dynamic ? 'a program name computed at run time' : `${op.class} of a statement this session never prepared`;
    return {
      action: policy.defaults.onUnparsable,
      ruleId: '(unresolved)',
      reason: `cannot tell what the command does (${what}); policy onUnparsable is ${policy.defaults.onUnparsable}`,
    };
  }
  for (const rule of policy.rules) {
    if (!ruleMatches(rule, req, op, policy.defaults.defaultSchema)) continue;
    return {
      action: rule.action,
      ruleId: rule.id,
      reason: rule.reason,
      ...(rule.mask ? { masks: rule.mask } : {}),
      ...(rule.capture ? { capture: true } : {}),
      ...(rule.approvers ? { approvers: rule.approvers } : {}),
    };
  }
  return {
    action: policy.defaults.action,
    ruleId: '(default)',
    reason: `no rule matches ${op.class}; the default action is ${policy.defaults.action}`,
  };
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
  c.statements.forEach((s, i) => {
    for (const op of s.operations) {
      const d = { ...decideOperation(policy, req, op), statementIndex: i };
      if (d.masks) {
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
    const allowPredicates = [...predicates.allow].filter((c) => !predicates.deny.has(c));
    return { ...final, masks: { columns: [...masks.columns], detectors: [...masks.detectors], ...(allowPredicates.length > 0 ? { allowPredicates } : {}) }, ...(capture ? { capture } : {}) };
  }
  if (final.action === 'allow' && capture) return { ...final, capture };
  return final;
}
