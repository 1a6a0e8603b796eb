import { defineError } from '@affidavit/common';

// Codes the ledger writes into its own InputRejected entries (their `code` field). They are
// never thrown to a caller: a record that earns one is appended as InputRejected and the
// partition moves on. Defined here so docs/errors.md lists them like every other code.

/** EventIdInvalidError: an input event's eventId is not a canonical lowercase UUIDv7. */
export const EventIdInvalidError = defineError('AFF_E_LEDGER_EVENT_ID_INVALID', 'the eventId is not a canonical UUIDv7');

/** RecordKeyMismatchError: a record has no key, or its key is not the event's sessionId. */
export const RecordKeyMismatchError = defineError('AFF_E_LEDGER_KEY_MISMATCH', 'the record key is not the event sessionId');

/**
 * SeqAnomalyError names the flag entry the ledger appends after an event whose per-session
 * `seq` repeats or goes backwards: the event itself is appended, the flag entry follows it.
 */
export const SeqAnomalyError = defineError('AFF_E_LEDGER_SEQ_ANOMALY', 'a session seq repeated or went backwards');

/** EntryRefusedError: the store refused an entry built from this record as invalid; it is kept as InputRejected instead. */
export const EntryRefusedError = defineError('AFF_E_LEDGER_ENTRY_REFUSED', 'the store refused the entry built from this record');
