// The evidence story (issue #19), end to end: sessions through the real PostgreSQL proxy with
// psql (allowed, denied, held and approved by bob through `affidavit approve`, masked, a DDL by
// carol who has no second factor, and a failed login), then every control's report over that
// period from the real `affidavit report`, checked row by row against what the test did,
// exported to OSCAL and validated by NIST's schema and compliance-trestle, and verified offline
// by `affidavit verify report`. A tampered copy of a report is refused, naming the row.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Report } from '@affidavit/evidence';
import type { LedgerRecord } from '@affidavit/schemas';
import type { PostgresInstance, RunResult } from '../../../../test/services/postgres.ts';
import { ensureTrestle, schemaValidator, trestleValidate } from '../../../../test/oscal-validators.ts';
import type { EmbeddedSystem } from '../embedded/system.ts';
import { runCli, startStory, until } from './embedded-story.ts';
import type { Run, Story } from './embedded-story.ts';

let story: Story;
let pg: PostgresInstance;
let system: EmbeddedSystem;
let dir: string;
let dataDir: string;
let seen: LedgerRecord[];

function cli(...args: string[]): Promise<Run> {
  return runCli(['token', 'approve'].includes(args[0]) ? [...args, '--config', story.configFile] : args);
}

before(async () => {
  story = await startStory({
    name: 'report-story',
    setupSql: `CREATE TABLE IF NOT EXISTS payments (id int PRIMARY KEY, amount int); DELETE FROM payments; INSERT INTO payments VALUES (1, 100);
     CREATE TABLE IF NOT EXISTS secrets (id int); CREATE TABLE IF NOT EXISTS customers (id int, email text, card_number text); DELETE FROM customers;
     INSERT INTO customers VALUES (1, 'ann@example.com', '4111111111111111'); DROP TABLE IF EXISTS carols_table`,
  });
  ({ pg, system, dir, dataDir, seen } = story);
});
after(() => story?.stop());

const as = async (user: string, sql: string, o: { password?: string } = {}) =>
  pg.psql(['-c', sql], {
    port: system.proxyPort,
    user,
    password: o.password ?? (await cli('token', user)).stdout.trim(),
    sslmode: 'disable',
    timeoutMs: 60_000,
  });

