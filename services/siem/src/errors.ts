import { defineError } from '@affidavit/common';

/** SiemPositionUnreadableError: the projector's position file exists but is not one it wrote (damaged, edited, another format). */
export const SiemPositionUnreadableError = defineError('AFF_E_SIEM_POSITION_UNREADABLE', "the SIEM projector's position file cannot be read");

/** SiemPositionMismatchError: the position file belongs to another topic; following it would skip or repeat entries. */
export const SiemPositionMismatchError = defineError('AFF_E_SIEM_POSITION_MISMATCH', 'the position file was written for another topic');

/** SiemPositionAheadError: the stored position is past the end of the ledger's log (the ledger was replaced or shrank). */
export const SiemPositionAheadError = defineError('AFF_E_SIEM_POSITION_AHEAD', 'the stored position is past the end of the ledger');

/** SiemPositionLockedError: another running projector holds the position file. */
export const SiemPositionLockedError = defineError('AFF_E_SIEM_POSITION_LOCKED', 'another SIEM projector is using this position file');

/** SiemPublishRejectedError: the broker refused the OCSF records for a reason retrying will not fix; the projector stops rather than skip them. */
export const SiemPublishRejectedError = defineError('AFF_E_SIEM_PUBLISH_REJECTED', 'the broker refused the OCSF records');

/** SiemCheckpointUnverifiedError: a checkpoint in the ledger is not signed by the ledger's key; nothing it covers is published. */
export const SiemCheckpointUnverifiedError = defineError('AFF_E_SIEM_CHECKPOINT_UNVERIFIED', "a ledger checkpoint does not verify with the ledger's key");

/** SiemEntryUnverifiedError: the entries read from the ledger do not hash to the root their signed checkpoint names; none of them is published. */
export const SiemEntryUnverifiedError = defineError('AFF_E_SIEM_ENTRY_UNVERIFIED', 'ledger entries do not match the checkpoint that should cover them');

/** OcsfSchemaChangedError: the vendored compiled OCSF schema is not the pinned 1.5.0 file. */
export const OcsfSchemaChangedError = defineError('AFF_E_SIEM_OCSF_SCHEMA_CHANGED', 'the vendored OCSF schema is not the pinned 1.5.0 file');
