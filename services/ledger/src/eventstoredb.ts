// @affidavit/ledger/eventstoredb: the EventStoreDB store adapter, an entry of its own so that
// only a caller that selects it loads @eventstore/db-client (the offline verifier never does).
export { openEventStoreLedgerStore, DEFAULT_STREAM_PREFIX } from './adapters/eventstoredb/eventstoredb-store.ts';
export type { EsdbClient, EventStoreLedgerStoreOptions } from './adapters/eventstoredb/eventstoredb-store.ts';
