import { ErrorType, isCommandError } from '@eventstore/db-client';
import { isAffidavitError } from '@affidavit/common';
import { BatchTooLargeError, ExpectedSizeConflictError, StoreUnavailableError, StoreUnreadableError } from '../../store-errors.ts';

const TRANSIENT = new Set<string>([
  ErrorType.UNAVAILABLE,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.TIMEOUT,
  ErrorType.NOT_LEADER,
  ErrorType.CANCELLED,
  ErrorType.UNKNOWN,
]);

/**
 * translateEsdbError maps an @eventstore/db-client error to the store's typed errors
 * (emmett: WrongExpectedVersionError → ExpectedVersionConflictError). Affidavit errors pass through.
 */
export function translateEsdbError(e: unknown, context: string): Error {
  if (isAffidavitError(e)) return e;
  const err = e as Error;
  const msg = `${context}: ${String(err?.message ?? e)}`;
  if (err instanceof Error && isCommandError(err)) {
    const type = (err as { type: string }).type;
    if (type === ErrorType.WRONG_EXPECTED_VERSION)
      return new ExpectedSizeConflictError(`${context}: another writer appended to the log's stream`, { cause: e });
    if (type === ErrorType.MAXIMUM_APPEND_SIZE_EXCEEDED)
      return new BatchTooLargeError(`${msg} (split the batch or raise the server's MaxAppendSize)`, { cause: e });
    if (type === ErrorType.STREAM_DELETED) return new StoreUnreadableError(`${msg} (the log's stream was deleted)`, { cause: e });
    if (TRANSIENT.has(type)) return new StoreUnavailableError(msg, { cause: e });
    // Access denied, invalid argument and the like: retrying will not help.
    return new StoreUnavailableError(msg, { cause: e, retriable: false });
  }
  return new StoreUnavailableError(msg, { cause: e });
}
