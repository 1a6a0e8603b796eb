import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import fc from 'fast-check';
import { isAffidavitError } from '@affidavit/common';
import type { Entry, NewEntry } from '../../ports/ledger-store.ts';
import { ledgerStoreContract, testEntry, uniqueLogId } from '../ledger-store.contract.ts';
import { openSqliteLedgerStore } from './sqlite-store.ts';
import { openWorkerSqliteLedgerStore } from './worker-store.ts';
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

async function collect(it: AsyncIterable<Entry>): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of it) out.push(e);
  return out;
}
const stored = (e: NewEntry) => ({
  eventId: e.eventId,
  kind: e.kind,
  bytes: Buffer.from(e.bytes),
  source: e.source && { ...e.source },
  appendedAt: e.appendedAt,
});
const strip = (e: Entry) => ({ eventId: e.eventId, kind: e.kind, bytes: Buffer.from(e.bytes), source: e.source, appendedAt: e.appendedAt });
const bundleRows = (path: string, log = 1) => {
  const db = raw(path);
  try {
    return db
      .prepare('SELECT idx, count, data FROM bundles WHERE log = ? ORDER BY idx')
      .all(log)
      .map((r) => ({ idx: Number(r.idx), count: Number(r.count), data: Buffer.from(r.data as Uint8Array) }));
  } finally {
    db.close();
  }
};

const fragmentRows = (path: string, log = 1) => {
  const db = raw(path);
  try {
    return db
      .prepare('SELECT idx, first, count, data FROM bundle_tail WHERE log = ? ORDER BY idx, first')
      .all(log)
      .map((r) => ({ idx: Number(r.idx), first: Number(r.first), count: Number(r.count), data: Buffer.from(r.data as Uint8Array) }));
  } finally {
    db.close();
  }
};

