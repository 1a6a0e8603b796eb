// Which store `affidavit ledger run --store` names: `sqlite:FILE` (or a bare file name) or an
// EventStoreDB connection string (`esdb://…`, `esdb+discover://…`). The EventStoreDB adapter and
// its gRPC client are loaded only when one is named: the SQLite path never pays for them.
import { defineError } from '@affidavit/common';
import { openSqliteLedgerStore } from './adapters/sqlite/sqlite-store.ts';
import type { LedgerStore } from './ports/index.ts';

/** StoreSpecInvalidError: `--store` names no store this ledger can open. */
export const StoreSpecInvalidError = defineError('AFF_E_LEDGER_STORE_SPEC_INVALID', 'the store is neither sqlite:FILE nor an esdb:// connection string');

/** StoreSpec is a parsed `--store` value. */
export type StoreSpec = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'eventstoredb'; readonly connectionString: string };

/**
 * parseStoreSpec reads `sqlite:FILE`, a bare FILE (what earlier versions took), or an EventStoreDB
 * connection string. Any other `scheme://` is refused rather than taken for a file name.
 */
export function parseStoreSpec(s: string): StoreSpec {
  const v = s.trim();
  if (v === '') throw new StoreSpecInvalidError('the store is empty: give sqlite:FILE or esdb://HOST:PORT');
  if (/^esdb(\+discover)?:\/\//.test(v)) return { kind: 'eventstoredb', connectionString: v };
  if (v.startsWith('sqlite:')) {
    const path = v.slice('sqlite:'.length);
    if (path === '') throw new StoreSpecInvalidError('sqlite: names no file: give sqlite:FILE');
    return { kind: 'sqlite', path };
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(v)) throw new StoreSpecInvalidError(`unknown store ${v.split('://')[0]}://: give sqlite:FILE or esdb://HOST:PORT`);
  return { kind: 'sqlite', path: v };
}

/** describeStore names a store for logs without its credentials (an esdb URL may carry user:password). */
export function describeStore(spec: StoreSpec): string {
  if (spec.kind === 'sqlite') return `sqlite:${spec.path}`;
  return spec.connectionString.replace(/\/\/[^@/]*@/, '//***@');
}

/** openLedgerStore opens the store a spec names; the EventStoreDB adapter is imported only for it. */
export async function openLedgerStore(spec: StoreSpec): Promise<LedgerStore> {
  if (spec.kind === 'sqlite') return openSqliteLedgerStore({ path: spec.path });
  const { openEventStoreLedgerStore } = await import('./eventstoredb.ts');
  return openEventStoreLedgerStore({ connectionString: spec.connectionString });
}
