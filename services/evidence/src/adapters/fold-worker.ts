// A fold worker: reads the chunks of one log it takes from the back (chunk-cursor.ts) from the
// SQLite ledger file with its own read-only connection, folds them for one control and posts the
// saved fold back; then, while the report's
// thread computes half of the log's inclusion proofs, it computes the other half from the same
// file (see folding-in-parallel.ts), and closes when told the report is done.
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteLedgerStore } from '@affidavit/ledger/sqlite';
import { encodeBase64, inclusionProofs, tileNodeReader } from '@affidavit/tlog';
import { reportFold } from '../core/run-fold.ts';
import { ChunkCursor } from './chunk-cursor.ts';
import { rangeScanner } from './range-scan.ts';
import type { RangeOutcome, ReportFold } from './range-scan.ts';
import type { FoldJob, FromWorker, ToWorker } from './folding-in-parallel.ts';

const job = workerData as FoldJob;
const port = parentPort!;
const failed = (e: unknown): FromWorker => {
  const err = e as { code?: unknown; message?: unknown };
  return { type: 'failed', code: typeof err?.code === 'string' ? err.code : undefined, message: String(err?.message ?? e) };
};

const store = await openSqliteLedgerStore({ path: job.path, readOnly: true }).catch((e) => {
  port.postMessage(failed(e));
  return undefined;
});
if (store) {
  const log = await store.openLog(job.logId);
  try {
    // Runs of chunks from the back, each a quarter of what is left (fewer, larger runs while the
    // report's thread is far away; single chunks near it). Each run is folded forward, then its
    // fold absorbs the runs after it, so what is posted is one fold over a contiguous range.
    const cursor = new ChunkCursor(job.cursor);
    const scan = rangeScanner(job.control, job.params);
    let acc: ReportFold | undefined;
    let outcome: RangeOutcome = { unsignedInPeriod: 0, gaps: [] };
    const take = () => cursor.back(cursor.left() >> 2);
    // The chunks the cursor was made without are this worker's: only it moves the cursor's end.
    const count = Math.ceil(job.size / job.chunk);
    const reserved: [number, number] = [cursor.end(), count];
    for (let run = reserved[0] < count ? reserved : take(); run; run = take()) {
      const fold = reportFold(job.control, { ...job.params, carry: true });
      const end = Math.min(run[1] * job.chunk, job.size);
      const here = await scan(log, run[0] * job.chunk, end, job.signedSize, fold);
      if (acc) {
        const later = acc.save();
        // A log that breaks the order the split relies on is folded on in one pass instead.
        if (fold.fits(later)) fold.absorb(later);
        else outcome = await scan(log, end, job.size, job.signedSize, fold);
      }
      acc = fold;
      outcome = { unsignedInPeriod: here.unsignedInPeriod + outcome.unsignedInPeriod, gaps: [...here.gaps, ...outcome.gaps] };
    }
    port.postMessage({ type: 'folded', saved: acc?.save() ?? null, outcome } satisfies FromWorker);
  } catch (e) {
    port.postMessage(failed(e));
  }
  port.on('message', async (m: ToWorker) => {
    if (m.type === 'done') {
      await store.close();
      port.close();
      return;
    }
    try {
      const tiles = (ids: Parameters<typeof log.readTiles>[0]) => log.readTiles(ids);
      const got = await inclusionProofs(tileNodeReader(tiles, m.size), m.indexes, m.size);
      port.postMessage({ type: 'proofs', proofs: got.map((p) => p.map(encodeBase64)) } satisfies FromWorker);
    } catch (e) {
      port.postMessage(failed(e));
    }
  });
}
