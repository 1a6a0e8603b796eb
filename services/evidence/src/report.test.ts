// Reports computed from a real SQLite ledger written through the ledger's append path, checked
// row by row, verified offline, and tampered with: a changed row, a dropped row, a proof from
// another log and a rolled-back period are each caught, naming the row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import type { LedgerStore, LogStore } from '@affidavit/ledger';
import { generateEd25519NoteKey, ed25519NoteVerifier } from '@affidavit/tlog';
import { randomBytes } from 'node:crypto';
import { CONTROL_IDS, generateReport, verifyReport } from './index.ts';
import type { Report } from './index.ts';
import { decisionVerifier, ledgerVerifier, writeLedger } from './test-support.ts';

import { T0, story, storyRequest } from './story.fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'aff-evidence-'));
const ledgerFile = join(dir, 'ledger.sqlite');
const records = await story();
await writeLedger(ledgerFile, records, { batch: 4 });
const _period = { from: new Date(T0 / 1000), to: new Date(T0 / 1000 + 86_400_000) };

async function report(control: string, store?: LedgerStore): Promise<Report> {
  const s = store ?? (await openSqliteLedgerStore({ path: ledgerFile, readOnly: true }));
  try {
    return await generateReport(s, storyRequest(control));
  } finally {
    if (!store) await s.close();
  }
}
const verify = (r: unknown) => verifyReport(JSON.parse(JSON.stringify(r)), { key: ledgerVerifier, decisionKeys: [decisionVerifier] });
const objective = (r: Report, id: string) => r.objectives.find((o) => o.id === id)!;
const rowsOf = (r: Report, kind: string) => r.rows.filter((x) => x.kind === kind);

test('AC-2: identities per target with first and last use, privileged use, dormant accounts, refused identities', async () => {
  const r = await report('AC-2');
  const uses = rowsOf(r, 'account-use').map((x) => [x.claims.subject, x.claims.groups, x.claims.firstUse, x.claims.lastUse]);
  assert.deepEqual(uses, [
    ['alice', ['analysts'], new Date((T0 + 1000) / 1000).toISOString(), new Date((T0 + 6000) / 1000).toISOString()],
    ['bob', [], new Date((T0 + 7000) / 1000).toISOString(), new Date((T0 + 10_000) / 1000).toISOString()],
  ]);
  assert.deepEqual(
    rowsOf(r, 'privileged-command').map((x) => [
      x.claims.text,
      x.claims.decision,
      x.claims.outcome,
      (x.claims.approval as { signatureValid?: boolean } | null)?.signatureValid ?? null,
    ]),
    [
      ['alter table t add c int', 'require_approval', 'completed: ALTER TABLE', true],
      ['drop table t', 'deny', 'blocked: DDL is not allowed', null],
    ],
  );
  assert.deepEqual(
    rowsOf(r, 'dormant-account').map((x) => [x.claims.subject, x.stats.daysUnusedAtPeriodEnd]),
    [['carol', 41]],
  );
  assert.deepEqual(
    rowsOf(r, 'auth-failure').map((x) => [x.claims.claimedSubject, x.claims.code]),
    [['mallory', 'AFF_E_AUTH_TOKEN_EXPIRED']],
  );
  assert.equal(objective(r, 'ac-2_obj.g').state, 'satisfied');
  assert.equal(objective(r, 'ac-2_obj.d').state, 'not-satisfied');
  assert.match(objective(r, 'ac-2_obj.d').reason, /bob@demo/);
  assert.equal(objective(r, 'ac-2.3_obj').state, 'not-satisfied');
  // Every cite is proven against the checkpoint after the period; carol's use 40 days before is cited too.
  assert.ok(r.rows.every((x) => x.cites.every((c) => c.proof.length > 0)));
  const v = verify(r);
  assert.deepEqual(v.problems, []);
  assert.equal(v.attested, true);
});

test('AC-6(9), AU-9/AU-10, IA-2: decisions, signatures, chain, MFA', async () => {
  const ac69 = await report('AC-6(9)');
  assert.equal(objective(ac69, 'ac-6.9_obj').state, 'satisfied');
  const au9 = await report('AU-10');
  assert.equal(au9.control, 'au-9');
  const chain = rowsOf(au9, 'checkpoint').map((x) => x.claims.size);
  assert.deepEqual(chain, [4, 8, 12, 14], 'every checkpoint from before the period to after it');
  assert.equal(au9.logs[0].before, null, 'the period starts in the first checkpoint, so the chain starts at the empty tree');
  assert.deepEqual(
    rowsOf(au9, 'approval-decision').map((x) => [x.claims.requestId, x.claims.approver, x.claims.signatureValid]),
    [['r1', 'dave', true]],
  );
  assert.equal(objective(au9, 'au-10_obj').state, 'satisfied');
  assert.equal(objective(au9, 'au-9_obj').state, 'satisfied');
  const ia2 = await report('IA-2(1)');
  assert.deepEqual(
    rowsOf(ia2, 'session-auth').map((x) => [x.claims.subject, x.claims.mfa, x.claims.amr, x.stats.privileged]),
    [
      ['alice', true, ['pwd', 'otp'], true],
      ['bob', false, ['pwd'], true],
    ],
  );
  assert.equal(objective(ia2, 'ia-2.1_obj').state, 'not-satisfied');
  assert.match(objective(ia2, 'ia-2.1_obj').reason, /bob/);
  for (const r of [ac69, au9, ia2]) assert.deepEqual(verify(r).problems, [], r.control);
  // Without the decision key the verifier cannot confirm the signed approval, and says so.
  const noKey = verifyReport(JSON.parse(JSON.stringify(au9)), { key: ledgerVerifier, decisionKeys: [] });
  assert.ok(
    noKey.problems.some((p) => p.row !== null && /signatureValid.*no decision key/.test(p.problem)),
    JSON.stringify(noKey.problems),
  );
});

