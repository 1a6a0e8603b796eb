// The ledger store's adapters. The embedded default is SQLite; EventStoreDB is for distributed runs.
export { openSqliteLedgerStore, DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_READ_PAGE } from './sqlite/sqlite-store.ts';
export type { SqliteLedgerStoreOptions } from './sqlite/sqlite-store.ts';
export { openWorkerSqliteLedgerStore, workerOf } from './sqlite/worker-store.ts';
export { SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from './sqlite/sqlite-schema.ts';
export { rawInsertBaseline } from './sqlite/raw-insert-baseline.ts';
export type { RawInsertBaselineOptions } from './sqlite/raw-insert-baseline.ts';
export { openEventStoreLedgerStore, DEFAULT_STREAM_PREFIX } from './eventstoredb/eventstoredb-store.ts';
export type { EsdbClient, EventStoreLedgerStoreOptions } from './eventstoredb/eventstoredb-store.ts';
export {
  DuplicateEventIdError,
  ExpectedSizeConflictError,
  LedgerImmutableError,
  LedgerInputInvalidError,
  StoreUnavailableError,
  StoreUnreadableError,
  TileConflictError,
  BatchTooLargeError,
} from '../store-errors.ts';
