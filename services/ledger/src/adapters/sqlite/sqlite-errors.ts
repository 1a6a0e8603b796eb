import { isAffidavitError } from '@affidavit/common';
import { DuplicateEventIdError, LedgerImmutableError, StoreUnavailableError, StoreUnreadableError, TileConflictError } from '../../store-errors.ts';

// SQLite extended result codes. SPEC: https://www.sqlite.org/rescode.html
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;
const SQLITE_CONSTRAINT_TRIGGER = 1811;
const SQLITE_CONSTRAINT_UNIQUE = 2067;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;

type SqliteError = Error & { code?: string; errcode?: number };

/**
 * translateSqliteError maps a node:sqlite error to the store's typed errors (emmett-style:
 * adapters translate driver errors). Trigger aborts carry their code as the message prefix.
 * Errors that are already Affidavit errors pass through; anything unknown becomes
 * StoreUnavailableError with the driver error as `cause`.
 */
export function translateSqliteError(e: unknown, context: string): Error {
  if (isAffidavitError(e)) return e;
  const err = e as SqliteError;
  if (err?.code !== 'ERR_SQLITE_ERROR' || typeof err.errcode !== 'number') {
    return new StoreUnavailableError(`${context}: ${String(err?.message ?? e)}`, { cause: e });
  }
  const msg = `${context}: ${err.message}`;
  if (err.errcode === SQLITE_CONSTRAINT_TRIGGER) {
    if (err.message.startsWith('AFF_E_LEDGER_TILE_CONFLICT')) return new TileConflictError(msg, { cause: e });
    return new LedgerImmutableError(msg, { cause: e });
  }
  if (err.errcode === SQLITE_CONSTRAINT_UNIQUE || err.errcode === SQLITE_CONSTRAINT_PRIMARYKEY) {
    // event_ids' key is (log, event_id): a second row is a duplicate eventId. Any other key
    // (a bundle index, a log id) taken twice would rewrite history.
    if (err.message.includes('event_ids.')) return new DuplicateEventIdError(msg, { cause: e });
    return new LedgerImmutableError(msg, { cause: e });
  }
  const primary = err.errcode & 0xff;
  if (primary === SQLITE_BUSY || primary === SQLITE_LOCKED)
    return new StoreUnavailableError(`${msg} (the file stayed locked past the busy timeout)`, { cause: e });
  if (primary === SQLITE_CORRUPT || primary === SQLITE_NOTADB) return new StoreUnreadableError(msg, { cause: e });
  return new StoreUnavailableError(msg, { cause: e });
}
