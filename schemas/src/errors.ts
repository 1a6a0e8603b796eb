import { defineError } from '@affidavit/common';

/** AvroBadMagicError: the bytes do not start with the single-object marker C3 01. */
export const AvroBadMagicError = defineError('AFF_E_AVRO_BAD_MAGIC', 'not Avro single-object encoding (missing C3 01 marker)');
/** AvroUnknownFingerprintError: no known writer schema has this CRC-64-AVRO fingerprint. */
export const AvroUnknownFingerprintError = defineError('AFF_E_AVRO_UNKNOWN_FINGERPRINT', 'unknown writer schema fingerprint');
/** AvroTruncatedError: the body ends before the writer schema says it should. */
export const AvroTruncatedError = defineError('AFF_E_AVRO_TRUNCATED', 'Avro body is truncated');
/** AvroMalformedError: a length, count, union branch or enum index in the body is impossible. */
export const AvroMalformedError = defineError('AFF_E_AVRO_MALFORMED', 'Avro body is malformed');
/** AvroTooLargeError: the encoded event is larger than the configured maximum. */
export const AvroTooLargeError = defineError('AFF_E_AVRO_TOO_LARGE', 'Avro event is larger than the maximum size');
/** EventInvalidError: an event does not match its schema, so it is not encoded. */
export const EventInvalidError = defineError('AFF_E_EVENT_INVALID', 'event does not match its schema');
/** EventUnknownTypeError: the event names a type the contract does not define. */
export const EventUnknownTypeError = defineError('AFF_E_EVENT_UNKNOWN_TYPE', 'unknown event type');
