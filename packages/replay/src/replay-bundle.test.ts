// The scan and the bundle against an in-memory log built with the real tree code (tlog): the
// session's entries are found across logs, exported with proofs, and opened only when every
// proof and signature verifies; an edited entry is named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeEvent, exampleEvent } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import {
  createMemoryTileStore,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatCheckpoint,
  generateEd25519NoteKey,
  hashLeaf,
  integrate,
  signNote,
} from '@affidavit/tlog';
import { newSessionScan, scanSession } from './session-entries.ts';
import type { EntrySource } from './session-entries.ts';
import { openReplayBundle, replayBundleLines } from './replay-bundle.ts';
import type { ProofLog } from './replay-bundle.ts';
import { buildTimeline, timelineEvents } from './timeline.ts';

const S = '01890a5d-ac96-774b-bcce-b302099a8000';
const OTHER = '01890a5d-ac96-774b-bcce-b302099a8999';
let n = 0;
const id = () => `01890a5d-ac96-774b-bcce-${String(++n).padStart(12, '0')}`;
const ev = <T extends LedgerRecord['type']>(type: T, o: Record<string, unknown>) => encodeEvent(exampleEvent(type, { eventId: id(), ...o } as never));

const pair = generateEd25519NoteKey('affidavit.test/replay', (k) => randomBytes(k));
const signer = ed25519NoteSigner(pair.signerKey);
const key = ed25519NoteVerifier(pair.verifierKey);

type MemLog = ProofLog & { bytes: Uint8Array[]; checkpoint?: string };
async function memLedger(logs: Record<string, Uint8Array[]>, signedUpTo?: Record<string, number>) {
  const out = new Map<string, MemLog>();
  for (const [logId, bytes] of Object.entries(logs)) {
    const tiles = createMemoryTileStore();
    const size = signedUpTo?.[logId] ?? bytes.length;
    const r = await integrate(tiles.read, 0, bytes.slice(0, size).map(hashLeaf));
    tiles.write(r.tiles);
    const checkpoint = await signNote(formatCheckpoint({ origin: `${key.name}/${logId}`, size, root: r.root, extensions: [] }), [signer]);
    out.set(logId, { bytes, checkpoint, readTiles: tiles.read, latestCheckpoint: async () => checkpoint });
  }
  const source: EntrySource = {
    listLogs: async () => [...out.keys()],
    openLog: async (logId) => {
      const l = out.get(logId)!;
      return {
        tail: async () => ({ size: l.bytes.length }),
        async *readEntries(from, to) {
          for (let i = from; i < Math.min(to, l.bytes.length); i++) yield { index: i, bytes: l.bytes[i] };
        },
      };
    },
  };
  return { source, openLog: async (logId: string) => out.get(logId)! };
}

function ledger() {
  return {
    // The decision (its own stream, sessionId = request id) sits in log B before the request is read in log A.
    A: [
      ev('SessionStarted', { sessionId: S, seq: 0 }),
      ev('SessionStarted', { sessionId: OTHER, seq: 0 }),
      ev('CommandIssued', { sessionId: S, seq: 1, commandId: 'c1', text: `SELECT '${OTHER}'` }),
      ev('ApprovalRequested', { sessionId: S, seq: 2, commandId: 'c1', requestId: 'req-1' }),
      ev('CommandCompleted', { sessionId: S, seq: 3, commandId: 'c1' }),
      ev('SessionEnded', { sessionId: S, seq: 4 }),
    ],
    B: [ev('ApprovalDecided', { sessionId: 'req-1', requestId: 'req-1' }), ev('ApprovalDecided', { sessionId: 'req-2', requestId: 'req-2' })],
  };
}

async function* linesOf(text: string) {
  for (const l of text.split('\n')) yield l;
}
async function collect(it: AsyncIterable<string>) {
  let s = '';
  for await (const l of it) s += l;
  return s;
}

test('the scan finds the session’s events and the decisions of its requests in other logs, once each', async () => {
  const { source } = await memLedger(ledger());
  const scan = newSessionScan(S);
  const found = await scanSession(source, scan);
  assert.deepEqual(
    found.map((e) => `${e.position.log}:${e.position.index}:${e.record.type}`),
    ['A:0:SessionStarted', 'A:2:CommandIssued', 'A:3:ApprovalRequested', 'A:4:CommandCompleted', 'A:5:SessionEnded', 'B:0:ApprovalDecided'],
  );
  assert.deepEqual(await scanSession(source, scan), [], 'a second call returns only what is new: nothing');
});