describe('sqlite entry bundles', () => {
  test('entries are stored 256 to a bundle, the partial one as one fragment per append; reads start mid-bundle', async () => {
    const path = newPath();
    const store = await openSqliteLedgerStore({ path, readPageSize: 300 });
    const log = await store.openLog('p0');
    const all = Array.from({ length: 700 }, (_, i) => testEntry(i, i % 7 === 0 ? { source: null } : {}));
    let size = 0;
    const partial: Buffer[] = [];
    for (const n of [1, 254, 1, 1, 300, 143]) {
      await log.append({ entries: all.slice(size, size + n) }, size);
      size += n;
      partial.push(Buffer.concat(fragmentRows(path).map((f) => f.data)));
    }
    assert.equal(size, 700);
    const rows = bundleRows(path);
    assert.deepEqual(
      rows.map((r) => [r.idx, r.count]),
      [
        [0, 256],
        [1, 256],
      ],
    );
    // Bundle 2 is the fragments of the two appends that reached it, each with only its own records.
    assert.deepEqual(
      fragmentRows(path).map((f) => [f.idx, f.first, f.count]),
      [
        [2, 0, 45],
        [2, 45, 143],
      ],
    );
    // Bundle 0 was fragments of 1 and 254 records, then written whole: they are its byte prefix.
    assert.ok(partial[1].subarray(0, partial[0].length).equals(partial[0]) && rows[0].data.subarray(0, partial[1].length).equals(partial[1]));
    assert.equal(partial[2].length, 0, 'the append that completed bundle 0 deleted its fragments');
    assert.deepEqual((await collect(log.readEntries(0, 700))).map(strip), all.map(stored));
    for (const [from, to] of [
      [255, 257],
      [300, 301],
      [511, 700],
      [600, 10_000],
      [256, 512],
      [699, 699],
      [700, 800],
    ]) {
      const got = await collect(log.readEntries(from, to));
      assert.deepEqual(
        got.map((e) => e.index),
        Array.from({ length: Math.max(0, Math.min(to, 700) - from) }, (_, i) => from + i),
        `[${from}, ${to})`,
      );
      assert.deepEqual(got.map(strip), all.slice(from, to).map(stored));
    }
    await store.close();
  });

  test('eventIds: a canonical UUID is keyed by its 16 bytes, any other id by its text; hasEventIds finds both kinds', async () => {
    const path = newPath();
    const store = await openSqliteLedgerStore({ path });
    const log = await store.openLog('p0');
    const uuid = '01900000-0000-7000-8000-0000000000ab';
    const ids = [uuid, uuid.toUpperCase(), 'rejected:t:0:5', 'é☃', '0123456789abcdef'];
    await log.append({ entries: ids.map((eventId, i) => testEntry(i, { eventId })) }, 0);
    const db = raw(path);
    const keys = db.prepare('SELECT typeof(event_id) AS t, length(event_id) AS n, idx FROM event_ids ORDER BY idx').all();
    db.close();
    assert.deepEqual(
      keys.map((k) => [k.t, Number(k.n), Number(k.idx)]),
      [
        ['blob', 16, 0],
        ['text', 36, 1],
        ['text', 14, 2],
        ['text', 2, 3],
        ['text', 16, 4],
      ],
    );
    assert.deepEqual([...(await log.hasEventIds([...ids, 'nope', '01900000-0000-7000-8000-0000000000ac']))].sort(), [...ids].sort());
    // A 16-character text id never matches a UUID whose 16 bytes are its characters.
    const lookalike = Buffer.from('0123456789abcdef')
      .toString('hex')
      .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
    assert.deepEqual([...(await log.hasEventIds([lookalike]))], []);
    await log.append({ entries: [testEntry(9, { eventId: lookalike })] }, 5);
    await assert.rejects(
      log.append({ entries: [testEntry(10), testEntry(11, { eventId: 'é☃' })] }, 6),
      (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_DUPLICATE_EVENT') && /eventId é☃;/.test((e as Error).message),
    );
    await assert.rejects(
      log.append({ entries: Array.from({ length: 300 }, (_, i) => testEntry(100 + i, i === 250 ? { eventId: uuid } : {})) }, 6),
      (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_DUPLICATE_EVENT') && e instanceof Error && e.message.includes(uuid),
    );
    assert.equal((await log.tail()).size, 6);
    assert.equal((await log.hasEventIds([testEntry(100).eventId, testEntry(10).eventId])).size, 0, 'the failed batches wrote no eventIds');
    await store.close();
  });

  test('a whole bundle never changes; fragments only extend the partial bundle at its end and go only once it is whole', async () => {
    const path = newPath();
    const store = await openSqliteLedgerStore({ path });
    const log = await store.openLog('p0');
    await log.append({ entries: Array.from({ length: 260 }, (_, i) => testEntry(i)) }, 0);
    await log.append({ entries: [testEntry(260), testEntry(261)] }, 260);
    await store.close();
    const [full] = bundleRows(path);
    const frags = fragmentRows(path);
    assert.deepEqual(
      frags.map((f) => [f.idx, f.first, f.count]),
      [
        [1, 0, 4],
        [1, 4, 2],
      ],
    );
    const db = raw(path);
    try {
      throwsCode(
        () => db.prepare('UPDATE bundles SET data = ? WHERE idx = 0').run(Buffer.concat([full.data, Buffer.alloc(3)])),
        'AFF_E_LEDGER_IMMUTABLE',
        /cannot be updated/,
      );
      throwsCode(() => db.prepare('UPDATE bundle_tail SET data = ? WHERE first = 0').run(Buffer.alloc(3)), 'AFF_E_LEDGER_IMMUTABLE', /cannot be updated/);
      throwsCode(() => db.exec('DELETE FROM bundle_tail'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
      const add = db.prepare('INSERT INTO bundle_tail (log, idx, first, count, data) VALUES (1, ?, ?, ?, ?)');
      const grows = /only grow at its end/;
      throwsCode(() => add.run(1, 4, 1, frags[1].data), 'AFF_E_LEDGER_IMMUTABLE', grows); // over the second fragment
      throwsCode(() => add.run(1, 7, 1, frags[1].data), 'AFF_E_LEDGER_IMMUTABLE', grows); // a gap
      throwsCode(() => add.run(2, 0, 1, frags[1].data), 'AFF_E_LEDGER_IMMUTABLE', grows); // a bundle after the partial one
      throwsCode(() => add.run(0, 0, 1, frags[1].data), 'AFF_E_LEDGER_IMMUTABLE', grows); // into a whole bundle
      // The one allowed change: a fragment right at the end.
      assert.equal(Number(add.run(1, 6, 1, frags[1].data).changes), 1);
    } finally {
      db.close();
    }
  });

  test('the cached partial bundle stays equal to the file after a failed append and after another writer appends', async () => {
    const path = newPath();
    const store = await openSqliteLedgerStore({ path });
    const log = await store.openLog('p0');
    const e = (n: number) => testEntry(n);
    const expected: NewEntry[] = [];
    const append = async (entries: NewEntry[], tiles = [{ id: { level: 0, index: 0, width: 1 }, data: Buffer.alloc(32, 1) }]) => {
      await log.append({ entries, tiles }, expected.length);
      expected.push(...entries);
    };
    await append([e(0), e(1), e(2)]);
    // Fails after its fragment INSERT ran (the tile conflicts): the rollback undoes the fragment, the cache must not keep it.
    await assert.rejects(log.append({ entries: [e(3), e(4)], tiles: [{ id: { level: 0, index: 0, width: 1 }, data: Buffer.alloc(32, 9) }] }, 3), (x: unknown) =>
      isAffidavitError(x, 'AFF_E_LEDGER_TILE_CONFLICT'),
    );
    // Fails on a duplicate: nothing written.
    await assert.rejects(log.append({ entries: [e(5), e(0)] }, 3), (x: unknown) => isAffidavitError(x, 'AFF_E_LEDGER_DUPLICATE_EVENT'));
    await append([e(6), e(7)]);
    // Another handle (another process after a failover) appends; this handle must reload, not extend its stale cache.
    const other = await openSqliteLedgerStore({ path });
    const otherLog = await other.openLog('p0');
    await otherLog.append({ entries: [e(8), e(9), e(10)] }, 5);
    expected.push(e(8), e(9), e(10));
    await other.close();
    await assert.rejects(log.append({ entries: [e(11)] }, 5), (x: unknown) => isAffidavitError(x, 'AFF_E_LEDGER_EXPECTED_SIZE'));
    await append([e(12)]);
    // Across a bundle boundary, then a checkpoint-only batch, then more.
    await append(Array.from({ length: 300 }, (_, i) => e(100 + i)));
    await log.append({ entries: [], checkpoint: 'cp\n' }, expected.length);
    await append([e(13)]);
    await store.close();
    const reopened = await openSqliteLedgerStore({ path, readOnly: true });
    const got = await collect((await reopened.openLog('p0')).readEntries(0, 1000));
    assert.deepEqual(got.map(strip), expected.map(stored));
    assert.deepEqual(
      bundleRows(path).map((r) => r.count),
      [256],
    );
    assert.equal(
      fragmentRows(path).reduce((n, f) => n + f.count, 0),
      expected.length - 256,
    );
    await reopened.close();
  });

  test('property: random entries appended in random batch splits read back exactly, from any range', async () => {
    const path = newPath();
    const store = await openSqliteLedgerStore({ path, readPageSize: 1 });
    let run = 0;
    const arbEntry = fc.record({
      eventId: fc
        .oneof(
          fc.uuid().map((u) => u.toLowerCase()),
          fc.uuid(),
          fc.string({ minLength: 1, maxLength: 30 }),
        )
        .filter((id) => id.isWellFormed()),
      kind: fc.constantFrom('event' as const, 'rejected' as const),
      bytes: fc.uint8Array({ maxLength: 200 }),
      source: fc.option(
        fc.record({
          topic: fc.constantFrom('a.topic', 'b.topic'),
          partition: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          offset: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
        }),
        { nil: null },
      ),
      appendedAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(arbEntry, { minLength: 1, maxLength: 700, selector: (e) => e.eventId }),
        fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 8 }),
        fc.nat(),
        fc.nat(),
        async (entries, cuts, a, b) => {
          const log = await store.openLog(`prop-${run++}`);
          let at = 0;
          for (const c of [...cuts, entries.length]) {
            if (at >= entries.length) break;
            const batch = entries.slice(at, at + c);
            await log.append({ entries: batch }, at);
            at += batch.length;
          }
          assert.equal((await log.tail()).size, entries.length);
          assert.deepEqual((await collect(log.readEntries(0, entries.length))).map(strip), entries.map(stored));
          const [from, to] = [a % (entries.length + 1), b % (entries.length + 2)].sort((x, y) => x - y);
          assert.deepEqual((await collect(log.readEntries(from, to))).map(strip), entries.slice(from, to).map(stored));
        },
      ),
      { numRuns: 40 },
    );
    await store.close();
  });

  test('a malformed bundle in the file fails reads with StoreUnreadableError naming the log and bundle', async () => {
    const path = newPath();
    const store = await openSqliteLedgerStore({ path });
    const log = await store.openLog('p0');
    await log.append({ entries: Array.from({ length: 300 }, (_, i) => testEntry(i)) }, 0);
    const db = raw(path);
    db.exec('DROP TRIGGER bundles_grow_only');
    db.exec('DROP TRIGGER bundle_tail_no_update');
    const last = db.prepare('SELECT data FROM bundle_tail WHERE idx = 1').get()!.data as Uint8Array;
    db.prepare('UPDATE bundle_tail SET data = ? WHERE idx = 1').run(Buffer.concat([last, Buffer.alloc(3)])); // trailing bytes, same count
    db.prepare("UPDATE bundles SET data = 'text' WHERE idx = 0").run(); // not even a BLOB
    db.close();
    const malformed = (e: unknown) =>
      isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE') &&
      /log p0 entry bundle 1 \(entries from 256\) is malformed: 3 bytes follow/.test((e as Error).message);
    await assert.rejects(
      collect(log.readEntries(0, 10)),
      (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE') && /bundle 0 .*its data is string, not a BLOB/.test((e as Error).message),
    );
    await assert.rejects(collect(log.readEntries(256, 300)), malformed);
    // The append path re-reads the partial bundle (its length changed under the cache) and refuses to extend it.
    await assert.rejects(log.append({ entries: [testEntry(300)] }, 300), malformed);
    await store.close();
  });
});

describe('sqlite ledger file', () => {
  test('triggers refuse UPDATE and DELETE from a second raw connection', async () => {
    const path = newPath();
    const store = await openSqliteLedgerStore({ path });
    const log = await store.openLog('p0');
    await log.append(
      { entries: [testEntry(0), testEntry(1)], tiles: [{ id: { level: 0, index: 0, width: 2 }, data: Buffer.alloc(64, 1) }], checkpoint: 'cp\n' },
      0,
    );
    const db = raw(path);
    try {
      throwsCode(() => db.exec("UPDATE bundle_tail SET data = x'00' WHERE idx = 0"), 'AFF_E_LEDGER_IMMUTABLE', /cannot be updated/);
      throwsCode(() => db.exec('DELETE FROM bundle_tail WHERE idx = 0'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
      throwsCode(() => db.exec('UPDATE event_ids SET idx = 5'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be updated/);
      throwsCode(() => db.exec('DELETE FROM event_ids'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
      throwsCode(() => db.exec("UPDATE checkpoints SET note = 'forged'"), 'AFF_E_LEDGER_IMMUTABLE', /cannot be updated/);
      throwsCode(() => db.exec('DELETE FROM checkpoints'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
      throwsCode(() => db.exec('DELETE FROM tiles'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
      throwsCode(() => db.exec('DELETE FROM logs'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
      throwsCode(() => db.exec('UPDATE sources SET max_offset = 0'), 'AFF_E_LEDGER_IMMUTABLE', /backwards/);
      // A wider tile with the same prefix is the one allowed change.
      db.prepare('UPDATE tiles SET width = 3, hashes = ? WHERE idx = 0').run(Buffer.concat([Buffer.alloc(64, 1), Buffer.alloc(32, 2)]));
      throwsCode(() => db.prepare('UPDATE tiles SET width = 3, hashes = ?').run(Buffer.alloc(96, 9)), 'AFF_E_LEDGER_TILE_CONFLICT', /wider/);
      throwsCode(() => db.prepare('UPDATE tiles SET width = 1, hashes = ?').run(Buffer.alloc(32, 1)), 'AFF_E_LEDGER_TILE_CONFLICT', /wider/);
      // A bundle row is whole, and follows a whole bundle.
      throwsCode(() => db.prepare("INSERT INTO bundles (log, idx, count, data) VALUES (1, 0, 1, x'00')").run(), 'AFF_E_LEDGER_IMMUTABLE', /only whole bundles/);
      throwsCode(
        () => db.prepare("INSERT INTO bundles (log, idx, count, data) VALUES (1, 1, 256, x'00')").run(),
        'AFF_E_LEDGER_IMMUTABLE',
        /follow a full bundle/,
      );
      // A second row for a stored eventId is a duplicate.
      throwsCode(
        () => db.prepare('INSERT INTO event_ids (log, event_id, idx) SELECT log, event_id, 9 FROM event_ids LIMIT 1').run(),
        'AFF_E_LEDGER_DUPLICATE_EVENT',
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
    const tiles = await log.readTiles([
      { level: 9, index: size / 1000 - 1, width: 8 },
      { level: 9, index: size / 1000, width: 8 },
    ]);
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
    await assert.rejects(
      openSqliteLedgerStore({ path: newer }),
      (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE') && /version 99/.test((e as Error).message),
    );
    const foreign = newPath();
    const f = raw(foreign);
    f.exec('CREATE TABLE customers (id INTEGER)');
    f.close();
    await assert.rejects(openSqliteLedgerStore({ path: foreign }), (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE'));
    await assert.rejects(openSqliteLedgerStore({ path: '' }), (e: unknown) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID'));
  });

  test('a file of the older schema version 2 is refused, read-write or read-only, and left unchanged', async () => {
    const old = newPath();
    const s = await openSqliteLedgerStore({ path: old });
    await (await s.openLog('p0')).append({ entries: [testEntry(0)] }, 0);
    await s.close();
    const db = raw(old);
    db.exec('UPDATE affidavit_schema SET version = 2');
    db.close();
    for (const readOnly of [false, true]) {
      await assert.rejects(
        openSqliteLedgerStore({ path: old, readOnly }),
        (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE') && /schema version 2\b.*version 4 only/.test((e as Error).message),
      );
    }
    const after = raw(old);
    assert.equal(Number(after.prepare('SELECT version FROM affidavit_schema').get()!.version), 2, 'the version was not rewritten');
    assert.equal(Number(after.prepare('SELECT count(*) AS n FROM bundle_tail').get()!.n), 1, 'the entries are untouched');
    after.close();
    // Read-only on a file with no ledger in it is refused too, not answered with empty logs.
    const empty = newPath();
    raw(empty).close();
    await assert.rejects(openSqliteLedgerStore({ path: empty, readOnly: true }), (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE'));
  });

  test('a version 3 file (the partial bundle as one bundles row) is refused read-only, and upgraded by a writable open without losing a byte', async () => {
    const path = newPath();
    const s = await openSqliteLedgerStore({ path });
    const entries = Array.from({ length: 350 }, (_, i) => testEntry(i));
    const log = await s.openLog('p0');
    await log.append({ entries: entries.slice(0, 276) }, 0);
    await log.append({ entries: entries.slice(276, 300) }, 276);
    await s.close();
    // Rewrite the file into the version 3 layout: bundle 1 as a row of 44 entries, no bundle_tail.
    const partial = Buffer.concat(fragmentRows(path).map((f) => f.data));
    const db = raw(path);
    db.exec('DROP TABLE bundle_tail');
    db.exec('DROP TRIGGER bundles_whole_only');
    db.prepare('INSERT INTO bundles (log, idx, count, data) VALUES (1, 1, 44, ?)').run(partial);
    db.exec('UPDATE affidavit_schema SET version = 3');
    db.close();
    await assert.rejects(
      openSqliteLedgerStore({ path, readOnly: true }),
      (e: unknown) =>
        isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE') &&
        /schema version 3; it is upgraded to 4 the first time it is opened for writing/.test((e as Error).message),
    );
    const upgraded = await openSqliteLedgerStore({ path });
    const again = await upgraded.openLog('p0');
    assert.deepEqual(
      bundleRows(path).map((r) => [r.idx, r.count]),
      [[0, 256]],
    );
    assert.deepEqual(
      fragmentRows(path).map((f) => [f.idx, f.first, f.count]),
      [[1, 0, 44]],
    );
    assert.ok(fragmentRows(path)[0].data.equals(partial), 'the partial bundle moved byte for byte');
    assert.equal((await again.tail()).size, 300);
    await again.append({ entries: entries.slice(300) }, 300);
    assert.deepEqual((await collect(again.readEntries(0, 400))).map(strip), entries.map(stored));
    await upgraded.close();
    const after = raw(path);
    try {
      assert.equal(Number(after.prepare('SELECT version FROM affidavit_schema').get()!.version), 4);
      // The triggers the upgrade dropped for the move are back.
      throwsCode(() => after.exec('DELETE FROM bundles'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
      throwsCode(() => after.exec('DELETE FROM bundle_tail'), 'AFF_E_LEDGER_IMMUTABLE', /cannot be deleted/);
    } finally {
      after.close();
    }
  });

  test("an append waiting on another connection's write lock fails retriably after the busy timeout", async () => {
    const path = newPath();
    const store = await openSqliteLedgerStore({ path, busyTimeoutMs: 50 });
    const log = await store.openLog('p0');
    const db = raw(path);
    db.exec('BEGIN IMMEDIATE');
    try {
      await assert.rejects(
        log.append({ entries: [testEntry(0)] }, 0),
        (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNAVAILABLE') && (e as { retriable: boolean }).retriable,
      );
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
    await log.append({ entries: [testEntry(0)] }, 0);
    assert.equal((await log.tail()).size, 1);
    await store.close();
  });
});

ledgerStoreContract('sqlite (worker thread)', async () => {
  const path = newPath();
  return { open: () => openWorkerSqliteLedgerStore({ path }) };
});
