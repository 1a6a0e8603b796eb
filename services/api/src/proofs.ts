// Inclusion and consistency proofs for rows of the read models, computed from the ledger store's
// tiles (tessera style: the tree's hashes are read, never recomputed from the entries).
import type { LedgerStore, LogStore } from '@affidavit/ledger';
import { decodeEvent, type LedgerRecord } from '@affidavit/schemas';
import { consistencyProof, encodeBase64, inclusionProof, parseCheckpoint, parseNote, tileNodeReader } from '@affidavit/tlog';
import { ApiInputInvalidError, ApiNoCheckpointError } from './errors.ts';

/** InclusionProof proves the entry at `index` is in the tree of `treeSize` signed by `checkpoint`. */
export type InclusionProof = { readonly index: number; readonly treeSize: number; readonly checkpoint: string; readonly hashes: readonly string[] };

/** ProofAnswer is a proof, or why there is none yet. */
export type ProofAnswer = { readonly proof: InclusionProof; readonly reason: null } | { readonly proof: null; readonly reason: string };

/** ConsistencyAnswer proves the tree of `from` is a prefix of the tree of `to`, both signed checkpoints. */
export type ConsistencyAnswer = {
  readonly log: string;
  readonly from: number;
  readonly to: number;
  readonly fromCheckpoint: string;
  readonly toCheckpoint: string;
  readonly hashes: readonly string[];
};

const sizeOf = (note: string) => parseCheckpoint(parseNote(note).text).size;

/**
 * createProofService answers proofs from a (read-only) ledger store. Hashes are base64 (as in
 * C2SP checkpoints); a proof is against the latest stored checkpoint, so a row appended after it
 * gets `proof: null` and a reason until the next checkpoint is signed.
 */
export function createProofService(ledger: LedgerStore) {
  const logs = new Map<string, LogStore>();
  async function open(logId: string): Promise<LogStore> {
    let l = logs.get(logId);
    if (!l) {
      if (!(await ledger.listLogs()).includes(logId)) throw new ApiInputInvalidError(`the ledger has no log ${JSON.stringify(logId.slice(0, 200))}`);
      logs.set(logId, (l = await ledger.openLog(logId)));
    }
    return l;
  }
  return {
    async inclusion(logId: string, index: number): Promise<ProofAnswer> {
      const log = await open(logId);
      const note = await log.latestCheckpoint();
      if (note === undefined) return { proof: null, reason: 'the log has no signed checkpoint yet' };
      const treeSize = sizeOf(note);
      if (index >= treeSize)
        return { proof: null, reason: `the entry is past the latest signed checkpoint (tree size ${treeSize}); the next checkpoint will cover it` };
      const hashes = await inclusionProof(
        tileNodeReader((ids) => log.readTiles(ids), treeSize),
        index,
        treeSize,
      );
      return { proof: { index, treeSize, checkpoint: note, hashes: hashes.map(encodeBase64) }, reason: null };
    },
    async consistency(logId: string, from: number, to: number): Promise<ConsistencyAnswer> {
      if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || from > to)
        throw new ApiInputInvalidError('consistency proofs need 1 <= from <= to');
      const log = await open(logId);
      const bySize = new Map<number, string>();
      for (const note of await log.checkpoints()) bySize.set(sizeOf(note), note);
      const fromCheckpoint = bySize.get(from);
      const toCheckpoint = bySize.get(to);
      if (fromCheckpoint === undefined) throw new ApiNoCheckpointError(`no signed checkpoint of log ${logId} has tree size ${from}`);
      if (toCheckpoint === undefined) throw new ApiNoCheckpointError(`no signed checkpoint of log ${logId} has tree size ${to}`);
      const hashes = await consistencyProof(
        tileNodeReader((ids) => log.readTiles(ids), to),
        from,
        to,
      );
      return { log: logId, from, to, fromCheckpoint, toCheckpoint, hashes: hashes.map(encodeBase64) };
    },
    /** record reads and decodes the ledger entry at a position (undefined past the end or when undecodable). */
    async record(logId: string, index: number): Promise<LedgerRecord | undefined> {
      const log = await open(logId);
      for await (const e of log.readEntries(index, index + 1)) {
        try {
          return decodeEvent(e.bytes);
        } catch {
          return undefined;
        }
      }
      return undefined;
    },
    async checkpoints(logId: string): Promise<Array<{ treeSize: number; note: string }>> {
      const log = await open(logId);
      return (await log.checkpoints()).map((note) => ({ treeSize: sizeOf(note), note }));
    },
  };
}

/** ProofService is what createProofService returns. */
export type ProofService = ReturnType<typeof createProofService>;
