import { Worker } from 'node:worker_threads';
import { ShutdownError, validateOptions } from '@affidavit/common';
import { StoreUnavailableError } from '../../store-errors.ts';
import type { AppendBatch, Entry, LedgerStore, LogStore, LogTail, TileId } from '../../ports/ledger-store.ts';
import { assertAppend, assertEventIds, assertLogId, assertRange, assertTileId } from '../../ports/validate-append.ts';
import { SQLITE_OPTIONS_SCHEMA } from './sqlite-store.ts';
import type { SqliteLedgerStoreOptions } from './sqlite-store.ts';
import { BUNDLE_WIDTH } from './entry-bundle.ts';
import { copyTiles, packEntries, reviveError, unpackEntries } from './worker-protocol.ts';
import type { PackedEntries, WorkerOp, WorkerRequest, WorkerResponse } from './worker-protocol.ts';

const WORKER_URL = new URL('./sqlite-worker.ts', import.meta.url);

/** The worker behind each store this module opened; for tests and supervision (see workerOf). */
const workers = new WeakMap<LedgerStore, Worker>();

/**
 * workerOf returns the worker thread behind a store opened by openWorkerSqliteLedgerStore, or
 * undefined for any other store. Tests use it to kill the worker and check that pending calls fail.
 */
export function workerOf(store: LedgerStore): Worker | undefined {
  return workers.get(store);
}

/**
 * openWorkerSqliteLedgerStore opens the same SQLite ledger file as openSqliteLedgerStore (same
 * options, same file format, same guarantees), but the DatabaseSync lives in a worker thread
 * (sqlite-worker.ts): an append's COMMIT and fsync block that thread, so the ledger's thread
 * meanwhile parses and hashes the next group (two cores instead of one).
 *
 * Calls are answered in the order they were made (one worker, one queue). Errors come back as
 * the same typed classes with the same codes. If the worker dies, every pending and later call
 * fails with StoreUnavailableError (fail closed: nothing hangs). Entries cross the thread boundary
 * packed in columns and transferred (worker-protocol.ts). While no call is pending the worker
 * does not keep the process alive; `close` ends it.
 */
