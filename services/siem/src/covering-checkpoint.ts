// Which signed checkpoint covers an entry: the first (smallest) checkpoint whose tree size is
// greater than the entry's index. Taking the first, not the latest, makes the reference a
// function of the ledger alone, so a re-projected entry carries the same checkpoint as before.
import { encodeBase64, type NoteVerifier, openNote, parseCheckpoint, parseNote } from '@affidavit/tlog';
import { SiemCheckpointUnverifiedError } from './errors.ts';
import type { CoveringCheckpoint } from './ocsf/map-entry.ts';

/**
 * checkpointOfNote reads origin, size and root hash from a signed checkpoint note. With a
 * `verifier` (the ledger's key) the note MUST carry a valid signature by it, else it throws
 * AFF_E_SIEM_CHECKPOINT_UNVERIFIED: a checkpoint written into the ledger file by anyone but the
 * ledger is never named to a SIEM as proof.
 */
export function checkpointOfNote(note: string, verifier?: NoteVerifier): CoveringCheckpoint {
  let text: string;
  try {
    text = verifier ? openNote(note, [verifier]).text : parseNote(note).text;
  } catch (e) {
    throw new SiemCheckpointUnverifiedError(`a checkpoint in the ledger does not verify with the ledger's key: ${(e as Error).message}`, { cause: e });
  }
  const c = parseCheckpoint(text);
  return { origin: c.origin, size: c.size, rootHash: encodeBase64(c.root) };
}

/**
 * CheckpointIndex answers "which checkpoint first covers index i" over a log's checkpoints.
 * `checkpoints` MUST be in tree-size order, as the store returns them (oldest first; sizes only grow).
 */
export class CheckpointIndex {
  readonly #all: readonly CoveringCheckpoint[];
  readonly #roots = new Map<number, string>();

  constructor(checkpoints: readonly CoveringCheckpoint[]) {
    this.#all = checkpoints;
    for (const c of checkpoints) if (!this.#roots.has(c.size)) this.#roots.set(c.size, c.rootHash);
  }

  /** size is the largest tree size covered (0 when there is no checkpoint). */
  get size(): number {
    return this.#all.at(-1)?.size ?? 0;
  }

  /** boundaryIn returns the largest checkpoint size in (from, to], or undefined: where a batch can end and be checked at once. */
  boundaryIn(from: number, to: number): number | undefined {
    const c = this.#all[this.#firstAbove(to) - 1];
    return c && c.size > from ? c.size : undefined;
  }

  /** rootAt returns the root hash (base64) a checkpoint of exactly `size` signs, or undefined. */
  rootAt(size: number): string | undefined {
    return this.#roots.get(size);
  }

  /** covering returns the first checkpoint with size > index, or undefined when none covers it yet. */
  covering(index: number): CoveringCheckpoint | undefined {
    return this.#all[this.#firstAbove(index)];
  }

  /** firstAbove is the position of the first checkpoint with size > n (the list's length when none). */
  #firstAbove(n: number): number {
    let lo = 0;
    let hi = this.#all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#all[mid].size > n) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
