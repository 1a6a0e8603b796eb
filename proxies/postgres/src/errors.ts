// Typed errors of the PostgreSQL proxy session (the wire codec's own are in ./wire/errors.ts).
// Each one reaches the client as an ErrorResponse whose message names the code, so a user who
// sees it can look it up in docs/errors.md.
import { defineError } from '@affidavit/common';

/** PgTlsRequiredError: the client asked to log in without TLS; tokens travel only over TLS (or loopback when allowed). */
export const PgTlsRequiredError = defineError('AFF_E_PG_TLS_REQUIRED', 'the proxy accepts access tokens only over TLS; connect with sslmode=require');
/** PgUpstreamUnavailableError: the proxy could not connect or log in to the upstream PostgreSQL server. */
export const PgUpstreamUnavailableError = defineError('AFF_E_PG_UPSTREAM_UNAVAILABLE', 'the upstream PostgreSQL server is unavailable', { retriable: true });
/** PgCommandDeniedError: policy refused the statement; it was never forwarded. */
export const PgCommandDeniedError = defineError('AFF_E_PG_COMMAND_DENIED', 'the statement was refused by policy');
/** PgApprovalRefusedError: the statement needed an approval that was denied, expired, or cannot be asked for. */
export const PgApprovalRefusedError = defineError('AFF_E_PG_APPROVAL_REFUSED', 'the statement needed an approval that was not given');
/** PgMaskBinaryError: masking needs text-format results, but the client asked for binary ones. */
export const PgMaskBinaryError = defineError('AFF_E_PG_MASK_BINARY', 'masked results cannot be sent in binary format');
/** PgMaskCopyError: policy masks the data, but COPY TO streams it in a format the proxy does not rewrite. */
export const PgMaskCopyError = defineError('AFF_E_PG_MASK_COPY', 'masked data cannot be exported with COPY TO');
/** PgIdleTimeoutError: the client sent nothing for longer than the idle timeout. */
export const PgIdleTimeoutError = defineError('AFF_E_PG_IDLE_TIMEOUT', 'the session was idle for too long');
/** PgStatementTimeoutError: a statement ran longer than the statement timeout and was cancelled. */
export const PgStatementTimeoutError = defineError('AFF_E_PG_STATEMENT_TIMEOUT', 'the statement ran past the statement timeout and was cancelled');
/** PgClientTooSlowError: the client stopped reading results; the bounded output buffer stayed full. */
export const PgClientTooSlowError = defineError('AFF_E_PG_CLIENT_TOO_SLOW', 'the client stopped reading results');
/** PgProtocolStateError: a message that is valid on the wire arrived when the session cannot take it. */
export const PgProtocolStateError = defineError('AFF_E_PG_PROTOCOL_STATE', 'a PostgreSQL message arrived out of sequence');
/** PgMaskLineageError: policy masks columns the statement uses where no result masking can hide them (a predicate, a side channel, a failing cast, a copy elsewhere). */
export const PgMaskLineageError = defineError('AFF_E_PG_MASK_LINEAGE', 'the statement uses masked columns in a way that cannot be masked');
/** PgMaskedMessageError: the server's error or notice text of a statement reading masked columns was withheld (it may quote their values). */
export const PgMaskedMessageError = defineError('AFF_E_PG_MASKED_MESSAGE', "the server's message was withheld because it may quote masked values");
/** PgUnknownNameError: a statement names a prepared statement or cursor whose definition the proxy does not know, so it is refused rather than guessed. */
export const PgUnknownNameError = defineError('AFF_E_PG_UNKNOWN_NAME', 'the statement names a prepared statement or cursor the proxy does not know');
/** PgStartupUserMismatchError: the startup packet names a user other than the token's subject. */
export const PgStartupUserMismatchError = defineError('AFF_E_PG_STARTUP_USER_MISMATCH', 'the startup user is not the user the token was issued to');
/** PgParserDisagreesError: a setting would make the server read statement text differently from the proxy's parser. */
export const PgParserDisagreesError = defineError('AFF_E_PG_PARSER_DISAGREES', "the server would read statements differently from the proxy's parser");
