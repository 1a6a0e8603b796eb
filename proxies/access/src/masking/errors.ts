import { defineError } from '@affidavit/common';

/** MaskRuleInvalidError: a masking rule is malformed (unknown detector or style, empty rule, missing hash key). */
export const MaskRuleInvalidError = defineError('AFF_E_MASK_RULE_INVALID', 'masking rule is invalid');

/** MaskKeyUnknownError: the key provider holds no key with the record's key id. */
export const MaskKeyUnknownError = defineError('AFF_E_MASK_KEY_UNKNOWN', 'no key with this key id');

/** MaskKeyInvalidError: a key file or key is unusable (bad format, not 32 bytes, too-open permissions, already exists). */
export const MaskKeyInvalidError = defineError('AFF_E_MASK_KEY_INVALID', 'masking key or key file is invalid');

/** MaskContextMismatchError: an encrypted original (or a chunk of them) was opened for another session, command, column, row or place in the event than it was sealed for. */
export const MaskContextMismatchError = defineError('AFF_E_MASK_CONTEXT_MISMATCH', 'encrypted original belongs to another context');

/** MaskTamperedError: AES-GCM authentication failed: the ciphertext, nonce, tag or associated data was altered, or the key is wrong. */
export const MaskTamperedError = defineError('AFF_E_MASK_TAMPERED', 'encrypted original failed authentication');

/** MaskRevealInvalidError: a reveal request is incomplete (no reason, no opener, index out of range, no encrypted original). */
export const MaskRevealInvalidError = defineError('AFF_E_MASK_REVEAL_INVALID', 'reveal request is invalid');

/** MaskRowShapeError: a row has a different number of values than the column descriptions. */
export const MaskRowShapeError = defineError('AFF_E_MASK_ROW_SHAPE', 'row does not match its column descriptions');

/** MaskDataRowMalformedError: a PostgreSQL DataRow to mask is malformed (wrong type byte, a length field that disagrees with the message). */
export const MaskDataRowMalformedError = defineError('AFF_E_MASK_DATA_ROW_MALFORMED', 'DataRow to mask is malformed');

/** MaskSealedMalformedError: a chunk of sealed originals authenticated but does not hold exactly `count` strings, or covers masks its event does not have. */
export const MaskSealedMalformedError = defineError('AFF_E_MASK_SEALED_MALFORMED', 'sealed originals are malformed');
