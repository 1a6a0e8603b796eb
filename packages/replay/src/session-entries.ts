// Finding a session's entries in a ledger. A session's own events share one Kafka key and so
// one log, but the approval decisions and refusals of its held statements travel in streams
// of their own (the request id, or a fresh id), which may sit in any log. So the scan covers
// every log: first for the session's events, then for the decisions of the requests found.
//
// The store is reached through EntrySource, the shape of the ledger's LedgerStore, so this
// module does no I/O itself and a library need not import a service.
import { defineError } from '@affidavit/common';
import { decodeEvent } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import type { Position } from './timeline.ts';

/** ReplayTooLargeError: a session has more entries than a replay holds in memory. */
export const ReplayTooLargeError = defineError('AFF_E_REPLAY_TOO_LARGE', 'the session has more entries than a replay holds');

/** ReplayLedgerGapError: the ledger store skipped entries of a log (a bundle gone from the file); no replay is made without them. */
export const ReplayLedgerGapError = defineError('AFF_E_REPLAY_LEDGER_GAP', 'the ledger store skipped entries of a log');
/** ReplaySessionNotFoundError: the ledger holds no entry of the session asked for. */
export const ReplaySessionNotFoundError = defineError('AFF_E_REPLAY_SESSION_NOT_FOUND', 'the ledger holds no entry of this session');

/** SourceEntry is a stored entry as the ledger returns it. */
export type SourceEntry = { readonly index: number; readonly bytes: Uint8Array };

/** SourceLog is the part of the ledger's LogStore a scan reads. */
export type SourceLog = { tail(): Promise<{ size: number }>; readEntries(from: number, to: number): AsyncIterable<SourceEntry> };

/** EntrySource is the part of the ledger's LedgerStore a scan reads. */
export type EntrySource = { listLogs(): Promise<string[]>; openLog(id: string): Promise<SourceLog> };

/** SessionEntry is one entry of a session: where it is, its exact bytes, and what they decode to. */
export type SessionEntry = { readonly position: Position; readonly bytes: Uint8Array; readonly record: LedgerRecord };

/** MAX_REPLAY_ENTRIES bounds the entries one replay holds (a session of a million statements is exported, not replayed in a page). */
export const MAX_REPLAY_ENTRIES = 200_000;

/** SessionScan is a resumable scan: `next` is, per log, the first index not read yet. */
export type SessionScan = {
  readonly sessionId: string;
  readonly next: Map<string, number>;
  readonly requestIds: Set<string>;
  readonly seen: Set<string>;
};

/** newSessionScan starts a scan of a session from the beginning of every log. */
export function newSessionScan(sessionId: string): SessionScan {
  return { sessionId, next: new Map(), requestIds: new Set(), seen: new Set() };
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** contains tells whether `needle` occurs in `hay` (Avro writes strings as raw UTF-8, so a field's value is a substring of the entry). */
function contains(hay: Uint8Array, needle: Buffer): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).includes(needle);
}

function decodeOrUndefined(bytes: Uint8Array): LedgerRecord | undefined {
  try {
    return decodeEvent(bytes);
  } catch {
    return undefined;
  }
}

/**
 * scanSession reads what was appended since the scan's last call and returns the session's new
 * entries in ledger order per log (call it again to follow a live session). An entry is decoded
 * only when the session id or a known request id occurs in its bytes, so a scan costs a byte
 * search per entry, not a decode. Requests first seen in this call send the scan back over the
 * ranges already read, for decisions that were appended (in another log) before their request
 * was read. MUST NOT return an entry twice across calls; fails with ReplayTooLargeError past
 * `maxEntries` entries in total.
 */
export async function scanSession(source: EntrySource, scan: SessionScan, maxEntries = MAX_REPLAY_ENTRIES): Promise<SessionEntry[]> {
  const found: SessionEntry[] = [];
  const sessionBytes = utf8(scan.sessionId);
  const take = (log: string, e: SourceEntry, record: LedgerRecord) => {
    const key = `${log}\u0000${e.index}`;
    if (scan.seen.has(key)) return;
    if (scan.seen.size >= maxEntries)
      throw new ReplayTooLargeError(
        `session ${scan.sessionId} has more than ${maxEntries} entries; export it with 'affidavit ledger export' and verify it instead`,
      );
    scan.seen.add(key);
    found.push({ position: { log, index: e.index }, bytes: e.bytes, record });
  };
  const decisionOf = (record: LedgerRecord, ids: ReadonlySet<string>) =>
    (record.type === 'ApprovalDecided' || record.type === 'ApprovalRefused') && ids.has(record.requestId);

  const logs = await source.listLogs();
  const readUpTo = new Map<string, number>();
  const newRequests = new Set<string>();
  for (const log of logs) {
    const store = await source.openLog(log);
    const from = scan.next.get(log) ?? 0;
    const { size } = await store.tail();
    readUpTo.set(log, size);
    const known = [...scan.requestIds].map((id) => [id, utf8(id)] as const);
    let expected = from;
    for await (const e of store.readEntries(from, size)) {
      // A store that skips entries (a bundle gone from the file) would make a replay silently short.
      if (e.index !== expected) throw new ReplayLedgerGapError(`log ${log}: the store returned entry ${e.index} where ${expected} was due`);
      expected++;
      const mine = contains(e.bytes, sessionBytes);
      const maybeDecision = !mine && known.some(([, b]) => contains(e.bytes, b));
      if (!mine && !maybeDecision) continue;
      const record = decodeOrUndefined(e.bytes);
      if (!record || record.type === 'InputRejected') continue;
      if (record.sessionId === scan.sessionId) {
        take(log, e, record);
        if (record.type === 'ApprovalRequested' && !scan.requestIds.has(record.requestId)) {
          scan.requestIds.add(record.requestId);
          newRequests.add(record.requestId);
          known.push([record.requestId, utf8(record.requestId)]);
        }
      } else if (decisionOf(record, scan.requestIds)) take(log, e, record);
    }
    if (expected !== size) throw new ReplayLedgerGapError(`log ${log}: the store returned entries up to ${expected - 1}, its size is ${size}`);
  }
  if (newRequests.size > 0) {
    const needles = [...newRequests].map(utf8);
    for (const log of logs) {
      const store = await source.openLog(log);
      for await (const e of store.readEntries(0, readUpTo.get(log) ?? 0)) {
        if (!needles.some((b) => contains(e.bytes, b))) continue;
        const record = decodeOrUndefined(e.bytes);
        if (record && record.type !== 'InputRejected' && record.sessionId !== scan.sessionId && decisionOf(record, newRequests)) take(log, e, record);
      }
    }
  }
  for (const [log, size] of readUpTo) scan.next.set(log, size);
  return found.sort((a, b) => (a.position.log === b.position.log ? a.position.index - b.position.index : a.position.log < b.position.log ? -1 : 1));
}

/** sessionEnded tells whether a session's SessionEnded entry is among `entries`. */
export function sessionEnded(sessionId: string, entries: readonly SessionEntry[]): boolean {
  return entries.some((e) => e.record.type === 'SessionEnded' && e.record.sessionId === sessionId);
}
