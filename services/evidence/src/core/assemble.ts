// Turns a fold's draft rows into a report: numbers the rows in a stable order, attaches each
// cited entry's bytes and inclusion proof, derives the claims, and judges the objectives.
import { createHash } from 'node:crypto';
import type { NoteVerifier } from '@affidavit/tlog';
import { encodeBase64 } from '@affidavit/tlog';
import { checkLogEvidence, keyId } from './chain.ts';
import { type DeriveContext, deriveClaims } from './claims.ts';
import { CONTROLS } from './controls/index.ts';
import type { DraftRow, ReportParams } from './fold.ts';
import type { ControlId, LogEvidence, Report, Row, RowKind } from './model.ts';
import { REPORT_FORMAT } from './model.ts';

const KIND_ORDER: readonly RowKind[] = [
  'account-use',
  'privileged-command',
  'dormant-account',
  'session-auth',
  'auth-failure',
  'event-type',
  'field-completeness',
  'field-gap',
  'checkpoint',
  'approval-decision',
  'feeder',
];

/** proofKey names a cited position in the proofs map. */
export const proofKey = (log: string, index: number) => `${log}\u0000${index}`;

export type AssembleInput = {
  control: ControlId;
  params: ReportParams;
  drafts: readonly DraftRow[];
  logs: readonly LogEvidence[];
  /** proofs holds the inclusion proof (base64 hashes) of every cited position against its log's `after` checkpoint. */
  proofs: ReadonlyMap<string, string[]>;
  key: NoteVerifier;
  ctx: DeriveContext;
  generatedAt: string;
  gaps: readonly string[];
};

const position = (d: DraftRow) => (d.cites[0] ? [d.cites[0].log, d.cites[0].index] : [d.checkpoint?.log ?? '', d.checkpoint?.size ?? 0]) as [string, number];

/** judge runs the control's objectives over rows; the verifier calls it on what it re-derived. */
export function judge(control: ControlId, rows: readonly Row[], logs: readonly LogEvidence[], params: ReportParams, chainProblems: readonly string[]) {
  return CONTROLS[control].objectives({ rows, logs, params, chainProblems });
}

/** assembleReport builds the report; it is deterministic for equal inputs (row ids, order, claims). */
export function assembleReport(input: AssembleInput): Report {
  const spec = CONTROLS[input.control];
  const drafts = [...input.drafts];
  const chainProblems: string[] = [];
  if (spec.chainRows) {
    for (const l of input.logs) {
      const check = checkLogEvidence(l, input.key);
      chainProblems.push(...check.problems);
      for (const size of check.links.keys()) drafts.push({ kind: 'checkpoint', cites: [], checkpoint: { log: l.log, size } });
    }
  }
  drafts.sort((a, b) => {
    const k = KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind);
    if (k !== 0) return k;
    const [la, ia] = position(a);
    const [lb, ib] = position(b);
    return la < lb ? -1 : la > lb ? 1 : ia - ib;
  });
  const links = new Map(input.logs.map((l) => [l.log, checkLogEvidence(l, input.key).links]));
  const width = String(drafts.length).length;
  const rows: Row[] = drafts.map((d, i) => {
    const id = `${input.control}/${String(i + 1).padStart(width, '0')}`;
    const claims = d.checkpoint
      ? (links.get(d.checkpoint.log)?.get(d.checkpoint.size) ?? {})
      : deriveClaims(
          d.kind,
          d.cites.map((c) => c.record),
          input.ctx,
        );
    return {
      id,
      kind: d.kind,
      claims,
      stats: d.stats ?? {},
      cites: d.cites.map((c) => {
        const proof = input.proofs.get(proofKey(c.log, c.index));
        if (!proof) throw new Error(`no inclusion proof computed for ${c.log}#${c.index}`);
        return { log: c.log, index: c.index, entry: encodeBase64(c.bytes), proof };
      }),
      ...(d.checkpoint ? { checkpoint: d.checkpoint } : {}),
    };
  });
  return {
    format: REPORT_FORMAT,
    control: input.control,
    title: spec.title,
    period: { from: new Date(input.params.from / 1000).toISOString(), to: new Date(input.params.to / 1000).toISOString() },
    parameters: { dormantDays: input.params.dormantDays },
    generatedAt: input.generatedAt,
    ledgerKey: keyId(input.key),
    logs: [...input.logs],
    rows,
    objectives: judge(input.control, rows, input.logs, input.params, chainProblems),
    gaps: [...spec.gaps, ...input.gaps],
  };
}

/** reportDigest is the SHA-256 (hex) of a report's canonical JSON without its attestation; the attestation signs it. */
export function reportDigest(r: Report): string {
  const { attestation: _a, ...rest } = r;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** canonicalJson renders JSON with object keys sorted, so equal reports hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

/** ATTESTATION_ORIGIN is the first line of a report attestation note; its second line is not a tree size, so it can never pass for a checkpoint. */
export const ATTESTATION_ORIGIN = 'affidavit.report/v1';

/** attestationText is the note text an attestation signs. */
export const attestationText = (r: Report) => `${ATTESTATION_ORIGIN}\nsha256:${reportDigest(r)}\n`;
