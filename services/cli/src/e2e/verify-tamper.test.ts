// Tamper trials: a ledger is written for real (in-process bus, SQLite file, signed checkpoints),
// then altered on disk and in exported bundles; the real `affidavit verify` process must fail
// with exit 1 naming the entry (or the range / checkpoint) every time, and pass when untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryBus } from '@affidavit/bus';
import { uuidv7 } from '@affidavit/common';
import { Ledger, loadOrCreateSigningKey, logIdFor, openSqliteLedgerStore } from '@affidavit/ledger';
import { encodeEvent, exampleEvent, TOPICS } from '@affidavit/schemas';
import { formatCheckpoint, hashLeaf, integrate, signNote } from '@affidavit/tlog';

const root = join(import.meta.dirname, '..', '..', '..', '..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'services/cli/src/main.ts'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
const dir = mkdtempSync(join(tmpdir(), 'aff-tamper-'));
const keyFile = join(dir, 'ledger.key');
const pubFile = join(dir, 'ledger.pub');
const ledgerFile = join(dir, 'ledger.sqlite');
const ORIGIN = 'tamper.test';
const LOG = logIdFor(TOPICS.sessionEvents, 0);
const N = 600;

// Build the ledger once: 600 events of one session (one partition), checkpoints every 100.
const signer = loadOrCreateSigningKey(keyFile, pubFile, ORIGIN);
{
  const bus = createMemoryBus({ maxBatchRecords: 50 });
  for (const t of [TOPICS.sessionEvents, TOPICS.sessionEventsDlq, TOPICS.checkpoints]) await bus.ensureTopic(t, 1);
  const store = await openSqliteLedgerStore({ path: ledgerFile });
  const ledger = new Ledger(
    { origin: ORIGIN, checkpointEveryEntries: 100, checkpointEveryMs: 60_000 },
    { bus, store, signer, clock: { now: () => Date.now() } },
  );
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: N }, (_, i) => ({
      key: 's',
      value: encodeEvent(exampleEvent('CommandIssued', { eventId: uuidv7(), sessionId: 's', seq: i, text: `select 'marker-${String(i).padStart(4, '0')}'` })),
    })),
  );
  const end = Date.now() + 20_000;
  while (ledger.stats().appended < N && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await ledger.stop();
  await bus.close();
  await store.close();
}
const published = (() => {
  // What the checkpoints topic carried: a checkpoint past entry 200 (where the rollback trial
  // below starts forging), kept outside the system. Its exact size depends on how the ledger
  // batched the 600 events, so it is looked up rather than assumed.
  const db = new DatabaseSync(ledgerFile, { readOnly: true });
  const row = db.prepare('SELECT note, size FROM checkpoints WHERE size > 200 AND size < ? ORDER BY size LIMIT 1').get(N) as
    | { note: string; size: number }
    | undefined;
  db.close();
  assert.ok(row, 'the ledger wrote a checkpoint between 200 and 600 entries');
  const f = join(dir, `published-${row.size}.note`);
  writeFileSync(f, row.note);
  return f;
})();

const copy = (name: string) => {
  const p = join(dir, name);
  copyFileSync(ledgerFile, p);
  return p;
};
/** raw opens a copy with the triggers dropped: an attacker with file access can do that. */
const raw = (p: string, sql: string, ...params: (number | Uint8Array)[]) => {
  const db = new DatabaseSync(p);
  for (const t of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as { name: string }[]) db.exec(`DROP TRIGGER "${t.name}"`);
  if (params.length > 0) db.prepare(sql).run(...params);
  else db.exec(sql);
  db.close();
};
/** entryBytes reads entries through the store, read-only: what an attacker can learn from the file. */
const entryBytes = async (p: string, from: number, to: number): Promise<Buffer[]> => {
  const store = await openSqliteLedgerStore({ path: p, readOnly: true });
  const out: Buffer[] = [];
  for await (const e of (await store.openLog(LOG)).readEntries(from, to)) out.push(Buffer.from(e.bytes));
  await store.close();
  return out;
};
/** bundle0 returns the stored data of entry bundle 0 (entries 0..255) of the copy. */
const bundle0 = (p: string): Buffer => {
  const db = new DatabaseSync(p, { readOnly: true });
  const row = db.prepare('SELECT b.data FROM bundles b JOIN logs l ON l.log = b.log WHERE l.log_id = ? AND b.idx = 0').get(LOG) as { data: Uint8Array };
  db.close();
  return Buffer.from(row.data);
};
/**
 * recordEnds returns where the records of entries first..last end inside bundle 0's data. Every
 * record ends with its entry's bytes (see the framing in services/ledger's entry-bundle.ts), and
 * each event's bytes are unique here (a marker per event), so no knowledge of the header is needed:
 * record i spans from the end of record i-1 to the end of its own bytes.
 */
const recordEnds = (data: Buffer, entries: Buffer[]): number[] => {
  let at = 0;
  return entries.map((b) => {
    const i = data.indexOf(b, at);
    assert.ok(i >= 0, 'entry bytes found in the bundle');
    at = i + b.length;
    return at;
  });
};
const verify = (target: string, ...extra: string[]) => cli('verify', target, '--key', pubFile, ...extra);

