// Typed errors of the PostgreSQL wire codec. Each is a protocol violation by a peer (or a value
// we cannot encode): none is retriable, and the proxy answers each with a FATAL ErrorResponse
// (SQLSTATE 08P01 protocol_violation) and closes the connection.
import { defineError } from '@affidavit/common';

/** PgMessageTooLargeError: a message's length field exceeds the configured limit; refused before any allocation. */
export const PgMessageTooLargeError = defineError('AFF_E_PG_PROTOCOL_TOO_LARGE', 'PostgreSQL message exceeds the size limit');
/** PgBadLengthError: a length field is smaller than its own 4 bytes (or than the fixed part of the message). */
export const PgBadLengthError = defineError('AFF_E_PG_PROTOCOL_BAD_LENGTH', 'PostgreSQL message length field is invalid');
/** PgUnknownMessageError: a message type byte that the frontend protocol 3.0 does not define. */
export const PgUnknownMessageError = defineError('AFF_E_PG_PROTOCOL_UNKNOWN_MESSAGE', 'unknown PostgreSQL message type');
/** PgBadStartupError: the first packet is not a PostgreSQL startup, SSL, GSSENC or cancel request. */
export const PgBadStartupError = defineError('AFF_E_PG_PROTOCOL_BAD_STARTUP', 'not a valid PostgreSQL startup packet');
/** PgMalformedMessageError: a message's contents do not match its format (missing NUL, counts that overrun, trailing bytes). */
export const PgMalformedMessageError = defineError('AFF_E_PG_PROTOCOL_MALFORMED', 'malformed PostgreSQL message');
/** PgTruncatedError: the stream ended in the middle of a message. */
export const PgTruncatedError = defineError('AFF_E_PG_PROTOCOL_TRUNCATED', 'PostgreSQL stream ended inside a message');
/** PgUnencodableError: a value cannot be written in a message (NUL inside a string, out-of-range integer). */
export const PgUnencodableError = defineError('AFF_E_PG_PROTOCOL_UNENCODABLE', 'value cannot be encoded as a PostgreSQL message');
/** PgScramError: the SCRAM-SHA-256 exchange with the upstream server failed (bad server message or signature). */
export const PgScramError = defineError('AFF_E_PG_SCRAM_FAILED', 'SCRAM-SHA-256 authentication with the upstream server failed');

/** PgProtocolError is any error this codec raises on purpose. */
export type PgProtocolError = InstanceType<
  | typeof PgMessageTooLargeError
  | typeof PgBadLengthError
  | typeof PgUnknownMessageError
  | typeof PgBadStartupError
  | typeof PgMalformedMessageError
  | typeof PgTruncatedError
  | typeof PgUnencodableError
  | typeof PgScramError
>;
