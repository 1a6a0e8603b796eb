// `affidavit report` over a log big enough to be read on two cores (a fold worker thread takes its
// later chunks): the real command's report is the one-pass report (`--one-pass`) row for row and
// proof for proof, for AC-2 and AU-3, and it verifies offline with `affidavit verify report`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7 } from '@affidavit/common';
import { appendSigned, openSqliteLedgerStore } from '@affidavit/ledger';
import { EXAMPLE_ACTOR, encodeEvent, exampleEvent } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import { ed25519NoteSigner, generateEd25519NoteKey } from '@affidavit/tlog';
import { runCli } from './embedded-story.ts';

const N = 210_000; // above the size from which a report reads a log on two cores
const T0 = Date.UTC(2026, 9, 1) * 1000;
const DAY = 86_400_000_000;
let dir: string;
let ledger: string;
let pub: string;

/** eventAt: sessions of 30 events by 40 users over a day, a DDL in every 9th session, a failed login every 997 events. */
function eventAt(i: number): LedgerRecord {
  const s = Math.floor(i / 30);
  const k = i % 30;
  const t = T0 + Math.floor((i / N) * DAY);
  const env = {
    eventId: uuidv7(Math.floor(t / 1000)),
    sessionId: `0190a5d3-0000-7000-8000-${String(s).padStart(12, '0')}`,
    seq: k,
    occurredAt: t,
    actor: { ...EXAMPLE_ACTOR, subject: `user${s % 40}`, groups: s % 5 ? ['team'] : [] },
  };
  if (i % 997 === 996) return exampleEvent('AuthenticationFailed', { ...env, actor: null, claimedSubject: 'mallory' });
  if (k === 0) return exampleEvent('SessionStarted', env);
  if (k % 2 === 1) return exampleEvent('CommandIssued', { ...env, commandId: `c${k}`, text: 'x', classes: k === 1 && s % 9 === 0 ? ['ddl'] : ['select'] });
  return exampleEvent('CommandCompleted', { ...env, commandId: `c${k - 1}` });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aff-report-big-'));
  ledger = join(dir, 'ledger.sqlite');
  pub = join(dir, 'ledger.pub');
  const key = generateEd25519NoteKey('big.affidavit', (n) => randomBytes(n));
  writeFileSync(pub, `${key.verifierKey}\n`);
  const store = await openSqliteLedgerStore({ path: ledger });
  try {
    await appendSigned(
      await store.openLog('affidavit.session-events.v1:0'),
      N,
      (i) => {
        const e = eventAt(i);
        return { eventId: e.eventId, kind: 'event', bytes: encodeEvent(e), source: null, appendedAt: 0 };
      },
      { origin: 'big.affidavit/affidavit.session-events.v1:0', signer: ed25519NoteSigner(key.signerKey), batch: 30_000 },
    );
  } finally {
    await store.close();
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** withoutRunTime drops what differs between two runs over the same ledger: when each was made. */
const withoutRunTime = (file: string) => {
  const r = JSON.parse(readFileSync(file, 'utf8')) as { generatedAt?: string };
  delete r.generatedAt;
  return r;
};

for (const control of ['AC-2', 'AU-3']) {
  test(`${control}: the report of the real command read on two cores is the one-pass report, and verifies offline`, { timeout: 300_000 }, async () => {
    const period = ['--from', new Date(T0 / 1000).toISOString(), '--to', new Date((T0 + DAY) / 1000 + 1).toISOString()];
    const two = join(dir, `${control}-two.json`);
    const one = join(dir, `${control}-one.json`);
    const r2 = await runCli(['report', control, ...period, '--store', ledger, '--key', pub, '--out', two]);
    assert.equal(r2.code, 0, r2.stderr);
    const r1 = await runCli(['report', control, ...period, '--store', ledger, '--key', pub, '--out', one, '--one-pass']);
    assert.equal(r1.code, 0, r1.stderr);
    const report = withoutRunTime(two) as { rows: { cites: unknown[] }[]; gaps: string[] };
    assert.ok(report.rows.length >= 5, 'the report has rows');
    assert.deepEqual(
      report.gaps.filter((g) => /does not decode|not reported yet/.test(g)),
      [],
      'every entry was read and signed',
    );
    assert.deepEqual(report, withoutRunTime(one));
    const v = await runCli(['verify', 'report', two, '--key', pub, '--allow-unattested']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });
}
