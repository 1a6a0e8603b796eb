// Checks one log's evidence: the `before` and `after` checkpoints and the chain between them are
// signed by the ledger key, name the log's origin, and each extends the one before it. Used by the
// report engine on what it is about to write and by the offline verifier on what it reads.
import type { Checkpoint, NoteVerifier } from '@affidavit/tlog';
import { decodeBase64Strict, encodeBase64, hashesEqual, openNote, parseCheckpoint, verifyConsistency } from '@affidavit/tlog';
import type { Json, LogEvidence } from './model.ts';

/** keyId names a note key as `name+hex8`, as signed notes print it. */
export const keyId = (k: { name: string; keyHash: number }) => `${k.name}+${(k.keyHash >>> 0).toString(16).padStart(8, '0')}`;

/** hashesOf decodes base64 proof hashes; an undecodable one makes the proof fail. */
export function hashesOf(list: readonly string[]): Uint8Array[] {
  if (!Array.isArray(list)) throw new Error('proof is not a list of hashes');
  return list.map((h, i) => {
    const b = typeof h === 'string' ? decodeBase64Strict(h) : undefined;
    if (b === undefined) throw new Error(`proof hash ${i} is not canonical base64`);
    return b;
  });
}

/** ChainCheck is what checking a log's evidence found; `after` is set when the after checkpoint is signed and well-formed. */
export type ChainCheck = { problems: string[]; after: Checkpoint | null; links: Map<number, { [k: string]: Json }> };

function opened(note: string, key: NoteVerifier, origin: string, what: string): Checkpoint {
  let c: Checkpoint;
  try {
    c = parseCheckpoint(openNote(note, [key]).text);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
  if (c.origin !== origin) throw new Error(`${what} names log origin ${JSON.stringify(c.origin)}, not ${JSON.stringify(origin)}: a checkpoint of another log`);
  return c;
}

function consistent(a: Checkpoint, b: Checkpoint, proof: readonly string[], what: string): void {
  if (a.size === b.size) {
    if (!hashesEqual(a.root, b.root)) throw new Error(`${what}: two signed checkpoints of size ${a.size} with different roots (a fork or a rollback)`);
    return;
  }
  if (a.size === 0) return;
  try {
    verifyConsistency(a.size, b.size, hashesOf(proof), a.root, b.root);
  } catch (e) {
    throw new Error(`${what}: the tree of ${a.size} is not a prefix of the tree of ${b.size} (rolled back or rewritten): ${(e as Error).message}`);
  }
}

/** checkLogEvidence checks signatures, origins and consistency of one log's checkpoints; it never throws. */
export function checkLogEvidence(l: LogEvidence, key: NoteVerifier): ChainCheck {
  const problems: string[] = [];
  const links = new Map<number, { [k: string]: Json }>();
  const at = `log ${l.log}`;
  let after: Checkpoint | null = null;
  try {
    after = opened(l.after, key, l.origin, `${at}: the checkpoint after the period`);
  } catch (e) {
    return { problems: [(e as Error).message], after: null, links };
  }
  try {
    const before = l.before === null ? null : opened(l.before, key, l.origin, `${at}: the checkpoint before the period`);
    if (before) {
      if (before.size > after.size)
        throw new Error(`${at}: the checkpoint before the period (size ${before.size}) is larger than the one after (${after.size})`);
      consistent(before, after, l.consistency, `${at}: before → after`);
    }
    const { firstIndex, lastIndex } = l.period;
    if (firstIndex !== null && before && firstIndex < before.size)
      throw new Error(`${at}: the period starts at entry ${firstIndex}, inside the checkpoint before it (size ${before.size})`);
    if (lastIndex !== null && lastIndex >= after.size)
      throw new Error(`${at}: the period ends at entry ${lastIndex}, past the checkpoint after it (size ${after.size})`);
    if (!Array.isArray(l.chain) || l.chain.length === 0) throw new Error(`${at}: the report carries no checkpoint chain`);
    let prev: Checkpoint | null = null;
    for (const [i, link] of l.chain.entries()) {
      const c = opened(link.note, key, l.origin, `${at}: chain checkpoint ${i}`);
      if (i === 0 && l.before !== null && link.note !== l.before) throw new Error(`${at}: the chain does not start at the checkpoint before the period`);
      if (prev) {
        if (c.size < prev.size) throw new Error(`${at}: chain checkpoint ${i} (size ${c.size}) is smaller than the one before it (${prev.size})`);
        consistent(prev, c, link.consistency, `${at}: chain ${prev.size} → ${c.size}`);
      }
      links.set(c.size, { log: l.log, origin: c.origin, size: c.size, root: encodeBase64(c.root), signedBy: keyId(key) });
      prev = c;
    }
    if (l.chain[l.chain.length - 1].note !== l.after) throw new Error(`${at}: the chain does not end at the checkpoint after the period`);
  } catch (e) {
    problems.push((e as Error).message);
  }
  return { problems, after, links };
}