export async function openWorkerSqliteLedgerStore(options: SqliteLedgerStoreOptions): Promise<LedgerStore> {
  const opts = validateOptions<Required<SqliteLedgerStoreOptions>>(SQLITE_OPTIONS_SCHEMA, options, { name: 'sqlite ledger store options' });
  const pageEntries = Math.ceil(opts.readPageSize / BUNDLE_WIDTH) * BUNDLE_WIDTH;
  const worker = new Worker(WORKER_URL, { workerData: { ...opts } });
  worker.unref();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; context: string }>();
  let nextId = 1;
  let closed = false;
  let dead: Error | undefined;
  let lastError: unknown;

  const failAll = (err: Error) => {
    dead ??= err;
    const calls = [...pending.values()];
    pending.clear();
    worker.unref();
    for (const c of calls) c.reject(dead);
  };
  worker.on('error', (e) => {
    lastError = e;
  });
  worker.on('messageerror', (e) => failAll(new StoreUnavailableError(`the ledger store worker sent an unreadable message: ${String(e)}`, { cause: e })));
  worker.on('exit', (code) => {
    const why = lastError instanceof Error ? `: ${lastError.message}` : '';
    failAll(
      closed
        ? new ShutdownError('the ledger store is closed')
        : new StoreUnavailableError(`the ledger store worker exited (code ${code})${why}; the outcome of pending appends is unknown`, { cause: lastError }),
    );
  });
  worker.on('message', (res: WorkerResponse) => {
    const c = pending.get(res.id);
    if (!c) return;
    pending.delete(res.id);
    if (pending.size === 0) worker.unref();
    if (res.ok) c.resolve(res.value);
    else c.reject(reviveError(res.error, c.context));
  });

  const call = <T>(op: WorkerOp, log: string | undefined, args: unknown[], context: string, transfer?: ArrayBuffer[]): Promise<T> => {
    if (closed && op !== 'close') return Promise.reject(new ShutdownError('the ledger store is closed'));
    if (dead) return Promise.reject(dead);
    return new Promise<T>((resolve, reject) => {
      const id = nextId++;
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, context });
      const req: WorkerRequest = { id, op, ...(log !== undefined ? { log } : {}), args };
      try {
        worker.postMessage(req, transfer);
      } catch (e) {
        pending.delete(id);
        if (pending.size === 0) worker.unref();
        reject(new StoreUnavailableError(`${context}: ${String((e as Error)?.message ?? e)}`, { cause: e }));
      }
    });
  };

  /**
   * readPages reads [from, to) a page at a time with one page read ahead: the worker reads and
   * packs the next page while this thread consumes the current one (a report reads a month of
   * entries; reading and folding then overlap on two cores). Pages end on bundle boundaries, so
   * the worker parses each bundle once. An abandoned read leaves at most one page unread.
   */
  async function* readPages(logId: string, from: number, to: number): AsyncIterable<readonly Entry[]> {
    assertRange(from, to);
    const request = (next: number) => {
      const end = Math.min(to, Math.floor(next / BUNDLE_WIDTH) * BUNDLE_WIDTH + pageEntries);
      const page = call<{ indexes: Float64Array; packed: PackedEntries }>('readPage', logId, [next, end], `reading log ${logId}`);
      page.catch(() => {}); // a read ahead nobody waits for must not be an unhandled rejection
      return { next, end, page };
    };
    if (from >= to) return;
    let cur = request(from);
    for (;;) {
      const { indexes, packed } = await cur.page;
      const n = packed.eventIds.length;
      const ahead = n === cur.end - cur.next && cur.end < to ? request(cur.end) : undefined;
      if (n > 0) yield unpackEntries(packed, indexes);
      if (!ahead) return;
      cur = ahead;
    }
  }

  const logStore = (logId: string): LogStore => ({
    logId,
    // One worker, one queue, one request at a time: appends run in the order they were posted.
    ordersAppends: true,
    tail: () => call<LogTail>('tail', logId, [], `reading the tail of log ${logId}`),
    async append(batch: AppendBatch, expectedSize: number): Promise<void> {
      // Checked here as well: packing would silently wrap an offset past 2^63 - 1.
      assertAppend(batch, expectedSize);
      const { packed, transfer } = packEntries(batch.entries);
      await call<void>('append', logId, [packed, copyTiles(batch.tiles), batch.checkpoint, expectedSize], `appending to log ${logId}`, transfer);
    },
    async hasEventIds(ids: readonly string[]): Promise<Set<string>> {
      assertEventIds(ids);
      return call<Set<string>>('hasEventIds', logId, [ids], `looking up eventIds in log ${logId}`);
    },
    readEntryPages: (from: number, to: number) => readPages(logId, from, to),
    async *readEntries(from: number, to: number): AsyncIterable<Entry> {
      for await (const page of readPages(logId, from, to)) yield* page;
    },
    async readTiles(ids: readonly TileId[]): Promise<(Uint8Array | undefined)[]> {
      ids.forEach(assertTileId);
      return call<(Uint8Array | undefined)[]>('readTiles', logId, [ids], `reading tiles of log ${logId}`);
    },
    checkpoints: () => call<string[]>('checkpoints', logId, [], `reading checkpoints of log ${logId}`),
    latestCheckpoint: () => call<string | undefined>('latestCheckpoint', logId, [], `reading checkpoints of log ${logId}`),
  });

  const store: LedgerStore = {
    async openLog(logId: string): Promise<LogStore> {
      if (closed) throw new ShutdownError('the ledger store is closed');
      assertLogId(logId);
      await call<string>('openLog', undefined, [logId], `opening log ${logId}`);
      return logStore(logId);
    },
    listLogs: () => call<string[]>('listLogs', undefined, [], 'listing logs'),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        if (!dead) await call<void>('close', undefined, [], 'closing the ledger store');
      } finally {
        await worker.terminate();
      }
    },
  };
  // The first answer tells whether the file opened: an unreadable or locked file fails here, typed.
  try {
    await store.listLogs();
  } catch (e) {
    closed = true;
    await worker.terminate();
    throw e;
  }
  workers.set(store, worker);
  return store;
}
