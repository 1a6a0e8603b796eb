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

/** forgedEnv is the envelope of a forged or out-of-order event of session `s` (few sessions, seq anywhere). */
const forgedEnv = (i: number, s: number, subject: string) => ({
  eventId: `0190a5d4-0000-7000-9000-${String(i).padStart(12, '0')}`,
  sessionId: `0190a5d4-0000-7000-8000-${String(s).padStart(12, '0')}`,
  seq: 1000 + i,
  occurredAt: T0 + 10_000 + i,
  actor: { ...EXAMPLE_ACTOR, subject },
});

test('a request id used again by a forged request in the worker’s part: the decision goes where one pass sends it', async () => {
  const file = join(dir, 'rebound.sqlite');
  const records = [
    exampleEvent('SessionStarted', forgedEnv(0, 1, 'erin')),
    exampleEvent('CommandIssued', { ...forgedEnv(1, 1, 'erin'), commandId: 'e1', text: 'drop table audit', classes: ['ddl'] }),
    ...filler(1200),
    exampleEvent('CommandIssued', { ...forgedEnv(2, 2, 'frank'), commandId: 'f1', text: 'grant all to frank', classes: ['dcl'] }),
    exampleEvent('ApprovalRequested', { ...forgedEnv(3, 2, 'frank'), commandId: 'f1', requestId: 'r-x', text: 'grant all to frank' }),
    exampleEvent('ApprovalRequested', { ...forgedEnv(4, 1, 'erin'), commandId: 'e1', requestId: 'r-x', text: 'drop table audit' }),
    exampleEvent('ApprovalDecided', { ...forgedEnv(5, 3, 'grace'), requestId: 'r-x', decision: 'approved' }),
  ];
  await writeLedger(file, records, { batch: 101 });
  const s = await openSqliteLedgerStore({ path: file, readOnly: true });
  try {
    for (const control of ['AC-2', 'AC-6(9)']) {
      const one = await generateReport(s, request(control));
      const decision = (text: string) =>
        (one.rows.find((x) => x.kind === 'privileged-command' && x.claims.text === text)?.claims.approval as { decision?: string } | null)?.decision;
      assert.equal(decision('drop table audit'), 'approved', `${control}: one pass gives the decision to erin's command`);
      assert.equal(decision('grant all to frank'), 'pending', `${control}: and leaves frank's pending`);
      const two = await generateReport(s, { ...request(control), ledgerFile: file, parallel: { from: 1, chunk: 256, reserve: 0.5 } });
      assert.deepEqual(two, one, control);
    }
  } finally {
    await s.close();
  }
});

test('two big logs, sessions across them, an unsigned tail in the worker’s part: the report of one pass', async () => {
  const file = join(dir, 'two-logs.sqlite');
  const other = 'affidavit.session-events.v1:1';
  // Log 0: erin's session starts and issues a DDL; then filler. Log 1: filler, erin's DDL
  // completes (a session split over partitions by a forged key), then entries never signed.
  await writeLedger(
    file,
    [
      exampleEvent('SessionStarted', forgedEnv(10, 4, 'erin')),
      exampleEvent('CommandIssued', { ...forgedEnv(11, 4, 'erin'), commandId: 'e2', text: 'alter role erin superuser', classes: ['dcl'] }),
      ...filler(500),
    ],
    { batch: 97 },
  );
  await writeLedger(file, [...filler(400), exampleEvent('CommandCompleted', { ...forgedEnv(12, 4, 'erin'), commandId: 'e2', tag: 'ALTER ROLE' })], {
    batch: 89,
    logId: other,
  });
  await writeLedger(
    file,
    filler(300).map((r, i) => ({ ...r, eventId: `0190a5d5-0000-7000-9000-${String(i).padStart(12, '0')}` })),
    {
      batch: 150,
      logId: other,
      unsigned: true,
    },
  );
  const s = await openSqliteLedgerStore({ path: file, readOnly: true });
  try {
    for (const control of CONTROL_IDS) {
      const one = await generateReport(s, request(control));
      assert.ok(
        one.gaps.some((g) => g.startsWith(`log ${other}: 300 entries of the period are past the newest signed checkpoint`)),
        `${control}: ${one.gaps.join('; ')}`,
      );
      if (control === 'ac-6.9')
        assert.equal(
          one.rows.find((r) => r.claims.text === 'alter role erin superuser')?.claims.outcome,
          'completed: ALTER ROLE',
          'the completion in log 1 is found',
        );
      const two = await generateReport(s, { ...request(control), ledgerFile: file, parallel: { from: 1, chunk: 256, reserve: 0.5 } });
      assert.deepEqual(two, one, control);
    }
  } finally {
    await s.close();
  }
});
