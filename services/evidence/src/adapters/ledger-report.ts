// Computes a report from a ledger store: streams and decodes every log's entries up to its newest
// signed checkpoint through the control's fold, picks the checkpoints before and after the
// period, and computes the inclusion and consistency proofs from the store's tiles (tessera
// style: the tree's hashes are read, never recomputed).
import type { DecisionVerifier } from '@affidavit/access/decisions';
import type { LedgerStore, LogStore } from '@affidavit/ledger';
import { availableParallelism } from 'node:os';
import { codec } from '@affidavit/schemas';
import type { NoteSigner, NoteVerifier } from '@affidavit/tlog';
import { consistencyProofs, encodeBase64, inclusionProofs, openNote, parseCheckpoint, signNote, tileNodeReader } from '@affidavit/tlog';
import { assembleReport, attestationText, proofKey } from '../core/assemble.ts';
import { parseControl } from '../core/controls/index.ts';
import type { ChainLink, LogEvidence, Report } from '../core/model.ts';
import type { LogSpan } from '../core/run-fold.ts';
import type { DraftRow } from '../core/fold.ts';
import { reportFold } from '../core/run-fold.ts';
import { cachedTileReader } from './cached-tiles.ts';
import { startFoldHelper } from './folding-in-parallel.ts';
import type { FoldHelper } from './folding-in-parallel.ts';
import { rangeScanner } from './range-scan.ts';
import type { RangeOutcome } from './range-scan.ts';
import { ChunkCursor, MAX_CHUNKS } from './chunk-cursor.ts';
import { EvidenceInputInvalidError, EvidenceScanFailedError, EvidenceUnsignedError } from '../errors.ts';

export type ReportRequest = {
  /** control as a user names it: AC-2, AC-6(9), AU-3 ... */
  control: string;
  /** from and to bound the period by event time: from <= occurredAt < to. */
  from: Date;
  to: Date;
  /** dormantDays: AC-2 names accounts seen before the period and unused for this many days at its end. */
  dormantDays?: number;
  /** key verifies the ledger's checkpoints (its public key). */
  key: NoteVerifier;
  /** decisionKeys verify approval decisions (none: every decision is reported unsigned). */
  decisionKeys: readonly DecisionVerifier[];
  /** signer, when given (the ledger's key), attests the report so a dropped row is caught even with its references removed. */
  signer?: NoteSigner;
  now?: () => Date;
  /**
   * ledgerFile: the SQLite file `store` reads, when it is one. A big log is then read on two
   * cores (folding-in-parallel.ts), as `parallel` says (defaults: logs of 200,000 entries and
   * more, chunks of 4,096 entries, the last quarter reserved for the worker).
   */
  ledgerFile?: string;
  parallel?: { from?: number; chunk?: number; reserve?: number };
};

const PARALLEL_FROM = 200_000;
// Chunks are whole bundles of the store (256 entries), so no bundle is parsed twice; 16 of them
// is a few milliseconds of work, small enough that the two threads finish close together.
const BUNDLE = 256;
const CHUNK = 16 * BUNDLE;
const RESERVE = 0.25;

type Signed = { size: number; note: string };

async function signedCheckpoints(log: LogStore, key: NoteVerifier): Promise<Signed[]> {
  const out: Signed[] = [];
  for (const note of await log.checkpoints()) {
    // A stored checkpoint that does not verify is not evidence: the report refuses rather than skip it.
    const c = parseCheckpoint(openNote(note, [key]).text);
    out.push({ size: c.size, note });
  }
  return out.sort((a, b) => a.size - b.size);
}

