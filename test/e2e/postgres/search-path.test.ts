// Issue #15 class 2, the session's real search_path: the proxy asks the server after login how
// it will resolve unqualified names (a role-level search_path here), and policy resolves them
// the same way. With `hr` first on the login's path, `SELECT * FROM salaries` reads
// hr.salaries, so a rule closing schema hr refuses it, though the policy's defaultSchema is
// public (which is what the proxy assumed before it asked).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopPostgres } from '../../services/postgres.ts';
import { commandsOf, startRig, waitFor, type Rig } from './harness.ts';

let rig: Rig;
before(async () => {
  const policyFile = join(mkdtempSync(join(tmpdir(), 'aff-search-path-')), 'policy.yaml');
  writeFileSync(
    policyFile,
    [
      'version: 1',
      'defaults: { action: deny, onUnparsable: deny, defaultSchema: public }',
      'rules:',
      "  - { id: hr-is-closed, reason: hr is closed, target: { kind: postgres }, match: { reads: ['hr.*'] }, action: deny }",
      '  - { id: reads, reason: reads are open, target: { kind: postgres }, match: { classes: [select] }, action: allow }',
      '',
    ].join('\n'),
  );
  rig = await startRig({}, { policyFile });
  const setup = await rig.pg.psql([
    '-c',
    `CREATE SCHEMA IF NOT EXISTS hr;
     DROP TABLE IF EXISTS hr.salaries, public.salaries;
     CREATE TABLE hr.salaries (id int, amount int); INSERT INTO hr.salaries VALUES (1, 99000);
     CREATE TABLE public.salaries (id int, amount int); INSERT INTO public.salaries VALUES (1, 1);
     ALTER ROLE ${rig.pg.user} SET search_path = hr, public;`,
  ]);
  assert.equal(setup.code, 0, setup.stderr);
});
after(async () => {
  await rig?.pg.psql(['-c', `ALTER ROLE ${rig.pg.user} RESET search_path`]);
  await rig?.close();
  await stopPostgres();
});

test("an unqualified name resolves through the login's real search_path, not the policy's defaultSchema", async () => {
  const m = rig.mark();
  const r = await rig.psql(['-v', 'ON_ERROR_STOP=0', '-A', '-t', '-c', 'SELECT amount FROM salaries', '-c', 'SELECT amount FROM public.salaries']);
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  assert.ok(!r.stdout.includes('99000'), `hr.salaries was read: ${r.stdout}`);
  assert.match(r.stderr, /hr-is-closed/);
  assert.equal(r.stdout.trim(), '1', 'the qualified public table is still readable');
  assert.deepEqual(
    commandsOf(rig.since(m)).map((c) => [c.decision, c.outcome]),
    [
      ['deny', 'blocked'],
      ['allow', 'ok'],
    ],
  );
});
