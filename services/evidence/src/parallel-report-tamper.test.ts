// A ledger file altered behind the ledger's back (its triggers dropped, a bundle deleted, cut
// short or overwritten) gives no report, read in one pass or on two cores: the signed tree still
// proves every entry a report cites, so a report that silently lacked a bundle's entries would
// look complete. Only reading every index of the log up to its signed checkpoint shows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openSqliteLedgerStore, openWorkerSqliteLedgerStore } from '@affidavit/ledger';
import { EXAMPLE_ACTOR, exampleEvent } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import { generateReport } from './index.ts';
import type { ReportRequest } from './index.ts';
import { writeLedger } from './test-support.ts';
import { DAY, T0, storyRequest } from './story.fixture.ts';

/** sessions of four events over the day: a start and three DDLs, so every bundle holds rows of each kind. */
function sessions(n: number): LedgerRecord[] {
  const out: LedgerRecord[] = [];
  for (let i = 0; i < n; i++) {
    const s = Math.floor(i / 4);
    const env = {
      eventId: `0190a5d3-0000-7000-9000-${String(i).padStart(12, '0')}`,
      sessionId: `0190a5d3-0000-7000-8000-${String(s).padStart(12, '0')}`,
      seq: i % 4,
      occurredAt: T0 + 20_000 + Math.floor((i / n) * (DAY - 40_000)),
      actor: { ...EXAMPLE_ACTOR, subject: `user${s}` },
    };
    out.push(i % 4 === 0 ? exampleEvent('SessionStarted', env) : exampleEvent('CommandIssued', { ...env, commandId: `c${i}`, text: 'x', classes: ['ddl'] }));
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'aff-evidence-tamper-'));
const good = join(dir, 'good.sqlite');
// Eight whole bundles, each signed: the worker's half is bundles 4..7.
await writeLedger(good, sessions(256 * 8), { batch: 256 });
const request: ReportRequest = storyRequest('IA-2');
const PARALLEL = { from: 1, chunk: 256, reserve: 0.5 };

/** altered copies the good file and runs `sql` on the copy with its own connection. */
function altered(name: string, sql: string): string {
  const file = join(dir, `${name}.sqlite`);
  copyFileSync(good, file);
  const db = new DatabaseSync(file);
  db.exec(sql);
  db.close();
  return file;
}

test('the untouched file reports every session, in one pass and on two cores', async () => {
  const s = await openSqliteLedgerStore({ path: good, readOnly: true });
  try {
    const one = await generateReport(s, request);
    assert.equal(one.rows.filter((r) => r.kind === 'session-auth').length, 512);
    assert.deepEqual(await generateReport(s, { ...request, ledgerFile: good, parallel: PARALLEL }), one);
  } finally {
    await s.close();
  }
});

const CASES: [string, string, RegExp][] = [
  [
    'a bundle of the worker’s half deleted',
    'DROP TRIGGER bundles_no_delete; DELETE FROM bundles WHERE idx = 6;',
    /entries 1536\.\.1791 of \d+\.\.2047 are missing/,
  ],
  ['a bundle of the front half deleted', 'DROP TRIGGER bundles_no_delete; DELETE FROM bundles WHERE idx = 1;', /entries 256\.\.511 of \d+\.\.\d+ are missing/],
  ['the last bundle deleted', 'DROP TRIGGER bundles_no_delete; DELETE FROM bundles WHERE idx = 7;', /holds 1792 entries, its signed checkpoint covers 2048/],
  [
    'a bundle overwritten with a prefix of itself',
    'DROP TRIGGER bundles_grow_only; UPDATE bundles SET data = substr(data, 1, 100) WHERE idx = 6;',
    /bundle 6 .* malformed/,
  ],
  ['a bundle said to hold fewer entries', 'DROP TRIGGER bundles_grow_only; UPDATE bundles SET count = 200 WHERE idx = 6;', /bundle 6 .* malformed/],
];

for (const [what, sql, why] of CASES)
  for (const [how, parallel] of [
    ['in one pass', undefined],
    ['on two cores', PARALLEL],
  ] as const)
    test(`${what}: no report ${how}, the error names what is missing`, async () => {
      const file = altered(`${what.replace(/\W+/g, '-')}-${parallel ? 2 : 1}`, sql);
      const s = await openSqliteLedgerStore({ path: file, readOnly: true });
      try {
        await assert.rejects(generateReport(s, { ...request, ledgerFile: file, parallel }), (e: Error & { code?: string }) => {
          assert.match(e.code ?? '', /^AFF_E_(EVIDENCE_SCAN_FAILED|LEDGER_STORE_UNREADABLE)$/);
          assert.match(e.message, why);
          return true;
        });
      } finally {
        await s.close();
      }
    });

test('read through the ledger’s worker-thread store (embedded mode), a deleted bundle gives no report either', async () => {
  // That store numbers a page's entries from its first one, so the entries after the gap come
  // numbered as if nothing were missing, and the page ends short: the scan sees the short read.
  const file = altered('worker-store', 'DROP TRIGGER bundles_no_delete; DELETE FROM bundles WHERE idx = 1;');
  const s = await openWorkerSqliteLedgerStore({ path: file, readOnly: true });
  try {
    await assert.rejects(
      generateReport(s, request),
      (e: Error & { code?: string }) => e.code === 'AFF_E_EVIDENCE_SCAN_FAILED' && /are missing from the store/.test(e.message),
    );
  } finally {
    await s.close();
  }
});
