import { verifyLog } from './verify-log.ts';
import type { EntryCheck, LabeledNote, OpenedCheckpoint, VerifyEntries, VerifyEntry, VerifyReport } from './verify-log.ts';

/**
 * LogSource is one log to verify: its id, its stored checkpoints, its entries (streamed) and,
 * for a bundle, the header's claims about them.
 */
export type LogSource = {
  id: string;
  checkpoints: readonly string[];
  entries: VerifyEntries;
  claims?: { origin: string; size: number; from: number; to: number };
};

/** LedgerVerifyInput is everything `verifyLedger` checks. */
export type LedgerVerifyInput = {
  logs: readonly LogSource[];
  /** Checkpoints kept outside the system (--checkpoint, --checkpoints-from), labeled by where they came from. */
  external: readonly LabeledNote[];
  /** open verifies a signed note and parses its checkpoint, throwing a typed error otherwise. */
  open: (note: string) => OpenedCheckpoint;
  /** Accept entries past the last checkpoint (consistent but signed by nothing) instead of failing. */
  allowUnsignedTail: boolean;
  /**
   * 'every-log': the input holds every log (a ledger file, a data directory), so an external
   * checkpoint whose origin matches no log here is a failure (a deleted or renamed log).
   * 'some-logs': the input holds some logs (a bundle): an external checkpoint of another origin
   * is skipped and counted, except those given one by one (`strict` on the note).
   */
  scope: 'every-log' | 'some-logs';
  /** Notes whose origin MUST match a log here whatever the scope (each --checkpoint). */
  strictLabels?: ReadonlySet<string>;
  /** Extra per-entry checks (see EntryCheck). */
  entryChecks?: readonly EntryCheck[];
  /** Said after "N entries past the last checkpoint are unproven" (e.g. when the next checkpoint comes). */
  unsignedHint?: string;
  onProgress?: (log: string, entriesDone: number) => void;
};

/** LogVerdict is the outcome for one log: proven (ok), or the first problem. */
export type LogVerdict = {
  log: string;
  origin?: string;
  ok: boolean;
  entries: number;
  checkpoints: number;
  /** Entries covered by a verified checkpoint. */
  signed: number;
  /** Entries past the last checkpoint: consistent, not proven (accepted only with allowUnsignedTail). */
  unsigned: number;
  root?: string;
  message: string;
  report?: VerifyReport;
};

/** LedgerVerdict: ok only when every log is proven and nothing outside a log failed. */
export type LedgerVerdict = { ok: boolean; logs: LogVerdict[]; problems: string[]; notes: string[] };

const codeOf = (e: unknown) => ((e as { code?: string }).code ? ` [${(e as { code?: string }).code}]` : '');

/**
 * verifyLedger decides whether the given logs are PROVEN by signatures, and fails otherwise:
 *
 * - every log is verified by verifyLog (signatures, entries consecutive from 0, recorded
 *   leaves, roots at every checkpoint size, checkpoints of one size agreeing: a fork or a
 *   rollback names both checkpoints);
 * - a log with entries and no verified checkpoint at all fails ("nothing signed covers it");
 * - entries past the last checkpoint fail, unless allowUnsignedTail, and are counted either way;
 * - a log's origin MUST end with `/<log id>` (the ledger names origins so), and a bundle's
 *   header MUST agree with its content: origin with its checkpoints, from = 0, to = the number
 *   of entries it holds, size >= to;
 * - every external checkpoint MUST verify and MUST name a log here (see `scope`): a missing log
 *   ("deleted or renamed?") fails, and its checkpoints take part in the log's checks.
 * It reports every log's verdict and every problem, not only the first.
 */
