// The ledger's ports: what the core depends on. Adapters live in ../adapters.
export type { AppendBatch, Entry, EntryKind, LedgerStore, LogStore, LogTail, NewEntry, SourcePosition, TileId, TileWrite } from './ledger-store.ts';
export { MAX_CHECKPOINT_BYTES, sourceKey } from './ledger-store.ts';
export {
  MAX_ENTRY_BYTES,
  MAX_EVENT_ID_LENGTH,
  assertAppend,
  assertEventIds,
  assertLogId,
  assertRange,
  assertSize,
  assertTileId,
  tileKey,
} from './validate-append.ts';
