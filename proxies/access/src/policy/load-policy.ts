import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isScalar } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { BUILTIN_DETECTORS, DETECTOR_GROUPS } from '../masking/detectors/registry.ts';
import { PolicyInvalidError } from './errors.ts';
import { isCatchAllGlob } from './glob.ts';
import { POLICY_SCHEMA } from './policy-schema.ts';
import type { Action, OperationClass, TargetKind } from './types.ts';

/**
 * DEFAULT_DETECTORS names what a mask rule may select: every built-in detector of the masking
 * module and every group of them (`national-id`, `secret`, `all`), read from the masking
 * registry itself so the two can never disagree. A mask rule naming anything else is an
 * error, because a detector that does not exist masks nothing.
 */
export const DEFAULT_DETECTORS: readonly string[] = Object.freeze([...BUILTIN_DETECTORS.keys(), ...Object.keys(DETECTOR_GROUPS)]);

/** FunctionPolicy restricts which functions may be called on the targets it names. */
export type FunctionPolicy = {
  readonly mode: 'allow-list';
  /** allow are function globs (`lower`, `pg_catalog.pg_get_*`, `app.f`), `@list` references expanded. */
  readonly allow: readonly string[];
  readonly target?: { readonly kind?: TargetKind; readonly resource?: string };
};

/** PolicyRule is one compiled rule; `@list` references are already expanded. */
export type PolicyRule = {
  readonly id: string;
  readonly reason: string;
  readonly target?: { readonly kind?: TargetKind; readonly resource?: string };
  readonly groups?: readonly string[];
  readonly match: {
    readonly classes?: readonly OperationClass[];
    readonly relations?: readonly string[];
    readonly reads?: readonly string[];
    readonly writes?: readonly string[];
    readonly functions?: readonly string[];
    readonly columns?: readonly string[];
    readonly settings?: readonly string[];
    readonly programs?: readonly string[];
    readonly paths?: readonly string[];
  };
  readonly action: Action;
  readonly approvers?: readonly string[];
  /** mask: `allowPredicates` holds this rule's columns when it says `predicates: allow`. */
  readonly mask?: { readonly columns: readonly string[]; readonly detectors: readonly string[]; readonly allowPredicates?: readonly string[] };
  readonly capture?: boolean;
  /** line is the rule's 1-based line in the source file, for messages. */
  readonly line?: number;
};

/** Policy is a validated, compiled, frozen policy. */
export type Policy = {
  readonly version: 1;
  readonly description?: string;
  readonly defaults: {
    readonly action: 'allow' | 'deny';
    readonly onUnparsable: 'allow' | 'deny';
    readonly defaultSchema: string;
  };
  readonly rules: readonly PolicyRule[];
  /** functions is the function allow-list, absent when every function may be called (mode `any`). */
  readonly functions?: FunctionPolicy;
  /** source names where the policy came from (a path), for logs. */
  readonly source?: string;
};

/** PolicyFinding is one problem found in a policy file. */
export type PolicyFinding = {
  readonly severity: 'error' | 'warning';
  readonly code: 'yaml' | 'schema' | 'duplicate-id' | 'unknown-list' | 'unknown-detector' | 'unreachable' | 'io';
  readonly message: string;
  /** path is the dotted field path, e.g. `rules.2.action`. */
  readonly path?: string;
  readonly line?: number;
  readonly column?: number;
};

/** PolicyAnalysis is the outcome of reading a policy text: the policy when there is no error, and every finding. */
export type PolicyAnalysis = { readonly policy?: Policy; readonly findings: readonly PolicyFinding[] };

/** AnalyseOptions: where the text came from and which detectors exist. */
export type AnalyseOptions = { readonly source?: string; readonly detectors?: readonly string[] };

// strictRequired is off: the if/then branches name properties declared one level up.
const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
const validate = ajv.compile(POLICY_SCHEMA);

const MATCH_FIELDS = ['classes', 'relations', 'reads', 'writes', 'functions', 'columns', 'settings', 'programs', 'paths'] as const;

type RawRule = {
  id: string;
  reason: string;
  target?: { kind?: TargetKind; resource?: string };
  groups?: string[];
  match?: Record<string, string[]>;
  action: Action;
  approvers?: string[];
  mask?: { columns?: string[]; detectors?: string[]; predicates?: 'allow' | 'deny' };
  capture?: boolean;
};
type RawPolicy = {
  version: 1;
  description?: string;
  defaults?: { action?: 'allow' | 'deny'; onUnparsable?: 'allow' | 'deny'; defaultSchema?: string };
  lists?: Record<string, string[]>;
  functions?: { mode: 'allow-list' | 'any'; allow?: string[]; target?: { kind?: TargetKind; resource?: string } };
  rules: RawRule[];
};

