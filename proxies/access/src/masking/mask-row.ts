import { findSpans } from './detectors/registry.ts';
import { MaskRowShapeError } from './errors.ts';
import { maskSpans, maskTyped } from './mask-styles.ts';
import type { CompiledMaskRules } from './rules.ts';
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

/**
 * maskRow masks one result row. It is pure and MUST NOT change its inputs: when nothing is
 * masked it returns the very `row` it was given (no copy) and an empty list; otherwise a
 * new row where only masked values differ. NULLs are never masked. Throws
 * MaskRowShapeError when `row` and `columns` differ in length.
 */
export function maskRow(row: ResultRow, columns: readonly ColumnDescription[], rules: CompiledMaskRules): MaskRowResult {
  if (row.length !== columns.length) throw new MaskRowShapeError(`row has ${row.length} values but ${columns.length} columns are described`);
  const plans = rules.planFor(columns);
  let out: (string | null)[] | undefined;
  let cells: MaskedCell[] | undefined;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    const plan = plans[i];
    if (v === null || plan.kind === 'none') continue;
    let masked: string | null;
    let ruleId: string;
    let detector: string | null = null;
    if (plan.kind === 'whole') {
      masked = maskTyped(v, plan.style, columns[i].typeOid, rules.hasher, plan.cls);
      ruleId = plan.ruleId;
    } else {
      const spans = findSpans(v, plan.detectors);
      if (spans.length === 0) continue;
      masked = maskSpans(v, spans, plan.styleOf, columns[i].typeOid, rules.hasher, plan.cls);
      if (spans.length === 1) {
        detector = spans[0].detector;
        ruleId = plan.by.get(detector)?.ruleId ?? '';
      } else {
        const dets = [...new Set(spans.map((s) => s.detector))];
        detector = dets.join(',');
        ruleId = [...new Set(dets.map((d) => plan.by.get(d)?.ruleId ?? ''))].join(',');
      }
    }
    out ??= row.slice();
    cells ??= [];
    out[i] = masked;
    cells.push(Object.freeze({ column: i, columnName: columns[i].name, ruleId, detector, original: v, masked }));
  }
  return out === undefined ? { row, masked: NOTHING } : { row: out, masked: cells ?? NOTHING };
}
