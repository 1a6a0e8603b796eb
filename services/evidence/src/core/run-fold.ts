// Runs a control's fold over entries as they stream past, placing each in the period or before
// it by the event's own time, and keeps what the log evidence needs: per log, the first and last
// index of the period and the highest index any row cites.
import { CONTROLS } from './controls/index.ts';
import type { DraftRow, ReportParams, SavedFold } from './fold.ts';
import type { CitedEntry, ControlId } from './model.ts';

/** LogSpan is one log's part of the period. */
export type LogSpan = { firstIndex: number | null; lastIndex: number | null; entries: number };

/** SavedReportFold is a range's fold and spans as data a worker thread can post. */
export type SavedReportFold = { fold: SavedFold; spans: [string, LogSpan][] };

export type FoldOutcome = { drafts: DraftRow[]; spans: Map<string, LogSpan>; maxCited: Map<string, number> };

/** reportFold feeds a control's fold; `add` takes entries in index order per log. */
export function reportFold(control: ControlId, params: ReportParams) {
  const spec = CONTROLS[control];
  const fold = spec.fold(params);
  const spans = new Map<string, LogSpan>();
  // Entries come log by log: the span of the log being read is kept at hand.
  let spanLog: string | undefined;
  let span: LogSpan | undefined;
  return {
    /** lookBack: the fold wants entries before the period; others may skip decoding them. */
    lookBack: spec.lookBack,
    add(e: CitedEntry): void {
      const t = e.record.occurredAt;
      if (t >= params.to) return;
      const inPeriod = t >= params.from;
      if (inPeriod) {
        if (spanLog !== e.log) {
          spanLog = e.log;
          span = spans.get(e.log);
        }
        if (!span) spans.set(e.log, (span = { firstIndex: e.index, lastIndex: e.index, entries: 0 }));
        span.entries++;
        span.lastIndex = e.index;
      } else if (!spec.lookBack) return;
      fold.add(e, inPeriod);
    },
    /** save: this fold's state as data, for the fold of the range before it (see Fold). */
    save(): SavedReportFold {
      return { fold: fold.save(), spans: [...spans] };
    },
    /** fits: absorbing `later` gives the rows of one pass (see Fold.fits); if not, fold its range here again. */
    fits(later: SavedReportFold): boolean {
      return fold.fits?.(later.fold) ?? true;
    },
    /** absorb merges the saved fold of the range right after everything this one has seen. */
    absorb(later: SavedReportFold): void {
      fold.absorb(later.fold);
      for (const [log, s] of later.spans) {
        const mine = spans.get(log);
        if (!mine) spans.set(log, { ...s });
        else {
          mine.lastIndex = s.lastIndex;
          mine.entries += s.entries;
        }
      }
      spanLog = undefined;
    },
    finish(): FoldOutcome {
      const drafts = fold.finish();
      const maxCited = new Map<string, number>();
      for (const d of drafts) for (const c of d.cites) maxCited.set(c.log, Math.max(maxCited.get(c.log) ?? -1, c.index));
      return { drafts, spans, maxCited };
    },
  };
}
