import { DatabaseSync } from 'node:sqlite';
// The benchmark's floor for the ledger's SQLite append: it belongs to bench/, not to the
// ledger's API, and shares only the ledger's pragmas so the comparison stays fair.
import { LedgerInputInvalidError, SQLITE_PRAGMAS as PRAGMAS } from '@affidavit/ledger';

/** RawInsertBaselineOptions: where and what the baseline inserts. */
export type RawInsertBaselineOptions = {
  /** path of a NEW database file (the caller deletes it afterwards). */
  path: string;
  /** blobs to insert, in order; inserted `count` times round-robin when count > blobs.length. */
  blobs: readonly Uint8Array[];
  count: number;
  batchSize: number;
  /** now returns a monotonic millisecond clock (injected; defaults to performance.now). */
  now?: () => number;
};

/**
 * rawInsertBaseline inserts `count` byte blobs in transactions of `batchSize` rows into a bare
 * table (`idx INTEGER PRIMARY KEY, bytes BLOB`) with the ledger's pragmas (WAL, synchronous=FULL),
 * and returns the elapsed milliseconds. No eventId index, triggers, tiles or checkpoints: it is
 * the floor the ledger's SQLite append is compared against in the benchmark.
 */
export function rawInsertBaseline(o: RawInsertBaselineOptions): number {
  if (!Number.isSafeInteger(o.count) || o.count < 0) throw new LedgerInputInvalidError('count must be a safe integer >= 0');
  if (!Number.isSafeInteger(o.batchSize) || o.batchSize < 1) throw new LedgerInputInvalidError('batchSize must be >= 1');
  if (o.blobs.length === 0 && o.count > 0) throw new LedgerInputInvalidError('blobs must not be empty');
  const now = o.now ?? (() => performance.now());
  const db = new DatabaseSync(o.path);
  try {
    for (const p of PRAGMAS) db.exec(p);
    db.exec('CREATE TABLE raw_baseline (idx INTEGER PRIMARY KEY, bytes BLOB NOT NULL)');
    const ins = db.prepare('INSERT INTO raw_baseline (idx, bytes) VALUES (?, ?)');
    const t0 = now();
    for (let start = 0; start < o.count; start += o.batchSize) {
      const end = Math.min(start + o.batchSize, o.count);
      db.exec('BEGIN IMMEDIATE');
      for (let i = start; i < end; i++) ins.run(i, o.blobs[i % o.blobs.length]);
      db.exec('COMMIT');
    }
    return now() - t0;
  } finally {
    db.close();
  }
}
