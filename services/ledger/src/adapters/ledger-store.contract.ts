// ledgerStoreContract: the ONE behavioural suite every LedgerStore adapter must pass (emmett-style
// shared contract). Run by sqlite/sqlite-store.test.ts and eventstoredb/eventstoredb-store.int.test.ts.
import { randomBytes } from 'node:crypto';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isAffidavitError } from '@affidavit/common';
import type { AppendBatch, Entry, LedgerStore, LogStore, NewEntry, TileWrite } from '../ports/ledger-store.ts';
import { sourceKey } from '../ports/ledger-store.ts';

/** LedgerStoreFixture is what an adapter's test gives the contract. */
export type LedgerStoreFixture = {
  /** open returns a NEW client on the same backing storage (a simulated second process, or a restart). */
  open(): Promise<LedgerStore>;
  dispose?(): Promise<void>;
};

/** uniqueLogId returns a log id no other test uses. */
export function uniqueLogId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

const TOPIC = 'affidavit.session-events.v1';

/** entry builds a test entry; `n` makes its id and bytes distinct. */
export function testEntry(n: number, over: Partial<NewEntry> = {}): NewEntry {
  return {
    eventId: `01900000-0000-7000-8000-${n.toString(16).padStart(12, '0')}`,
    kind: 'event',
    bytes: Buffer.from(`\xc3\x01entry-${n}`, 'latin1'),
    source: { topic: TOPIC, partition: 0, offset: BigInt(n) },
    appendedAt: 1_700_000_000_000 + n,
    ...over,
  };
}

const hashes = (width: number, seed: number): Buffer => {
  const b = Buffer.alloc(width * 32);
  for (let i = 0; i < b.length; i++) b[i] = (seed * 31 + i) & 0xff;
  return b;
};
const tile = (level: number, index: number, width: number, data: Buffer = hashes(width, 1)): TileWrite => ({ id: { level, index, width }, data });

async function collect(it: AsyncIterable<Entry>): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isAffidavitError(e, code), `expected ${code}, got ${(e as Error)?.stack ?? String(e)}`);
    return true;
  });
}

const stripIndex = (e: Entry) => ({ eventId: e.eventId, kind: e.kind, bytes: Buffer.from(e.bytes), source: e.source, appendedAt: e.appendedAt });
const asStored = (e: NewEntry) => ({ ...e, bytes: Buffer.from(e.bytes) });

