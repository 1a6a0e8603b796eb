import { defineError } from '@affidavit/common';

/**
 * ExpectedSizeConflictError: `append(batch, expectedSize)` found the log at another size.
 * This is single-writer fencing (EventStoreDB's expected revision): another writer appended,
 * or this writer's view is stale. Nothing of the batch was written. Not retriable as is: the
 * writer MUST re-read `tail()` (and normally stop, since two writers own one log).
 */
export const ExpectedSizeConflictError = defineError(
  'AFF_E_LEDGER_EXPECTED_SIZE',
  'the log is not at the expected size; another writer appended or this view is stale',
);

/**
 * LedgerImmutableError: something tried to change or delete a stored entry or checkpoint
 * (for SQLite: a trigger refused an UPDATE or DELETE, even from a raw connection).
 */
export const LedgerImmutableError = defineError('AFF_E_LEDGER_IMMUTABLE', 'ledger entries and checkpoints are append-only');

/**
 * TileConflictError: a tile write would change history: it is narrower than the stored tile
 * of the same level and index, or its first hashes differ from the stored ones. Nothing of
 * the batch was written.
 */
export const TileConflictError = defineError('AFF_E_LEDGER_TILE_CONFLICT', 'a tile may only be replaced by a wider one whose prefix is identical');

/** DuplicateEventIdError: an entry's eventId is already in the log, or twice in the batch. Nothing was written. */
export const DuplicateEventIdError = defineError('AFF_E_LEDGER_DUPLICATE_EVENT', 'an eventId is already in the log');

/** LedgerInputInvalidError: an argument broke the store port's bounds (bad size, tile, offset, range); a programming error. */
export const LedgerInputInvalidError = defineError('AFF_E_LEDGER_INPUT_INVALID', 'invalid argument to the ledger store');

/** BatchTooLargeError: the backing store refused the batch for its size (EventStoreDB's maxAppendSize). Nothing was written. */
export const BatchTooLargeError = defineError('AFF_E_LEDGER_BATCH_TOO_LARGE', 'the batch is larger than the store accepts in one append');

/**
 * StoreUnavailableError: the backing store could not be reached or stayed locked past its
 * timeout. Retriable. For an append, the outcome is unknown: re-read `tail()` before retrying.
 */
export const StoreUnavailableError = defineError('AFF_E_LEDGER_STORE_UNAVAILABLE', 'the ledger store is unavailable', {
  retriable: true,
});

/**
 * StoreUnreadableError: the store is not an Affidavit ledger, was written by a newer schema
 * version, or its stored data is inconsistent (for example an entry stream with a foreign event).
 */
export const StoreUnreadableError = defineError('AFF_E_LEDGER_STORE_UNREADABLE', 'the ledger store cannot be read by this version');
