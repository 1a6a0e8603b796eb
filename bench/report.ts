#!/usr/bin/env node
// bench/report.ts: SP 800-53 reports over a month of events. Writes N events (default 1M) over
// 30 days through the real codec and the ledger's append path (integrate, tiles, signed
// checkpoints) into a SQLite ledger, then times the AC-2 and AU-3 reports over the whole period
// beside a raw scan of the same entries (read only) and a scan that also decodes every entry,
// and times inclusion proofs for 1,000 cited rows from the tiles, and their offline check.
// Targets: each report < 2 s; proofs for 1,000 rows < 1 s.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { uuidv7 } from '@affidavit/common';
import { generateReport } from '@affidavit/evidence';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { codec, encodeEvent, EXAMPLE_ACTOR, exampleEvent } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import {
  ed25519NoteSigner,
  ed25519NoteVerifier,
  generateEd25519NoteKey,
  hashLeaf,
  inclusionProofs,
  openNote,
  parseCheckpoint,
  tileNodeReader,
  verifyInclusion,
} from '@affidavit/tlog';
import { appendSigned } from '@affidavit/ledger';

const usage = `usage: node bench/report.ts [--events N] [--quick]

  --events N  ledger entries over 30 days (default 1000000; --quick 100000)
  --quick     small size for a smoke run
  --sequential  read the ledger in one pass (no fold worker), as for a store without a file
  --help      show this text`;
const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    quick: { type: 'boolean', default: false },
    sequential: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const N = Number(values.events ?? (values.quick ? 100_000 : 1_000_000));
const DAYS = 30;
const T0 = Date.UTC(2026, 9, 1) * 1000;
const SPAN = DAYS * 86_400_000_000;
const key = generateEd25519NoteKey('bench.affidavit', (k) => randomBytes(k));
const verifier = ed25519NoteVerifier(key.verifierKey);
const LOG = 'affidavit.session-events.v1:0';

/** eventAt is event i of the month: sessions of 40 events by 500 users, a DDL in every 20th session, a failed login every 1,000 events. */
function eventAt(i: number, state: { sessionId: string; actor: typeof EXAMPLE_ACTOR; s: number }): LedgerRecord {
  const k = i % 40;
  const t = T0 + Math.floor((i / N) * SPAN);
  if (k === 0) {
    state.s++;
    state.sessionId = uuidv7(Math.floor(t / 1000));
    const u = state.s % 500;
    state.actor = { ...EXAMPLE_ACTOR, subject: `user${u}`, email: `user${u}@example.com`, groups: [`team${u % 7}`], mfa: u % 3 !== 0 };
  }
  const env = { eventId: uuidv7(Math.floor(t / 1000)), sessionId: state.sessionId, seq: k, actor: state.actor, occurredAt: t };
  if (i % 1000 === 999) return exampleEvent('AuthenticationFailed', { ...env, actor: null, claimedSubject: 'mallory' });
  if (k === 0) return exampleEvent('SessionStarted', { ...env, source: { address: `10.0.${state.s & 255}.1`, port: 40000, application: 'psql' } });
  if (k === 39) return exampleEvent('SessionEnded', env);
  const c = `c${k >> 1}`;
  if (k % 2 === 1) {
    const ddl = k === 1 && state.s % 20 === 0;
    return exampleEvent('CommandIssued', {
      ...env,
      commandId: c,
      text: ddl ? 'alter table orders add note text' : `select * from orders where id = ${i}`,
      classes: ddl ? ['ddl'] : ['select'],
    });
  }
  return exampleEvent('CommandCompleted', { ...env, commandId: c });
}

async function build(path: string): Promise<void> {
  const signer = ed25519NoteSigner(key.signerKey);
  const store = await openSqliteLedgerStore({ path });
  const log = await store.openLog(LOG);
  const state = { sessionId: '', actor: EXAMPLE_ACTOR, s: -1 };
  await appendSigned(
    log,
    N,
    (i) => {
      const e = eventAt(i, state);
      return { eventId: e.eventId, kind: 'event', bytes: encodeEvent(e), source: null, appendedAt: 0 };
    },
    { origin: `bench.affidavit/${LOG}`, signer },
  );
  await store.close();
}

const dir = mkdtempSync(join(tmpdir(), 'aff-bench-report-'));
const file = join(dir, 'ledger.sqlite');
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
try {
  let t = performance.now();
  await build(file);
  console.log(`wrote ${N.toLocaleString('en-US')} events over ${DAYS} days in ${fmt(performance.now() - t)}`);
  const store = await openSqliteLedgerStore({ path: file, readOnly: true });
  const log = await store.openLog(LOG);
  // Baselines: the same entries read raw, and read and decoded.
  t = performance.now();
  let bytes = 0;
  for await (const e of log.readEntries(0, Number.MAX_SAFE_INTEGER)) bytes += e.bytes.length;
  const raw = performance.now() - t;
  t = performance.now();
  const c = codec();
  let decoded = 0;
  for await (const e of log.readEntries(0, Number.MAX_SAFE_INTEGER)) if (c.decode(e.bytes).occurredAt > 0) decoded++;
  const decode = performance.now() - t;
  console.log(`raw scan: ${fmt(raw)} (${(bytes / 1e6).toFixed(0)} MB); scan + decode: ${fmt(decode)} (${decoded.toLocaleString('en-US')} events)`);
  const period = { from: new Date(T0 / 1000), to: new Date((T0 + SPAN) / 1000 + 1) };
  for (const control of ['AC-2', 'AU-3']) {
    t = performance.now();
    const r = await generateReport(store, { control, ...period, key: verifier, decisionKeys: [], ...(values.sequential ? {} : { ledgerFile: file }) });
    const ms = performance.now() - t;
    const cites = r.rows.reduce((n, x) => n + x.cites.length, 0);
    console.log(
      `${control} report: ${fmt(ms)} = ${(ms / raw).toFixed(1)}x the raw scan, ${(ms / decode).toFixed(2)}x scan + decode; ${r.rows.length} rows, ${cites} cited entries (target < 2 s) ${ms < 2000 ? 'OK' : 'ABOVE TARGET'}`,
    );
  }
  // Proofs for 1,000 cited rows against the newest checkpoint, then their offline check.
  const note = (await log.latestCheckpoint())!;
  const cp = parseCheckpoint(openNote(note, [verifier]).text);
  // One batch, as a report proves its cited entries.
  const reader = tileNodeReader((ids) => log.readTiles(ids), cp.size);
  const picks = Array.from({ length: 1000 }, (_, i) => Math.floor(((i + 0.5) / 1000) * cp.size));
  const leaves = new Map<number, Uint8Array>();
  for (const p of picks) for await (const e of log.readEntries(p, p + 1)) leaves.set(p, hashLeaf(e.bytes));
  t = performance.now();
  const proofs = await inclusionProofs(reader, picks, cp.size);
  const gen = performance.now() - t;
  t = performance.now();
  picks.forEach((p, i) => verifyInclusion(leaves.get(p)!, p, cp.size, proofs[i], cp.root));
  const check = performance.now() - t;
  console.log(
    `proofs for 1,000 cited rows: ${fmt(gen)} to compute from tiles (target < 1 s) ${gen < 1000 ? 'OK' : 'ABOVE TARGET'}, ${fmt(check)} to verify offline`,
  );
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
