import { defineError } from '@affidavit/common';

/** TlogProofInvalidError: an inclusion or consistency proof does not verify (wrong length, wrong hash, root mismatch). */
export const TlogProofInvalidError = defineError('AFF_E_TLOG_PROOF_INVALID', 'the Merkle proof does not verify');

/** TlogInputInvalidError: a tree size, leaf index or hash given to the tlog code is out of range or malformed (a caller bug). */
export const TlogInputInvalidError = defineError('AFF_E_TLOG_INPUT_INVALID', 'invalid tree size, index or hash');

/** TlogTileMissingError: the tile reader port did not return a tile the computation needs. */
export const TlogTileMissingError = defineError('AFF_E_TLOG_TILE_MISSING', 'a tile needed for the computation is missing');

/** TlogTileInvalidError: a tile has the wrong length, or a tile path does not follow the C2SP tlog-tiles layout. */
export const TlogTileInvalidError = defineError('AFF_E_TLOG_TILE_INVALID', 'a tile or tile path is malformed');

/** TlogCheckpointMalformedError: the text is not a C2SP tlog-checkpoint (origin, size, root hash, extension lines). */
export const TlogCheckpointMalformedError = defineError('AFF_E_TLOG_CHECKPOINT_MALFORMED', 'the checkpoint text is malformed');

/** TlogNoteMalformedError: the bytes are not a C2SP signed note (bad UTF-8, control characters, no signature block, bad signature line). */
export const TlogNoteMalformedError = defineError('AFF_E_TLOG_NOTE_MALFORMED', 'the signed note is malformed');

/** TlogKeyInvalidError: a signer or verifier key string (or key name) is malformed, of an unknown type, or its key hash does not match. */
export const TlogKeyInvalidError = defineError('AFF_E_TLOG_KEY_INVALID', 'the note key is malformed');

/** TlogSignatureInvalidError: a signature from a known key (name and key hash match) does not verify: the note was altered or forged. */
export const TlogSignatureInvalidError = defineError('AFF_E_TLOG_SIGNATURE_INVALID', 'a signature from a known key does not verify');

/** TlogNoteUnverifiedError: no signature on the note comes from a known key, so its text MUST NOT be trusted. */
export const TlogNoteUnverifiedError = defineError('AFF_E_TLOG_NOTE_UNVERIFIED', 'the note carries no signature from a known key');
