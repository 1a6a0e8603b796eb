// One range of one log read and folded: entries are projected to the fields the control reads
// (or decoded whole when the projection cannot read them), those the newest signed checkpoint
// covers go to the fold, and those past it are only counted when they fall in the period.
// The same code runs in the report's thread and in a fold worker (fold-worker.ts).
import type { Entry, LogStore } from '@affidavit/ledger';
import { codec, LEDGER_RECORD_TYPES } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import { CONTROLS } from '../core/controls/index.ts';
import { entryProjector } from '../core/entry-projector.ts';
import type { ReportParams } from '../core/fold.ts';
import type { ControlId } from '../core/model.ts';
import type { reportFold } from '../core/run-fold.ts';
import { EvidenceScanFailedError } from '../errors.ts';

export type ReportFold = ReturnType<typeof reportFold>;

/** RangeOutcome is what a range adds to the report besides its fold: entries of the period not yet signed, and entries that do not decode. */
export type RangeOutcome = { unsignedInPeriod: number; gaps: string[] };

/** entryPages reads a range page by page where the store can (a report reads every entry of a month). */
async function* entryPages(log: LogStore, from: number, to: number): AsyncIterable<readonly Entry[]> {
  if (log.readEntryPages) {
    yield* log.readEntryPages(from, to);
    return;
  }
  for await (const e of log.readEntries(from, to)) yield [e];
}

/** rangeScanner returns a scanner for one control: it reads entries [from, to) of a log into `fold`; `signedSize` is the newest signed checkpoint's size. */
export function rangeScanner(control: ControlId, params: ReportParams) {
  const c = codec();
  const project = entryProjector(
    LEDGER_RECORD_TYPES.map((t) => c.writerFor(t)),
    CONTROLS[control].fields,
  );
  return async (log: LogStore, from: number, to: number, signedSize: number, fold: ReportFold): Promise<RangeOutcome> => {
    const out: RangeOutcome = { unsignedInPeriod: 0, gaps: [] };
    // A store numbers entries by where it found them: a bundle gone from the file, or cut short,
    // shows as a jump in the indexes. The signed tree still proves every entry that is cited, so
    // only this count can tell a report that silently lacks entries of the period.
    let next = from;
    const missing = (upTo: number) =>
      new EvidenceScanFailedError(
        `log ${log.logId}: entries ${next}..${upTo - 1} of ${from}..${to - 1} are missing from the store (the ledger file was altered or is corrupt)`,
      );
    for await (const page of entryPages(log, from, to))
      for (const e of page) {
        if (e.index !== next) throw missing(e.index > next && e.index <= to ? e.index : to);
        next++;
        let record: LedgerRecord;
        try {
          record = project(e.bytes);
        } catch {
          try {
            record = c.decode(e.bytes);
          } catch {
            out.gaps.push(`log ${log.logId} entry ${e.index}: does not decode with the known schemas`);
            continue;
          }
        }
        if (e.index >= signedSize) {
          if (record.occurredAt >= params.from && record.occurredAt < params.to) out.unsignedInPeriod++;
          continue;
        }
        fold.add({ log: log.logId, index: e.index, bytes: e.bytes, record });
      }
    if (next !== to) throw missing(to);
    return out;
  };
}
