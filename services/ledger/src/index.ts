export { Ledger, DEFAULT_LEDGER_OPTIONS, logIdFor } from './ledger-service.ts';
export type { LedgerOptions, LedgerStats } from './ledger-service.ts';
export { verifyLog } from './core/verify-log.ts';
export type { VerifyReport, VerifyProblem, VerifyEntry, OpenedCheckpoint, LabeledNote, EntryCheck } from './core/verify-log.ts';
export { verifyLedger } from './core/verify-ledger.ts';
export type { LedgerVerdict, LedgerVerifyInput, LogSource, LogVerdict } from './core/verify-ledger.ts';
export { parseCheckpointFeed } from './core/checkpoint-feed.ts';
export {
  detectInput,
  readCheckpointFile,
  readCheckpointFeed,
  assertReadableFile,
  VerifyInputMissingError,
  VerifyInputUnreadableError,
  CheckpointFeedMalformedError,
} from './verify-input.ts';
export type { InputKind } from './verify-input.ts';
export { RootAccumulator } from './core/root-accumulator.ts';
export { exportBundle, entriesWithRecordedLeaves, readBundle, BUNDLE_FORMAT, BundleMalformedError, MAX_BUNDLE_LINE_BYTES } from './bundle.ts';
export type { BundleHeader, OpenedBundle } from './bundle.ts';
export { loadOrCreateSigningKey, readVerifierKey, SigningKeyError } from './signing-key.ts';
export * from './ports/index.ts';
export * from './adapters/index.ts';
export { parseStoreSpec, openLedgerStore, describeStore, StoreSpecInvalidError } from './store-selection.ts';
export type { StoreSpec } from './store-selection.ts';
export { appendSigned } from './signed-append.ts';
export type { SignedAppendOptions } from './signed-append.ts';
