import { hash } from 'node:crypto';
import { TlogInputInvalidError } from './errors.ts';

/** Hash is one SHA-256 Merkle tree hash (32 bytes). */
export type Hash = Uint8Array;

/** HASH_SIZE is the byte length of every RFC 9162 tree hash with SHA-256. */
export const HASH_SIZE = 32;

// The one-shot crypto.hash() skips the Hash object (and its update/digest calls) that
// createHash() builds per call, markedly faster per leaf and per node (bench/ledger.ts), and
// these run once per entry (leaf) and about once more per entry (nodes). The prefix and the
// input are copied into a scratch buffer, reused because every call here is synchronous.
const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);
const SCRATCH_MAX = 64 * 1024;
let scratch = Buffer.allocUnsafe(1024);
const NODE_INPUT = Buffer.allocUnsafe(1 + 2 * 32);

// Digests are asked for as latin1 strings and copied into slices of a shared block: a 'buffer'
// digest allocates an ArrayBuffer per call, which cost more than the hashing itself (with SHA
// instructions in the CPU). A hash handed out keeps its 8 KiB block alive;
// hashes are never written to, and never transferred between threads (that would detach the block).
const BLOCK_HASHES = 256;
let block = Buffer.allocUnsafeSlow(BLOCK_HASHES * 32);
let blockAt = 0;
function sha256(data: Uint8Array): Hash {
  const digest = hash('sha256', data, 'binary'); // 'binary' is latin1
  if (blockAt === block.length) {
    block = Buffer.allocUnsafeSlow(BLOCK_HASHES * 32);
    blockAt = 0;
  }
  block.write(digest, blockAt, 32, 'latin1');
  const h = block.subarray(blockAt, blockAt + 32);
  blockAt += 32;
  return h;
}

/**
 * hashLeaf is the RFC 9162 leaf hash of an entry's bytes.
 * SPEC: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1 "MTH({d(0)}) = HASH(0x00 || d(0))."
 */
export function hashLeaf(entry: Uint8Array): Hash {
  const n = entry.length + 1;
  if (n > SCRATCH_MAX) return sha256(Buffer.concat([LEAF_PREFIX, entry], n));
  if (scratch.length < n) scratch = Buffer.allocUnsafe(Math.max(n, scratch.length * 2));
  scratch[0] = 0x00;
  scratch.set(entry, 1);
  return sha256(scratch.subarray(0, n));
}

/**
 * hashChildren is the RFC 9162 interior node hash.
 * SPEC: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1 "MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))"
 */
export function hashChildren(left: Hash, right: Hash): Hash {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) return sha256(Buffer.concat([NODE_PREFIX, left, right]));
  NODE_INPUT[0] = 0x01;
  NODE_INPUT.set(left, 1);
  NODE_INPUT.set(right, 1 + HASH_SIZE);
  return sha256(NODE_INPUT);
}

/**
 * hashLevelUp hashes the `pairs` adjacent pairs of 32-byte hashes at the start of `below` into
 * `above` (pair i to offset 32 * i): one level of a perfect subtree, written in place without a
 * Buffer object per hash (a report's proofs hash hundreds of thousands of tile nodes).
 */
export function hashLevelUp(below: Uint8Array, pairs: number, above: Buffer): void {
  if (below.length < pairs * 2 * HASH_SIZE || above.length < pairs * HASH_SIZE) throw new TlogInputInvalidError('hashLevelUp: buffers too short');
  NODE_INPUT[0] = 0x01;
  for (let i = 0, from = 0; i < pairs; i++) {
    // Copied byte by byte: a view per pair to copy from cost more than the copy.
    for (let j = 1; j <= 2 * HASH_SIZE; j++) NODE_INPUT[j] = below[from++];
    above.write(hash('sha256', NODE_INPUT, 'binary'), i * HASH_SIZE, HASH_SIZE, 'latin1');
  }
}

/**
 * EMPTY_ROOT is the root of the empty tree. Typed arrays cannot be frozen: callers MUST NOT mutate
 * it (functions here hand out copies).
 * SPEC: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1 "MTH({}) = HASH()."
 */
export const EMPTY_ROOT: Hash = new Uint8Array(hash('sha256', new Uint8Array(0), 'buffer'));

/** hashesEqual compares two hashes byte by byte (public data: no constant-time need). */
export function hashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** assertHash throws TlogInputInvalidError unless `h` is a 32-byte Uint8Array; `what` names it in the message. */
export function assertHash(h: unknown, what: string): asserts h is Hash {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    const got = h instanceof Uint8Array ? `${h.length} bytes` : typeof h;
    throw new TlogInputInvalidError(`${what} must be a ${HASH_SIZE}-byte hash, got ${got}`);
  }
}

/** toHex renders bytes as lowercase hex (for error messages and tests). */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/**
 * perfectRoot is MTH of 2^k hashes (a full tile, or a perfect subtree): pairwise up to one.
 * The count MUST be a power of two.
 */
export function perfectRoot(hashes: readonly Hash[]): Hash {
  let level = hashes.slice();
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(hashChildren(level[i], level[i + 1]));
    level = next;
  }
  return level[0];
}
