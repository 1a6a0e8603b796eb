// The worker-backed SQLite store's own behaviour (the shared contract runs in sqlite-store.test.ts):
// typed errors across the thread boundary, and failing closed when the worker dies.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { isAffidavitError } from '@affidavit/common';
import { testEntry } from '../ledger-store.contract.ts';
import { DuplicateEventIdError, ExpectedSizeConflictError } from '../../store-errors.ts';
import { openSqliteLedgerStore } from './sqlite-store.ts';
import { openWorkerSqliteLedgerStore, workerOf } from './worker-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'affidavit-ledger-worker-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newPath = () => join(dir, `ledger-${files++}.db`);

test('errors come back as the same typed classes with the same codes', async () => {
  const store = await openWorkerSqliteLedgerStore({ path: newPath() });
  const log = await store.openLog('errors');
  await log.append({ entries: [testEntry(1)] }, 0);
  await assert.rejects(
    log.append({ entries: [testEntry(1)] }, 1),
    (e) => e instanceof DuplicateEventIdError && isAffidavitError(e, 'AFF_E_LEDGER_DUPLICATE_EVENT'),
  );
  await assert.rejects(log.append({ entries: [testEntry(2)] }, 5), (e) => e instanceof ExpectedSizeConflictError && /has 1 entries/.test((e as Error).message));
  await store.close();
});

test('the worker dying rejects every pending call and every later one with AFF_E_LEDGER_STORE_UNAVAILABLE (no hang)', async () => {
  const path = newPath();
  const store = await openWorkerSqliteLedgerStore({ path });
  const log = await store.openLog('crash');
  await log.append({ entries: [testEntry(1)] }, 0);
  const worker = workerOf(store)!;
  assert.ok(worker, 'the store has a worker');
  const pending = [log.append({ entries: Array.from({ length: 2_000 }, (_, i) => testEntry(10 + i)) }, 1), log.tail(), log.hasEventIds([testEntry(1).eventId])];
  void worker.terminate();
  const results = await Promise.allSettled(pending);
  assert.ok(
    results.some((r) => r.status === 'rejected'),
    'a call still pending when the worker died failed',
  );
  for (const r of results) {
    if (r.status === 'rejected') assert.ok(isAffidavitError(r.reason, 'AFF_E_LEDGER_STORE_UNAVAILABLE'), String(r.reason));
  }
  await assert.rejects(log.tail(), (e) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNAVAILABLE'));
  await store.close();
  // The file is the truth: whatever the append's outcome, it is whole or absent.
  const direct = await openSqliteLedgerStore({ path });
  const size = (await (await direct.openLog('crash')).tail()).size;
  assert.ok(size === 1 || size === 2_001, `size ${size}`);
  await direct.close();
});

test('an unopenable file fails the open with a typed error and leaves no worker running', async () => {
  await assert.rejects(openWorkerSqliteLedgerStore({ path: join(dir, 'missing-dir', 'x.db') }), (e) => isAffidavitError(e));
});

test('entries keep the indexes the file gives them: a bundle missing from the file is a jump, never renumbered', async () => {
  const path = newPath();
  const direct = await openSqliteLedgerStore({ path });
  const log = await direct.openLog('l');
  await log.append({ entries: Array.from({ length: 768 }, (_, i) => testEntry(i)) }, 0);
  await direct.close();
  const db = new DatabaseSync(path);
  db.exec('DROP TRIGGER bundles_no_delete; DELETE FROM bundles WHERE idx = 1;');
  db.close();
  const store = await openWorkerSqliteLedgerStore({ path, readOnly: true, readPageSize: 1024 });
  try {
    const got: number[] = [];
    for await (const e of (await store.openLog('l')).readEntries(0, 768)) {
      got.push(e.index);
      assert.deepEqual(e.bytes, testEntry(e.index).bytes, `entry ${e.index} is the entry stored at that index`);
    }
    assert.ok(!got.includes(256) && !got.includes(511), 'no entry of the missing bundle');
    assert.equal(got[255], 255);
    assert.ok(got.length === 256 || got[256] === 512, `after 255 comes 512 or nothing, not ${got[256]}`);
  } finally {
    await store.close();
  }
});
