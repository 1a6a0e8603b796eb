// @affidavit/evidence: NIST SP 800-53 reports computed from the ledger alone, every row proven
// (core/: pure folds, claims, OSCAL, offline verification; adapters/: reading a ledger store).
export type { Report, Row, Cite, LogEvidence, ObjectiveResult, ControlId, RowKind } from './core/model.ts';
export { REPORT_FORMAT, CONTROL_IDS } from './core/model.ts';
export { parseControl, CONTROLS } from './core/controls/index.ts';
export { verifyReport } from './core/verify-report.ts';
export type { ReportVerdict, ReportProblem, VerifyReportOptions } from './core/verify-report.ts';
export { toOscal } from './core/oscal.ts';
export { renderMarkdown } from './core/markdown.ts';
export { renderHtml } from './core/html.ts';
export { generateReport } from './adapters/ledger-report.ts';
export { cachedTileReader } from './adapters/cached-tiles.ts';
export type { ReportRequest } from './adapters/ledger-report.ts';
export { EvidenceInputInvalidError, EvidenceUnsignedError, EvidenceReportMalformedError } from './errors.ts';
