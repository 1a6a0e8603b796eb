// `affidavit report` and `affidavit verify report` refuse what they cannot do, with the exit code
// their help documents: usage errors exit 2, a file that is not a report exits 3 with its code,
// and a report whose proofs fail exits 1 naming the row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { generateEd25519NoteKey } from '@affidavit/tlog';
import { runCli } from '../main.ts';

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(Buffer.from(c));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}
const dir = mkdtempSync(join(tmpdir(), 'aff-report-cli-'));
const keyFile = join(dir, 'ledger.pub');
writeFileSync(keyFile, `${generateEd25519NoteKey('test.affidavit', (n) => randomBytes(n)).verifierKey}\n`);

async function run(...argv: string[]) {
  const out = sink();
  const err = sink();
  const code = await runCli(argv, { stdout: out.stream, stderr: err.stream, env: {}, cwd: dir });
  return { code, stdout: out.text(), stderr: err.text() };
}

test('report: usage errors exit 2 and name the argument', async () => {
  assert.match((await run('report', 'AC-2', '--from', '2026-11-01', '--to', '2026-12-01')).stderr, /exactly one of --data DIR or --store FILE/);
  const zoneless = await run('report', 'AC-2', '--from', '2026-11-01T00:00:00', '--to', '2026-12-01', '--data', dir);
  assert.equal(zoneless.code, 2);
  assert.match(zoneless.stderr, /--from .* time with a zone/);
  assert.equal((await run('report', 'AC-2', '--from', '2026-11-01', '--to', '2026-12-01', '--data', dir, '--format', 'pdf')).code, 2);
  assert.equal((await run('report', 'AC-2', '--from', '2026-11-01', '--to', '2026-12-01', '--data', dir)).code, 2, 'no ledger file there');
  assert.match((await run('report', '--help')).stdout, /Exit codes: 0 written/);
});

test('verify report: a file that is not a report exits 3 with its code; a failing report exits 1 naming the row', async () => {
  const junk = join(dir, 'junk.json');
  writeFileSync(junk, '{"format":"something else"}');
  const r = await run('verify', 'report', junk, '--key', keyFile);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /AFF_E_EVIDENCE_REPORT_MALFORMED/);
  const notJson = join(dir, 'not.json');
  writeFileSync(notJson, 'hello');
  assert.equal((await run('verify', 'report', notJson, '--key', keyFile)).code, 3);
  // A report with one row whose log has no evidence in it.
  const report = {
    format: 'affidavit.report/v1',
    control: 'au-12',
    title: 't',
    period: { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' },
    parameters: { dormantDays: 30 },
    generatedAt: '2026-12-01T00:00:00.000Z',
    ledgerKey: 'x',
    logs: [],
    rows: [{ id: 'au-12/1', kind: 'feeder', claims: {}, stats: {}, cites: [{ log: 'l', index: 0, entry: 'AA==', proof: [] }] }],
    objectives: [],
    gaps: [],
  };
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify(report));
  const v = await run('verify', 'report', bad, '--key', keyFile, '--allow-unattested');
  assert.equal(v.code, 1);
  assert.match(v.stdout, /FAILED: row au-12\/1: cited entry 0 \(log l, index 0\): the report carries no evidence for log l/);
  assert.equal((await run('verify', 'report', bad)).code, 2, '--key is required');
  assert.match((await run('verify', 'report', '--help')).stdout, /Exit codes: 0 verified, 1 a check failed/);
});
