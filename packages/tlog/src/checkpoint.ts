import type { Hash } from './hash.ts';
import { HASH_SIZE } from './hash.ts';
import { decodeBase64Strict, encodeBase64 } from './base64.ts';
import { TlogCheckpointMalformedError } from './errors.ts';
import { MAX_TREE_SIZE } from './tree-math.ts';

/** Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, tree size, root hash and extension lines. */
export type Checkpoint = {
  readonly origin: string;
  readonly size: number;
  readonly root: Hash;
  readonly extensions: readonly string[];
};

/** MAX_CHECKPOINT_BYTES bounds the checkpoint text a parser accepts (origin, size, hash and a few extensions fit easily). */
export const MAX_CHECKPOINT_BYTES = 16 * 1024;

function bad(why: string): never {
  throw new TlogCheckpointMalformedError(`malformed checkpoint: ${why}`);
}

function checkLine(line: string, what: string): void {
  if (line.length === 0) bad(`${what} is empty`);
  if (/[\u0000-\u001f\u007f]/.test(line)) bad(`${what} contains a control character`);
}

/**
 * formatCheckpoint renders a checkpoint as note text (ending in a newline), ready to sign.
 * SPEC: https://c2sp.org/tlog-checkpoint "The note text is a sequence of at least three non-empty lines, separated by newlines (U+000A)."
 */
export function formatCheckpoint(c: Checkpoint): string {
  checkLine(c.origin, 'origin');
  if (!Number.isSafeInteger(c.size) || c.size < 0) bad(`size ${String(c.size)} is not an integer in [0, 2^53-1]`);
  if (!(c.root instanceof Uint8Array) || c.root.length !== HASH_SIZE) bad(`root hash must be ${HASH_SIZE} bytes`);
  c.extensions.forEach((e, i) => checkLine(e, `extension line ${i + 1}`));
  return [c.origin, String(c.size), encodeBase64(c.root), ...c.extensions].map((l) => `${l}\n`).join('');
}

/**
 * parseCheckpoint parses checkpoint note text strictly and throws TlogCheckpointMalformedError naming the
 * first problem. The text MUST already be the verified text of a signed note (see openNote): an unsigned
 * checkpoint proves nothing.
 * SPEC: https://c2sp.org/tlog-checkpoint "The second line is the tree size, the ASCII decimal representation of the
 * number of leaves in the tree, with no leading zeroes (unless the tree is empty, in which case the tree size is 0)."
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string') bad('text is not a string');
  if (text.length > MAX_CHECKPOINT_BYTES) bad(`text is longer than ${MAX_CHECKPOINT_BYTES} bytes`);
  if (!text.endsWith('\n')) bad('text does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) bad(`need at least 3 lines (origin, size, root hash), got ${lines.length}`);
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  checkLine(origin, 'origin (line 1)');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) bad(`tree size (line 2) ${JSON.stringify(sizeLine.slice(0, 40))} is not a decimal without leading zeroes`);
  const size = Number(sizeLine);
  if (sizeLine.length > 16 || size > MAX_TREE_SIZE) bad(`tree size (line 2) ${sizeLine.slice(0, 40)} is larger than 2^53-1`);
  const root = decodeBase64Strict(rootLine);
  if (root === undefined) bad('root hash (line 3) is not canonical base64');
  if (root.length !== HASH_SIZE) bad(`root hash (line 3) is ${root.length} bytes, want ${HASH_SIZE}`);
  extensions.forEach((e, i) => checkLine(e, `extension line ${i + 4}`));
  return { origin, size, root, extensions };
}
