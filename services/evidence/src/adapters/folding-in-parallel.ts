// A month of a busy log is read and folded on two cores: the report's thread takes chunks from
// the front of the log while a worker thread (fold-worker.ts) takes them from the back, reading
// the same SQLite file with its own read-only connection (chunk-cursor.ts shares them out); the
// report's fold then absorbs the worker's
// (Fold.absorb: the same rows as one pass, fold-split.test.ts). The worker then computes half of
// the log's inclusion proofs. Only a store a worker can open by path qualifies (a SQLite file);
// any other store is read in one pass.
import { Worker } from 'node:worker_threads';
import type { ReportParams } from '../core/fold.ts';
import type { ControlId } from '../core/model.ts';
import type { SavedReportFold } from '../core/run-fold.ts';
import { EvidenceScanFailedError } from '../errors.ts';
import type { RangeOutcome } from './range-scan.ts';

const WORKER_URL = new URL('./fold-worker.ts', import.meta.url);

/** FoldJob is what a fold worker is given: the file, the log and its chunks, and the control. */
export type FoldJob = {
  path: string;
  logId: string;
  /** size: entries of the log to read; chunk: entries per chunk; cursor: the shared ChunkCursor. */
  size: number;
  chunk: number;
  cursor: SharedArrayBuffer;
  signedSize: number;
  control: ControlId;
  params: ReportParams;
};

/** ToWorker asks a fold worker for inclusion proofs (base64 hashes), or tells it the report is done. */
export type ToWorker = { type: 'proofs'; size: number; indexes: number[] } | { type: 'done' };

/** FromWorker is a fold worker's answer: its saved fold, proofs, or what failed. */
export type FromWorker =
  | { type: 'folded'; saved: SavedReportFold | null; outcome: RangeOutcome }
  | { type: 'proofs'; proofs: string[][] }
  | { type: 'failed'; code?: string; message: string };

/** FoldHelper is a running fold worker. */
export type FoldHelper = {
  /** folded resolves to the worker's saved fold of the chunks it took (null: it took none). */
  folded: Promise<{ saved: SavedReportFold | null; outcome: RangeOutcome }>;
  /** proofs asks for the inclusion proofs of `indexes` in the tree of `size` (after `folded`). */
  proofs(size: number, indexes: number[]): Promise<string[][]>;
  /** close ends the worker (always call it, also when the report fails). */
  close(): void;
};

/**
 * startFoldHelper starts a worker on `job` at once. Every failure (the worker's own, an exit
 * without an answer) rejects what is pending with EvidenceScanFailedError naming the cause and
 * its code: a report is never made without the range.
 */
export function startFoldHelper(job: FoldJob): FoldHelper {
  const where = `reading log ${job.logId} (${job.size} entries) in a worker`;
  const worker = new Worker(WORKER_URL, { workerData: job });
  let waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void }[] = [];
  let dead: Error | undefined;
  const fail = (e: Error) => {
    dead ??= e;
    for (const w of waiting) w.reject(dead);
    waiting = [];
  };
  // Answers come in the order of the questions: the fold first, then each proofs request.
  const next = () =>
    new Promise<FromWorker>((resolve, reject) => {
      if (dead) reject(dead);
      else waiting.push({ resolve, reject });
    });
  worker.on('message', (m: FromWorker) => {
    const w = waiting.shift();
    if (!w) return;
    if (m.type === 'failed') w.reject(new EvidenceScanFailedError(`${where}: ${m.code ? `${m.code}: ` : ''}${m.message}`));
    else w.resolve(m);
  });
  worker.on('error', (e) => fail(new EvidenceScanFailedError(`${where}: ${e.message}`, { cause: e })));
  worker.on('exit', (code) => fail(new EvidenceScanFailedError(`${where}: the worker exited (code ${code})`)));
  const folded = next().then((m) => {
    if (m.type !== 'folded') throw new EvidenceScanFailedError(`${where}: the worker answered ${m.type} before its fold`);
    return { saved: m.saved, outcome: m.outcome };
  });
  folded.catch(() => {}); // awaited by the caller; a failure while it reads must not go unhandled
  return {
    folded,
    async proofs(size, indexes) {
      const answer = next();
      worker.postMessage({ type: 'proofs', size, indexes } satisfies ToWorker);
      const m = await answer;
      if (m.type !== 'proofs' || m.proofs.length !== indexes.length)
        throw new EvidenceScanFailedError(`${where}: the worker's proofs do not answer the request`);
      return m.proofs;
    },
    close() {
      dead ??= new EvidenceScanFailedError(`${where}: closed`);
      worker.postMessage({ type: 'done' } satisfies ToWorker);
      worker.unref();
    },
  };
}
