// The lineage gate: what a `mask` decision means for one statement beyond masking columns by
// name. It runs the pure lineage analysis (@affidavit/access masking/lineage.ts) over the
// statement the server will run, and either refuses it (a masked column in a predicate, a side
// channel, a failing cast, DML or COPY that would carry it out unmasked) or tells the result
// masker which positions to mask whole and whether the server's error and notice texts must be
// withheld (they can quote values: `invalid input syntax for type integer: "alice@..."`).
import {
  analyseLineage,
  columnMatches,
  forcedColumns,
  parsePostgres,
  type Classification,
  type ColumnDescription,
  type ForcedLineage,
  type LineageVerdict,
  type MaskSpec,
  type OutputSlot,
  type StatementLineage,
} from '@affidavit/access';
import { parseErrorFields } from './backend-messages.ts';
import { PgMaskLineageError, PgMaskedMessageError } from './errors.ts';
import { errorResponse, noticeResponse, type ErrorFields, type ErrorSeverity } from './wire/index.ts';

/** MaskLineage is what the result masker of one command needs from the gate. */
export type MaskLineage = {
  /**
   * forced gives, for a result shape (called once per RowDescription's columns), the positions
   * to mask whole whatever their names; undefined when the names suffice.
   */
  readonly forced?: (columns: readonly ColumnDescription[]) => ReadonlyMap<number, ForcedLineage>;
  /** masksMessages: the statement reads masked columns, so its error and notice texts are withheld. */
  readonly masksMessages: boolean;
};

/** LineageGateOutcome is the gate's answer for one masked statement. */
export type LineageGateOutcome =
  | { readonly kind: 'refuse'; readonly reason: string; readonly error: ErrorFields }
  | { readonly kind: 'mask'; readonly lineage: MaskLineage };

const CACHE_LIMIT = 512;
// Verdicts by spec and text: the analysis is pure, and a repeated statement is common.
const verdicts = new Map<string, LineageVerdict>();
// What PREPARE and DECLARE define, by the frozen operations list the session's PreparedRegistry
// hands to the EXECUTE or FETCH of that name (the same object), then by spec.
const defined = new WeakMap<object, Map<string, StatementLineage>>();

const ALL_DERIVED = (columns: readonly ColumnDescription[]): ReadonlyMap<number, ForcedLineage> => new Map(columns.map((_, i) => [i, 'derived' as const]));

/**
 * lineageGate decides what a `mask` decision of rule `ruleId` with `spec` means for the
 * statement `text` (as the server will run it; `cls` its classification, resolved through the
 * session's prepared statements and cursors). It MUST refuse rather than guess: a text that
 * does not parse, several row-returning statements when one of them needs positions masked,
 * or an analysis refusal. EXECUTE/FETCH of a name whose defining statement it has not seen get
 * every result column masked.
 */
export function lineageGate(text: string, cls: Classification, ruleId: string, spec: MaskSpec): LineageGateOutcome {
  const specKey = JSON.stringify([spec.columns, spec.allowPredicates ?? []]);
  const verdict = verdictFor(text, specKey, spec);
  if (verdict.kind === 'refuse') return refuse(ruleId, verdict.reason);
  const rows: { slots: readonly OutputSlot[] | undefined }[] = [];
  verdict.statements.forEach((st, i) => {
    const ops = cls.statements[i]?.operations;
    if (st.defines && ops) {
      let m = defined.get(ops);
      if (!m) defined.set(ops, (m = new Map()));
      m.set(specKey, st.defines.inner);
    }
    if (st.indirect) {
      const inner = ops ? defined.get(ops)?.get(specKey) : undefined;
      rows.push({ slots: inner?.slots });
    } else if (st.slots.length > 0) rows.push({ slots: st.slots });
  });
  // A plain column under a masked name, and `*` of a base table, are masked by name already.
  const byName = (s: OutputSlot): boolean =>
    s.kind === 'expansion' ? s.byName : s.lineage === 'plain' && spec.columns.some((g) => columnMatches(g, { name: s.name, typeOid: 0 }));
  const needs = rows.filter((r) => r.slots === undefined || r.slots.some((s) => s.lineage !== 'clear' && !byName(s)));
  const touches = verdict.touches || rows.some((r) => r.slots === undefined);
  if (needs.length === 0) return { kind: 'mask', lineage: { masksMessages: touches } };
  if (rows.length > 1)
    return refuse(ruleId, 'several statements of this query string return rows, and one returns columns derived from masked ones; send them one at a time');
  const slots = needs[0].slots;
  // A plain column the result still names as masked is left to the name-based plan (same
  // mask, and DataMasked keeps naming the `#columns` rule).
  const named = (c: ColumnDescription | undefined): boolean => c !== undefined && spec.columns.some((g) => columnMatches(g, c));
  const forced =
    slots === undefined
      ? ALL_DERIVED
      : (columns: readonly ColumnDescription[]) =>
          new Map(
            forcedColumns(slots, columns.length)
              .filter((f) => f.lineage === 'derived' || !named(columns[f.position]))
              .map((f) => [f.position, f.lineage] as const),
          );
  return { kind: 'mask', lineage: { forced, masksMessages: true } };
}

