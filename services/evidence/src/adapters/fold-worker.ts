// A fold worker: reads one range of one log from the SQLite ledger file with its own read-only
// connection, folds it for one control and posts the saved fold back; then, while the report's
// thread computes half of the log's inclusion proofs, it computes the other half from the same
// file (see folding-in-parallel.ts), and closes when told the report is done.
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteLedgerStore } from '@affidavit/ledger/sqlite';
import { encodeBase64, inclusionProofs, tileNodeReader } from '@affidavit/tlog';
import { reportFold } from '../core/run-fold.ts';
import { rangeScanner } from './range-scan.ts';
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
    const fold = reportFold(job.control, { ...job.params, carry: true });
    const outcome = await rangeScanner(job.control, job.params)(log, job.from, job.to, job.signedSize, fold);
    port.postMessage({ type: 'folded', saved: fold.save(), outcome } satisfies FromWorker);
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
