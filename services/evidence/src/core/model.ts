// The report's shape. A report is evidence an auditor can check offline: every row names the
// ledger entries it rests on (bytes and inclusion proof against a signed checkpoint), and its
// `claims` are exactly what claims.ts derives from those entries, so a verifier recomputes them.
// `stats` are counts over the whole period; they are not provable from the cited entries alone
// and the report says so.
import type { LedgerRecord } from '@affidavit/schemas';

/** REPORT_FORMAT names this version of the report file. */
export const REPORT_FORMAT = 'affidavit.report/v1';

/** Json is a JSON value. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** CitedEntry is a decoded ledger entry with its position, as the folds see it. */
export type CitedEntry = { readonly log: string; readonly index: number; readonly bytes: Uint8Array; readonly record: LedgerRecord };

/** Cite is a cited entry in the report: its position, bytes (base64) and inclusion proof against its log's `after` checkpoint. */
export type Cite = { log: string; index: number; entry: string; proof: string[] };

/** RowKind names how a row's claims are derived from its cited entries (claims.ts). */
export type RowKind =
  | 'account-use'
  | 'dormant-account'
  | 'privileged-command'
  | 'auth-failure'
  | 'event-type'
  | 'field-completeness'
  | 'field-gap'
  | 'checkpoint'
  | 'approval-decision'
  | 'feeder'
  | 'session-auth';

/** Row is one line of a report. `checkpoint` rows rest on a checkpoint of the chain instead of entries. */
export type Row = {
  id: string;
  kind: RowKind;
  claims: { [k: string]: Json };
  stats: { [k: string]: Json };
  cites: Cite[];
  checkpoint?: { log: string; size: number };
};

/** ObjectiveResult is an SP 800-53A objective's determination, with the rows it rests on. */
export type ObjectiveResult = { id: string; title: string; state: 'satisfied' | 'not-satisfied'; reason: string; rows: string[] };

/** ChainLink is one signed checkpoint of a log in the period, with the consistency proof from the previous link. */
export type ChainLink = { note: string; consistency: string[] };

/**
 * LogEvidence is what proves one log over the period: `before` is the newest checkpoint holding
 * no entry of the period (null: the empty tree), `after` the first one holding all of them; every
 * cite of the log is proven against `after`, and `consistency` proves `before` is a prefix of
 * `after` (nothing of the period was removed or rewritten later). `chain` is every signed
 * checkpoint from `before` to `after` with consistency proofs between neighbours.
 */
export type LogEvidence = {
  log: string;
  origin: string;
  before: string | null;
  after: string;
  consistency: string[];
  chain: ChainLink[];
  period: { firstIndex: number | null; lastIndex: number | null; entries: number };
};

/** Report is one run of one control's report. `attestation` is a signed note over its digest (reports written where the ledger key is). */
export type Report = {
  format: typeof REPORT_FORMAT;
  control: ControlId;
  title: string;
  period: { from: string; to: string };
  parameters: { dormantDays: number };
  generatedAt: string;
  ledgerKey: string;
  logs: LogEvidence[];
  rows: Row[];
  objectives: ObjectiveResult[];
  gaps: string[];
  attestation?: string;
};

/** CONTROL_IDS are the reports there are (one per control family the issue names). */
export const CONTROL_IDS = ['ac-2', 'ac-6.9', 'au-3', 'au-9', 'au-12', 'ia-2'] as const;
export type ControlId = (typeof CONTROL_IDS)[number];
