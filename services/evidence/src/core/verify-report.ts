// The auditor's side: checks a report offline with nothing but the ledger's public key (and the
// decision key for approvals). Every cited entry must be included under its log's signed
// `after` checkpoint; every log's `before` must be a prefix of its `after` (a rolled-back or
// rewritten period fails); every row's claims must be what its entries say; the objectives must
// be what the rows give; the rows must be numbered without a gap, and an attestation, when
// present, must sign exactly this report. Each problem names the row it was found in.
import type { DecisionVerifier } from '@affidavit/access/decisions';
import { codec } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import type { Checkpoint, NoteVerifier } from '@affidavit/tlog';
import { decodeBase64Strict, hashLeaf, openNote, verifyInclusion } from '@affidavit/tlog';
import { attestationText, canonicalJson, judge } from './assemble.ts';
import { checkLogEvidence, hashesOf, keyId } from './chain.ts';
import { CONTROLS } from './controls/index.ts';
import { ClaimsError, deriveClaims, iso } from './claims.ts';
import type { Json, Report, Row } from './model.ts';
import { CONTROL_IDS, REPORT_FORMAT } from './model.ts';
import { EvidenceReportMalformedError } from '../errors.ts';

/** ReportProblem is one failed check; `row` names the row it was found in, when it is about one. */
export type ReportProblem = { row: string | null; problem: string };

export type ReportVerdict = { ok: boolean; problems: ReportProblem[]; rows: number; cites: number; logs: number; attested: boolean };

export type VerifyReportOptions = { key: NoteVerifier; decisionKeys: readonly DecisionVerifier[]; allowUnattested?: boolean };

function shape(v: unknown): Report {
  const bad = (why: string): never => {
    throw new EvidenceReportMalformedError(`not an Affidavit report: ${why}`);
  };
  if (v === null || typeof v !== 'object') bad('not a JSON object');
  const r = v as Report;
  if (r.format !== REPORT_FORMAT) bad(`format is ${JSON.stringify(r.format)}, want ${REPORT_FORMAT}`);
  if (!(CONTROL_IDS as readonly string[]).includes(r.control)) bad(`unknown control ${JSON.stringify(r.control)}`);
  if (!Array.isArray(r.rows) || !Array.isArray(r.logs) || !Array.isArray(r.objectives)) bad('rows, logs and objectives must be lists');
  if (!r.period || Number.isNaN(Date.parse(r.period.from)) || Number.isNaN(Date.parse(r.period.to))) bad('the period is not two times');
  for (const row of r.rows) {
    if (row === null || typeof row !== 'object' || typeof row.id !== 'string' || !Array.isArray(row.cites)) bad('a row is not {id, kind, claims, cites}');
  }
  return r;
}

const diffKeys = (a: { [k: string]: Json }, b: { [k: string]: Json }) =>
  [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])].filter((k) => canonicalJson(a?.[k]) !== canonicalJson(b?.[k]));

