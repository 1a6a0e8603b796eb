// Masking rules: which columns and detectors a policy masks, with which style, compiled once
// per policy decision and planned once per result shape.
import type { MaskSpec } from '../policy/types.ts';
import { globMatch } from '../policy/glob.ts';
import { BUILTIN_DETECTORS, expandDetectorNames } from './detectors/registry.ts';
import { MaskRuleInvalidError } from './errors.ts';
import { hmacHasher, maskTyped, type Hasher } from './mask-styles.ts';
import { typeClassOf, type TypeClass } from './pg-types.ts';
import { MASK_STYLES, type ColumnDescription, type Detector, type MaskStyle } from './types.ts';

/**
 * MaskRule names what to mask and how. `columns` are globs (`*` and `?`) over column names
 * (`email`, `*_ssn`) or, with a dot, over `table.column` (`customers.card_number`);
 * `detectors` are detector or group names (`card-number`, `secret`, `all`).
 * - columns only: every value of a matching column is masked whole;
 * - detectors only: the detectors run over every column and mask the spans they find;
 * - both: the detectors run only over the matching columns.
 * `style` defaults to `full` for whole columns and to each detector's own default for spans.
 */
export type MaskRule = {
  readonly id: string;
  readonly columns?: readonly string[];
  readonly detectors?: readonly string[];
  readonly style?: MaskStyle;
};

/** MaskRulesOptions are the inputs of compileMaskRules besides the rules. */
export type MaskRulesOptions = {
  /** hashKey keys the `hash` style's HMAC; required (>= 32 bytes) when a rule uses `hash`. */
  readonly hashKey?: Uint8Array;
  /** detectors replaces the built-in detector set (tests, custom detectors). */
  readonly detectors?: ReadonlyMap<string, Detector>;
};

/** ColumnPlan is what maskRow does to one column; computed once per result shape. */
export type ColumnPlan =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'whole';
      readonly ruleId: string;
      readonly style: MaskStyle;
      readonly cls: TypeClass;
      /**
       * constant is set when every value of the column masks to the same result (e.g. `full`
       * on text is always `********`, any style but `hash` on an integer is NULL), so a row
       * rewriter need not decode the value; undefined when the result depends on the value.
       */
      readonly constant: { readonly value: string | null } | undefined;
      /**
       * nulls is set for columns derived from masked ones: their NULLs are masked too, since a
       * derived expression (`nullif(email, 'a@x')`, `regexp_match(...)`) can turn any
       * condition on the value into NULL or not. Only with a non-NULL constant.
       */
      readonly nulls?: boolean;
    }
  | {
      readonly kind: 'scan';
      readonly detectors: readonly Detector[];
      /** by maps a detector name to the rule (first naming it) and style of its spans. */
      readonly by: ReadonlyMap<string, { readonly ruleId: string; readonly style: MaskStyle }>;
      /** styleOf gives a detector's span style (from `by`), made once per plan. */
      readonly styleOf: (detector: string) => MaskStyle;
      readonly cls: TypeClass;
    };

type CompiledRule = {
  readonly id: string;
  readonly columns: readonly string[] | undefined;
  readonly detectors: readonly Detector[];
  readonly style: MaskStyle | undefined;
};

/** CompiledMaskRules is a validated, frozen rule set; pass it to maskRow. */
export type CompiledMaskRules = {
  readonly rules: readonly CompiledRule[];
  readonly hasher: Hasher | undefined;
  /** planFor returns the per-column plan of a result shape, cached by the columns array's identity. */
  readonly planFor: (columns: readonly ColumnDescription[]) => readonly ColumnPlan[];
};

/**
 * compileMaskRules validates rules (non-empty unique ids, at least one column or detector,
 * known detectors and styles, a hash key when a rule hashes) and returns them ready for
 * maskRow. It throws MaskRuleInvalidError naming every problem.
 */