/** ledgerStoreContract registers the contract tests for one adapter. */
export function ledgerStoreContract(name: string, makeFixture: () => Promise<LedgerStoreFixture>, opts: { skip?: string } = {}): void {
  describe(`ledger store contract: ${name}`, { skip: opts.skip }, () => {
    let fx: LedgerStoreFixture;
    let store: LedgerStore;
    const extra: LedgerStore[] = [];
    const another = async () => {
      const s = await fx.open();
      extra.push(s);
      return s;
    };
    const freshLog = (p: string): Promise<LogStore> => store.openLog(uniqueLogId(p));

    before(async () => {
      fx = await makeFixture();
      store = await fx.open();
    });
    after(async () => {
      for (const s of extra) await s.close();
      await store?.close();
      await fx?.dispose?.();
    });

    test('a new log is empty', async () => {
      const log = await freshLog('empty');
      const t = await log.tail();
      assert.equal(t.size, 0);
      assert.equal(t.lastSource.size, 0);
      assert.deepEqual(await collect(log.readEntries(0, 10)), []);
      assert.equal(await log.latestCheckpoint(), undefined);
      assert.deepEqual(await log.checkpoints(), []);
    });

    test('listLogs names every opened log once, in creation order', async () => {
      const a = uniqueLogId('list-a');
      const b = uniqueLogId('list-b');
      await store.openLog(a);
      await store.openLog(b);
      await store.openLog(a);
      const logs = await store.listLogs();
      assert.deepEqual(
        logs.filter((l) => l === a || l === b),
        [a, b],
      );
      const other = await another();
      assert.ok((await other.listLogs()).includes(b), 'a second handle on the same store sees the log');
    });

    test('append then read returns the same entries, bytes unchanged, indexes from expectedSize', async () => {
      const log = await freshLog('roundtrip');
      const batch: NewEntry[] = [
        testEntry(1),
        testEntry(2, { bytes: Buffer.from([0xc3, 0x01, 0x00, 0xff, 0x80]) }),
        testEntry(3, { kind: 'rejected', eventId: `rejected:${TOPIC}:0:3`, source: { topic: TOPIC, partition: 0, offset: 2n ** 62n } }),
        testEntry(4, { source: null, bytes: new Uint8Array(0) }),
      ];
      await log.append({ entries: batch }, 0);
      const got = await collect(log.readEntries(0, 100));
      assert.deepEqual(
        got.map((e) => e.index),
        [0, 1, 2, 3],
      );
      assert.deepEqual(got.map(stripIndex), batch.map(asStored));
      assert.ok(Buffer.isBuffer(got[0].bytes), 'bytes come back as a Buffer');
      assert.deepEqual(
        (await collect(log.readEntries(1, 3))).map((e) => e.eventId),
        [batch[1].eventId, batch[2].eventId],
      );
      assert.deepEqual(await collect(log.readEntries(2, 2)), []);
    });

    test('indexes are consecutive across batches and tail() counts them', async () => {
      const log = await freshLog('consecutive');
      let size = 0;
      for (const n of [3, 1, 5, 2]) {
        await log.append({ entries: Array.from({ length: n }, (_, i) => testEntry(size + i)) }, size);
        size += n;
        assert.equal((await log.tail()).size, size);
      }
      const all = await collect(log.readEntries(0, size));
      assert.deepEqual(
        all.map((e) => e.index),
        Array.from({ length: size }, (_, i) => i),
      );
      assert.deepEqual(
        all.map((e) => e.eventId),
        Array.from({ length: size }, (_, i) => testEntry(i).eventId),
      );
    });

    test('readEntryPages, where offered, yields exactly what readEntries does, in pages', async () => {
      const log = await freshLog('pages');
      const n = 600; // more than two 256-entry bundles, the last one partial
      await log.append({ entries: Array.from({ length: n }, (_, i) => testEntry(i)) }, 0);
      if (!log.readEntryPages) return;
      for (const [from, to] of [
        [0, n],
        [250, 530],
        [n - 1, n],
        [n, n],
        [0, n + 50],
      ]) {
        const pages: Entry[][] = [];
        for await (const p of log.readEntryPages(from, to)) pages.push([...p]);
        assert.ok(
          pages.every((p) => p.length > 0),
          'no empty pages',
        );
        const flat = pages.flat();
        const plain = await collect(log.readEntries(from, to));
        assert.deepEqual(
          flat.map((e) => [e.index, e.eventId]),
          plain.map((e) => [e.index, e.eventId]),
          `range ${from}..${to}`,
        );
        assert.deepEqual(
          flat.map((e) => Buffer.from(e.bytes).toString('hex')),
          plain.map((e) => Buffer.from(e.bytes).toString('hex')),
        );
      }
    });

    test('expectedSize fences a second writer: of two racing appends one fails and writes nothing', async () => {
      const logId = uniqueLogId('fence');
      const a = await store.openLog(logId);
      const b = await (await another()).openLog(logId);
      await a.append({ entries: [testEntry(0)] }, 0);
      const batchA: AppendBatch = { entries: [testEntry(10), testEntry(11)], tiles: [tile(0, 0, 3, hashes(3, 7))], checkpoint: 'a-checkpoint\n' };
      const batchB: AppendBatch = { entries: [testEntry(20)], tiles: [tile(0, 0, 2, hashes(2, 9))], checkpoint: 'b-checkpoint\n' };
      const [ra, rb] = await Promise.allSettled([a.append(batchA, 1), b.append(batchB, 1)]);
      const outcomes = [ra.status, rb.status].sort();
      assert.deepEqual(outcomes, ['fulfilled', 'rejected'], 'exactly one writer wins');
      const loser = (ra.status === 'rejected' ? ra : rb) as PromiseRejectedResult;
      assert.ok(isAffidavitError(loser.reason, 'AFF_E_LEDGER_EXPECTED_SIZE'), String(loser.reason));
      const [winBatch, loseBatch] = ra.status === 'fulfilled' ? [batchA, batchB] : [batchB, batchA];
      const reader = await (await another()).openLog(logId);
      const entries = await collect(reader.readEntries(0, 100));
      assert.deepEqual(
        entries.map((e) => e.eventId),
        [testEntry(0).eventId, ...winBatch.entries.map((e) => e.eventId)],
      );
      assert.equal((await reader.hasEventIds(loseBatch.entries.map((e) => e.eventId))).size, 0);
      assert.deepEqual(await reader.checkpoints(), [winBatch.checkpoint]);
      const w = winBatch.tiles![0];
      assert.deepEqual(Buffer.from((await reader.readTiles([w.id]))[0]!), Buffer.from(w.data));
      // A stale or future expectedSize is refused too, and the error says so.
      await rejectsWithCode(a.append({ entries: [testEntry(30)] }, 1), 'AFF_E_LEDGER_EXPECTED_SIZE');
      await rejectsWithCode(a.append({ entries: [testEntry(31)] }, 99), 'AFF_E_LEDGER_EXPECTED_SIZE');
      assert.equal((await reader.tail()).size, 1 + winBatch.entries.length);
    });

    test('a batch is atomic: a tile that breaks the prefix rule leaves its entries and checkpoint unwritten', async () => {
      const log = await freshLog('atomic');
      await log.append({ entries: [testEntry(0), testEntry(1)], tiles: [tile(0, 0, 2, hashes(2, 1))], checkpoint: 'cp-2\n' }, 0);
      const bad: AppendBatch = {
        entries: [testEntry(2), testEntry(3)],
        tiles: [tile(1, 0, 1, hashes(1, 5)), tile(0, 0, 4, hashes(4, 2))], // 0/0 prefix differs from the stored one
        checkpoint: 'cp-4\n',
      };
      await rejectsWithCode(log.append(bad, 2), 'AFF_E_LEDGER_TILE_CONFLICT');
      const t = await log.tail();
      assert.equal(t.size, 2);
      assert.equal(t.lastSource.get(sourceKey(TOPIC, 0)), 1n);
      assert.equal((await log.hasEventIds([testEntry(2).eventId, testEntry(3).eventId])).size, 0);
      assert.deepEqual(await log.checkpoints(), ['cp-2\n']);
      const [t00, t10] = await log.readTiles([
        { level: 0, index: 0, width: 2 },
        { level: 1, index: 0, width: 1 },
      ]);
      assert.deepEqual(Buffer.from(t00!), hashes(2, 1));
      assert.equal(t10, undefined, 'the good tile of the failed batch was not written either');
      // The same log takes the corrected batch at the same expected size.
      await log.append({ ...bad, tiles: [tile(0, 0, 4, Buffer.concat([hashes(2, 1), hashes(2, 3)]))] }, 2);
      assert.equal((await log.tail()).size, 4);
    });

    test('duplicate eventIds: hasEventIds finds them, append refuses them and writes nothing', async () => {
      const log = await freshLog('dup');
      const ids = Array.from({ length: 2000 }, (_, i) => testEntry(i));
      await log.append({ entries: ids.slice(0, 1000) }, 0);
      const probe = [ids[0].eventId, ids[999].eventId, ids[1000].eventId, 'not-there', ids[500].eventId];
      assert.deepEqual([...(await log.hasEventIds(probe))].sort(), [ids[0].eventId, ids[500].eventId, ids[999].eventId].sort());
      assert.equal((await log.hasEventIds([])).size, 0);
      const big = await log.hasEventIds(ids.map((e) => e.eventId));
      assert.equal(big.size, 1000);
      await rejectsWithCode(log.append({ entries: [ids[1000], ids[5]] }, 1000), 'AFF_E_LEDGER_DUPLICATE_EVENT');
      await rejectsWithCode(log.append({ entries: [ids[1001], ids[1001]] }, 1000), 'AFF_E_LEDGER_DUPLICATE_EVENT');
      assert.equal((await log.tail()).size, 1000);
      assert.equal((await log.hasEventIds([ids[1000].eventId, ids[1001].eventId])).size, 0);
      // Another log may hold the same id: logs are independent.
      const other = await freshLog('dup-other');
      await other.append({ entries: [ids[0]] }, 0);
      assert.equal((await other.tail()).size, 1);
    });

    test('tail() after close and reopen: same size and highest offset per source partition', async () => {
      const logId = uniqueLogId('reopen');
      const s1 = await another();
      const log = await s1.openLog(logId);
      const src = (partition: number, offset: bigint, topic = TOPIC) => ({ topic, partition, offset });
      await log.append({ entries: [testEntry(0, { source: src(0, 7n) }), testEntry(1, { source: src(3, 100n) }), testEntry(2, { source: src(0, 5n) })] }, 0);
      await log.append(
        { entries: [testEntry(3, { source: src(3, 90n) }), testEntry(4, { source: null }), testEntry(5, { source: src(1, 2n ** 63n - 1n, 'other.topic') })] },
        3,
      );
      const before = await log.tail();
      await s1.close();
      await rejectsWithCode(log.tail(), 'AFF_E_SHUTDOWN');
      const again = await (await another()).openLog(logId);
      const t = await again.tail();
      assert.equal(t.size, 6);
      assert.deepEqual(t, before);
      assert.deepEqual(
        [...t.lastSource.entries()].sort(),
        [
          [sourceKey(TOPIC, 0), 7n],
          [sourceKey(TOPIC, 3), 100n],
          [sourceKey('other.topic', 1), 2n ** 63n - 1n],
        ].sort(),
      );
      assert.deepEqual(
        (await collect(again.readEntries(0, 6))).map((e) => e.eventId),
        Array.from({ length: 6 }, (_, i) => testEntry(i).eventId),
      );
    });

    test('checkpoints are stored with their batch and read back oldest first', async () => {
      const log = await freshLog('cp');
      await log.append({ entries: [testEntry(0)], checkpoint: 'example.org/log\n1\nAAAA\n\n— k sig1\n' }, 0);
      assert.equal(await log.latestCheckpoint(), 'example.org/log\n1\nAAAA\n\n— k sig1\n');
      await log.append({ entries: [testEntry(1), testEntry(2)] }, 1);
      await log.append({ entries: [testEntry(3)], checkpoint: 'cp-4\n' }, 3);
      // A checkpoint-only batch (the time-based schedule fired with no new entries).
      await log.append({ entries: [], checkpoint: 'cp-4-again\n' }, 4);
      assert.deepEqual(await log.checkpoints(), ['example.org/log\n1\nAAAA\n\n— k sig1\n', 'cp-4\n', 'cp-4-again\n']);
      assert.equal(await log.latestCheckpoint(), 'cp-4-again\n');
      assert.equal((await log.tail()).size, 4);
      await rejectsWithCode(log.append({ entries: [], checkpoint: 'stale\n' }, 3), 'AFF_E_LEDGER_EXPECTED_SIZE');
    });

    test('tiles: partial tiles are replaced only by wider ones with the same prefix', async () => {
      const log = await freshLog('tiles');
      const full = hashes(256, 4);
      const w = (n: number) => full.subarray(0, n * 32);
      await log.append({ entries: [testEntry(0)], tiles: [tile(0, 0, 1, w(1))] }, 0);
      let got = await log.readTiles([
        { level: 0, index: 0, width: 1 },
        { level: 0, index: 0, width: 2 },
        { level: 0, index: 1, width: 1 },
      ]);
      assert.deepEqual(Buffer.from(got[0]!), w(1));
      assert.equal(got[1], undefined, 'a wider tile than stored is not there');
      assert.equal(got[2], undefined);
      await log.append({ entries: [testEntry(1), testEntry(2)], tiles: [tile(0, 0, 3, w(3))] }, 1);
      got = await log.readTiles([
        { level: 0, index: 0, width: 1 },
        { level: 0, index: 0, width: 3 },
      ]);
      assert.deepEqual(Buffer.from(got[0]!), w(1), 'a narrower id is served from the wider tile');
      assert.deepEqual(Buffer.from(got[1]!), w(3));
      await rejectsWithCode(log.append({ entries: [testEntry(3)], tiles: [tile(0, 0, 2, w(2))] }, 3), 'AFF_E_LEDGER_TILE_CONFLICT');
      const changed = Buffer.from(w(4));
      changed[40] ^= 1;
      await rejectsWithCode(log.append({ entries: [testEntry(3)], tiles: [tile(0, 0, 4, changed)] }, 3), 'AFF_E_LEDGER_TILE_CONFLICT');
      await log.append({ entries: [testEntry(3)], tiles: [tile(0, 0, 3, w(3))] }, 3); // same width and bytes: a no-op
      await log.append({ entries: [testEntry(4)], tiles: [tile(0, 0, 256, full), tile(1, 0, 1, hashes(1, 8))] }, 4);
      got = await log.readTiles([
        { level: 0, index: 0, width: 256 },
        { level: 1, index: 0, width: 1 },
      ]);
      assert.deepEqual(Buffer.from(got[0]!), full);
      assert.deepEqual(Buffer.from(got[1]!), hashes(1, 8));
      await rejectsWithCode(log.append({ entries: [testEntry(5)], tiles: [tile(0, 0, 255, w(255))] }, 5), 'AFF_E_LEDGER_TILE_CONFLICT');
      assert.equal((await log.tail()).size, 5);
    });

    test('bad arguments are refused with AFF_E_LEDGER_INPUT_INVALID before anything is written', async () => {
      const log = await freshLog('input');
      const invalid = 'AFF_E_LEDGER_INPUT_INVALID';
      await rejectsWithCode(log.append({ entries: [testEntry(0)] }, -1), invalid);
      await rejectsWithCode(log.append({ entries: [testEntry(0)] }, 0.5), invalid);
      await rejectsWithCode(log.append({ entries: [] }, 0), invalid);
      await rejectsWithCode(log.append({ entries: [testEntry(0, { source: { topic: TOPIC, partition: 0, offset: -1n } })] }, 0), invalid);
      await rejectsWithCode(log.append({ entries: [testEntry(0, { source: { topic: TOPIC, partition: 0, offset: 1 as unknown as bigint } })] }, 0), invalid);
      await rejectsWithCode(log.append({ entries: [testEntry(0, { eventId: '' })] }, 0), invalid);
      await rejectsWithCode(log.append({ entries: [testEntry(0)], tiles: [{ id: { level: 0, index: 0, width: 2 }, data: hashes(1, 1) }] }, 0), invalid);
      await rejectsWithCode(log.append({ entries: [testEntry(0)], tiles: [tile(0, 0, 257, hashes(257, 1))] }, 0), invalid);
      await rejectsWithCode(log.append({ entries: [testEntry(0)], checkpoint: 'x'.repeat(70_000) }, 0), invalid);
      await rejectsWithCode(collect(log.readEntries(5, 2)), invalid);
      await rejectsWithCode(log.readTiles([{ level: -1, index: 0, width: 1 }]), invalid);
      await rejectsWithCode(store.openLog('bad/log id'), invalid);
      assert.equal((await log.tail()).size, 0);
    });

    test('readEntries streams 100k entries with bounded memory', async () => {
      const log = await freshLog('stream');
      const N = 100_000;
      const BATCH = 500;
      const SIZE = 1024;
      for (let start = 0; start < N; start += BATCH) {
        const entries = Array.from({ length: BATCH }, (_, i) => {
          const n = start + i;
          const bytes = Buffer.alloc(SIZE, n & 0xff);
          bytes.writeUInt32BE(n, 0);
          return testEntry(n, { bytes });
        });
        await log.append({ entries }, start);
      }
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      gc();
      const mem = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
      const base = mem();
      let peak = 0;
      let count = 0;
      let bytes = 0;
      for await (const e of log.readEntries(0, N + 10)) {
        assert.equal(e.index, count);
        assert.equal(e.bytes.readUInt32BE(0), count);
        count++;
        bytes += e.bytes.length;
        if (count % 10_000 === 0) {
          gc();
          peak = Math.max(peak, mem() - base);
        }
      }
      assert.equal(count, N);
      assert.equal(bytes, N * SIZE);
      // ~100 MiB passed through; a reader that buffers the range would hold all of it.
      assert.ok(peak < 32 * 1024 * 1024, `memory grew by ${(peak / 1048576).toFixed(1)} MiB while streaming ${(bytes / 1048576).toFixed(0)} MiB`);
      const tailPart = await collect(log.readEntries(N - 3, N + 100));
      assert.deepEqual(
        tailPart.map((e) => e.index),
        [N - 3, N - 2, N - 1],
      );
    });

    test('after close every call fails with AFF_E_SHUTDOWN', async () => {
      const s = await another();
      const log = await s.openLog(uniqueLogId('closed'));
      await s.close();
      await rejectsWithCode(log.append({ entries: [testEntry(0)] }, 0), 'AFF_E_SHUTDOWN');
      await rejectsWithCode(s.openLog(uniqueLogId('closed')), 'AFF_E_SHUTDOWN');
      await s.close(); // idempotent
    });
  });
}
