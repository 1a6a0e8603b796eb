import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { isAffidavitError } from '@affidavit/common';
import { ledgerStoreContract, testEntry, uniqueLogId } from '../ledger-store.contract.ts';
import { openSqliteLedgerStore } from './sqlite-store.ts';
import { rawInsertBaseline } from './raw-insert-baseline.ts';
import { translateSqliteError } from './sqlite-errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'affidavit-ledger-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newPath = () => join(dir, `ledger-${files++}.db`);

ledgerStoreContract('sqlite', async () => {
  const path = newPath();
  return { open: () => openSqliteLedgerStore({ path }) };
});

/** raw opens a second, plain connection on the file, as a sqlite3 shell or a buggy tool would. */
function raw(path: string): DatabaseSync {
  return new DatabaseSync(path, { timeout: 2000 });
}

function throwsCode(fn: () => unknown, code: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    const t = translateSqliteError(e, 'raw');
    assert.ok(isAffidavitError(t, code), `expected ${code}, got ${String(e)}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

describe('sqlite ledger file', () => {
  test('triggers refuse UPDATE and DELETE from a second raw connection', async () => {
    const path = newPath();
    const store = await openSqliteLedgerStore({ path });
    const log = await store.openLog('p0');
    await log.append({ entries: [testEntry(0), testEntry(1)], tiles: [{ id: { level: 0, index: 0, width: 2 }, data: Buffer.alloc(64, 1) }], checkpoint: 'cp\n' }, 0);
    const db = raw(path);
    try {
      throwsCode(() => db.exec("UPDATE entries SET bytes = x'00' WHERE idx = 0"), 'AFF_E_LEDGER_IMMUTABLE', /cannot be updated/);
      throwsCode(() => db.exec('DELETE FROM entries WHERE idx = 1'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
      throwsCode(() => db.exec("UPDATE checkpoints SET note = 'forged'"), 'AFF_E_LEDGER_IMMUTABLE', /cannot be updated/);
      throwsCode(() => db.exec('DELETE FROM checkpoints'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
      throwsCode(() => db.exec('DELETE FROM tiles'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
      throwsCode(() => db.exec('DELETE FROM logs'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
      throwsCode(() => db.exec('UPDATE sources SET max_offset = 0'), 'AFF_E_LEDGER_IMMUTABLE', /backwards/);
      // A wider tile with the same prefix is the one allowed change.
      db.prepare('UPDATE tiles SET width = 3, hashes = ? WHERE idx = 0').run(Buffer.concat([Buffer.alloc(64, 1), Buffer.alloc(32, 2)]));
      throwsCode(() => db.prepare('UPDATE tiles SET width = 3, hashes = ?').run(Buffer.alloc(96, 9)), 'AFF_E_LEDGER_TILE_CONFLICT', /wider/);
      throwsCode(() => db.prepare('UPDATE tiles SET width = 1, hashes = ?').run(Buffer.alloc(32, 1)), 'AFF_E_LEDGER_TILE_CONFLICT', /wider/);
      // An INSERT that reuses an index is refused by the primary key.
      throwsCode(
        () => db.prepare("INSERT INTO entries (log, idx, event_id, kind, bytes, appended_at) VALUES (1, 0, 'x', 0, x'00', 0)").run(),
        'AFF_E_LEDGER_IMMUTABLE',
        /UNIQUE/,
      );
    } finally {
      db.close();
    }
    const again = await log.readEntries(0, 2)[Symbol.asyncIterator]().next();
    assert.deepEqual(Buffer.from(again.value!.bytes), Buffer.from(testEntry(0).bytes));
    assert.deepEqual(await log.checkpoints(), ['cp\n']);
    await store.close();
  });

  test('a writer killed with SIGKILL mid-append leaves the file openable with only whole batches', async () => {
    const path = newPath();
    const logId = uniqueLogId('crash');
    const child = spawn(process.execPath, [join(import.meta.dirname, 'crash-writer.fixture.ts'), path, logId], { stdio: ['ignore', 'pipe', 'inherit'] });
    let reported = 0;
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, sig) => (sig === 'SIGKILL' ? resolve() : reject(new Error(`writer exited early: ${code} ${sig}`))));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = chunk.trim().split('\n');
        reported = Number(lines[lines.length - 1]);
        // Kill a few milliseconds into the next batch, so a transaction is most likely open.
        if (reported >= 20_000 && !child.killed) setTimeout(() => child.kill('SIGKILL'), 3);
      });
    });
    assert.ok(statSync(`${path}-wal`).size > 0, 'the writer was killed with a WAL in use');
    const db = raw(path);
    assert.equal(db.prepare('PRAGMA integrity_check').get()!.integrity_check, 'ok');
    db.close();
    const store = await openSqliteLedgerStore({ path });
    const log = await store.openLog(logId);
    const { size, lastSource } = await log.tail();
    assert.ok(size >= reported, `size ${size} is below the last acknowledged ${reported}`);
    assert.equal(size % 1000, 0, `only whole batches: size ${size}`);
    assert.equal(lastSource.get('t:0'), BigInt(size - 1));
    const cps = await log.checkpoints();
    assert.equal(cps.length, size / 1000, 'one checkpoint per whole batch');
    assert.equal(cps[cps.length - 1], `size ${size}\n`);
    const tiles = await log.readTiles([{ level: 9, index: size / 1000 - 1, width: 8 }, { level: 9, index: size / 1000, width: 8 }]);
    assert.ok(tiles[0], "the last batch's tile is there");
    assert.equal(tiles[1], undefined, 'no tile of an unfinished batch');
    let expect = 0;
    for await (const e of log.readEntries(0, size)) assert.equal(e.eventId, `crash-${expect++}`);
    assert.equal(expect, size);
    // The log takes new appends where it left off.
    await log.append({ entries: [testEntry(1)] }, size);
    await store.close();
  });

  test('a file from a newer schema version, or a foreign database, is refused', async () => {
    const newer = newPath();
    (await openSqliteLedgerStore({ path: newer })).close();
    const db = raw(newer);
    db.exec('UPDATE affidavit_schema SET version = 99');
    db.close();
    await assert.rejects(openSqliteLedgerStore({ path: newer }), (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE') && /version 99/.test((e as Error).message));
    const foreign = newPath();
    const f = raw(foreign);
    f.exec('CREATE TABLE customers (id INTEGER)');
    f.close();
    await assert.rejects(openSqliteLedgerStore({ path: foreign }), (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE'));
    await assert.rejects(openSqliteLedgerStore({ path: '' }), (e: unknown) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID'));
  });

  test('a file of the older schema version 1 is refused, read-write or read-only, and left unchanged', async () => {
    const old = newPath();
    const s = await openSqliteLedgerStore({ path: old });
    await (await s.openLog('p0')).append({ entries: [testEntry(0)] }, 0);
    await s.close();
    const db = raw(old);
    db.exec('UPDATE affidavit_schema SET version = 1');
    db.close();
    for (const readOnly of [false, true]) {
      await assert.rejects(
        openSqliteLedgerStore({ path: old, readOnly }),
        (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE') && /schema version 1\b.*version 2 only/.test((e as Error).message),
      );
    }
    const after = raw(old);
    assert.equal(Number(after.prepare('SELECT version FROM affidavit_schema').get()!.version), 1, 'the version was not rewritten');
    assert.equal(Number(after.prepare('SELECT count(*) AS n FROM entries').get()!.n), 1, 'the entries are untouched');
    after.close();
    // Read-only on a file with no ledger in it is refused too, not answered with empty logs.
    const empty = newPath();
    raw(empty).close();
    await assert.rejects(openSqliteLedgerStore({ path: empty, readOnly: true }), (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE'));
  });

  test('an append waiting on another connection\'s write lock fails retriably after the busy timeout', async () => {
    const path = newPath();
    const store = await openSqliteLedgerStore({ path, busyTimeoutMs: 50 });
    const log = await store.openLog('p0');
    const db = raw(path);
    db.exec('BEGIN IMMEDIATE');
    try {
      await assert.rejects(log.append({ entries: [testEntry(0)] }, 0), (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNAVAILABLE') && (e as { retriable: boolean }).retriable);
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
    await log.append({ entries: [testEntry(0)] }, 0);
    assert.equal((await log.tail()).size, 1);
    await store.close();
  });

  test('rawInsertBaseline inserts every blob and reports elapsed milliseconds', () => {
    const path = newPath();
    let t = 0;
    const ms = rawInsertBaseline({ path, blobs: [Buffer.from('a'), Buffer.from('bc')], count: 2500, batchSize: 1000, now: () => (t += 7) });
    assert.equal(ms, 7, 'elapsed is measured with the injected clock around the inserts');
    const db = raw(path);
    const row = db.prepare('SELECT count(*) AS n, sum(length(bytes)) AS b FROM raw_baseline').get()!;
    db.close();
    assert.equal(Number(row.n), 2500);
    assert.equal(Number(row.b), 1250 * 1 + 1250 * 2);
    assert.throws(() => rawInsertBaseline({ path: newPath(), blobs: [], count: 1, batchSize: 1 }), (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_INPUT_INVALID'));
  });
});
