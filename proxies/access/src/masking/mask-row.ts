import { findSpans } from './detectors/registry.ts';
import { MaskRowShapeError } from './errors.ts';
import { maskSpans, maskTyped, type Hasher } from './mask-styles.ts';
import type { ColumnPlan, CompiledMaskRules } from './rules.ts';
import type { ColumnDescription, ResultRow } from './types.ts';

/**
 * MaskedCell records one masked value. `original` is the clear value: it MUST NOT leave the
 * proxy as is; seal it with sealOriginal before it goes into an event.
 */
export type MaskedCell = {
  readonly column: number;
  readonly columnName: string;
  /** ruleId is the id of the rule that masked it; several rules' ids joined by `,`. */
  readonly ruleId: string;
  /** detector names what found the value (several joined by `,`), null for a whole-column rule. */
  readonly detector: string | null;
  readonly original: string;
  /** masked is the value the client gets instead (null for SQL NULL). */
  readonly masked: string | null;
};

/** MaskRowResult is maskRow's output. */
export type MaskRowResult = { readonly row: ResultRow; readonly masked: readonly MaskedCell[] };

const NOTHING: readonly MaskedCell[] = Object.freeze([]);

/** CellMask is how one value was masked: the value the client gets, and by which rule and detector. */
export type CellMask = {
  readonly masked: string | null;
  readonly ruleId: string;
  readonly detector: string | null;
};

/**
 * maskCell masks one non-NULL value of a column with plan `plan` (from `rules.planFor`), or
 * returns undefined when the plan leaves it as it is (no plan, or no detector finds
 * anything). Pure; maskRow and the DataRow rewriter (mask-data-row.ts) both mask through it,
 * so the two cannot disagree.
 */
export function maskCell(plan: ColumnPlan, value: string, column: ColumnDescription, hasher: Hasher | undefined): CellMask | undefined {
  if (plan.kind === 'none') return undefined;
  if (plan.kind === 'whole') {
    const masked = plan.constant !== undefined ? plan.constant.value : maskTyped(value, plan.style, column.typeOid, hasher, plan.cls);
    return { masked, ruleId: plan.ruleId, detector: null };
  }
  const spans = findSpans(value, plan.detectors);
  if (spans.length === 0) return undefined;
  const masked = maskSpans(value, spans, plan.styleOf, column.typeOid, hasher, plan.cls);
  if (spans.length === 1) {
    const detector = spans[0].detector;
    return { masked, ruleId: plan.by.get(detector)?.ruleId ?? '', detector };
  }
  const dets = [...new Set(spans.map((s) => s.detector))];
  return { masked, detector: dets.join(','), ruleId: [...new Set(dets.map((d) => plan.by.get(d)?.ruleId ?? ''))].join(',') };
}

/**
 * maskRow masks one result row. It is pure and MUST NOT change its inputs: when nothing is
 * masked it returns the very `row` it was given (no copy) and an empty list; otherwise a
 * new row where only masked values differ. NULLs are masked only in columns whose plan says
 * `nulls` (derived columns), and are then not listed in `masked` (nothing to seal). Throws
 * MaskRowShapeError when `row` and `columns` differ in length.
 */
export function maskRow(row: ResultRow, columns: readonly ColumnDescription[], rules: CompiledMaskRules): MaskRowResult {
  if (row.length !== columns.length) throw new MaskRowShapeError(`row has ${row.length} values but ${columns.length} columns are described`);
  const plans = rules.planFor(columns);
  let out: (string | null)[] | undefined;
  let cells: MaskedCell[] | undefined;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (v === null) {
      // A derived column's NULL is masked too (rules.ts `nulls`); it has no original to seal.
      const p = plans[i];
      if (p.kind === 'whole' && p.nulls === true && p.constant !== undefined && p.constant.value !== null) {
        out ??= row.slice();
        out[i] = p.constant.value;
      }
      continue;
    }
    const m = maskCell(plans[i], v, columns[i], rules.hasher);
    if (m === undefined) continue;
    out ??= row.slice();
    cells ??= [];
    out[i] = m.masked;
    cells.push(Object.freeze({ column: i, columnName: columns[i].name, ruleId: m.ruleId, detector: m.detector, original: v, masked: m.masked }));
  }
  return out === undefined ? { row, masked: NOTHING } : { row: out, masked: cells ?? NOTHING };
}
