// Replay bundles: a session's entries with an inclusion proof each and the signed checkpoints
// the proofs lead to, so an analyst can check every entry offline and then replay it. This is
// the plaintext inside the encryption (the CLI encrypts it to the analyst's age key); it is JSON
// lines, written and read as a stream:
//
//   {"format":"affidavit-replay/1","sessionId":S,"entries":N}
//   {"log":L,"checkpoint":NOTE}                  one per log the entries are in
//   {"log":L,"i":INDEX,"b":BASE64,"p":[BASE64,…]}  one per entry, proof against L's checkpoint
//
// Opening verifies before anything is shown: every checkpoint's signature by the ledger key,
// each entry's leaf hash up its proof to its checkpoint's root, the entry count, and that every
// entry belongs to the session. A failure names the entry (log:index and event id).
import { defineError } from '@affidavit/common';
import { decodeEvent } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import {
  decodeBase64Strict,
  encodeBase64,
  hashLeaf,
  inclusionProof,
  openNote,
  parseNote,
  parseCheckpoint,
  tileNodeReader,
  verifyInclusion,
  type NoteVerifier,
  type TileReader,
} from '@affidavit/tlog';
import type { SessionEntry } from './session-entries.ts';

/** ReplayBundleMalformedError: the decrypted bundle is not in the affidavit-replay/1 format. */
export const ReplayBundleMalformedError = defineError('AFF_E_REPLAY_BUNDLE_MALFORMED', 'the replay bundle is malformed');
/** ReplayBundleUnverifiedError: a checkpoint signature or an entry's inclusion proof does not verify. */
export const ReplayBundleUnverifiedError = defineError('AFF_E_REPLAY_BUNDLE_UNVERIFIED', 'the replay bundle does not verify');
/** ReplayNotCoveredError: an entry is not covered by a signed checkpoint yet, so no proof can be exported. */
export const ReplayNotCoveredError = defineError('AFF_E_REPLAY_NOT_COVERED', 'an entry of the session is past the latest signed checkpoint', {
  retriable: true,
});

/** REPLAY_BUNDLE_FORMAT names the plaintext format. */
export const REPLAY_BUNDLE_FORMAT = 'affidavit-replay/1';

/** MAX_REPLAY_LINE_BYTES bounds one line: an entry of 16 MiB is about 22 MiB of base64. */
export const MAX_REPLAY_LINE_BYTES = 32 * 1024 * 1024;

/** ProofLog is the part of the ledger's LogStore an export reads: its newest checkpoint and its tiles. */
export type ProofLog = { latestCheckpoint(): Promise<string | undefined>; readTiles: TileReader };

const sizeOf = (note: string) => parseCheckpoint(parseNote(note).text).size;

/**
 * replayBundleLines yields the bundle's lines for `entries` (from scanSession), each proved
 * against the latest checkpoint of its log. Fails with ReplayNotCoveredError when an entry is
 * past that checkpoint: an unprovable entry is never exported as if it were proved.
 */
export async function* replayBundleLines(
  sessionId: string,
  entries: readonly SessionEntry[],
  openLog: (log: string) => Promise<ProofLog>,
): AsyncIterable<string> {
  const logs = new Map<string, { log: ProofLog; note: string; size: number }>();
  for (const e of entries) {
    if (logs.has(e.position.log)) continue;
    const log = await openLog(e.position.log);
    const note = await log.latestCheckpoint();
    if (note === undefined) throw new ReplayNotCoveredError(`log ${e.position.log} has no signed checkpoint yet; try again after the next one`);
    logs.set(e.position.log, { log, note, size: sizeOf(note) });
  }
  for (const e of entries) {
    const l = logs.get(e.position.log)!;
    if (e.position.index >= l.size)
      throw new ReplayNotCoveredError(
        `entry ${e.position.log}:${e.position.index} (${e.record.type}) is past the latest signed checkpoint of its log (tree size ${l.size}); try again after the next checkpoint`,
      );
  }
  yield `${JSON.stringify({ format: REPLAY_BUNDLE_FORMAT, sessionId, entries: entries.length })}\n`;
  for (const [log, l] of logs) yield `${JSON.stringify({ log, checkpoint: l.note })}\n`;
  for (const e of entries) {
    const l = logs.get(e.position.log)!;
    const hashes = await inclusionProof(
      tileNodeReader((ids) => l.log.readTiles(ids), l.size),
      e.position.index,
      l.size,
    );
    yield `${JSON.stringify({ log: e.position.log, i: e.position.index, b: Buffer.from(e.bytes).toString('base64'), p: hashes.map(encodeBase64) })}\n`;
  }
}

/** VerifiedCheckpoint is a checkpoint whose signature verified: its log, origin and tree size. */
export type VerifiedCheckpoint = { readonly log: string; readonly origin: string; readonly size: number; readonly note: string };

/** OpenedReplayBundle is a bundle whose every entry verified. */
export type OpenedReplayBundle = { readonly sessionId: string; readonly entries: readonly SessionEntry[]; readonly checkpoints: readonly VerifiedCheckpoint[] };

/** keyLabel names a verifier key as signed notes do: name+8 hex digits of its key hash. */
export const keyLabel = (key: NoteVerifier) => `${key.name}+${key.keyHash.toString(16).padStart(8, '0')}`;

const isIndex = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * openReplayBundle reads and verifies the plaintext lines of a bundle against the ledger's
 * verifier key. It MUST NOT return unless every checkpoint is signed by `key`, names its log in
 * its origin (`<key name>/<log>`), every entry's proof leads to its checkpoint's root, the count
 * matches the header, and every entry is the session's own event or a decision on one of its
 * requests. Errors: ReplayBundleMalformedError (format), ReplayBundleUnverifiedError (naming the
 * checkpoint or entry).
 */
