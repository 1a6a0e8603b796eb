import { defineError } from '@affidavit/common';

/**
 * BusUnavailableError: the broker did not acknowledge within the bound (down, unreachable,
 * or not answering). Retriable. A rejected publish MAY still have been written: retrying is
 * safe because consumers (the ledger) drop duplicate event ids.
 */
export const BusUnavailableError = defineError('AFF_E_BUS_UNAVAILABLE', 'the message bus did not acknowledge in time', {
  retriable: true,
});

/** BusTopicUnknownError: the topic does not exist; topics are created with ensureTopic(), never on first use. */
export const BusTopicUnknownError = defineError('AFF_E_BUS_TOPIC_UNKNOWN', 'the topic does not exist');

/** BusRecordInvalidError: a record or topic name broke the bus's bounds (empty key, value too large, bad name). */
export const BusRecordInvalidError = defineError('AFF_E_BUS_RECORD_INVALID', 'record or topic name is invalid');

/** BusRejectedError: the broker refused the request for a reason retrying will not fix (e.g. authorization, record too large for the broker). */
export const BusRejectedError = defineError('AFF_E_BUS_REJECTED', 'the broker rejected the request');
