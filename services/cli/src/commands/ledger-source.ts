import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LedgerStore, SqliteLedgerStoreOptions } from '@affidavit/ledger';
import { UsageError } from '../command.ts';
import type { Io } from '../command.ts';

/**
 * openLedgerForReading opens the SQLite ledger named by --store FILE or --data DIR read-only,
 * so inspecting a ledger can never change it, and lists its logs.
 */
export async function openLedgerForReading(
  values: { store?: string; data?: string },
  io: Io,
  open: (o: SqliteLedgerStoreOptions) => Promise<LedgerStore>,
): Promise<{ store: LedgerStore; logs: string[]; origin?: string }> {
  if (!values.store === !values.data) throw new UsageError('give exactly one of --store FILE or --data DIR');
  const path = values.store ? resolve(io.cwd, values.store) : join(resolve(io.cwd, values.data!), 'ledger.sqlite');
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`no ledger file at ${path}`);
  const store = await open({ path, readOnly: true });
  return { store, logs: await store.listLogs() };
}

/** originOf reads a log's checkpoint origin from its newest checkpoint (its first line). */
export function originOf(_prefix: string | undefined, latestCheckpoint: string | undefined, logId: string): string {
  return latestCheckpoint ? latestCheckpoint.split('\n')[0] : `(no checkpoint)/${logId}`;
}
