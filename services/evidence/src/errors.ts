// The evidence service's error catalogue (STYLE rule 4).
import { defineError } from '@affidavit/common';

/** EvidenceInputInvalidError: a report was asked for an unknown control or a period that is not `from < to` with zoned times. */
export const EvidenceInputInvalidError = defineError('AFF_E_EVIDENCE_INPUT_INVALID', 'the control or the period of the report is not valid');
/** EvidenceUnsignedError: the ledger holds no signed checkpoint covering the period, so nothing in it can be proven. */
export const EvidenceUnsignedError = defineError('AFF_E_EVIDENCE_UNSIGNED', 'no signed checkpoint covers the entries of the period');
/** EvidenceReportMalformedError: a report file is not a report this version writes (JSON shape, sizes, encodings). */
export const EvidenceReportMalformedError = defineError('AFF_E_EVIDENCE_REPORT_MALFORMED', 'the report file is not a well-formed Affidavit report');
/** EvidenceScanFailedError: part of a log could not be read for a report (a worker failed, or entries the signed checkpoint covers are missing); no report is made without it. */
export const EvidenceScanFailedError = defineError('AFF_E_EVIDENCE_SCAN_FAILED', 'a part of the ledger could not be read for the report');