/**
 * analysePolicy parses, validates and lints a policy text. It MUST NOT throw on bad
 * input: every problem becomes a finding naming the field and, when known, its YAML line.
 * `policy` is present only when there is no error-severity finding.
 */
export function analysePolicy(text: string, opts: AnalyseOptions = {}): PolicyAnalysis {
  const findings: PolicyFinding[] = [];
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  const at = (path: ReadonlyArray<string | number>, key?: string): { line?: number; column?: number } => {
    let node = doc.getIn(path, true) as YamlNode | undefined;
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      node = (pair?.key as YamlNode | undefined) ?? node;
    }
    const start = node?.range?.[0];
    if (start === undefined) return {};
    const pos = lc.linePos(start);
    return { line: pos.line, column: pos.col };
  };
  for (const e of doc.errors) {
    const pos = e.linePos?.[0];
    findings.push({ severity: 'error', code: 'yaml', message: e.message.split('\n')[0], line: pos?.line, column: pos?.col });
  }
  if (findings.length > 0) return { findings };
  const raw = doc.toJS() as unknown;
  if (!validate(raw)) {
    for (const e of (validate.errors ?? []) as ErrorObject[]) {
      if (e.keyword === 'if') continue; // ajv reports the failing `then` too; `if` adds nothing.
      const segs = e.instancePath
        .split('/')
        .slice(1)
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replaceAll('~1', '/').replaceAll('~0', '~')));
      let field = segs.join('.') || '(root)';
      let message = e.message ?? 'is invalid';
      let key: string | undefined;
      if (e.keyword === 'additionalProperties') {
        key = (e.params as { additionalProperty: string }).additionalProperty;
        field = segs.length ? `${field}.${key}` : key;
        message = `unknown field "${key}"`;
      } else if (e.keyword === 'required') {
        field = segs.length
          ? `${field}.${(e.params as { missingProperty: string }).missingProperty}`
          : (e.params as { missingProperty: string }).missingProperty;
        message = 'is required';
      } else if (e.keyword === 'enum') {
        message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map(String).join(', ')}`;
      } else if (e.keyword === 'not' && segs[0] === 'rules') {
        message = 'has a "mask" section but its action is not "mask"';
      } else if (e.keyword === 'not' && segs[0] === 'functions') {
        field = 'functions.allow';
        message = 'is only for mode "allow-list"';
      }
      findings.push({ severity: 'error', code: 'schema', message: `${field}: ${message}`, path: field, ...at(segs, key) });
    }
    return { findings };
  }
  const p = raw as RawPolicy;
  const lists = p.lists ?? {};
  const detectors = new Set(opts.detectors ?? DEFAULT_DETECTORS);
  const seen = new Map<string, number>();
  const rules: PolicyRule[] = [];

  p.rules.forEach((r, i) => {
    const pos = at(['rules', i]);
    const prev = seen.get(r.id);
    if (prev !== undefined) {
      findings.push({
        severity: 'error',
        code: 'duplicate-id',
        message: `rules.${i}.id: "${r.id}" is already the id of rules.${prev}`,
        path: `rules.${i}.id`,
        ...at(['rules', i, 'id']),
      });
    } else seen.set(r.id, i);
    const expand = (field: string, values: readonly string[] | undefined): string[] | undefined => {
      if (values === undefined) return undefined;
      const out: string[] = [];
      for (const v of values) {
        if (!v.startsWith('@')) {
          out.push(v);
          continue;
        }
        const list = lists[v.slice(1)];
        if (list === undefined) {
          findings.push({
            severity: 'error',
            code: 'unknown-list',
            message: `rules.${i}.${field}: list "${v.slice(1)}" is not defined under lists`,
            path: `rules.${i}.${field}`,
            ...at(['rules', i, 'match', field]),
          });
        } else out.push(...list);
      }
      return out;
    };
    const match: Record<string, readonly string[]> = {};
    for (const f of MATCH_FIELDS) {
      const v = f === 'classes' ? r.match?.[f] : expand(f, r.match?.[f]);
      if (v !== undefined) match[f] = Object.freeze(v);
    }
    for (const d of r.mask?.detectors ?? []) {
      if (!detectors.has(d)) {
        findings.push({
          severity: 'error',
          code: 'unknown-detector',
          message: `rules.${i}.mask.detectors: unknown detector "${d}" (known: ${[...detectors].join(', ')})`,
          path: `rules.${i}.mask.detectors`,
          ...at(['rules', i, 'mask', 'detectors']),
        });
      }
    }
    const rule: PolicyRule = {
      id: r.id,
      reason: r.reason,
      ...(r.target ? { target: Object.freeze({ ...r.target }) } : {}),
      ...(r.groups ? { groups: Object.freeze([...r.groups]) } : {}),
      match: Object.freeze(match),
      action: r.action,
      ...(r.approvers ? { approvers: Object.freeze([...r.approvers]) } : {}),
      ...(r.mask
        ? {
            mask: Object.freeze({
              columns: Object.freeze(r.mask.columns ?? []),
              detectors: Object.freeze(r.mask.detectors ?? []),
              ...(r.mask.predicates === 'allow' ? { allowPredicates: Object.freeze([...(r.mask.columns ?? [])]) } : {}),
            }),
          }
        : {}),
      ...(r.capture !== undefined ? { capture: r.capture } : {}),
      ...(pos.line !== undefined ? { line: pos.line } : {}),
    };
    const shadow = rules.find((earlier) => shadows(earlier, rule));
    if (shadow) {
      findings.push({
        severity: 'warning',
        code: 'unreachable',
        message: `rules.${i} ("${r.id}") can never match: rule "${shadow.id}" before it matches everything it would`,
        path: `rules.${i}`,
        ...pos,
      });
    }
    rules.push(Object.freeze(rule));
  });

  let functions: FunctionPolicy | undefined;
  if (p.functions?.mode === 'allow-list') {
    const allow: string[] = [];
    for (const v of p.functions.allow ?? []) {
      if (!v.startsWith('@')) allow.push(v);
      else if (lists[v.slice(1)] === undefined) {
        findings.push({
          severity: 'error',
          code: 'unknown-list',
          message: `functions.allow: list "${v.slice(1)}" is not defined under lists`,
          path: 'functions.allow',
          ...at(['functions', 'allow']),
        });
      } else allow.push(...lists[v.slice(1)]);
    }
    functions = Object.freeze({
      mode: 'allow-list',
      allow: Object.freeze(allow),
      ...(p.functions.target ? { target: Object.freeze({ ...p.functions.target }) } : {}),
    });
  }

  if (findings.some((f) => f.severity === 'error')) return { findings };
  const policy: Policy = Object.freeze({
    version: 1,
    ...(p.description !== undefined ? { description: p.description } : {}),
    defaults: Object.freeze({
      action: p.defaults?.action ?? 'deny',
      onUnparsable: p.defaults?.onUnparsable ?? 'deny',
      defaultSchema: p.defaults?.defaultSchema ?? 'public',
    }),
    rules: Object.freeze(rules),
    ...(functions ? { functions } : {}),
    ...(opts.source !== undefined ? { source: opts.source } : {}),
  });
  return { policy, findings };
}

/**
 * shadows tells whether `earlier` matches every request `later` would, so `later` is
 * unreachable: `earlier` has no match conditions and no group condition, and its target
 * is at least as wide. (A conservative check: it never reports a reachable rule.)
 */
function shadows(earlier: PolicyRule, later: PolicyRule): boolean {
  if (Object.keys(earlier.match).length > 0 || earlier.groups !== undefined) return false;
  const et = earlier.target;
  if (et?.kind !== undefined && et.kind !== later.target?.kind) return false;
  if (et?.resource !== undefined && !isCatchAllGlob(et.resource) && et.resource !== later.target?.resource) return false;
  return true;
}

/** parsePolicy returns the compiled policy or throws PolicyInvalidError listing every error. */
export function parsePolicy(text: string, opts: AnalyseOptions = {}): Policy {
  const { policy, findings } = analysePolicy(text, opts);
  if (!policy) {
    throw new PolicyInvalidError(`invalid policy${opts.source ? ` ${opts.source}` : ''}: ${formatFindings(findings.filter((f) => f.severity === 'error'))}`);
  }
  return policy;
}

/** formatFindings renders findings one per line: `line 12: rules.3.action: must be one of ...`. */
export function formatFindings(findings: readonly PolicyFinding[], source?: string): string {
  return findings
    .map(
      (f) =>
        `${source ? `${source}:` : ''}${f.line !== undefined ? `${source ? '' : 'line '}${f.line}${f.column !== undefined ? `:${f.column}` : ''}: ` : ''}${f.severity}: ${f.message}`,
    )
    .join('\n');
}
