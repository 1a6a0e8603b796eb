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

/** createReportService answers report(control, from, to) over `ledger`. */
export function createReportService(ledger: LedgerStore, keys: ReportKeys) {
  return {
    async report(control: string, from: Date, to: Date) {
      const r: Report = await generateReport(ledger, { control, from, to, key: keys.ledgerKey, decisionKeys: keys.decisionKeys });
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
