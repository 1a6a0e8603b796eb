// The `report` query: auditors get an SP 800-53 report computed from the ledger, whose JSON
// verifies offline; other roles are refused, and a bad control or period is named.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { TokenExpiredError } from '@affidavit/access';
import { verifyReport } from '@affidavit/evidence';
import { openSqliteLedgerStore, type LedgerStore } from '@affidavit/ledger';
import { openSqliteReadModel } from './adapters/sqlite/sqlite-read-model.ts';
import { createProofService } from './proofs.ts';
import { createReportService } from './reports.ts';
import { buildServer } from './server.ts';
import { identity, story, testNoteVerifier, writeLedger } from './test-support.ts';

const USERS: Record<string, ReturnType<typeof identity>> = { 'tok-auditor': identity('olivia', ['compliance']), 'tok-nobody': identity('nina', ['analysts']) };
const verify = async (t: string) => {
  const id = USERS[t];
  if (!id) throw new TokenExpiredError();
  return id;
};
let ledger: LedgerStore;
let app: FastifyInstance;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'affidavit-report-query-'));
  await writeLedger(join(dir, 'ledger.sqlite'), story(4, 2), { batch: 10 });
  ledger = await openSqliteLedgerStore({ path: join(dir, 'ledger.sqlite'), readOnly: true });
  app = await buildServer(
    { roleGroups: { auditor: ['compliance'], approver: ['approvers'], admin: ['ops-admin'] }, rateLimit: { max: 1000, windowMs: 60_000 } },
    {
      verify,
      store: openSqliteReadModel({ path: ':memory:' }),
      proofs: createProofService(ledger),
      reports: createReportService(ledger, { ledgerKey: testNoteVerifier, decisionKeys: [] }),
    },
  );
});
after(async () => {
  await app?.close();
  await ledger?.close();
});

async function gql(token: string, query: string, variables: Record<string, unknown>) {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    payload: JSON.stringify({ query, variables }),
  });
  return JSON.parse(res.body) as { data?: { report?: Record<string, unknown> } | null; errors?: Array<{ extensions?: { code?: string } }> };
}

const Q =
  'query ($c: String!, $f: String!, $t: String!) { report(control: $c, from: $f, to: $t) { control rows objectives { id state reason rows } json oscal } }';
const period = { f: '2025-10-01T00:00:00Z', t: '2025-10-31T00:00:00Z' };

test('an auditor gets the IA-2 report; its JSON verifies offline (unattested) and its OSCAL names the objectives', async () => {
  const r = await gql('tok-auditor', Q, { c: 'IA-2', ...period });
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  const rep = r.data!.report!;
  assert.equal(rep.control, 'ia-2');
  assert.ok((rep.rows as number) >= 5, 'four sessions and a failed login');
  const v = verifyReport(JSON.parse(rep.json as string), { key: testNoteVerifier, decisionKeys: [], allowUnattested: true });
  assert.deepEqual(v.problems, []);
  const oscal = JSON.parse(rep.oscal as string);
  assert.deepEqual(
    oscal['assessment-results'].results[0].findings.map((f: { target: { 'target-id': string } }) => f.target['target-id']),
    ['ia-2_obj', 'ia-2.1_obj', 'ia-2.2_obj'],
  );
});

test('the report query needs the auditor role and names a bad control', async () => {
  assert.equal((await gql('tok-nobody', Q, { c: 'AC-2', ...period })).errors?.[0]?.extensions?.code, 'AFF_E_API_FORBIDDEN');
  assert.equal((await gql('tok-auditor', Q, { c: 'XX-9', ...period })).errors?.[0]?.extensions?.code, 'AFF_E_EVIDENCE_INPUT_INVALID');
  assert.equal((await gql('tok-auditor', Q, { c: 'AC-2', f: 'yesterday', t: period.t })).errors?.[0]?.extensions?.code, 'AFF_E_API_INPUT_INVALID');
});

test('reports run one at a time: a second waits for the first, and a failed one does not block the next', async () => {
  let inFlight = 0;
  let most = 0;
  // The ledger as the report service sees it, counting reports reading it at once.
  const counting: LedgerStore = {
    ...ledger,
    async listLogs() {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      return ledger.listLogs();
    },
    openLog: (id) => ledger.openLog(id),
    close: async () => {},
  };
  const service = createReportService(counting, { ledgerKey: testNoteVerifier, decisionKeys: [] });
  const from = new Date('2026-01-01T00:00:00Z');
  const to = new Date('2027-01-01T00:00:00Z');
  const bad = service.report('XX-1', from, to);
  const runs = await Promise.allSettled([bad, service.report('AU-3', from, to), service.report('AC-2', from, to)]);
  assert.equal(runs[0].status, 'rejected');
  assert.deepEqual(
    runs.slice(1).map((r) => r.status),
    ['fulfilled', 'fulfilled'],
  );
  assert.equal(most, 1, 'never two reports reading the ledger at once');
});
