// The fold interface every control implements: entries go in one at a time, in ledger order per
// log, and draft rows come out. Folds keep only what they will cite, so a period of millions of
// events is reported in bounded memory.
import type { CitedEntry, Json, LogEvidence, ObjectiveResult, Row, RowKind } from './model.ts';
import type { Pick } from './projection.ts';

/** DraftRow is a row before its cites are proven and its claims derived. */
export type DraftRow = { kind: RowKind; cites: CitedEntry[]; stats?: { [k: string]: Json }; checkpoint?: { log: string; size: number } };

/**
 * Fold receives entries (`inPeriod` false: before the period, for controls that look back) and
 * yields draft rows. A log can be folded in ranges at once (one per thread): each range's fold
 * `save`s its state as plain data, and the fold of the range before it `absorb`s it, with the
 * same rows as one fold over both (fold-split.test.ts checks every control at every split).
 */
export type Fold = {
  add(e: CitedEntry, inPeriod: boolean): void;
  finish(): DraftRow[];
  /** save returns the state as structured-clonable data; cited bytes are copied out of their pages. */
  save(): SavedFold;
  /** absorb merges the saved state of a fold over the entries right after this one's; the earliest fold absorbs the others in order. */
  absorb(later: SavedFold): void;
  /**
   * fits, when a fold has it, says whether absorbing `later` gives the rows of one pass; when it
   * does not (the log broke an order the split relies on), the caller folds the later range
   * again in this fold instead.
   */
  fits?(later: SavedFold): boolean;
};

/** SavedFold is a fold's state as data a worker thread can post (each control knows its shape). */
export type SavedFold = { readonly [k: string]: unknown };

/**
 * portabler returns a copier of cited entries for one save: bytes get their own buffer (a view
 * would post the whole page it is a view of), and an entry held in two places is copied once, so
 * it stays one object on the other side.
 */
export function portabler(): (e: CitedEntry) => CitedEntry {
  const done = new Map<CitedEntry, CitedEntry>();
  return (e) => {
    let p = done.get(e);
    if (!p) done.set(e, (p = { log: e.log, index: e.index, bytes: new Uint8Array(e.bytes), record: e.record }));
    return p;
  };
}

/** reviver returns the inverse for one absorb: bytes as a Buffer again, identity kept. */
export function reviver(): (e: CitedEntry) => CitedEntry {
  const done = new Map<CitedEntry, CitedEntry>();
  return (e) => {
    let r = done.get(e);
    if (!r) done.set(e, (r = { ...e, bytes: Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength) }));
    return r;
  };
}

/** SavedFirstLast is a FirstLast as data. */
export type SavedFirstLast = { first: CitedEntry; last: CitedEntry; count: number };

/** ReportParams are a report's parameters besides the period. */
export type ReportParams = {
  readonly from: number;
  readonly to: number;
  readonly dormantDays: number;
  /** carry: the fold covers a range after the start of a log and will be absorbed into the fold before it. */
  readonly carry?: boolean;
};

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
  save(port: (e: CitedEntry) => CitedEntry): SavedFirstLast {
    return { first: port(this.first), last: port(this.last), count: this.count };
  }
  static restore(s: SavedFirstLast, revive: (e: CitedEntry) => CitedEntry): FirstLast {
    const f = new FirstLast(revive(s.first));
    f.last = revive(s.last);
    f.count = s.count;
    return f;
  }
  /** absorb takes in a group's entries that came after this one's: ties go as in `add` (first stays, last moves on). */
  absorb(later: FirstLast): void {
    this.count += later.count;
    if (later.first.record.occurredAt < this.first.record.occurredAt) this.first = later.first;
    if (later.last.record.occurredAt >= this.last.record.occurredAt) this.last = later.last;
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