function verdictFor(text: string, specKey: string, spec: MaskSpec): LineageVerdict {
  const key = `${specKey}\u0000${text}`;
  let v = verdicts.get(key);
  if (v) return v;
  const parsed = parsePostgres(text);
  try {
    v = parsed.ok
      ? analyseLineage(parsed.tree, { columns: spec.columns, allowPredicates: spec.allowPredicates ?? [] })
      : { kind: 'refuse', reason: `the statement could not be parsed for masking (${parsed.message})` };
  } catch (e) {
    // A tree the analysis does not expect: refuse the statement, not the session.
    v = { kind: 'refuse', reason: `the statement's column lineage could not be analysed (${(e as Error).message})` };
  }
  if (verdicts.size >= CACHE_LIMIT) verdicts.delete(verdicts.keys().next().value as string);
  verdicts.set(key, v);
  return v;
}

function refuse(ruleId: string, reason: string): LineageGateOutcome {
  const err = new PgMaskLineageError();
  return {
    kind: 'refuse',
    reason,
    error: {
      severity: 'ERROR',
      code: '42501',
      message: `Affidavit policy rule "${ruleId}" masks columns this statement uses in a way that cannot be masked: ${reason} (${err.code})`,
    },
  };
}

const SEVERITIES: ReadonlySet<string> = new Set<ErrorSeverity>(['ERROR', 'FATAL', 'PANIC', 'WARNING', 'NOTICE', 'DEBUG', 'INFO', 'LOG']);

/**
 * withheldMessage rewrites an ErrorResponse or NoticeResponse (`raw`, type byte included) of a
 * statement that reads masked columns: severity and SQLSTATE are kept (clients act on them),
 * message, detail, hint, context and the rest are replaced by a text naming the rule, since
 * the server quotes values in them (`invalid input syntax for type integer: "..."`).
 */
export function withheldMessage(raw: Buffer, ruleId: string): Buffer {
  const f = parseErrorFields(raw);
  const severity = (SEVERITIES.has(f.severity) ? f.severity : 'ERROR') as ErrorSeverity;
  const code = /^[0-9A-Z]{5}$/.test(f.code) ? f.code : 'XX000';
  const err = new PgMaskedMessageError();
  const fields: ErrorFields = {
    severity,
    code,
    message: `the server's ${raw[0] === 0x45 ? 'error' : 'notice'} text was withheld because this statement reads columns masked by policy rule "${ruleId}" and the text may quote their values; SQLSTATE ${code} (${err.code})`,
  };
  return raw[0] === 0x45 ? errorResponse(fields) : noticeResponse(fields);
}

/**
 * messageOf is the session's hook for server errors and notices: `head` is the session's
 * oldest expectation; when it is a running command whose masker withholds texts, the
 * rewritten message is returned, else `raw` itself.
 */
export function messageOf(head: { readonly kind: string; readonly cmd?: { message(raw: Buffer): Buffer } } | undefined, raw: Buffer): Buffer {
  if (head === undefined || (head.kind !== 'query' && head.kind !== 'execute') || head.cmd === undefined) return raw;
  return head.cmd.message(raw);
}
