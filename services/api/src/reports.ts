// The `report` query's service: SP 800-53 reports computed by @affidavit/evidence from the same
// read-only ledger store the proofs come from. The API holds no signing key, so its reports are
// unattested (`affidavit verify report --allow-unattested` checks everything else).
import type { DecisionVerifier } from '@affidavit/access';
import { generateReport, toOscal } from '@affidavit/evidence';
import type { Report } from '@affidavit/evidence';
import type { LedgerStore } from '@affidavit/ledger';
import type { NoteVerifier } from '@affidavit/tlog';

/** ReportKeys are the public keys a report's checkpoints and approval decisions are checked with. */
export type ReportKeys = { readonly ledgerKey: NoteVerifier; readonly decisionKeys: readonly DecisionVerifier[] };

/**
 * createReportService answers report(control, from, to) over `ledger`; with `ledgerFile` (the
 * SQLite file `ledger` reads) a big log is read on two cores, one report at a time: a report
 * over a month keeps both cores busy for seconds, so others wait their turn rather than pile up.
 */
export function createReportService(ledger: LedgerStore, keys: ReportKeys, o: { ledgerFile?: string } = {}) {
  let turn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(f: () => Promise<T>): Promise<T> => {
    const run = turn.then(f, f);
    turn = run.catch(() => {});
    return run;
  };
  return {
    async report(control: string, from: Date, to: Date) {
      const r: Report = await inTurn(() =>
        generateReport(ledger, {
          control,
          from,
          to,
          key: keys.ledgerKey,
          decisionKeys: keys.decisionKeys,
          ...(o.ledgerFile ? { ledgerFile: o.ledgerFile } : {}),
        }),
      );
      return {
        control: r.control,
        title: r.title,
        from: r.period.from,
        to: r.period.to,
        rows: r.rows.length,
        objectives: r.objectives,
        gaps: r.gaps,
        json: JSON.stringify(r),
        oscal: JSON.stringify(toOscal(r)),
      };
    },
  };
}

/** ReportService is what createReportService returns. */
export type ReportService = ReturnType<typeof createReportService>;
