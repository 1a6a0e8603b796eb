// The JSON the API serves at GET /sessions/:id/replay/data: a session's entries (exact bytes),
// each with its inclusion proof against the latest signed checkpoint of its log, and the
// timeline the server built from them. A client that wants not to trust the server's reading
// decodes the bytes itself (entriesFromReplayData) and checks the proofs against a ledger key
// it holds (the page does, in the browser).
import { defineError } from '@affidavit/common';
import { decodeEvent } from '@affidavit/schemas';
import { decodeBase64Strict } from '@affidavit/tlog';
import type { SessionEntry } from './session-entries.ts';
import type { Timeline } from './timeline.ts';

/** ReplayDataMalformedError: an API answer is not replay data. */
export const ReplayDataMalformedError = defineError('AFF_E_REPLAY_DATA_MALFORMED', 'the replay data from the API is malformed');

/** REPLAY_DATA_FORMAT names the format. */
export const REPLAY_DATA_FORMAT = 'affidavit-replay-data/1';

/** ReplayDataProof proves entry `index` of its log is in the tree signed by `checkpoint` (hashes base64). */
export type ReplayDataProof = { readonly treeSize: number; readonly hashes: readonly string[]; readonly checkpoint: string };

/** ReplayDataEntry is one entry: position, base64 bytes, and its proof or why there is none yet. */
export type ReplayDataEntry = {
  readonly log: string;
  readonly index: number;
  readonly bytes: string;
  readonly proof: ReplayDataProof | null;
  readonly reason: string | null;
};

/** ReplayData is the whole answer. */
export type ReplayData = {
  readonly format: typeof REPLAY_DATA_FORMAT;
  readonly sessionId: string;
  readonly entries: readonly ReplayDataEntry[];
  readonly timeline: Timeline;
};

/** entriesFromReplayData decodes the entries of an API answer itself (the server's timeline is not used). */
export function entriesFromReplayData(data: unknown): { sessionId: string; entries: SessionEntry[] } {
  const d = data as Partial<ReplayData> | null;
  if (!d || d.format !== REPLAY_DATA_FORMAT || typeof d.sessionId !== 'string' || !Array.isArray(d.entries))
    throw new ReplayDataMalformedError(`expected {format: "${REPLAY_DATA_FORMAT}", sessionId, entries}`);
  const entries = d.entries.map((e, i) => {
    if (typeof e?.log !== 'string' || !Number.isSafeInteger(e.index) || e.index < 0 || typeof e.bytes !== 'string')
      throw new ReplayDataMalformedError(`entry ${i}: expected {log, index, bytes}`);
    const bytes = decodeBase64Strict(e.bytes);
    if (!bytes) throw new ReplayDataMalformedError(`entry ${e.log}:${e.index}: invalid base64`);
    try {
      return { position: { log: e.log, index: e.index }, bytes, record: decodeEvent(bytes) };
    } catch (err) {
      throw new ReplayDataMalformedError(`entry ${e.log}:${e.index} is not a readable event: ${(err as Error).message}`);
    }
  });
  return { sessionId: d.sessionId, entries };
}
