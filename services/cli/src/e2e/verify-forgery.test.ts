// Forgery trials (issue 16): a hostile party with a copy of the ledger file, an exported bundle or
// a data directory, and no signing key (unless said otherwise), forges what verify accepts as
// input. The real `affidavit verify` process MUST exit 1 naming the problem every time: proving
// nothing is failing, not "ok". Run: node --test services/cli/src/e2e/verify-forgery.test.ts
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryBus } from '@affidavit/bus';
import { uuidv7 } from '@affidavit/common';
import { Ledger, loadOrCreateSigningKey, logIdFor, openSqliteLedgerStore } from '@affidavit/ledger';
import { encodeEvent, exampleEvent, TOPICS } from '@affidavit/schemas';
import { ed25519NoteSigner, encodeBase64, formatCheckpoint, generateEd25519NoteKey, hashLeaf, integrate, signNote } from '@affidavit/tlog';

const root = join(import.meta.dirname, '..', '..', '..', '..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'services/cli/src/main.ts'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
const dir = mkdtempSync(join(tmpdir(), 'aff-forgery-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const dataDir = join(dir, 'data');
mkdirSync(join(dataDir, 'keys'), { recursive: true });
const keyFile = join(dataDir, 'keys', 'ledger.key');
const pubFile = join(dataDir, 'keys', 'ledger.pub');
const ledgerFile = join(dataDir, 'ledger.sqlite');
const ORIGIN = 'forgery.test';
const LOGS = [logIdFor(TOPICS.sessionEvents, 0), logIdFor(TOPICS.sessionEvents, 1)];
const originOf = (log: string) => `${ORIGIN}/${log}`;
const N = 400;

// Two logs (two partitions), 400 events over 8 sessions, checkpoints every 50 entries and at stop.
const signer = loadOrCreateSigningKey(keyFile, pubFile, ORIGIN);
{
  const bus = createMemoryBus({ maxBatchRecords: 40 });
  await bus.ensureTopic(TOPICS.sessionEvents, 2);
  for (const t of [TOPICS.sessionEventsDlq, TOPICS.checkpoints]) await bus.ensureTopic(t, 1);
  const store = await openSqliteLedgerStore({ path: ledgerFile });
  const ledger = new Ledger(
    { origin: ORIGIN, checkpointEveryEntries: 50, checkpointEveryMs: 60_000 },
    { bus, store, signer, clock: { now: () => Date.now() } },
  );
  await ledger.start();
  const seq = new Map<string, number>();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: N }, (_, i) => {
      const s = `session-${i % 8}`;
      const n = seq.get(s) ?? 0;
      seq.set(s, n + 1);
      return {
        key: s,
        value: encodeEvent(exampleEvent('CommandIssued', { eventId: uuidv7(), sessionId: s, seq: n, text: `select 'marker-${String(i).padStart(4, '0')}'` })),
      };
    }),
  );
  const end = Date.now() + 20_000;
  while (ledger.stats().appended < N && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await ledger.stop();
  await bus.close();
  await store.close();
}

const db = (p: string, readOnly = true) => new DatabaseSync(p, { readOnly });
/** notes returns every stored checkpoint of a log, oldest first: what the checkpoints topic carried. */
const notes = (p: string, log: string): string[] => {
  const d = db(p);
  const rows = d.prepare('SELECT c.note FROM checkpoints c JOIN logs l ON l.log = c.log WHERE l.log_id = ? ORDER BY c.id').all(log) as { note: string }[];
  d.close();
  return rows.map((r) => r.note);
};
const sizeOf = (note: string) => Number(note.split('\n')[1]);
assert.ok(
  LOGS.every((l) => notes(ledgerFile, l).length >= 2),
  'both partitions hold entries and checkpoints',
);

/** feed writes published checkpoints as `kcat -C -t affidavit.checkpoints.v1 -e -f '%s\n'` prints them. */
const feed = (name: string, list: string[]) => {
  const f = join(dir, name);
  writeFileSync(f, list.map((n) => `${n}\n`).join(''));
  return f;
};
const published = feed(
  'published.notes',
  LOGS.flatMap((l) => notes(ledgerFile, l)),
);
const copy = (name: string) => {
  const p = join(dir, name);
  copyFileSync(ledgerFile, p);
  return p;
};
/** raw runs SQL on a copy with the triggers dropped: an attacker with file access can do that. */
const raw = (p: string, sql: string, ...params: (number | string | Uint8Array)[]) => {
  const d = db(p, false);
  for (const t of d.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as { name: string }[]) d.exec(`DROP TRIGGER "${t.name}"`);
  if (params.length > 0) d.prepare(sql).run(...params);
  else d.exec(sql);
  d.close();
};
const logRow = (log: string) => `(SELECT log FROM logs WHERE log_id = '${log}')`;
const verify = (target: string, ...extra: string[]) => cli('verify', target, '--key', pubFile, ...extra);
const exportBundle = (p: string, log: string, ...extra: string[]) => {
  const r = cli('ledger', 'export', '--store', p, '--log', log, ...extra);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trimEnd().split('\n');
};
const writeLines = (name: string, lines: string[]) => {
  const f = join(dir, name);
  writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
};
/** fails asserts exit 1 with the problem named on stdout, and no stack trace anywhere. */
const fails = (r: ReturnType<typeof cli>, why: RegExp) => {
  assert.equal(r.status, 1, `exit 1 expected\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, why);
  assert.match(r.stderr, /NOT VERIFIED/);
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
};
const good = exportBundle(ledgerFile, LOGS[0]);
const isCheckpoint = (l: string) => l.startsWith('{"checkpoint":');
const isEntry = (l: string) => l.startsWith('{"i":');
/** reLeaf recomputes an edited bundle entry's recorded leaf, as a forger would. */
const editEntry = (line: string): string => {
  const e = JSON.parse(line);
  const b = Buffer.from(e.b, 'base64');
  const at = b.indexOf('marker-');
  b[at + 7] = b[at + 7] === 0x39 ? 0x38 : b[at + 7] + 1;
  return JSON.stringify({ i: e.i, b: b.toString('base64'), l: encodeBase64(hashLeaf(b)) });
};

test('the untouched ledger file, data directory and bundles are proven (exit 0), with every published checkpoint', () => {
  for (const target of [ledgerFile, dataDir]) {
    const r = verify(target, '--checkpoints-from', published);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const l of LOGS) assert.match(r.stdout, new RegExp(`${l}: ok: \\d+ entries, \\d+ checkpoints verified, root`));
    assert.match(r.stderr, /verified: 2 logs proven/);
  }
  const d = cli('verify', dataDir);
  assert.equal(d.status, 0, `the data directory's own key is the default\n${d.stdout}${d.stderr}`);
  const b = verify(writeLines('good.bundle', good), '--checkpoints-from', published);
  assert.equal(b.status, 0, b.stdout + b.stderr);
  assert.match(b.stderr, /checkpoints of other logs \(not in this input\) were skipped/);
});

// ---- bundles ----

test('bundle: checkpoint lines removed → nothing signed covers the entries', () => {
  fails(
    verify(
      writeLines(
        'nocp.bundle',
        good.filter((l) => !isCheckpoint(l)),
      ),
    ),
    /nothing signed covers its \d+ entries/,
  );
});

test('bundle: checkpoints removed and an entry edited with its leaf recomputed → nothing signed', () => {
  const lines = good.filter((l) => !isCheckpoint(l));
  const i = lines.findIndex(isEntry) + 17;
  lines[i] = editEntry(lines[i]);
  fails(verify(writeLines('nocp-edit.bundle', lines)), /nothing signed covers/);
});

test('bundle: an entry edited with its leaf recomputed, checkpoints kept → the range is named', () => {
  const lines = [...good];
  const i = lines.findIndex(isEntry) + 17;
  lines[i] = editEntry(lines[i]);
  fails(verify(writeLines('edit.bundle', lines)), /FAILED in entries \[0, \d+\): root over entries .* does not match checkpoint/);
});

test('bundle: fabricated from scratch (no checkpoint; or one signed by another key of the same name) → fails', () => {
  const entries = Array.from({ length: 30 }, (_, i) => encodeEvent(exampleEvent('CommandIssued', { eventId: uuidv7(), sessionId: 'x', seq: i })));
  const header = { format: 'affidavit-bundle/1', log: LOGS[0], origin: originOf(LOGS[0]), size: 30, from: 0, to: 30 };
  const body = entries.map((b, i) => JSON.stringify({ i, b: b.toString('base64'), l: encodeBase64(hashLeaf(b)) }));
  fails(verify(writeLines('fab.bundle', [JSON.stringify(header), ...body])), /nothing signed covers its 30 entries/);
  const forger = generateEd25519NoteKey(ORIGIN, (n) => randomBytes(n));
  return (async () => {
    const built = await integrate(
      async () => [],
      0,
      entries.map((b) => hashLeaf(b)),
    );
    const note = await signNote(formatCheckpoint({ origin: originOf(LOGS[0]), size: 30, root: built.root, extensions: [] }), [
      ed25519NoteSigner(forger.signerKey),
    ]);
    fails(
      verify(writeLines('fab-signed.bundle', [JSON.stringify(header), JSON.stringify({ checkpoint: note }), ...body])),
      /FAILED at checkpoint #1: .*(AFF_E_TLOG_NOTE_UNVERIFIED|AFF_E_TLOG_SIGNATURE_INVALID)/,
    );
  })();
});

test('bundle: a lying header (origin of another log, size, range) → fails naming the claim', () => {
  const h = JSON.parse(good[0]);
  const withHeader = (name: string, over: Record<string, unknown>) => writeLines(name, [JSON.stringify({ ...h, ...over }), ...good.slice(1)]);
  fails(verify(withHeader('h-origin.bundle', { origin: originOf(LOGS[1]) })), /origin .* is not that of log|is not this log's/);
  fails(verify(withHeader('h-log.bundle', { log: LOGS[1] })), /is not that of log/);
  fails(verify(withHeader('h-to.bundle', { to: h.to + 5, size: h.size + 5 })), /the header claims entries \[0, \d+\) but the bundle holds \d+/);
  fails(verify(withHeader('h-size.bundle', { size: h.to - 1 })), /the header claims size \d+ but entries up to \d+/);
  fails(verify(withHeader('h-from.bundle', { from: 10 })), /the header claims entries from 10/);
});

test('bundle: entries past the last checkpoint are unproven: exit 1, or accepted by --allow-unsigned-tail with their number', () => {
  const cps = notes(ledgerFile, LOGS[0]).map(sizeOf);
  const to = cps[0] + 7;
  const partial = writeLines('tail.bundle', exportBundle(ledgerFile, LOGS[0], '--to', String(to)));
  fails(verify(partial), new RegExp(`7 entries after the last checkpoint \\(size ${cps[0]}\\) are unproven`));
  const ok = verify(partial, '--allow-unsigned-tail');
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /7 entries after them UNPROVEN \(accepted by --allow-unsigned-tail\)/);
});

test('bundle: --checkpoint of a log not in the bundle → "no log with origin X here"', () => {
  const other = feed('other.note', [notes(ledgerFile, LOGS[1]).at(-1)!]);
  fails(verify(writeLines('good2.bundle', good), '--checkpoint', other), new RegExp(`no log with origin "${originOf(LOGS[1])}" here: deleted or renamed\\?`));
});

// ---- ledger files and data directories ----

test('ledger file: one log’s checkpoints deleted (triggers dropped), an entry and its leaf edited → nothing signed', async () => {
  const p = copy('nocp.sqlite');
  raw(p, `DELETE FROM checkpoints WHERE log = ${logRow(LOGS[0])}`);
  // Edit an entry's bytes in place (same length) and its leaf in the level-0 tile.
  const store = await openSqliteLedgerStore({ path: p, readOnly: true });
  let target: { index: number; bytes: Buffer } | undefined;
  for await (const e of (await store.openLog(LOGS[0])).readEntries(0, 100)) if (e.index === 42) target = { index: e.index, bytes: Buffer.from(e.bytes) };
  await store.close();
  const edited = Buffer.from(target!.bytes);
  const at = edited.indexOf('marker-');
  edited[at + 7] ^= 0x01;
  // The entry lives in bundle 0 (full: `bundles`; partial: pieces in `bundle_tail`); edited
  // through SQL, since free pages of the file may still hold older copies of growing pieces.
  const d0 = db(p);
  const pieces = [
    ...(d0.prepare(`SELECT 'bundles' t, 0 first, data FROM bundles WHERE log = ${logRow(LOGS[0])}`).all() as { t: string; first: number; data: Uint8Array }[]),
    ...(d0.prepare(`SELECT 'bundle_tail' t, first, data FROM bundle_tail WHERE log = ${logRow(LOGS[0])}`).all() as {
      t: string;
      first: number;
      data: Uint8Array;
    }[]),
  ];
  d0.close();
  const piece = pieces.find((x) => Buffer.from(x.data).includes(target!.bytes))!;
  const data = Buffer.from(piece.data);
  edited.copy(data, data.indexOf(target!.bytes));
  raw(
    p,
    piece.t === 'bundles'
      ? `UPDATE bundles SET data = ? WHERE log = ${logRow(LOGS[0])} AND idx = 0`
      : `UPDATE bundle_tail SET data = ? WHERE log = ${logRow(LOGS[0])} AND idx = 0 AND first = ${piece.first}`,
    data,
  );
  const d = db(p, false);
  const row = d.prepare(`SELECT hashes FROM tiles WHERE log = ${logRow(LOGS[0])} AND level = 0 AND idx = 0`).get() as { hashes: Uint8Array };
  const hashes = Buffer.from(row.hashes);
  Buffer.from(hashLeaf(edited)).copy(hashes, 42 * 32);
  d.close();
  raw(p, `UPDATE tiles SET hashes = ? WHERE log = ${logRow(LOGS[0])} AND level = 0 AND idx = 0`, hashes);
  const r = verify(p);
  fails(r, new RegExp(`${LOGS[0]}: FAILED: nothing signed covers its \\d+ entries`));
  assert.match(r.stdout, new RegExp(`${LOGS[1]}: ok:`), 'the other log is still proven');
  fails(
    cli(
      'verify',
      (() => {
        const dd = join(dir, 'nocp-data');
        mkdirSync(join(dd, 'keys'), { recursive: true });
        copyFileSync(p, join(dd, 'ledger.sqlite'));
        copyFileSync(pubFile, join(dd, 'keys', 'ledger.pub'));
        return dd;
      })(),
    ),
    /nothing signed covers/,
  );
});

test('ledger file: a whole log deleted, its genuine checkpoint given → "no log with origin X here"', () => {
  const p = copy('nolog.sqlite');
  const l = logRow(LOGS[1]);
  raw(
    p,
    `DELETE FROM checkpoints WHERE log = ${l}; DELETE FROM bundles WHERE log = ${l}; DELETE FROM bundle_tail WHERE log = ${l}; DELETE FROM event_ids WHERE log = ${l}; DELETE FROM sources WHERE log = ${l}; DELETE FROM tiles WHERE log = ${l}; DELETE FROM logs WHERE log_id = '${LOGS[1]}'`,
  );
  const alone = verify(p);
  assert.equal(alone.status, 0, 'nothing inside the file shows it: only a copy outside can');
  const genuine = feed('log1.note', [notes(ledgerFile, LOGS[1]).at(-1)!]);
  const want = new RegExp(`no log with origin "${originOf(LOGS[1])}" here: deleted or renamed\\?`);
  fails(verify(p, '--checkpoint', genuine), want);
  fails(verify(p, '--checkpoints-from', published), want);
  const dd = join(dir, 'nolog-data');
  mkdirSync(join(dd, 'keys'), { recursive: true });
  copyFileSync(p, join(dd, 'ledger.sqlite'));
  copyFileSync(pubFile, join(dd, 'keys', 'ledger.pub'));
  fails(cli('verify', dd, '--checkpoints-from', published), want);
});

test('ledger file: every log deleted → nothing is proven', () => {
  const p = copy('empty.sqlite');
  raw(
    p,
    'DELETE FROM checkpoints; DELETE FROM bundles; DELETE FROM bundle_tail; DELETE FROM event_ids; DELETE FROM sources; DELETE FROM tiles; DELETE FROM logs',
  );
  fails(verify(p), /no logs here: nothing is proven/);
});

test('ledger file: a renamed log → its origin does not match', () => {
  const p = copy('renamed.sqlite');
  raw(p, `UPDATE logs SET log_id = '${TOPICS.sessionEvents}:7' WHERE log_id = '${LOGS[1]}'`);
  fails(verify(p), /is not that of log .*:7 .*renamed\?/);
});

test('ledger file: a rollback to an earlier checkpoint (later entries and checkpoints deleted) → caught by the published checkpoints', () => {
  const p = copy('rollback.sqlite');
  const cps = notes(ledgerFile, LOGS[0]);
  const keep = sizeOf(cps[0]);
  assert.ok(keep < 256, 'the first checkpoint lies in entry bundle 0');
  // Keep bundle 0 only up to the first checkpoint: simplest is to keep whole bundles, so roll
  // back to the last checkpoint at or below a bundle boundary when there is one.
  raw(p, `DELETE FROM checkpoints WHERE log = ${logRow(LOGS[0])} AND size > ${keep}`);
  // The file still holds all entries: an unsigned tail now. The published later checkpoints
  // disagree with nothing... until entries are cut. Cut them by deleting every entry bundle past 0
  // and the partial tail, then the log ends at a bundle boundary below the published sizes.
  raw(p, `DELETE FROM bundles WHERE log = ${logRow(LOGS[0])} AND idx > 0; DELETE FROM bundle_tail WHERE log = ${logRow(LOGS[0])}`);
  const r = verify(p, '--checkpoints-from', published);
  fails(r, /entries were removed \(truncation or rollback\)|rollback/);
});

test('ledger file: a fork (two signed checkpoints of one size, different roots) → both named', async () => {
  const cps = notes(ledgerFile, LOGS[0]);
  const size = sizeOf(cps[1]);
  // A checkpoint of the same size over other entries, signed with the real key: what a ledger
  // that forked its log (or a stolen key) publishes.
  const forked = await signNote(formatCheckpoint({ origin: originOf(LOGS[0]), size, root: hashLeaf(Buffer.from('another history')), extensions: [] }), [
    signer,
  ]);
  const f = feed('forked.notes', [...notes(ledgerFile, LOGS[0]), forked]);
  const r = verify(ledgerFile, '--checkpoints-from', f);
  fails(r, /disagrees with .* on the root of the same size: the log was forked or rolled back/);
  assert.match(r.stdout, /--checkpoints-from .*forked\.notes:\d+ \(size \d+\)/, 'the published note is named by file and line');
});

test('ledger file: a published checkpoint that does not verify (edited) → fails naming it', () => {
  const note = notes(ledgerFile, LOGS[0]).at(-1)!;
  const lines = note.split('\n');
  lines[1] = String(Number(lines[1]) - 1);
  fails(verify(ledgerFile, '--checkpoints-from', feed('edited.notes', [lines.join('\n')])), /--checkpoints-from .*edited\.notes:1: .*AFF_E_TLOG/);
});

// ---- robustness: no stack trace, bounded memory, big files ----

test('a missing input, key or checkpoint file is a typed error (exit 2), never a stack trace', () => {
  for (const r of [
    verify(join(dir, 'nope.bundle')),
    cli('verify', ledgerFile, '--key', join(dir, 'nope.pub')),
    verify(ledgerFile, '--checkpoint', join(dir, 'nope.note')),
    verify(ledgerFile, '--checkpoints-from', join(dir, 'nope.notes')),
  ]) {
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /does not exist \[AFF_E_LEDGER_VERIFY_INPUT_MISSING\]/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('a bundle line over the bound and deeply nested JSON are refused with a clear error (exit 3), memory bounded', () => {
  const long = join(dir, 'long.bundle');
  writeFileSync(long, `${good[0]}\n{"i":0,"b":"${'A'.repeat(40 << 20)}"}\n`);
  const r = verify(long);
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /long\.bundle:2: line longer than 33554432 bytes .*\[AFF_E_LEDGER_BUNDLE_MALFORMED\]/);
  const deep = writeLines('deep.bundle', [good[0], `{"i":${'['.repeat(5_000_000)}`]);
  const d = verify(deep);
  assert.equal(d.status, 3, d.stdout + d.stderr);
  assert.match(d.stderr, /deep\.bundle:2: JSON nested deeper than 8 levels/);
});

test('files over 2 GiB are read through a file handle: a sparse 2.1 GiB bundle is refused for its line, a 2.1 GiB ledger file verifies', () => {
  const big = join(dir, 'big.bundle');
  const fd = openSync(big, 'w');
  writeSync(fd, `${good[0]}\n`);
  ftruncateSync(fd, Math.floor(2.1 * 2 ** 30));
  closeSync(fd);
  const r = verify(big);
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /big\.bundle:2: line longer than/);
  assert.doesNotMatch(r.stderr, /ERR_FS_FILE_TOO_LARGE|\n\s+at /);
  const p = copy('big.sqlite');
  const f = openSync(p, 'r+');
  ftruncateSync(f, Math.floor(2.1 * 2 ** 30));
  closeSync(f);
  const s = verify(p);
  assert.equal(s.status, 0, s.stdout + s.stderr);
});

test('bundle and data directory: a rollback (cut to an earlier checkpoint) and a fork are caught by the published checkpoints', async () => {
  const cps = notes(ledgerFile, LOGS[0]);
  // A bundle cut back to the first checkpoint: internally consistent and fully signed.
  const cut = writeLines('rolledback.bundle', exportBundle(ledgerFile, LOGS[0], '--to', String(sizeOf(cps[0]))));
  assert.equal(verify(cut).status, 0, 'alone it proves what it holds');
  fails(verify(cut, '--checkpoints-from', published), /entries were removed \(truncation or rollback\)/);
  const forked = await signNote(
    formatCheckpoint({ origin: originOf(LOGS[0]), size: sizeOf(cps[1]), root: hashLeaf(Buffer.from('another history')), extensions: [] }),
    [signer],
  );
  const f = feed('forked2.notes', [forked]);
  fails(verify(writeLines('good3.bundle', good), '--checkpoints-from', f), /disagrees with .* on the root of the same size: the log was forked or rolled back/);
  fails(cli('verify', dataDir, '--checkpoints-from', f), /disagrees with .* on the root of the same size/);
});
