// A report over a SQLite file read on two cores (a fold worker takes the later part of the log
// and half the proofs) is the report of one pass, byte for byte, for every control; and when the
// worker cannot read its part, no report is made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { EXAMPLE_ACTOR, exampleEvent } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import { CONTROL_IDS, generateReport } from './index.ts';
import { writeLedger } from './test-support.ts';
import { DAY, T0, story, storyRequest } from './story.fixture.ts';

/** filler: sessions of eight events spread over the day, a DDL in every fifth and a failed login in every seventh. */
function filler(n: number): LedgerRecord[] {
  const out: LedgerRecord[] = [];
  for (let i = 0; i < n; i++) {
    const s = Math.floor(i / 8);
    const k = i % 8;
    const sessionId = `0190a5d1-0000-7000-8000-${String(s).padStart(12, '0')}`;
    const env = {
      eventId: `0190a5d1-0000-7000-9000-${String(i).padStart(12, '0')}`,
      sessionId,
      seq: k,
      occurredAt: T0 + 20_000 + Math.floor((i / n) * (DAY - 40_000)),
      actor: { ...EXAMPLE_ACTOR, subject: `user${s % 9}`, groups: s % 4 ? ['team'] : [] },
    };
    if (k === 0) out.push(exampleEvent(s % 7 === 3 ? 'AuthenticationFailed' : 'SessionStarted', s % 7 === 3 ? { ...env, actor: null } : env));
    else if (k % 2 === 1)
      out.push(exampleEvent('CommandIssued', { ...env, commandId: `c${k}`, text: 'x', classes: k === 1 && s % 5 === 0 ? ['ddl'] : ['select'] }));
    else out.push(exampleEvent('CommandCompleted', { ...env, commandId: `c${k - 1}` }));
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'aff-evidence-par-'));
const ledgerFile = join(dir, 'ledger.sqlite');
await writeLedger(ledgerFile, [...(await story()), ...filler(1500)], { batch: 97 });
const store = await openSqliteLedgerStore({ path: ledgerFile, readOnly: true });
const request = storyRequest;

for (const control of CONTROL_IDS) {
  test(`${control}: read on two cores, the report is the report of one pass`, async () => {
    const one = await generateReport(store, request(control));
    const two = await generateReport(store, { ...request(control), ledgerFile, parallel: { from: 1, chunk: 256, reserve: 0.5 } });
    assert.ok(one.rows.length > 0, 'the report has rows');
    assert.deepEqual(two, one);
  });
}

test('when the worker cannot read its part of the log, the report fails naming it (never a report without it)', async () => {
  await assert.rejects(
    generateReport(store, { ...request('AC-2'), ledgerFile: join(dir, 'missing.sqlite'), parallel: { from: 1, chunk: 256, reserve: 0.5 } }),
    (e: Error & { code?: string }) => e.code === 'AFF_E_EVIDENCE_SCAN_FAILED' && /affidavit\.session-events\.v1:0 \(\d+ entries\)/.test(e.message),
  );
});

test('a session "started" again late in the log (out of order, or forged on the bus) changes nothing: the worker part is folded again', async () => {
  const file = join(dir, 'forged.sqlite');
  const sessionId = '0190a5d2-0000-7000-8000-000000000001';
  const env = (i: number, seq: number) => ({
    eventId: `0190a5d2-0000-7000-9000-${String(i).padStart(12, '0')}`,
    sessionId,
    seq,
    occurredAt: T0 + 10_000 + i,
    actor: { ...EXAMPLE_ACTOR, subject: 'erin' },
  });
  const records = [
    exampleEvent('SessionStarted', env(0, 0)),
    exampleEvent('CommandIssued', { ...env(1, 1), commandId: 'e1', text: 'drop table audit', classes: ['ddl'] }),
    ...filler(1200),
    exampleEvent('SessionStarted', env(2, 900)),
    exampleEvent('CommandCompleted', { ...env(3, 901), commandId: 'e1', tag: 'DROP TABLE' }),
  ];
  await writeLedger(file, records, { batch: 101 });
  const s = await openSqliteLedgerStore({ path: file, readOnly: true });
  try {
    for (const control of ['AC-2', 'AC-6(9)']) {
      const one = await generateReport(s, request(control));
      const two = await generateReport(s, { ...request(control), ledgerFile: file, parallel: { from: 1, chunk: 256, reserve: 0.5 } });
      const drop = one.rows.find((r) => r.kind === 'privileged-command' && r.claims.text === 'drop table audit');
      assert.equal(drop?.claims.outcome, 'completed: DROP TABLE', `${control}: one pass sees the completion`);
      assert.deepEqual(two, one, control);
    }
  } finally {
    await s.close();
  }
});

test.after(() => store.close());