test('every control’s report over the story is right row by row, validates as OSCAL twice and verifies offline', { timeout: 900_000 }, async () => {
  const from = new Date(Date.now() - 1000).toISOString();
  // Allowed, denied, masked (alice, whose token shows a second factor).
  assert.equal((await as('alice', 'SELECT 1')).code, 0);
  const denied = await as('alice', 'SELECT * FROM secrets');
  assert.notEqual(denied.code, 0);
  const masked = await as('alice', 'SELECT email FROM customers');
  assert.equal(masked.code, 0, masked.stderr);
  assert.doesNotMatch(masked.stdout, /ann@example\.com/);
  // Held, then approved by bob through the CLI.
  const text = 'UPDATE payments SET amount = amount + 1 WHERE id = 1';
  const held = as('alice', text);
  let ended: RunResult | undefined;
  void held.then((r) => (ended = r));
  const request = await until(() => {
    if (ended) throw new Error(`psql ended before its statement was held: ${JSON.stringify(ended)}`);
    return seen.find((e) => e.type === 'ApprovalRequested' && e.text === text);
  }, 'the approval request');
  assert.equal(request.type, 'ApprovalRequested');
  const ok = await cli('approve', request.requestId, '--as', 'bob', '--reason', 'ticket 42');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await held).code, 0);
  // A DDL by carol (password only), and a failed login.
  assert.equal((await as('carol', 'CREATE TABLE carols_table (id int)')).code, 0);
  assert.notEqual((await as('alice', 'SELECT 1', { password: 'not-a-token' })).code, 0);
  await until(() => seen.find((e) => e.type === 'AuthenticationFailed'), 'the failed login');
  await new Promise((r) => setTimeout(r, 300));
  const to = new Date(Date.now() + 1000).toISOString();
  // The auditor's GraphQL report (dave is in auditors) once a checkpoint covers the failed login:
  // its JSON verifies offline, unattested (the API holds no signing key).
  const dave = (await cli('token', 'dave')).stdout.trim();
  const api = await until(async () => {
    const res = await fetch(`${system.apiUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${dave}` },
      body: JSON.stringify({
        query: 'query ($f: String!, $t: String!) { report(control: "IA-2", from: $f, to: $t) { rows gaps json } }',
        variables: { f: from, t: to },
      }),
    });
    const body = (await res.json()) as { data?: { report: { rows: number; gaps: string[]; json: string } }; errors?: unknown };
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    const r = body.data!.report;
    return r.gaps.some((g) => /past the newest signed checkpoint/.test(g)) ? undefined : r;
  }, 'an API report covered by a checkpoint');
  const apiFile = join(dir, 'api-ia-2.json');
  writeFileSync(apiFile, api.json);
  const unattested = await cli('verify', 'report', apiFile, '--key', join(dataDir, 'keys', 'ledger.pub'));
  assert.equal(unattested.code, 1, 'an unattested report is refused by default');
  const apiVerified = await cli('verify', 'report', apiFile, '--key', join(dataDir, 'keys', 'ledger.pub'), '--allow-unattested');
  assert.equal(apiVerified.code, 0, apiVerified.stdout + apiVerified.stderr);
  // Stopping signs a final checkpoint over everything.
  await story.stopSystem();

  const reports = new Map<string, Report>();
  const validate = schemaValidator();
  const trestle = ensureTrestle();
  for (const control of ['AC-2', 'AC-6(9)', 'AU-3', 'AU-9', 'AU-12', 'IA-2']) {
    const file = join(dir, `${control}.json`);
    const r = await cli('report', control, '--from', from, '--to', to, '--data', dataDir, '--out', file);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
    reports.set(report.control, report);
    const v = await cli('verify', 'report', file, '--key', join(dataDir, 'keys', 'ledger.pub'));
    assert.equal(v.code, 0, `${control}: ${v.stdout}${v.stderr}`);
    assert.match(v.stderr, /verified: .* attested/);
    const o = await cli('report', control, '--from', from, '--to', to, '--data', dataDir, '--format', 'oscal');
    assert.equal(o.code, 0, o.stderr);
    const doc = JSON.parse(o.stdout);
    assert.deepEqual(validate(doc), [], `${control}: NIST schema`);
    const t = trestleValidate(trestle, doc);
    assert.ok(t.ok, `${control}: trestle: ${t.output}`);
    const md = await cli('report', control, '--from', from, '--to', to, '--data', dataDir, '--format', 'md');
    assert.match(md.stdout, /## Objectives: \d+ satisfied, \d+ not satisfied/);
    const html = await cli('report', control, '--from', from, '--to', to, '--data', dataDir, '--format', 'html');
    assert.match(html.stdout, /<h2>Objectives: \d+ satisfied, \d+ not satisfied<\/h2>/);
  }

  const rows = (c: string, kind: string) => reports.get(c)!.rows.filter((x) => x.kind === kind);
  const state = (c: string, id: string) => reports.get(c)!.objectives.find((o) => o.id === id)?.state;
  // AC-2: alice and carol used e2e, with their token groups; the held UPDATE and carol's DDL are privileged use; the failed login is named.
  const uses = new Map(rows('ac-2', 'account-use').map((x) => [x.claims.subject, x.claims]));
  assert.deepEqual(uses.get('alice')?.groups, ['analysts']);
  assert.deepEqual(uses.get('carol')?.groups, ['dba']);
  assert.equal(uses.get('alice')?.resource, 'e2e');
  const priv = rows('ac-2', 'privileged-command').map((x) => x.claims);
  const update = priv.find((c) => c.text === text)!;
  assert.equal(update.decision, 'require_approval');
  assert.deepEqual((update.approval as { approver: string; decision: string; signatureValid: boolean }).approver, 'bob');
  assert.equal((update.approval as { signatureValid: boolean }).signatureValid, true);
  assert.match(String(update.outcome), /^completed: UPDATE 1/);
  const ddl = priv.find((c) => c.text === 'CREATE TABLE carols_table (id int)')!;
  assert.equal(ddl.subject, 'carol');
  assert.equal(ddl.privilegedBecause, 'class ddl');
  assert.ok(rows('ac-2', 'auth-failure').length >= 1);
  assert.equal(state('ac-2', 'ac-2_obj.g'), 'satisfied');
  // AC-6(9): the same privileged commands, the held one with its signed approval.
  assert.deepEqual(
    rows('ac-6.9', 'privileged-command')
      .map((x) => x.claims.text)
      .sort(),
    priv.map((c) => c.text).sort(),
  );
  assert.equal(state('ac-6.9', 'ac-6.9_obj'), 'satisfied');
  // AU-2/AU-3: every kind of event the story produced was logged.
  const types = rows('au-3', 'event-type').map((x) => x.claims.type);
  for (const t of [
    'SessionStarted',
    'CommandIssued',
    'CommandBlocked',
    'DataMasked',
    'ApprovalRequested',
    'ApprovalDecided',
    'AuthenticationFailed',
    'SessionEnded',
  ])
    assert.ok(types.includes(t), `${t} logged`);
  assert.equal(rows('au-3', 'field-completeness').length, 6);
  // AU-9/AU-10: a signed, consistent chain and bob's signed decision.
  assert.ok(rows('au-9', 'checkpoint').length >= 1);
  assert.equal(state('au-9', 'au-9_obj'), 'satisfied');
  const decision = rows('au-9', 'approval-decision').find((x) => x.claims.requestId === request.requestId)!;
  assert.deepEqual([decision.claims.approver, decision.claims.decision, decision.claims.signatureValid], ['bob', 'approved', true]);
  assert.equal(state('au-9', 'au-10_obj'), 'satisfied');
  // AU-12: the proxy fed events for e2e.
  assert.ok(rows('au-12', 'feeder').some((x) => x.claims.resource === 'e2e'));
  // IA-2: alice's sessions carry her second factor, carol's do not, so IA-2(1) is not satisfied, naming carol.
  const sessions = rows('ia-2', 'session-auth');
  assert.ok(sessions.filter((x) => x.claims.subject === 'alice').every((x) => x.claims.mfa === true));
  assert.ok(sessions.filter((x) => x.claims.subject === 'carol').every((x) => x.claims.mfa === false && (x.claims.amr as string[]).join() === 'pwd'));
  assert.equal(state('ia-2', 'ia-2.1_obj'), 'not-satisfied');
  assert.match(reports.get('ia-2')!.objectives.find((o) => o.id === 'ia-2.1_obj')!.reason, /carol/);

  // Tampering with a verified report is caught, naming the row.
  const tampered = structuredClone(reports.get('ac-2')!);
  const aliceRow = tampered.rows.find((x) => x.kind === 'account-use' && x.claims.subject === 'alice')!;
  aliceRow.claims.groups = ['admins'];
  const file = join(dir, 'tampered.json');
  writeFileSync(file, JSON.stringify(tampered));
  const v = await cli('verify', 'report', file, '--key', join(dataDir, 'keys', 'ledger.pub'));
  assert.equal(v.code, 1);
  assert.match(v.stdout, new RegExp(`row ${aliceRow.id.replace('/', '\\/')}: the row claims what its entries do not say: groups`));
});
