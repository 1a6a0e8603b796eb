#!/usr/bin/env node
// bench/replay.ts: what finding one session's entries costs in a ledger of many sessions. The
// replay scan (packages/replay scanSession: a byte search per entry, decoding only the matches)
// against two baselines measured in the same run on the same SQLite ledger file:
//   - read: reading every entry and touching its bytes, the least any scan of the file costs;
//   - decode: decoding every entry and filtering on sessionId, the obvious way to do it.
// Then an export of that session to the bundle format and opening it again (every proof and
// signature checked), per entry, beside hashing the same bytes once. Each figure is the best of 3.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteLedgerStore, type NewEntry } from '@affidavit/ledger';
import { newSessionScan, openReplayBundle, replayBundleLines, scanSession } from '@affidavit/replay';
import { decodeEvent, encodeEvent, exampleEvent, type LedgerRecord } from '@affidavit/schemas';
import { ed25519NoteSigner, ed25519NoteVerifier, formatCheckpoint, generateEd25519NoteKey, hashLeaf, integrate, signNote } from '@affidavit/tlog';

const usage = `usage: node bench/replay.ts [--entries N] [--session-events N] [--quick]

Builds a ledger of N entries (default 200000) in sessions of --session-events events (default 20)
and prints, for one session in the middle, the replay scan's time beside reading and beside
decoding every entry, then the bundle export and open time per entry beside one SHA-256 of the
same bytes. --quick: 20000 entries.`;

const { values } = parseArgs({
  options: { entries: { type: 'string' }, 'session-events': { type: 'string' }, quick: { type: 'boolean' }, help: { type: 'boolean' } },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const N = Number(values.entries ?? (values.quick ? 20_000 : 200_000));
const PER = Number(values['session-events'] ?? 20);
if (!Number.isSafeInteger(N) || N < PER || !Number.isSafeInteger(PER) || PER < 3) {
  console.error(usage);
  process.exit(2);
}

const LOG = 'affidavit.session-events.v1:0';
const key = generateEd25519NoteKey('bench.replay', (n) => randomBytes(n));
const signer = ed25519NoteSigner(key.signerKey);
const sid = (i: number) => `0190a5d0-0000-7000-8000-${String(i).padStart(12, '0')}`;
let ids = 0;
const eid = () => `0190a5d0-0000-7000-9000-${String(++ids).padStart(12, '0')}`;

function sessionEvents(s: number): LedgerRecord[] {
  const out: LedgerRecord[] = [exampleEvent('SessionStarted', { eventId: eid(), sessionId: sid(s), seq: 0 })];
  for (let k = 1; k < PER - 1; k += 2) {
    out.push(exampleEvent('CommandIssued', { eventId: eid(), sessionId: sid(s), seq: k, commandId: `c${k}`, text: `SELECT * FROM orders WHERE id = ${k}` }));
    if (k + 1 < PER - 1) out.push(exampleEvent('CommandCompleted', { eventId: eid(), sessionId: sid(s), seq: k + 1, commandId: `c${k}` }));
  }
  out.push(exampleEvent('SessionEnded', { eventId: eid(), sessionId: sid(s), seq: out.length }));
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'aff-bench-replay-'));
try {
  const path = join(dir, 'ledger.sqlite');
  const writer = await openSqliteLedgerStore({ path });
  const log = await writer.openLog(LOG);
  const sessions = Math.floor(N / PER);
  let size = 0;
  let root: Uint8Array = new Uint8Array(32);
  const BATCH = 50;
  for (let s = 0; s < sessions; s += BATCH) {
    // Sessions interleave as they would on a busy proxy: one event of each in turn.
    const evs = Array.from({ length: Math.min(BATCH, sessions - s) }, (_, i) => sessionEvents(s + i));
    const mixed: LedgerRecord[] = [];
    for (let k = 0; k < PER; k++) for (const e of evs) if (e[k]) mixed.push(e[k]);
    const entries: NewEntry[] = mixed.map((r) => ({ eventId: r.eventId, kind: 'event', bytes: encodeEvent(r), source: null, appendedAt: 0 }));
    const res = await integrate(
      log.readTiles.bind(log),
      size,
      entries.map((e) => hashLeaf(e.bytes)),
    );
    await log.append({ entries, tiles: res.tiles }, size);
    size = res.size;
    root = res.root;
  }
  await log.append(
    { entries: [], checkpoint: await signNote(formatCheckpoint({ origin: `bench.replay/${LOG}`, size, root, extensions: [] }), [signer]) },
    size,
  );
  await writer.close();

  const store = await openSqliteLedgerStore({ path, readOnly: true });
  const target = sid(Math.floor(sessions / 2));
  // Best of 3: the machine is shared, and the fastest run is the one least disturbed.
  const time = async <T>(f: () => Promise<T>): Promise<[number, T]> => {
    let best = Number.POSITIVE_INFINITY;
    let v!: T;
    for (let i = 0; i < 3; i++) {
      const t = process.hrtime.bigint();
      v = await f();
      best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
    }
    return [best, v];
  };
  const rlog = await store.openLog(LOG);
  // Warm the page cache once so the three are compared on the same footing.
  for await (const _ of rlog.readEntries(0, size));
  const [readMs, bytes] = await time(async () => {
    let b = 0;
    for await (const e of rlog.readEntries(0, size)) b += e.bytes[e.bytes.length - 1] + e.bytes.length;
    return b;
  });
  const [decodeMs, decoded] = await time(async () => {
    let n = 0;
    for await (const e of rlog.readEntries(0, size)) {
      const r = decodeEvent(e.bytes);
      if (r.type !== 'InputRejected' && r.sessionId === target) n++;
    }
    return n;
  });
  const [scanMs, found] = await time(() => scanSession(store, newSessionScan(target)));
  if (found.length !== decoded || found.length !== PER) throw new Error(`scan found ${found.length}, decode found ${decoded}, want ${PER}`);

  let lines: string[] = [];
  const [exportMs] = await time(async () => {
    lines = [];
    for await (const l of replayBundleLines(target, found, (id) => store.openLog(id))) lines.push(l);
  });
  const [openMs, opened] = await time(() =>
    openReplayBundle(
      (async function* () {
        for (const l of lines.join('').split('\n')) yield l;
      })(),
      ed25519NoteVerifier(key.verifierKey),
    ),
  );
  if (opened.entries.length !== PER) throw new Error('bundle lost entries');
  const [hashMs] = await time(async () => {
    for (const e of found) createHash('sha256').update(e.bytes).digest();
  });
  await store.close();

  const f = (ms: number) => `${ms.toFixed(1)} ms`;
  console.log(`ledger: ${size} entries (${sessions} sessions of ${PER}, interleaved), ${(bytes / 1e6).toFixed(1)} MB checksum-read`);
  console.log(`find one session:  read every entry ${f(readMs)}   decode every entry ${f(decodeMs)}   replay scan ${f(scanMs)}`);
  console.log(`  replay scan / read = ${(scanMs / readMs).toFixed(2)}x   decode-all / replay scan = ${(decodeMs / scanMs).toFixed(1)}x`);
  console.log(
    `bundle of ${PER} entries: export (proofs) ${f(exportMs)}, open (verify all) ${f(openMs)}; ${((exportMs + openMs) / PER).toFixed(3)} ms per entry vs ${(hashMs / PER).toFixed(4)} ms for one SHA-256 of it`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
