// @affidavit/siem: the SIEM feed. Projects every ledger entry, exactly once, as an OCSF 1.5.0
// JSON object onto Kafka (affidavit.siem.ocsf.v1, keyed by session).
export { mapEntry, siemKeyOf, OCSF_VERSION, MAX_TEXT_CHARS, MAX_RAW_BYTES } from './ocsf/map-entry.ts';
export type { CoveringCheckpoint, LedgerEntryInput, OcsfEvent, Product } from './ocsf/map-entry.ts';
export { ocsfValidator } from './ocsf/validate-ocsf.ts';
export type { OcsfSchema, OcsfValidator } from './ocsf/validate-ocsf.ts';
export { loadOcsfSchema, OCSF_SCHEMA_FILE, OCSF_SCHEMA_SHA256 } from './ocsf-schema-file.ts';
export { SiemProjector, reduce, chunk } from './siem-projector.ts';
export type { SiemProjectorOptions, SiemProjectorDeps, SiemStats } from './siem-projector.ts';
export type { PositionStore, Positions } from './ports/position-store.ts';
export { openPositionFile, POSITION_FORMAT } from './adapters/position-file.ts';
export { CheckpointIndex, checkpointOfNote } from './covering-checkpoint.ts';
export {
  SiemPositionUnreadableError,
  SiemPositionMismatchError,
  SiemPositionAheadError,
  SiemPositionLockedError,
  SiemPublishRejectedError,
  OcsfSchemaChangedError,
  SiemCheckpointUnverifiedError,
} from './errors.ts';
