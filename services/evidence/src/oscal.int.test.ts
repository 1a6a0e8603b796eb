// Every control's report exported to OSCAL assessment-results 1.2.1 passes NIST's JSON Schema
// (ajv, draft-07) and compliance-trestle's own model validation, and exports reproducibly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { CONTROL_IDS, generateReport, toOscal } from './index.ts';
import { ensureTrestle, schemaValidator, trestleValidate } from '../../../test/oscal-validators.ts';
import { story, storyRequest } from './story.fixture.ts';
import { writeLedger } from './test-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'aff-oscal-'));
const ledgerFile = join(dir, 'ledger.sqlite');
await writeLedger(ledgerFile, await story(), { batch: 4 });

const hasEmptyArray = (v: unknown): boolean =>
  Array.isArray(v) ? v.length === 0 || v.some(hasEmptyArray) : v !== null && typeof v === 'object' ? Object.values(v).some(hasEmptyArray) : false;

test('every control exports OSCAL that NIST’s schema and compliance-trestle accept', { timeout: 900_000 }, async () => {
  const validate = schemaValidator();
  const trestle = ensureTrestle();
  const store = await openSqliteLedgerStore({ path: ledgerFile, readOnly: true });
  try {
    for (const control of CONTROL_IDS) {
      const req = storyRequest(control);
      const report = await generateReport(store, req);
      const doc = toOscal(report);
      assert.deepEqual(validate(doc), [], `${control}: NIST schema`);
      assert.equal(hasEmptyArray(doc), false, `${control}: no empty arrays`);
      const t = trestleValidate(trestle, doc);
      assert.ok(t.ok, `${control}: trestle: ${t.output}`);
      // Findings target SP 800-53A objectives, one per objective, each with its observation's evidence.
      const result = (
        doc['assessment-results'].results as Array<{ findings: Array<{ target: { type: string; 'target-id': string; status: { state: string } } }> }>
      )[0];
      assert.deepEqual(
        result.findings.map((f) => [f.target.type, f.target['target-id'], f.target.status.state]),
        report.objectives.map((o) => ['objective-id', o.id, o.state]),
      );
      // Reproducible: the same report run again exports the same document.
      assert.deepEqual(toOscal(await generateReport(store, req)), doc, `${control}: reproducible`);
    }
  } finally {
    await store.close();
  }
});

test('neither validator is vacuous: a v7 UUID and a zoneless time are refused', { timeout: 900_000 }, () => {
  const validate = schemaValidator();
  const bad = {
    'assessment-results': {
      uuid: '0190a5d0-0000-7000-9000-000000000001',
      metadata: { title: 't', 'last-modified': '2026-01-01T00:00:00', version: '1', 'oscal-version': '1.2.1' },
      'import-ap': { href: '#x' },
      results: [],
    },
  };
  const errors = validate(bad).join('\n');
  assert.match(errors, /uuid/);
  assert.match(errors, /last-modified/);
  const t = trestleValidate(ensureTrestle(), bad);
  assert.equal(t.ok, false);
  assert.match(t.output, /uuid/);
});
