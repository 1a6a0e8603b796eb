// The worker side of the worker-backed SQLite store (worker-store.ts): it owns the DatabaseSync
// (through the direct store, openSqliteLedgerStore) and answers requests in arrival order, so a
// COMMIT's fsync blocks this thread, not the ledger's. One request at a time: the direct store's
// calls are synchronous inside, so order of arrival is order of execution.
import { parentPort, workerData } from 'node:worker_threads';
import type { LedgerStore, LogStore } from '../../ports/ledger-store.ts';
import { openSqliteLedgerStore } from './sqlite-store.ts';
import type { SqliteLedgerStoreOptions } from './sqlite-store.ts';
import { packEntries, serializeError, unpackEntries } from './worker-protocol.ts';
import type { PackedEntries, WorkerRequest, WorkerResponse } from './worker-protocol.ts';
import type { AppendBatch, TileId, TileWrite } from '../../ports/ledger-store.ts';

const port = parentPort!;
const options = workerData as SqliteLedgerStoreOptions;
const logs = new Map<string, LogStore>();
let store: LedgerStore | undefined;
const opening = openSqliteLedgerStore(options).then((s) => (store = s));
// A failed open is answered to every request (below); nothing else may see it as unhandled.
opening.catch(() => {});

function log(id: string | undefined): LogStore {
  const l = id === undefined ? undefined : logs.get(id);
  if (!l) throw new Error(`log ${id} was not opened in this worker`);
  return l;
}

async function handle(req: WorkerRequest): Promise<{ value: unknown; transfer?: ArrayBuffer[] }> {
  await opening;
  const s = store!;
  const a = req.args;
  switch (req.op) {
    case 'openLog': {
      const l = await s.openLog(a[0] as string);
      logs.set(l.logId, l);
      return { value: l.logId };
    }
    case 'listLogs':
      return { value: await s.listLogs() };
    case 'close':
      await s.close();
      return { value: undefined };
    case 'tail':
      return { value: await log(req.log).tail() };
    case 'append': {
      const batch: AppendBatch = {
        entries: unpackEntries(a[0] as PackedEntries),
        ...(a[1] !== undefined ? { tiles: a[1] as TileWrite[] } : {}),
        ...(a[2] !== undefined ? { checkpoint: a[2] as string } : {}),
      };
      await log(req.log).append(batch, a[3] as number);
      return { value: undefined };
    }
    case 'hasEventIds':
      return { value: await log(req.log).hasEventIds(a[0] as string[]) };
    case 'readPage': {
      // One page, read with a fresh range (the direct store pages bundles internally), so the
      // worker keeps no cursor between requests.
      const from = a[0] as number;
      const to = a[1] as number;
      const out = [];
      for await (const e of log(req.log).readEntries(from, to)) out.push(e);
      // Each entry's own index goes along: the store numbers entries by where it found them, so a
      // bundle missing from the file shows as a jump, never as entries renumbered to close it.
      const indexes = Float64Array.from(out, (e) => e.index);
      const { packed, transfer } = packEntries(out);
      return { value: { indexes, packed }, transfer: [...transfer, indexes.buffer] };
    }
    case 'readTiles':
      return { value: await log(req.log).readTiles(a[0] as TileId[]) };
    case 'checkpoints':
      return { value: await log(req.log).checkpoints() };
    case 'latestCheckpoint':
      return { value: await log(req.log).latestCheckpoint() };
  }
}

// Requests run strictly one after another (a chain), though each handler is async.
let chain: Promise<unknown> = Promise.resolve();
port.on('message', (req: WorkerRequest) => {
  chain = chain.then(async () => {
    let res: WorkerResponse;
    let transfer: ArrayBuffer[] | undefined;
    try {
      const r = await handle(req);
      res = { id: req.id, ok: true, value: r.value };
      transfer = r.transfer;
    } catch (e) {
      res = { id: req.id, ok: false, error: serializeError(e) };
    }
    try {
      port.postMessage(res, transfer);
    } catch (e) {
      // A value that cannot cross the boundary still gets an answer, so the caller never hangs.
      port.postMessage({ id: req.id, ok: false, error: serializeError(e) } satisfies WorkerResponse);
    }
  });
  // Never let one request's failure stop the queue (a rejected chain would skip every later request).
  chain = chain.catch(() => {});
});
