// Runs a control's fold over entries as they stream past, placing each in the period or before
// it by the event's own time, and keeps what the log evidence needs: per log, the first and last
// index of the period and the highest index any row cites.
import { CONTROLS } from './controls/index.ts';
import type { DraftRow, ReportParams } from './fold.ts';
import type { CitedEntry, ControlId } from './model.ts';

/** LogSpan is one log's part of the period. */
export type LogSpan = { firstIndex: number | null; lastIndex: number | null; entries: number };

export type FoldOutcome = { drafts: DraftRow[]; spans: Map<string, LogSpan>; maxCited: Map<string, number> };

/** reportFold feeds a control's fold; `add` takes entries in index order per log. */
export function reportFold(control: ControlId, params: ReportParams) {
  const spec = CONTROLS[control];
  const fold = spec.fold(params);
  const spans = new Map<string, LogSpan>();
  return {
    /** lookBack: the fold wants entries before the period; others may skip decoding them. */
    lookBack: spec.lookBack,
    add(e: CitedEntry): void {
      const t = e.record.occurredAt;
      if (t >= params.to) return;
      const inPeriod = t >= params.from;
      if (inPeriod) {
        let s = spans.get(e.log);
        if (!s) spans.set(e.log, (s = { firstIndex: e.index, lastIndex: e.index, entries: 0 }));
        s.entries++;
        s.lastIndex = e.index;
      } else if (!spec.lookBack) return;
      fold.add(e, inPeriod);
    },
    finish(): FoldOutcome {
      const drafts = fold.finish();
      const maxCited = new Map<string, number>();
      for (const d of drafts) for (const c of d.cites) maxCited.set(c.log, Math.max(maxCited.get(c.log) ?? -1, c.index));
      return { drafts, spans, maxCited };
    },
  };
}