/** generateReport computes one control's report over a period from the ledger alone. */
export async function generateReport(store: LedgerStore, req: ReportRequest): Promise<Report> {
  const control = parseControl(req.control);
  const from = req.from.getTime();
  const to = req.to.getTime();
  if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) throw new EvidenceInputInvalidError('the period needs from < to, both valid times');
  const dormantDays = req.dormantDays ?? 30;
  if (!Number.isSafeInteger(dormantDays) || dormantDays < 1 || dormantDays > 3650) throw new EvidenceInputInvalidError('dormant days must be 1..3650');
  const par = req.parallel ?? {};
  if (par.chunk !== undefined && (!Number.isSafeInteger(par.chunk) || par.chunk < BUNDLE || par.chunk % BUNDLE !== 0))
    throw new EvidenceInputInvalidError(`parallel chunks are whole bundles: a positive multiple of ${BUNDLE} entries`);
  if (par.reserve !== undefined && !(par.reserve >= 0 && par.reserve <= 1))
    throw new EvidenceInputInvalidError('the worker reserve is a share of the log: 0..1');
  const params = { from: from * 1000, to: to * 1000, dormantDays };
  const fold = reportFold(control, params);
  const scan = rangeScanner(control, params);
  const c = codec();
  const gaps: string[] = [];
  // Fold workers of split logs, closed whatever happens.
  const helpers = new Map<string, FoldHelper>();
  try {
    const logs = new Map<string, { store: LogStore; signed: Signed[]; origin: string }>();
    for (const id of await store.listLogs()) {
      const log = await store.openLog(id);
      const signed = await signedCheckpoints(log, req.key);
      const size = (await log.tail()).size;
      if (signed.length === 0 || signed[signed.length - 1].size === 0) {
        if (size > 0) gaps.push(`log ${id}: ${size} entries, no signed checkpoint: nothing in it is reported`);
        continue;
      }
      const latest = signed[signed.length - 1];
      // The store holds fewer entries than its own signed checkpoint covers: what is gone cannot
      // be reported, and a report without it would be silently short.
      if (size < latest.size)
        throw new EvidenceScanFailedError(
          `log ${id}: the store holds ${size} entries, its signed checkpoint covers ${latest.size} (the ledger file was altered or is corrupt)`,
        );
      logs.set(id, { store: log, signed, origin: parseCheckpoint(openNote(latest.note, [req.key]).text).origin });
      // A big log of a SQLite file is read on two cores: chunks from the front here, from the
      // back by a worker; this fold then absorbs the worker's (folding-in-parallel.ts).
      const outcomes: RangeOutcome[] = [];
      if (req.ledgerFile !== undefined && size >= (par.from ?? PARALLEL_FROM) && availableParallelism() > 1) {
        const chunk = Math.max(par.chunk ?? CHUNK, Math.ceil(size / MAX_CHUNKS / BUNDLE) * BUNDLE);
        const count = Math.ceil(size / chunk);
        // The worker's first run is set aside for it: it loads its modules meanwhile.
        const shared = ChunkCursor.create(count, Math.floor(count * (par.reserve ?? RESERVE)));
        const helper = startFoldHelper({ path: req.ledgerFile, logId: id, size, chunk, cursor: shared, signedSize: latest.size, control, params });
        helpers.set(id, helper);
        const cursor = new ChunkCursor(shared);
        for (let k = cursor.front(); k >= 0; k = cursor.front()) outcomes.push(await scan(log, k * chunk, Math.min((k + 1) * chunk, size), latest.size, fold));
        const { saved, outcome } = await helper.folded;
        if (saved && fold.fits(saved)) {
          fold.absorb(saved);
          outcomes.push(outcome);
        } else if (saved) outcomes.push(await scan(log, cursor.end() * chunk, size, latest.size, fold)); // a log out of order: one pass over the rest
      } else outcomes.push(await scan(log, 0, size, latest.size, fold));
      const unsignedInPeriod = outcomes.reduce((n, o) => n + o.unsignedInPeriod, 0);
      for (const o of outcomes) gaps.push(...o.gaps);
      if (unsignedInPeriod > 0)
        gaps.push(`log ${id}: ${unsignedInPeriod} entries of the period are past the newest signed checkpoint (size ${latest.size}) and are not reported yet`);
    }
    const folded = fold.finish();
    const { spans, maxCited } = folded;
    // Per log: the signed checkpoints around the period and the entries the rows cite. Known
    // now, so a log's worker starts on its half of the inclusion proofs before this thread
    // decodes the cites and proves the chain.
    type Plan = { span: LogSpan; after: Signed; before: Signed | null; indexes: number[]; mine: number; there: Promise<string[][]> };
    const plans = new Map<string, Plan>();
    for (const [id, l] of logs) {
      const span = spans.get(id) ?? { firstIndex: null, lastIndex: null, entries: 0 };
      const need = Math.max(span.lastIndex ?? -1, maxCited.get(id) ?? -1) + 1;
      if (need === 0) continue; // nothing of this log is in the period or cited
      const after = l.signed.find((s) => s.size >= need);
      if (!after) throw new EvidenceUnsignedError(`log ${id}: no signed checkpoint covers entry ${need - 1}`);
      const first = span.firstIndex ?? need - 1;
      const before = [...l.signed].reverse().find((s) => s.size <= first && s.size > 0) ?? null;
      const cited = new Set<number>();
      for (const d of folded.drafts) for (const cite of d.cites) if (cite.log === id) cited.add(cite.index);
      const indexes = [...cited];
      const helper = helpers.get(id);
      const mine = helper ? Math.ceil(indexes.length / 2) : indexes.length;
      const there = helper && mine < indexes.length ? helper.proofs(after.size, indexes.slice(mine)) : Promise.resolve([]);
      there.catch(() => {}); // awaited below; a failure meanwhile must not go unhandled
      plans.set(id, { span, after, before, indexes, mine, there });
    }
    // The folds saw projections; what rows claim is derived from full decodes of their cites.
    const drafts: DraftRow[] = [];
    for (const d of folded.drafts) {
      try {
        drafts.push({ ...d, cites: d.cites.map((e) => ({ ...e, record: c.decode(e.bytes) })) });
      } catch (err) {
        gaps.push(`a ${d.kind} row was left out: a cited entry does not decode: ${(err as Error).message}`);
      }
    }
    const evidence: LogEvidence[] = [];
    const proofs = new Map<string, string[]>();
    for (const [id, { span, after, before, indexes, mine, there }] of plans) {
      const l = logs.get(id)!;
      const tiles = cachedTileReader((ids) => l.store.readTiles(ids));
      // Every consistency proof of the chain in one batch: a node of a smaller tree is the same
      // perfect subtree in the tree of `after`, so that tree's tiles serve them all.
      const chainNotes = l.signed.filter((s) => s.size >= (before?.size ?? 0) && s.size <= after.size);
      const pairs: [number, number][] = chainNotes.map((s, i) => {
        const prev = chainNotes[i - 1];
        return prev && prev.size > 0 && prev.size < s.size ? [prev.size, s.size] : [0, 0];
      });
      if (before && before.size < after.size) pairs.push([before.size, after.size]);
      const proven = await consistencyProofs(
        tileNodeReader(tiles, after.size),
        pairs.filter(([a]) => a > 0),
      );
      let at = 0;
      const next = ([a]: [number, number]) => (a > 0 ? proven[at++].map(encodeBase64) : []);
      const chain: ChainLink[] = chainNotes.map((s, i) => ({ note: s.note, consistency: next(pairs[i]) }));
      const consistency = before && before.size < after.size ? next(pairs[pairs.length - 1]) : [];
      evidence.push({ log: id, origin: l.origin, before: before?.note ?? null, after: after.note, consistency, chain, period: span });
      // This thread's share of the inclusion proofs in one batch (they share tiles, each read
      // and hashed once); the worker's share was asked for above.
      const here = await inclusionProofs(tileNodeReader(tiles, after.size), indexes.slice(0, mine), after.size);
      here.forEach((p, i) => proofs.set(proofKey(id, indexes[i]), p.map(encodeBase64)));
      (await there).forEach((p, i) => proofs.set(proofKey(id, indexes[mine + i]), p));
    }
    const report = assembleReport({
      control,
      params,
      drafts,
      logs: evidence,
      proofs,
      key: req.key,
      ctx: { decisionKeys: req.decisionKeys },
      generatedAt: (req.now?.() ?? new Date()).toISOString(),
      gaps,
    });
    if (req.signer) report.attestation = await signNote(attestationText(report), [req.signer]);
    return report;
  } finally {
    for (const h of helpers.values()) h.close();
  }
}