export async function openReplayBundle(lines: AsyncIterable<string>, key: NoteVerifier): Promise<OpenedReplayBundle> {
  let lineNo = 0;
  const parse = (line: string): Record<string, unknown> => {
    try {
      const v = JSON.parse(line);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      return v;
    } catch (e) {
      throw new ReplayBundleMalformedError(`line ${lineNo}: not a JSON object (${(e as Error).message.slice(0, 200)})`);
    }
  };
  let header: { sessionId: string; entries: number } | undefined;
  const checkpoints = new Map<string, VerifiedCheckpoint & { root: Uint8Array }>();
  const entries: SessionEntry[] = [];
  const seen = new Set<string>();
  for await (const line of lines) {
    lineNo++;
    if (line.length === 0) continue;
    const v = parse(line);
    if (!header) {
      if (v.format !== REPLAY_BUNDLE_FORMAT || typeof v.sessionId !== 'string' || !isIndex(v.entries))
        throw new ReplayBundleMalformedError(`line 1: not an ${REPLAY_BUNDLE_FORMAT} header {format, sessionId, entries}`);
      header = { sessionId: v.sessionId, entries: v.entries };
      continue;
    }
    if (typeof v.checkpoint === 'string') {
      if (typeof v.log !== 'string' || checkpoints.has(v.log)) throw new ReplayBundleMalformedError(`line ${lineNo}: a checkpoint needs a log named once`);
      if (entries.length > 0) throw new ReplayBundleMalformedError(`line ${lineNo}: checkpoints come before entries`);
      let opened: ReturnType<typeof openNote>;
      try {
        opened = openNote(v.checkpoint, [key]);
      } catch (e) {
        throw new ReplayBundleUnverifiedError(
          `the checkpoint of log ${v.log} is not signed by ${keyLabel(key)} (the ledger key given): ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      }
      if (opened.verified.length === 0)
        throw new ReplayBundleUnverifiedError(`the checkpoint of log ${v.log} is not signed by ${keyLabel(key)} (the ledger key given)`);
      const cp = (() => {
        try {
          return parseCheckpoint(opened.text);
        } catch (e) {
          throw new ReplayBundleMalformedError(`line ${lineNo}: the checkpoint of log ${v.log} is malformed: ${(e as Error).message}`);
        }
      })();
      if (cp.origin !== `${key.name}/${v.log}`)
        throw new ReplayBundleUnverifiedError(`the checkpoint given for log ${v.log} is the checkpoint of ${cp.origin}, not of ${key.name}/${v.log}`);
      checkpoints.set(v.log, { log: v.log, origin: cp.origin, size: cp.size, note: v.checkpoint, root: cp.root });
      continue;
    }
    if (typeof v.log !== 'string' || !isIndex(v.i) || typeof v.b !== 'string' || !Array.isArray(v.p))
      throw new ReplayBundleMalformedError(`line ${lineNo}: expected an entry {log, i, b, p}`);
    const where = `${v.log}:${v.i}`;
    if (seen.has(where)) throw new ReplayBundleMalformedError(`line ${lineNo}: entry ${where} appears twice`);
    seen.add(where);
    const cp = checkpoints.get(v.log);
    if (!cp) throw new ReplayBundleUnverifiedError(`entry ${where}: the bundle has no checkpoint of log ${v.log}`);
    const bytes = decodeBase64Strict(v.b);
    const proof = (v.p as unknown[]).map((h) => (typeof h === 'string' ? decodeBase64Strict(h) : undefined));
    if (!bytes || proof.some((h) => !h)) throw new ReplayBundleMalformedError(`line ${lineNo}: entry ${where}: invalid base64`);
    let record: LedgerRecord | undefined;
    try {
      record = decodeEvent(bytes);
    } catch {
      record = undefined;
    }
    const name = `entry ${where}${record ? ` (${record.type} ${record.eventId})` : ''}`;
    try {
      verifyInclusion(hashLeaf(bytes), v.i, cp.size, proof as Uint8Array[], cp.root);
    } catch (e) {
      throw new ReplayBundleUnverifiedError(`${name} is not in the signed tree of ${cp.origin} (size ${cp.size}): ${(e as Error).message}`, { cause: e });
    }
    if (!record) throw new ReplayBundleUnverifiedError(`${name} is in the signed tree but is not a readable event`);
    entries.push({ position: { log: v.log, index: v.i }, bytes, record });
  }
  if (!header) throw new ReplayBundleMalformedError('the bundle is empty');
  if (entries.length !== header.entries)
    throw new ReplayBundleUnverifiedError(`the bundle holds ${entries.length} entries but its header announces ${header.entries}: it was cut or padded`);
  const requests = new Set(
    entries.flatMap((e) => (e.record.type === 'ApprovalRequested' && e.record.sessionId === header!.sessionId ? [e.record.requestId] : [])),
  );
  for (const e of entries) {
    const r = e.record;
    const own = r.type !== 'InputRejected' && r.sessionId === header.sessionId;
    const decision = (r.type === 'ApprovalDecided' || r.type === 'ApprovalRefused') && requests.has(r.requestId);
    if (!own && !decision)
      throw new ReplayBundleUnverifiedError(
        `entry ${e.position.log}:${e.position.index} (${r.type} ${r.eventId}) is proved but is not part of session ${header.sessionId}`,
      );
  }
  return { sessionId: header.sessionId, entries, checkpoints: [...checkpoints.values()].map(({ root: _root, ...c }) => c) };
}
