import { defineError } from '@affidavit/common';

/** RecordingUnavailableError: the bus did not acknowledge the audit event, so the command is refused (fail closed). */
export const RecordingUnavailableError = defineError(
  'AFF_E_RECORDING_UNAVAILABLE',
  'the audit bus did not acknowledge the event; the command was refused so nothing runs unrecorded',
  { retriable: true },
);
/** RecorderClosedError: the recorder is closing and records nothing new. */
export const RecorderClosedError = defineError('AFF_E_RECORDER_CLOSED', 'the recorder is closed');