export async function verifyLedger(input: LedgerVerifyInput): Promise<LedgerVerdict> {
  const problems: string[] = [];
  const notes: string[] = [];
  const byOrigin = new Map<string, LabeledNote[]>();
  for (const n of input.external) {
    let c: OpenedCheckpoint;
    try {
      c = input.open(n.note);
    } catch (e) {
      problems.push(`${n.label}: ${(e as Error).message}${codeOf(e)}`);
      continue;
    }
    const list = byOrigin.get(c.origin) ?? [];
    list.push(n);
    byOrigin.set(c.origin, list);
  }
  const matched = new Set<string>();
  const verdicts: LogVerdict[] = [];
  for (const src of input.logs) {
    const fromStored = src.checkpoints[0]?.split('\n')[0];
    const suffix = `/${src.id}`;
    const fromExternal = [...byOrigin.keys()].filter((o) => o.endsWith(suffix));
    const origin = src.claims?.origin ?? fromStored ?? (fromExternal.length === 1 ? fromExternal[0] : undefined);
    const fail = (message: string, extra: Partial<LogVerdict> = {}): LogVerdict => ({
      log: src.id,
      origin,
      ok: false,
      entries: 0,
      checkpoints: 0,
      signed: 0,
      unsigned: 0,
      message,
      ...extra,
    });
    if (origin !== undefined) matched.add(origin);
    if (origin !== undefined && !origin.endsWith(suffix)) {
      verdicts.push(fail(`its origin ${JSON.stringify(origin)} is not that of log ${src.id} (origins end with "/${src.id}"): renamed?`));
      continue;
    }
    if (src.claims && src.claims.from !== 0) {
      verdicts.push(fail(`the header claims entries from ${src.claims.from}; a bundle holds entries from 0 (verify recomputes the tree from its start)`));
      continue;
    }
    if (src.claims && src.claims.size < src.claims.to) {
      verdicts.push(fail(`the header claims size ${src.claims.size} but entries up to ${src.claims.to}`));
      continue;
    }
    const mine = origin === undefined ? [] : (byOrigin.get(origin) ?? []);
    let count = 0;
    async function* counted(): AsyncIterable<VerifyEntry | readonly VerifyEntry[]> {
      for await (const x of src.entries) {
        count += Array.isArray(x) ? x.length : 1;
        yield x;
      }
    }
    const report = await verifyLog({
      origin: origin ?? '',
      checkpoints: src.checkpoints,
      external: mine,
      entries: counted(),
      open: input.open,
      ...(input.entryChecks ? { entryChecks: input.entryChecks } : {}),
      ...(input.onProgress ? { onProgress: (n: number) => input.onProgress!(src.id, n) } : {}),
    });
    if (!report.ok) {
      const p = report.problem;
      const where = p.kind === 'entry' ? `at entry ${p.index}` : p.kind === 'range' ? `in entries [${p.from}, ${p.to})` : `at ${p.which}`;
      verdicts.push(fail(`FAILED ${where}: ${p.message}`, { entries: report.entries, report }));
      continue;
    }
    const base = {
      log: src.id,
      origin,
      entries: report.entries,
      checkpoints: report.checkpoints,
      signed: report.signed,
      unsigned: report.entries - report.signed,
      ...(report.root ? { root: report.root } : {}),
      report,
    };
    if (src.claims && src.claims.to !== count) {
      verdicts.push({ ...base, ok: false, message: `FAILED: the header claims entries [0, ${src.claims.to}) but the bundle holds ${count}` });
      continue;
    }
    if (report.entries === 0) {
      verdicts.push({ ...base, ok: true, message: `ok: empty log${report.checkpoints > 0 ? `, ${report.checkpoints} checkpoints of size 0 verified` : ''}` });
      continue;
    }
    if (report.checkpoints === 0) {
      verdicts.push({
        ...base,
        ok: false,
        message: `FAILED: nothing signed covers its ${report.entries} entries (no checkpoint: removed, or never written)${input.unsignedHint ? `; ${input.unsignedHint}` : ''}`,
      });
      continue;
    }
    const proven = `${report.signed} entries proven by ${report.checkpoints} checkpoints`;
    if (base.unsigned > 0 && !input.allowUnsignedTail) {
      verdicts.push({
        ...base,
        ok: false,
        message: `FAILED: ${base.unsigned} entries after the last checkpoint (size ${report.signed}) are unproven: no signature covers them (${proven})${input.unsignedHint ? `; ${input.unsignedHint}` : ''}`,
      });
      continue;
    }
    const tail = base.unsigned > 0 ? `; ${base.unsigned} entries after them UNPROVEN (accepted by --allow-unsigned-tail)` : '';
    verdicts.push({
      ...base,
      ok: true,
      message: `ok: ${report.entries} entries, ${report.checkpoints} checkpoints verified${base.unsigned > 0 ? `, ${report.signed} entries proven${tail}, root over all entries` : ', root'} ${report.root}`,
    });
  }
  let skipped = 0;
  for (const [origin, list] of byOrigin) {
    if (matched.has(origin)) continue;
    for (const n of list) {
      if (input.scope === 'every-log' || input.strictLabels?.has(n.label))
        problems.push(`${n.label}: no log with origin ${JSON.stringify(origin)} here: deleted or renamed?`);
      else skipped++;
    }
  }
  if (skipped > 0) notes.push(`${skipped} external checkpoints of other logs (not in this input) were skipped`);
  if (input.logs.length === 0) problems.push('no logs here: nothing is proven');
  return { ok: problems.length === 0 && verdicts.every((v) => v.ok), logs: verdicts, problems, notes };
}
