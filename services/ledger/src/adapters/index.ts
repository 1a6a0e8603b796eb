// The ledger store's adapters. The embedded default is SQLite. EventStoreDB, for distributed runs,
// has its own entry (`@affidavit/ledger/eventstoredb`) so that nothing else, the offline verifier
// above all, loads its driver.
export { openSqliteLedgerStore, DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_READ_PAGE } from './sqlite/sqlite-store.ts';
export type { SqliteLedgerStoreOptions } from './sqlite/sqlite-store.ts';
export { openWorkerSqliteLedgerStore, workerOf } from './sqlite/worker-store.ts';
export { SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from './sqlite/sqlite-schema.ts';
export { PRAGMAS as SQLITE_PRAGMAS } from './sqlite/sqlite-schema.ts';
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