test('AU-2/AU-3: event types and per-field completeness with the gaps cited', async () => {
  const r = await report('AU-3');
  assert.deepEqual(
    rowsOf(r, 'event-type')
      .map((x) => [x.claims.type, x.stats.events])
      .sort(),
    [
      ['ApprovalDecided', 1],
      ['ApprovalRequested', 1],
      ['AuthenticationFailed', 1],
      ['CommandBlocked', 1],
      ['CommandCompleted', 1],
      ['CommandIssued', 3],
      ['DataMasked', 1],
      ['SessionEnded', 1],
      ['SessionStarted', 2],
    ],
  );
  const d = rowsOf(r, 'field-completeness').find((x) => x.stats.field === 'd')!;
  assert.deepEqual([d.stats.present, d.stats.missing, d.stats.total], [11, 1, 12]);
  assert.deepEqual(
    rowsOf(r, 'field-gap').map((x) => [x.claims.type, x.claims.missing]),
    [['DataMasked', ['d']]],
  );
  assert.equal(objective(r, 'au-3_obj.d').state, 'not-satisfied');
  assert.equal(objective(r, 'au-3_obj.f').state, 'satisfied');
  assert.deepEqual(verify(r).problems, []);
});

test('every control: the report verifies offline', async () => {
  for (const c of CONTROL_IDS) assert.deepEqual(verify(await report(c)).problems, [], c);
});

test('tamper trials: a changed row, a dropped row, a proof from another log, each named', async () => {
  const r = await report('AC-2');
  const changed = structuredClone(r);
  const bob = changed.rows.find((x) => x.claims.subject === 'bob')!;
  bob.claims.groups = ['admins'];
  const v1 = verifyReport(changed, { key: ledgerVerifier, decisionKeys: [decisionVerifier], allowUnattested: true });
  assert.ok(
    v1.problems.some((p) => p.row === bob.id && /groups/.test(p.problem)),
    JSON.stringify(v1.problems),
  );

  const dropped = structuredClone(r);
  const gone = dropped.rows.find((x) => x.kind === 'dormant-account')!;
  dropped.rows = dropped.rows.filter((x) => x !== gone);
  delete dropped.attestation;
  const v2 = verifyReport(dropped, { key: ledgerVerifier, decisionKeys: [decisionVerifier], allowUnattested: true });
  assert.ok(
    v2.problems.some((p) => p.row === gone.id && /dropped/.test(p.problem)),
    JSON.stringify(v2.problems),
  );
  // Dropped with its references renumbered away: only the attestation can tell, and it does.
  const renumbered = structuredClone(r);
  renumbered.rows = renumbered.rows.filter((x) => x.id !== gone.id);
  const v3 = verify(renumbered);
  assert.equal(v3.ok, false);
  assert.ok(v3.problems.some((p) => /attestation signs another report/.test(p.problem)));

  // A proof and entry from another log (same key, other origin) for the same index.
  const otherFile = join(dir, 'other.sqlite');
  await writeLedger(otherFile, [...records.slice(1), records[0]], { batch: 3, logId: 'affidavit.session-events.v1:1' });
  const other = await openSqliteLedgerStore({ path: otherFile, readOnly: true });
  let foreign: Report;
  try {
    foreign = await report('AC-2', other);
  } finally {
    await other.close();
  }
  const swapped = structuredClone(r);
  const target = swapped.rows.find((x) => x.kind === 'account-use')!;
  const theirs = foreign.rows.find((x) => x.kind === 'account-use')!;
  target.cites[0] = { ...theirs.cites[0], log: target.cites[0].log };
  const v4 = verifyReport(swapped, { key: ledgerVerifier, decisionKeys: [decisionVerifier], allowUnattested: true });
  // The other log holds the same event at another position under another root: its proof fails here.
  assert.ok(
    v4.problems.some((p) => p.row === target.id && /not included/.test(p.problem)),
    JSON.stringify(v4.problems),
  );
});