export function compileMaskRules(rules: readonly MaskRule[], opts: MaskRulesOptions = {}): CompiledMaskRules {
  const known = opts.detectors ?? BUILTIN_DETECTORS;
  const problems: string[] = [];
  const ids = new Set<string>();
  const compiled: CompiledRule[] = [];
  rules.forEach((r, i) => {
    const at = `rules[${i}]`;
    if (typeof r.id !== 'string' || r.id === '') problems.push(`${at}.id must be a non-empty string`);
    else if (ids.has(r.id)) problems.push(`${at}.id "${r.id}" is used twice`);
    else ids.add(r.id);
    if (r.style !== undefined && !MASK_STYLES.includes(r.style)) problems.push(`${at}.style "${String(r.style)}" is not one of ${MASK_STYLES.join(', ')}`);
    const cols = r.columns ?? [];
    const dets = r.detectors ?? [];
    if (cols.length === 0 && dets.length === 0) problems.push(`${at} names no columns and no detectors`);
    if (cols.some((c) => typeof c !== 'string' || c === '')) problems.push(`${at}.columns has an empty name`);
    const { names, unknown } = expandDetectorNames(dets, known);
    for (const u of unknown) problems.push(`${at}.detectors: unknown detector "${u}" (known: ${[...known.keys()].join(', ')}, national-id, secret, all)`);
    compiled.push(
      Object.freeze({
        id: r.id,
        columns: cols.length > 0 ? Object.freeze([...cols]) : undefined,
        detectors: Object.freeze(names.map((n) => known.get(n) as Detector)),
        style: r.style,
      }),
    );
  });
  const hashes = compiled.some((r) => r.style === 'hash');
  if (hashes && (opts.hashKey === undefined || opts.hashKey.length < 32))
    problems.push('a rule uses style "hash" but no hashKey of at least 32 bytes was given');
  if (problems.length > 0) throw new MaskRuleInvalidError(`invalid masking rules: ${problems.join('; ')}`);
  const hasher = opts.hashKey !== undefined && opts.hashKey.length >= 32 ? hmacHasher(opts.hashKey) : undefined;
  const frozen = Object.freeze(compiled);
  const plans = new WeakMap<readonly ColumnDescription[], readonly ColumnPlan[]>();
  return Object.freeze({
    rules: frozen,
    hasher,
    planFor(columns: readonly ColumnDescription[]): readonly ColumnPlan[] {
      let p = plans.get(columns);
      if (!p) {
        p = Object.freeze(columns.map((c) => planColumn(frozen, c)));
        plans.set(columns, p);
      }
      return p;
    },
  });
}

const NONE: ColumnPlan = Object.freeze({ kind: 'none' });

// Types whose text form cannot carry free text: detectors are not run over them.
const NO_SCAN: ReadonlySet<TypeClass> = new Set(['temporal', 'uuid', 'bytea']);

function planColumn(rules: readonly CompiledRule[], col: ColumnDescription): ColumnPlan {
  const cls = typeClassOf(col.typeOid);
  const by = new Map<string, { ruleId: string; style: MaskStyle }>();
  const detectors: Detector[] = [];
  for (const r of rules) {
    if (r.columns !== undefined && !r.columns.some((g) => columnMatches(g, col))) continue;
    if (r.detectors.length === 0) {
      const style = r.style ?? 'full';
      return Object.freeze({ kind: 'whole', ruleId: r.id, style, cls, constant: constantMask(style, cls, col.typeOid) });
    }
    if (NO_SCAN.has(cls)) continue;
    for (const d of r.detectors) {
      if (by.has(d.name)) continue;
      by.set(d.name, { ruleId: r.id, style: r.style ?? d.defaultStyle });
      detectors.push(d);
    }
  }
  const styleOf = (d: string): MaskStyle => by.get(d)?.style ?? 'full';
  return detectors.length === 0 ? NONE : Object.freeze({ kind: 'scan', detectors: Object.freeze(detectors), by, styleOf, cls });
}

/**
 * constantMask returns what maskTyped gives for EVERY value of a column of class `cls` with
 * `style`, or undefined when the result depends on the value. It MUST agree with maskTyped
 * (a property test checks it over all styles, classes and random values); when unsure it
 * returns undefined, which is always safe (the value is then masked one by one).
 */