test('the untouched ledger file and its exported bundle verify (exit 0)', () => {
  const r = verify(ledgerFile);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`${LOG}: ok: ${N} entries`));
  const bundle = cli('ledger', 'export', '--store', ledgerFile);
  assert.equal(bundle.status, 0, bundle.stderr);
  writeFileSync(join(dir, 'good.bundle'), bundle.stdout);
  const rb = verify(join(dir, 'good.bundle'), '--checkpoint', published);
  assert.equal(rb.status, 0, rb.stdout + rb.stderr);
});

test('one changed byte inside an entry (in its bundle, on disk) is named', () => {
  const p = copy('byte.sqlite');
  const buf = readFileSync(p);
  const at = buf.indexOf(Buffer.from('marker-0123'));
  assert.ok(at > 0, 'marker found in the file');
  buf[at + 7] ^= 0x01; // '0' -> '1': marker-1123
  writeFileSync(p, buf);
  const r = verify(p);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /FAILED at entry 123: .*altered/);
});

test('a deleted entry (its bundle rewritten without it) is named', async () => {
  const p = copy('delete.sqlite');
  const data = bundle0(p);
  const [, end249, end250] = recordEnds(data, await entryBytes(p, 0, 251)).slice(248);
  const without = Buffer.concat([data.subarray(0, end249), data.subarray(end250)]);
  raw(p, 'UPDATE bundles SET count = 255, data = ? WHERE idx = 0', without);
  const r = verify(p);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /FAILED at entry 250/);
});

test('two swapped entries (inside a bundle) are named', async () => {
  const p = copy('swap.sqlite');
  const data = bundle0(p);
  const [end39, end40, end41] = recordEnds(data, await entryBytes(p, 0, 42)).slice(39);
  const swapped = Buffer.concat([data.subarray(0, end39), data.subarray(end40, end41), data.subarray(end39, end40), data.subarray(end41)]);
  assert.equal(swapped.length, data.length);
  raw(p, 'UPDATE bundles SET data = ? WHERE idx = 0', swapped);
  const r = verify(p);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /FAILED at entry 40/);
});

test('truncate and re-append different entries (a rollback, signed with the real key) is caught by the published checkpoint', async () => {
  const p = copy('rollback.sqlite');
  // Keep the first 200 entries, forge 400 more, and rebuild tiles and a validly signed checkpoint.
  const kept = await entryBytes(p, 0, 200);
  const forged = Array.from({ length: 400 }, (_, i) =>
    encodeEvent(exampleEvent('CommandIssued', { eventId: uuidv7(), seq: 200 + i, text: 'select nothing happened' })),
  );
  const all = [...kept, ...forged];
  const built = await integrate(
    async () => [],
    0,
    all.map((b) => hashLeaf(b)),
  );
  const note = await signNote(formatCheckpoint({ origin: `${ORIGIN}/${LOG}`, size: all.length, root: built.root, extensions: [] }), [signer]);
  raw(p, 'DELETE FROM bundles; DELETE FROM bundle_tail; DELETE FROM event_ids; DELETE FROM checkpoints; DELETE FROM tiles; DELETE FROM sources;');
  const store = await openSqliteLedgerStore({ path: p });
  const log = await store.openLog(LOG);
  await log.append(
    {
      entries: all.map((bytes, i) => ({
        eventId: uuidv7(),
        kind: 'event' as const,
        bytes,
        source: { topic: TOPICS.sessionEvents, partition: 0, offset: BigInt(i) },
        appendedAt: Date.now(),
      })),
      tiles: built.tiles,
      checkpoint: note,
    },
    0,
  );
  await store.close();
  const alone = verify(p);
  assert.equal(alone.status, 0, 'internally consistent: only an outside copy can reveal it');
  const r = verify(p, '--checkpoint', published);
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /rollback/);
});

test('tampered bundles: a changed entry, a removed line, swapped lines, a truncated tail', () => {
  const lines = readFileSync(join(dir, 'good.bundle'), 'utf8').trimEnd().split('\n');
  const first = lines.findIndex((l) => l.startsWith('{"i":'));
  const write = (name: string, ls: string[]) => {
    const f = join(dir, name);
    writeFileSync(f, `${ls.join('\n')}\n`);
    return f;
  };
  const e = JSON.parse(lines[first + 77]);
  const bytes = Buffer.from(e.b, 'base64');
  bytes[bytes.length - 3] ^= 0x20;
  const changed = [...lines];
  changed[first + 77] = JSON.stringify({ ...e, b: bytes.toString('base64') });
  assert.match(verify(write('changed.bundle', changed)).stdout, /FAILED at entry 77/);
  const removed = lines.filter((_, i) => i !== first + 10);
  assert.match(verify(write('removed.bundle', removed)).stdout, /entry 10 is missing/);
  const swapped = [...lines];
  [swapped[first + 5], swapped[first + 6]] = [swapped[first + 6], swapped[first + 5]];
  assert.match(verify(write('swapped.bundle', swapped)).stdout, /FAILED at entry 5/);
  const truncated = lines.slice(0, first + 450);
  const t = verify(write('truncated.bundle', truncated));
  assert.equal(t.status, 1);
  assert.match(t.stdout, /removed/);
  const garbage = verify(write('garbage.bundle', [lines[0], 'not json']));
  assert.equal(garbage.status, 3, 'an unreadable bundle is an error, not a verdict');
  assert.match(garbage.stderr, /AFF_E_LEDGER_BUNDLE_MALFORMED/);
});