test('a cite from outside the period is refused even with a valid proof', async () => {
  // Carol's use 40 days before the period, proven in the same tree, passed off as use in it.
  const r = await report('AC-2');
  const dormant = r.rows.find((x) => x.kind === 'dormant-account')!;
  const forged = structuredClone(r);
  const use = forged.rows.find((x) => x.kind === 'account-use')!;
  use.cites = [dormant.cites[0]];
  use.claims = { ...use.claims, subject: 'carol' };
  const v = verifyReport(forged, { key: ledgerVerifier, decisionKeys: [decisionVerifier], allowUnattested: true });
  assert.ok(
    v.problems.some((p) => p.row === use.id && /outside the period/.test(p.problem)),
    JSON.stringify(v.problems),
  );
});

test('tamper trial: a report over a rolled-back period is caught, naming the rows resting on the log', async () => {
  // The original log signed checkpoints 4, 8, 12, 16. It was rolled back to 4 and rewritten
  // (alice's session removed); the old checkpoint of 4 is still among its checkpoints, and the
  // new tree's tiles serve the proofs.
  const origFile = join(dir, 'orig.sqlite');
  const rewrittenFile = join(dir, 'rewritten.sqlite');
  const early = records.slice(0, 4);
  await writeLedger(origFile, [...early, ...records.slice(4)], { batch: 4 });
  const forged = [records[0], ...records.slice(6)];
  await writeLedger(rewrittenFile, forged, { batch: 2 });
  const orig = await openSqliteLedgerStore({ path: origFile, readOnly: true });
  const rewritten = await openSqliteLedgerStore({ path: rewrittenFile, readOnly: true });
  try {
    const origLog = await orig.openLog('affidavit.session-events.v1:0');
    const oldNotes = (await origLog.checkpoints()).slice(0, 1); // size 4, before the rollback
    const mixed: LedgerStore = {
      listLogs: () => rewritten.listLogs(),
      close: async () => {},
      async openLog(id) {
        const l = await rewritten.openLog(id);
        const view: LogStore = Object.create(l);
        return Object.assign(view, {
          checkpoints: async () => [...oldNotes, ...(await l.checkpoints()).filter((n) => !n.split('\n')[1].startsWith('4'))],
          readEntries: (a: number, b: number) => l.readEntries(a, b),
          readTiles: (ids: Parameters<LogStore['readTiles']>[0]) => l.readTiles(ids),
          tail: () => l.tail(),
        });
      },
    };
    const r = await report('AC-2', mixed);
    const v = verify(r);
    assert.equal(v.ok, false);
    assert.ok(
      v.problems.some((p) => p.row === null && /rolled back or rewritten/.test(p.problem)),
      JSON.stringify(v.problems),
    );
    const cited = r.rows.filter((x) => x.cites.length > 0);
    for (const row of cited)
      assert.ok(
        v.problems.some((p) => p.row === row.id && /checkpoints do not hold/.test(p.problem)),
        row.id,
      );
  } finally {
    await orig.close();
    await rewritten.close();
  }
});

test('a report signed by another key, or checked with another key, is refused', async () => {
  const r = await report('AU-12');
  const other = generateEd25519NoteKey('test.affidavit', (k) => randomBytes(k));
  const v = verifyReport(r, { key: ed25519NoteVerifier(other.verifierKey), decisionKeys: [] });
  assert.equal(v.ok, false);
  assert.ok(
    v.problems.some((p) => /signature/.test(p.problem)),
    JSON.stringify(v.problems),
  );
});

test('unattested tamper trials: an added, doubled or retitled objective, a changed title, key name or dropped gap, each named', async () => {
  const r = await report('AC-6(9)');
  delete r.attestation;
  const trials: Array<[string, (x: Report) => void, RegExp]> = [
    [
      'a second copy of an objective, saying the opposite',
      (x) => x.objectives.push({ ...x.objectives[0], state: x.objectives[0].state === 'satisfied' ? 'not-satisfied' : 'satisfied', reason: 'forged' }),
      /objective ac-6\.9_obj appears 2 times/,
    ],
    [
      'an invented objective',
      (x) => x.objectives.push({ id: 'ac-6.9_extra', title: 'Invented', state: 'satisfied', reason: 'fine', rows: [] }),
      /ac-6\.9_extra/,
    ],
    ['an objective retitled', (x) => (x.objectives[0].title = 'Something reassuring'), /objective ac-6\.9_obj is titled/],
    ['the report retitled', (x) => (x.title = 'AC-2 Account Management'), /the report is titled/],
    ['another key named', (x) => (x.ledgerKey = 'other+00000000'), /ledger key/],
    ['a gap dropped', (x) => (x.gaps = []), /gap/],
  ];
  const clean = verifyReport(structuredClone(r), { key: ledgerVerifier, decisionKeys: [decisionVerifier], allowUnattested: true });
  assert.deepEqual(clean.problems, []);
  assert.ok(r.gaps.length > 0, 'the control states gaps (else the last trial proves nothing)');
  for (const [name, tamper, want] of trials) {
    const x = structuredClone(r);
    tamper(x);
    const v = verifyReport(x, { key: ledgerVerifier, decisionKeys: [decisionVerifier], allowUnattested: true });
    assert.equal(v.ok, false, `${name}: verified`);
    assert.ok(
      v.problems.some((p) => want.test(p.problem)),
      `${name}: ${JSON.stringify(v.problems)}`,
    );
  }
});
