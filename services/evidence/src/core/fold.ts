// The fold interface every control implements: entries go in one at a time, in ledger order per
// log, and draft rows come out. Folds keep only what they will cite, so a period of millions of
// events is reported in bounded memory.
import type { CitedEntry, Json, LogEvidence, ObjectiveResult, Row, RowKind } from './model.ts';
import type { Pick } from './projection.ts';

/** DraftRow is a row before its cites are proven and its claims derived. */
export type DraftRow = { kind: RowKind; cites: CitedEntry[]; stats?: { [k: string]: Json }; checkpoint?: { log: string; size: number } };

/** Fold receives entries (`inPeriod` false: before the period, for controls that look back) and yields draft rows. */
export type Fold = { add(e: CitedEntry, inPeriod: boolean): void; finish(): DraftRow[] };

/** ReportParams are a report's parameters besides the period. */
export type ReportParams = { readonly from: number; readonly to: number; readonly dormantDays: number };

/** ObjectiveInput is what objectives are judged on: the rows, and the problems the chain check found. */
export type ObjectiveInput = { rows: readonly Row[]; chainProblems: readonly string[]; logs: readonly LogEvidence[]; params: ReportParams };

/** ControlSpec is one report: its fold and the SP 800-53A objectives it judges. */
export type ControlSpec = {
  readonly title: string;
  /** lookBack: the fold wants entries before the period too (dormant accounts). */
  readonly lookBack: boolean;
  /** chainRows: the report lists the checkpoint chain as rows (AU-9). */
  readonly chainRows: boolean;
  /** fields are the fields of an entry the fold reads (besides type and occurredAt); entries are projected to them. */
  readonly fields: Pick;
  fold(params: ReportParams): Fold;
  objectives(input: ObjectiveInput): ObjectiveResult[];
  /** gaps names what the ledger's events cannot show for this control. */
  readonly gaps: readonly string[];
};

/** firstLast keeps the first and last entry (by event time) of a group. */
export class FirstLast {
  first: CitedEntry;
  last: CitedEntry;
  count = 1;
  constructor(e: CitedEntry) {
    this.first = e;
    this.last = e;
  }
  add(e: CitedEntry): void {
    this.count++;
    if (e.record.occurredAt < this.first.record.occurredAt) this.first = e;
    if (e.record.occurredAt >= this.last.record.occurredAt) this.last = e;
  }
  /** cites is [first, last], or [first] when they are one entry. */
  cites(): CitedEntry[] {
    return this.first === this.last ? [this.first] : [this.first, this.last];
  }
}

/** objective builds an ObjectiveResult. */
export function objective(id: string, title: string, ok: boolean, reason: string, rows: readonly Row[]): ObjectiveResult {
  return { id, title, state: ok ? 'satisfied' : 'not-satisfied', reason, rows: rows.map((r) => r.id) };
}

/** claim reads a claim as a given type (objectives judge claims, which the verifier re-derives). */
export const claim = <T extends Json>(r: Row, k: string) => r.claims[k] as T;
