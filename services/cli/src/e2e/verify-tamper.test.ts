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
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'services/cli/src/main.ts'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
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
  const ledger = new Ledger({ origin: ORIGIN, checkpointEveryEntries: 100, checkpointEveryMs: 60_000 }, { bus, store, signer, clock: { now: () => Date.now() } });
  await ledger.start();
  await bus.publish(TOPICS.sessionEvents, Array.from({ length: N }, (_, i) => ({ key: 's', value: encodeEvent(exampleEvent('CommandIssued', { eventId: uuidv7(), seq: i, text: `select 'marker-${String(i).padStart(4, '0')}'` })) })));
  const end = Date.now() + 20_000;
  while (ledger.stats().appended < N && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await ledger.stop();
  await bus.close();
  await store.close();
}
const published = (() => {
  // What the checkpoints topic carried: the checkpoint at size 300, kept outside the system.
  const db = new DatabaseSync(ledgerFile, { readOnly: true });
  const row = db.prepare("SELECT note FROM checkpoints WHERE size = 300").get() as { note: string };
  db.close();
  const f = join(dir, 'published-300.note');
  writeFileSync(f, row.note);
  return f;
})();

const copy = (name: string) => {
  const p = join(dir, name);
  copyFileSync(ledgerFile, p);
  return p;
};
/** raw opens a copy with the triggers dropped: an attacker with file access can do that. */
const raw = (p: string, sql: string) => {
  const db = new DatabaseSync(p);
  for (const t of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as { name: string }[]) db.exec(`DROP TRIGGER "${t.name}"`);
  db.exec(sql);
  db.close();
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

test('one changed byte inside an entry of the SQLite file is named', () => {
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

test('a deleted entry is named', () => {
  const p = copy('delete.sqlite');
  raw(p, 'DELETE FROM entries WHERE idx = 250');
  const r = verify(p);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /entry 250 is missing/);
});

test('two swapped entries are named', () => {
  const p = copy('swap.sqlite');
  raw(p, `UPDATE entries SET idx = 1000000 WHERE idx = 40; UPDATE entries SET idx = 40 WHERE idx = 41; UPDATE entries SET idx = 41 WHERE idx = 1000000;`);
  const r = verify(p);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /FAILED at entry 40/);
});

test('truncate and re-append different entries (a rollback, signed with the real key) is caught by the published checkpoint', async () => {
  const p = copy('rollback.sqlite');
  raw(p, `DELETE FROM entries WHERE idx >= 200; DELETE FROM checkpoints WHERE size > 200; DELETE FROM tiles; DELETE FROM sources;`);
  // Rebuild tiles and append forged entries with fresh, validly signed checkpoints.
  const store = await openSqliteLedgerStore({ path: p });
  const log = await store.openLog(LOG);
  const kept: Uint8Array[] = [];
  for await (const e of log.readEntries(0, 200)) kept.push(e.bytes);
  const forged = Array.from({ length: 400 }, (_, i) => encodeEvent(exampleEvent('CommandIssued', { eventId: uuidv7(), seq: 200 + i, text: 'select nothing happened' })));
  const all = [...kept, ...forged];
  const built = await integrate(async () => [], 0, all.map((b) => hashLeaf(b)));
  const note = await signNote(formatCheckpoint({ origin: `${ORIGIN}/${LOG}`, size: all.length, root: built.root, extensions: [] }), [signer]);
  await store.close();
  raw(p, 'DELETE FROM entries; DELETE FROM checkpoints;');
  const store2 = await openSqliteLedgerStore({ path: p });
  const log2 = await store2.openLog(LOG);
  await log2.append({ entries: all.map((bytes, i) => ({ eventId: uuidv7(), kind: 'event' as const, bytes, source: { topic: TOPICS.sessionEvents, partition: 0, offset: BigInt(i) }, appendedAt: Date.now() })), tiles: built.tiles, checkpoint: note }, 0);
  await store2.close();
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