export function constantMask(style: MaskStyle, cls: TypeClass, oid: number): { readonly value: string | null } | undefined {
  if (style === 'null') return NULL_CONSTANT;
  switch (cls) {
    case 'text':
      return style === 'full' ? Object.freeze({ value: maskTyped('', 'full', oid, undefined, cls) }) : undefined;
    case 'json':
      return style === 'full' ? Object.freeze({ value: maskTyped('', 'full', oid, undefined, cls) }) : undefined;
    case 'integer':
    case 'numeric':
    case 'bytea':
      return style === 'hash' ? undefined : NULL_CONSTANT;
    case 'uuid':
      return style === 'hash' || style === 'keep-last-4' ? undefined : NULL_CONSTANT;
    case 'temporal':
    case 'other':
      return NULL_CONSTANT;
    default: {
      const never: never = cls;
      throw new TypeError(`unknown type class ${String(never)}`);
    }
  }
}

const NULL_CONSTANT = Object.freeze({ value: null });

/**
 * columnMatches tells whether a column glob names `col`. A glob without a dot matches the
 * column name. A glob with a dot matches `table.column` (with and without the table's
 * schema). When the table is unknown (a computed column, a view the proxy cannot see
 * through) it matches on the column part alone: over-masking is safer than leaking.
 */
export function columnMatches(glob: string, col: ColumnDescription): boolean {
  const dot = glob.lastIndexOf('.');
  if (dot < 0) return globMatch(glob, col.name);
  if (col.table === undefined || col.table === '') return globMatch(glob.slice(dot + 1), col.name);
  if (globMatch(glob, `${col.table}.${col.name}`)) return true;
  const tdot = col.table.lastIndexOf('.');
  return tdot >= 0 && globMatch(glob, `${col.table.slice(tdot + 1)}.${col.name}`);
}

/**
 * maskRulesFromPolicy turns a policy decision's `masks` into masking rules: its columns are
 * masked whole (`full`, or `columnStyle`), its detectors mask what they find with their
 * default styles. Rule ids are the policy rule's id, suffixed `#columns` / `#detectors`.
 */
export function maskRulesFromPolicy(ruleId: string, spec: MaskSpec, columnStyle: MaskStyle = 'full'): MaskRule[] {
  const out: MaskRule[] = [];
  if (spec.columns.length > 0) out.push({ id: `${ruleId}#columns`, columns: spec.columns, style: columnStyle });
  if (spec.detectors.length > 0) out.push({ id: `${ruleId}#detectors`, detectors: spec.detectors });
  return out;
}

/** ForcedLineage says why a result position is masked whole regardless of its name. */
export type ForcedLineage = 'plain' | 'derived';

/**
 * withForcedColumns returns `rules` with extra whole-column masks by result position, for
 * columns the lineage analysis found to depend on masked columns under any name. `forced`
 * gives, per result shape (called once per columns array), the positions and their lineage.
 * A plain reference (an aliased masked column) is masked with `style` (the rule's column
 * style, default `full`), as a named column would be; a derived one is always masked `full`
 * (its value is no longer what a style such as `keep-last-4` was meant for), type-aware as
 * constantMask says (text `********`, numbers NULL), and its NULLs too.
 */
export function withForcedColumns(
  rules: CompiledMaskRules,
  forced: (columns: readonly ColumnDescription[]) => ReadonlyMap<number, ForcedLineage>,
  ruleId: string,
  style: MaskStyle = 'full',
): CompiledMaskRules {
  const plans = new WeakMap<readonly ColumnDescription[], readonly ColumnPlan[]>();
  return Object.freeze({
    rules: rules.rules,
    hasher: rules.hasher,
    planFor(columns: readonly ColumnDescription[]): readonly ColumnPlan[] {
      let p = plans.get(columns);
      if (!p) {
        const base = rules.planFor(columns);
        const force = forced(columns);
        p = Object.freeze(
          columns.map((c, i): ColumnPlan => {
            const why = force.get(i);
            if (why === undefined) return base[i];
            const st: MaskStyle = why === 'derived' ? 'full' : style === 'hash' && rules.hasher === undefined ? 'full' : style;
            const cls = typeClassOf(c.typeOid);
            const constant = constantMask(st, cls, c.typeOid);
            const nulls = why === 'derived' && constant !== undefined && constant.value !== null;
            return Object.freeze({ kind: 'whole', ruleId: `${ruleId}#lineage`, style: st, cls, constant, ...(nulls ? { nulls: true } : {}) });
          }),
        );
        plans.set(columns, p);
      }
      return p;
    },
  });
}
