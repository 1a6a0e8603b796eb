// Shared vocabulary of the masking module: styles, spans, detectors, column descriptions.

/**
 * MaskStyle says how a value (or a detected span) is rewritten:
 * - `full`: a fixed-length mask (`********`), so the length of the original does not leak;
 * - `keep-last-4`: every letter or digit except the last four becomes `*`, separators stay
 *   (`4111 1111 1111 1234` → `**** **** **** 1234`);
 * - `email`: `alice@example.com` → `a***@example.com` (full mask when not an address);
 * - `hash`: a deterministic keyed HMAC token, so equal values still join;
 * - `null`: SQL NULL.
 */
export type MaskStyle = 'full' | 'keep-last-4' | 'email' | 'hash' | 'null';

/** MASK_STYLES lists every MaskStyle. */
export const MASK_STYLES: readonly MaskStyle[] = Object.freeze(['full', 'keep-last-4', 'email', 'hash', 'null']);

/** Span is a detected piece of a value: UTF-16 offsets `[start, end)` and the detector that found it. */
export type Span = { readonly start: number; readonly end: number; readonly detector: string };

/**
 * Detector finds sensitive spans inside a text value.
 *
 * `find` MUST be pure, MUST run in time linear in `text.length` (no backtracking regular
 * expressions over unbounded input) and MUST append spans to `out` in increasing `start`
 * order without overlaps among its own spans.
 */
export type Detector = {
  readonly name: string;
  /** defaultStyle is used when a rule names the detector without a style. */
  readonly defaultStyle: MaskStyle;
  /**
   * requires is a mask of FEATURE bits (detectors/chars.ts) a value MUST all have for the
   * detector to find anything in it; findSpans skips the detector otherwise. 0 or absent: always run.
   */
  readonly requires?: number;
  readonly find: (text: string, out: Span[]) => void;
};

/** ColumnDescription describes one result column, as a RowDescription message gives it. */
export type ColumnDescription = {
  readonly name: string;
  /** table is the source table's name (optionally schema-qualified) when known, else undefined. */
  readonly table?: string;
  /** typeOid is the PostgreSQL type OID of the column (0 when unknown). */
  readonly typeOid: number;
};

/** ResultRow is one result row in text format: a string per column, null for SQL NULL. */
export type ResultRow = readonly (string | null)[];
