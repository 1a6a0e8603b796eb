// @affidavit/tlog: the pure transparency-log code (RFC 9162 Merkle trees, C2SP tiles, checkpoints
// and signed notes). It does no I/O: storage is reached through the TileReader / NodeHashReader
// ports and signing through NoteSigner / NoteVerifier.
export type { Hash } from './hash.ts';
export { HASH_SIZE, EMPTY_ROOT, hashLeaf, hashChildren, hashLevelUp, hashesEqual, toHex } from './hash.ts';
export { MAX_TREE_SIZE } from './tree-math.ts';
export type { NodeId, NodeHashReader } from './node-reader.ts';
export { memoryNodeReader, perfectSubtrees } from './node-reader.ts';
export {
  inclusionProof,
  inclusionProofs,
  consistencyProof,
  consistencyProofs,
  rootHash,
  inclusionProofRanges,
  consistencyProofRanges,
} from './proof-generate.ts';
export { verifyInclusion, verifyConsistency, rootFromInclusionProof } from './proof-verify.ts';
export type { TileId, Tile, TileReader } from './tile-id.ts';
export { TILE_HEIGHT, TILE_WIDTH, tilePath, parseTilePath, tileIdFor, tileHashes } from './tile-id.ts';
export { tileNodeReader } from './tile-node-reader.ts';
export type { IntegrateResult } from './integrate.ts';
export { integrate } from './integrate.ts';
export type { CompactRange } from './compact-range.ts';
export { EMPTY_RANGE, extendRange, rangeRoot, readCompactRange } from './compact-range.ts';
export type { MemoryTileStore } from './memory-tile-store.ts';
export { createMemoryTileStore } from './memory-tile-store.ts';
export type { Checkpoint } from './checkpoint.ts';
export { formatCheckpoint, parseCheckpoint, MAX_CHECKPOINT_BYTES } from './checkpoint.ts';
export type { NoteSigner, NoteVerifier, NoteSignature, OpenedNote } from './signed-note.ts';
export { signNote, openNote, parseNote, isValidKeyName, MAX_NOTE_SIGNATURES, MAX_NOTE_BYTES } from './signed-note.ts';
export type { Ed25519NoteKeyPair, Ed25519NoteSigner } from './ed25519-note-key.ts';
export { ED25519_ALGORITHM, noteKeyHash, generateEd25519NoteKey, ed25519NoteSigner, ed25519NoteVerifier } from './ed25519-note-key.ts';
export { decodeBase64Strict, encodeBase64 } from './base64.ts';
export {
  TlogProofInvalidError,
  TlogInputInvalidError,
  TlogTileMissingError,
  TlogTileInvalidError,
  TlogCheckpointMalformedError,
  TlogNoteMalformedError,
  TlogKeyInvalidError,
  TlogSignatureInvalidError,
  TlogNoteUnverifiedError,
} from './errors.ts';