test('a bundle opens to the same entries, proved against signed checkpoints, and replays to the same timeline', async () => {
  const { source, openLog } = await memLedger(ledger());
  const entries = await scanSession(source, newSessionScan(S));
  const text = await collect(replayBundleLines(S, entries, openLog));
  const opened = await openReplayBundle(linesOf(text), key);
  assert.equal(opened.sessionId, S);
  assert.deepEqual(
    opened.entries.map((e) => [e.position, Buffer.from(e.bytes).toString('hex')]),
    entries.map((e) => [e.position, Buffer.from(e.bytes).toString('hex')]),
  );
  const a = buildTimeline(S, entries);
  const b = buildTimeline(S, opened.entries);
  assert.deepEqual(timelineEvents(b), timelineEvents(a));
  assert.deepEqual(b, a);
});

test('an edited entry fails verification naming it; a wrong ledger key and a cut bundle fail too', async () => {
  const { source, openLog } = await memLedger(ledger());
  const entries = await scanSession(source, newSessionScan(S));
  const lines = (await collect(replayBundleLines(S, entries, openLog))).split('\n');
  // Re-encode the CommandIssued entry with other text: a valid event, but not the one the tree holds.
  const at = lines.findIndex((l) => l.includes('"i":2,'));
  const line = JSON.parse(lines[at]);
  line.b = ev('CommandIssued', { sessionId: S, seq: 1, commandId: 'c1', text: 'SELECT 1' }).toString('base64');
  const tampered = lines.with(at, JSON.stringify(line)).join('\n');
  await assert.rejects(openReplayBundle(linesOf(tampered), key), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'AFF_E_REPLAY_BUNDLE_UNVERIFIED');
    assert.match(e.message, /^entry A:2 \(CommandIssued [0-9a-f-]+\) is not in the signed tree/);
    return true;
  });
  const other = ed25519NoteVerifier(generateEd25519NoteKey('affidavit.test/replay', (k) => randomBytes(k)).verifierKey);
  await assert.rejects(openReplayBundle(linesOf(lines.join('\n')), other), /is not signed by affidavit\.test\/replay\+/);
  const cut = lines.filter((l) => !l.includes('"i":4,')).join('\n');
  await assert.rejects(openReplayBundle(linesOf(cut), key), /holds 5 entries but its header announces 6/);
});

test('an entry past the latest checkpoint is not exported as if it were proved', async () => {
  const { source, openLog } = await memLedger(ledger(), { A: 4 });
  const entries = await scanSession(source, newSessionScan(S));
  await assert.rejects(collect(replayBundleLines(S, entries, openLog)), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'AFF_E_REPLAY_NOT_COVERED');
    assert.match(e.message, /entry A:4 \(CommandCompleted\) is past the latest signed checkpoint of its log \(tree size 4\)/);
    return true;
  });
});

test('a scan refuses a session with more entries than it may hold, naming the way out', async () => {
  const { source } = await memLedger(ledger());
  await assert.rejects(scanSession(source, newSessionScan(S), 3), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'AFF_E_REPLAY_TOO_LARGE');
    assert.match(e.message, /more than 3 entries/);
    return true;
  });
});

test('a store that skips entries (a bundle gone from the file) fails the scan, never a short replay', async () => {
  const { source } = await memLedger(ledger());
  const skipping: EntrySource = {
    listLogs: source.listLogs,
    openLog: async (logId) => {
      const log = await source.openLog(logId);
      return {
        tail: log.tail,
        async *readEntries(from, to) {
          for await (const e of log.readEntries(from, to)) if (logId !== 'A' || e.index !== 3) yield e;
        },
      };
    },
  };
  await assert.rejects(
    scanSession(skipping, newSessionScan(S)),
    (e: Error & { code?: string }) => e.code === 'AFF_E_REPLAY_LEDGER_GAP' && /log A: .* entry 4 where 3/.test(e.message),
  );
});