/** verifyReport checks a parsed report file; it throws EvidenceReportMalformedError when the file is not a report at all. */
export function verifyReport(input: unknown, opts: VerifyReportOptions): ReportVerdict {
  const report = shape(input);
  const problems: ReportProblem[] = [];
  const c = codec();
  const chainProblems: string[] = [];
  const logs = new Map<string, { after: Checkpoint | null; links: Map<number, { [k: string]: Json }>; problems: string[] }>();
  for (const l of report.logs) {
    const check = checkLogEvidence(l, opts.key);
    logs.set(l.log, check);
    chainProblems.push(...check.problems);
    for (const p of check.problems) problems.push({ row: null, problem: p });
  }
  // Rows are numbered 1..N without a gap: a number missing names a dropped row.
  const width = String(report.rows.length).length;
  const ids = new Set(report.rows.map((r) => r.id));
  const highest = Math.max(0, ...report.rows.map((r) => Number(r.id.split('/')[1]) || 0));
  for (let i = 1; i <= Math.max(highest, report.rows.length); i++) {
    const id = `${report.control}/${String(i).padStart(Math.max(width, String(highest).length), '0')}`;
    if (!ids.has(id)) problems.push({ row: id, problem: 'the row is missing from the report: dropped' });
  }
  if (ids.size !== report.rows.length) problems.push({ row: null, problem: 'two rows share an id' });
  const params = { from: Date.parse(report.period.from) * 1000, to: Date.parse(report.period.to) * 1000, dormantDays: report.parameters?.dormantDays ?? 30 };
  let cites = 0;
  const derived: Row[] = [];
  for (const row of report.rows) {
    const fail = (problem: string) => problems.push({ row: row.id, problem });
    if (!row.id.startsWith(`${report.control}/`)) fail(`the row id is not one of a ${report.control} report`);
    const records: LedgerRecord[] = [];
    let intact = true;
    for (const [i, cite] of row.cites.entries()) {
      cites++;
      const at = `cited entry ${i} (log ${cite.log}, index ${cite.index})`;
      const log = logs.get(cite.log);
      if (!log) {
        fail(`${at}: the report carries no evidence for log ${cite.log}`);
        intact = false;
        continue;
      }
      if (log.problems.length > 0) fail(`${at}: its log's checkpoints do not hold: ${log.problems[0]}`);
      const bytes = typeof cite.entry === 'string' ? decodeBase64Strict(cite.entry) : undefined;
      if (!bytes || !log.after) {
        fail(`${at}: ${bytes ? 'the log has no signed checkpoint to prove it against' : 'the entry is not base64'}`);
        intact = false;
        continue;
      }
      try {
        verifyInclusion(hashLeaf(bytes), cite.index, log.after.size, hashesOf(cite.proof), log.after.root);
      } catch (e) {
        fail(`${at}: not included in the signed tree of ${log.after.size}: ${(e as Error).message}`);
        intact = false;
      }
      try {
        records.push(c.decode(bytes));
      } catch (e) {
        fail(`${at}: does not decode as an event: ${(e as Error).message}`);
        intact = false;
      }
    }
    // A valid proof of an entry from outside the period would let a row pass off old use as new:
    // every cite lies in the period, except a dormant account's last use, which lies before it.
    for (const [i, r] of records.entries()) {
      const inPeriod = r.occurredAt >= params.from && r.occurredAt < params.to;
      if (row.kind === 'dormant-account' ? r.occurredAt >= params.from : !inPeriod)
        fail(`cited entry ${i} (${r.type} at ${iso(r.occurredAt)}) lies ${row.kind === 'dormant-account' ? 'not before' : 'outside'} the period of the report`);
    }
    let claims: { [k: string]: Json } | undefined;
    if (row.kind === 'checkpoint') {
      claims = row.checkpoint ? logs.get(row.checkpoint.log)?.links.get(row.checkpoint.size) : undefined;
      if (!claims) fail(`the checkpoint it names (${row.checkpoint?.log ?? '?'} size ${row.checkpoint?.size ?? '?'}) is not in the verified chain`);
    } else if (intact) {
      try {
        claims = deriveClaims(row.kind, records, { decisionKeys: opts.decisionKeys });
      } catch (e) {
        if (!(e instanceof ClaimsError)) throw e;
        fail(`its entries cannot carry a ${row.kind} row: ${e.message}`);
      }
    }
    if (claims) {
      const differ = diffKeys(row.claims, claims);
      if (differ.length > 0) {
        const hint = opts.decisionKeys.length === 0 && differ.includes('signatureValid') ? ' (no decision key was given to check approvals with)' : '';
        fail(
          `the row claims what its entries do not say: ${differ.map((k) => `${k} is ${canonicalJson(row.claims?.[k])}, the entries say ${canonicalJson(claims[k])}`).join('; ')}${hint}`,
        );
      }
    }
    derived.push({ ...row, claims: claims ?? row.claims });
  }
  // The objectives must be what the re-derived rows give.
  const expected = judge(report.control, derived, report.logs, params, chainProblems);
  for (const o of report.objectives) {
    for (const id of o.rows ?? [])
      if (!ids.has(id)) problems.push({ row: id, problem: `objective ${o.id} rests on this row, which is not in the report: dropped` });
  }
  // Exactly the objectives the rows give, each once: a doubled objective saying the opposite, or
  // an invented one, is shown by every renderer and would otherwise pass unchecked.
  const wanted = new Set(expected.map((o) => o.id));
  for (const o of report.objectives) {
    const n = report.objectives.filter((x) => x.id === o.id).length;
    if (!wanted.has(o.id)) problems.push({ row: null, problem: `objective ${JSON.stringify(o.id)} is not one of the ${report.control} report` });
    else if (n > 1 && report.objectives.find((x) => x.id === o.id) === o) problems.push({ row: null, problem: `objective ${o.id} appears ${n} times` });
  }
  // What a reader sees besides the rows: the control's titles, the key and the stated gaps.
  const spec = CONTROLS[report.control];
  if (report.title !== spec.title)
    problems.push({ row: null, problem: `the report is titled ${JSON.stringify(report.title)}, not ${JSON.stringify(spec.title)}` });
  if (report.ledgerKey !== keyId(opts.key))
    problems.push({ row: null, problem: `the report names ledger key ${JSON.stringify(report.ledgerKey)}, but it was checked with ${keyId(opts.key)}` });
  const gaps = Array.isArray(report.gaps) ? report.gaps : [];
  for (const g of spec.gaps) if (!gaps.includes(g)) problems.push({ row: null, problem: `the stated gap ${JSON.stringify(g)} was dropped` });
  for (const want of expected) {
    const got = report.objectives.find((o) => o.id === want.id);
    if (!got) problems.push({ row: null, problem: `objective ${want.id} is missing` });
    else if (got.title !== want.title)
      problems.push({ row: null, problem: `objective ${want.id} is titled ${JSON.stringify(got.title)}, not ${JSON.stringify(want.title)}` });
    else if (got.state !== want.state || got.reason !== want.reason || canonicalJson(got.rows) !== canonicalJson(want.rows))
      problems.push({
        row: null,
        problem: `objective ${want.id} says ${got.state} (${got.reason}); the rows give ${want.state} (${want.reason})`,
      });
  }
  let attested = false;
  if (report.attestation !== undefined) {
    try {
      const text = openNote(report.attestation, [opts.key]).text;
      if (text !== attestationText(report))
        problems.push({ row: null, problem: 'the attestation signs another report: something was changed, added or dropped' });
      else attested = true;
    } catch (e) {
      problems.push({ row: null, problem: `the attestation does not verify: ${(e as Error).message}` });
    }
  } else if (!opts.allowUnattested) {
    problems.push({ row: null, problem: 'the report carries no attestation, so a row dropped together with its references would go unseen' });
  }
  return { ok: problems.length === 0, problems, rows: report.rows.length, cites, logs: report.logs.length, attested };
}
