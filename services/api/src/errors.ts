// The API's error catalogue (STYLE rule 4). GraphQL errors carry the code in `extensions.code`;
// HTTP-level refusals (401) carry it in the JSON body.
import { defineError } from '@affidavit/common';

/** ApiUnauthenticatedError: no usable bearer token; the request is refused with HTTP 401. */
export const ApiUnauthenticatedError = defineError('AFF_E_API_UNAUTHENTICATED', 'send an OIDC access token as "Authorization: Bearer <token>"');
/** ApiForbiddenError: the caller is authenticated but none of their groups grants the role the field needs. */
export const ApiForbiddenError = defineError('AFF_E_API_FORBIDDEN', 'your groups do not grant the role this operation needs');
/** ApiCursorInvalidError: a pagination cursor was not one this API issued. */
export const ApiCursorInvalidError = defineError('AFF_E_API_CURSOR_INVALID', 'the pagination cursor is not valid; start again without `after`');
/** ApiInputInvalidError: an argument is out of range (page size, log, tree sizes). */
export const ApiInputInvalidError = defineError('AFF_E_API_INPUT_INVALID', 'an argument is out of range');
/** ApiNoCheckpointError: a consistency proof was asked between sizes that are not signed checkpoints of the log. */
export const ApiNoCheckpointError = defineError('AFF_E_API_NO_CHECKPOINT', 'the tree size is not the size of a signed checkpoint of this log');
/** ApiUnavailableError: a port the operation needs (the decision service) is not configured. */
export const ApiUnavailableError = defineError(
  'AFF_E_API_UNAVAILABLE',
  'this API instance cannot perform the operation (the service it needs is not configured)',
);
/** ReadModelUnreadableError: the read-model file is of another schema version or not a read-model file. */
export const ReadModelUnreadableError = defineError(
  'AFF_E_API_READ_MODEL_UNREADABLE',
  'the read-model file cannot be used; delete it and it is rebuilt from the ledger',
);
/** ApiRateLimitedError: the caller sent more requests than the per-identity rate limit allows (HTTP 429). */
export const ApiRateLimitedError = defineError('AFF_E_API_RATE_LIMITED', 'too many requests; slow down and retry after the window', { retriable: true });
/** ApiNotFoundError: the object an operation names is not in the read models (unknown, or not projected yet). */
export const ApiNotFoundError = defineError('AFF_E_API_NOT_FOUND', 'no such object in the read models');
