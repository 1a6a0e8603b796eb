import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { isAffidavitError } from '@affidavit/common';
import { rawInsertBaseline } from './raw-insert-baseline.ts';

const dir = mkdtempSync(join(tmpdir(), 'aff-raw-baseline-'));
let n = 0;
const newPath = () => join(dir, `raw-${n++}.sqlite`);

test('rawInsertBaseline inserts every blob and reports elapsed milliseconds', () => {
  const path = newPath();
  let t = 0;
  const ms = rawInsertBaseline({ path, blobs: [Buffer.from('a'), Buffer.from('bc')], count: 2500, batchSize: 1000, now: () => (t += 7) });
  assert.equal(ms, 7, 'elapsed is measured with the injected clock around the inserts');
  const db = new DatabaseSync(path, { readOnly: true });
  const row = db.prepare('SELECT count(*) AS n, sum(length(bytes)) AS b FROM raw_baseline').get()!;
  db.close();
  assert.equal(Number(row.n), 2500);
  assert.equal(Number(row.b), 1250 * 1 + 1250 * 2);
  assert.throws(
    () => rawInsertBaseline({ path: newPath(), blobs: [], count: 1, batchSize: 1 }),
    (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_INPUT_INVALID'),
  );
});
