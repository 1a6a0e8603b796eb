import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAffidavitError, systemClock, type Logger } from '@affidavit/common';
import type { BusRecord, OutgoingRecord } from '../../ports/bus.ts';
import { createMemoryBroker, type MemoryRetentionOptions } from './memory-broker.ts';
import { createMemoryBus } from './memory-bus.ts';
import { SEGMENT_RECORDS } from './partition-log.ts';
import { partitionForKey } from '../../partition.ts';

const partitionOf = (key: string) => partitionForKey(key, 2);

type Logged = { level: string; obj: Record<string, unknown>; msg: string };

/** fakeLogger captures what the broker logs. */
function fakeLogger(into: Logged[]): Logger {
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void into.push({ level, obj, msg });
  return { warn: at('warn'), info: at('info'), debug: at('debug'), error: at('error') } as unknown as Logger;
}

function setup(retention: MemoryRetentionOptions = {}) {
  const logged: Logged[] = [];
  const broker = createMemoryBroker({ clock: systemClock, logger: fakeLogger(logged), retention });
  const bus = createMemoryBus({ maxBatchRecords: 1000, retryBackoffMs: 5 }, { broker });
  return { broker, bus, logged };
}

const recs = (from: number, n: number): OutgoingRecord[] => Array.from({ length: n }, (_, i) => ({ key: 'one', value: Buffer.from(`v${from + i}`) }));

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('records are released once every subscribed group has committed past them, offsets unchanged', async () => {
  const { broker, bus, logged } = setup();
  await bus.ensureTopic('t', 1);
  const seen = { a: 0, b: 0 };
  const subA = await bus.subscribe({ group: 'a', topics: ['t'], handler: async (b) => void (seen.a += b.records.length) });
  const subB = await bus.subscribe({ group: 'b', topics: ['t'], handler: async (b) => void (seen.b += b.records.length) });
  const total = SEGMENT_RECORDS * 3 + 10;
  await bus.publish('t', recs(0, total));
  await until('both groups done', () => seen.a === total && seen.b === total);
  const bounds = broker.bounds('t', 0);
  // Three sealed segments fully committed by both groups are gone; the active one stays.
  assert.equal(bounds.start, BigInt(SEGMENT_RECORDS * 3));
  assert.equal(bounds.end, BigInt(total));
  assert.equal(bounds.records, 10);
  assert.equal(broker.stats().released, SEGMENT_RECORDS * 3);
  // The next record still gets the next absolute offset.
  const got: BusRecord[] = [];
  const subC = await bus.subscribe({ group: 'c', topics: ['t'], startOffsets: async () => BigInt(total), handler: async (b) => void got.push(...b.records) });
  await bus.publish('t', recs(total, 1));
  await until('the new record', () => got.length === 1);
  assert.equal(got[0].offset, BigInt(total));
  // A member of a group that already committed past the released records, asking to re-read
  // from 0 (the embedded ledger's hook), starts at the retained start and it is logged.
  const again: BusRecord[] = [];
  const subD = await bus.subscribe({ group: 'a', topics: ['t'], startOffsets: async () => 0n, handler: async (b) => void again.push(...b.records) });
  await subA.close();
  await until('the re-read', () => again.length === 11);
  assert.equal(again[0].offset, BigInt(SEGMENT_RECORDS * 3));
  assert.ok(logged.some((l) => l.level === 'warn' && /released after every group committed/.test(l.msg) && l.obj.requested === 0n));
  await Promise.all([subB.close(), subC.close(), subD.close()]);
  await bus.close();
});

test('records stay while one subscribed group lags, and go once it catches up', async () => {
  const { broker, bus } = setup();
  await bus.ensureTopic('t', 1);
  let fast = 0;
  let slow = 0;
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const subFast = await bus.subscribe({ group: 'fast', topics: ['t'], handler: async (b) => void (fast += b.records.length) });
  const subSlow = await bus.subscribe({
    group: 'slow',
    topics: ['t'],
    handler: async (b) => {
      await gate;
      slow += b.records.length;
    },
  });
  const total = SEGMENT_RECORDS * 4;
  await bus.publish('t', recs(0, total));
  await until('the fast group', () => fast === total);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(broker.bounds('t', 0).start, 0n, 'nothing released while the slow group has committed nothing');
  assert.equal(broker.stats().released, 0);
  open();
  await until('the slow group', () => slow === total);
  await until('release', () => broker.bounds('t', 0).start === BigInt(SEGMENT_RECORDS * 3));
  // A group that left still pins what it has not committed: it may come back and resume.
  await subSlow.close();
  await bus.publish('t', recs(total, SEGMENT_RECORDS * 2));
  await until('the fast group again', () => fast === total + SEGMENT_RECORDS * 2);
  await new Promise((r) => setTimeout(r, 30));
  // The slow group committed `total` before it left: up to there is released, nothing past it.
  assert.equal(broker.bounds('t', 0).start, BigInt(total), 'the departed group keeps what it has not committed');
  assert.equal(broker.bounds('t', 0).records, SEGMENT_RECORDS * 2);
  await subFast.close();
  await bus.close();
});

test('a topic no group subscribed to is bounded: the oldest records are dropped, counted and logged', async () => {
  const { broker, bus, logged } = setup({ maxRetainedRecords: SEGMENT_RECORDS * 2, dropLogEvery: SEGMENT_RECORDS * 3 });
  await bus.ensureTopic('dlq', 1);
  const total = SEGMENT_RECORDS * 10;
  for (let i = 0; i < total; i += 1000) await bus.publish('dlq', recs(i, Math.min(1000, total - i)));
  const b = broker.bounds('dlq', 0);
  assert.ok(b.records <= SEGMENT_RECORDS * 2, `retained ${b.records}`);
  assert.equal(b.end, BigInt(total));
  assert.equal(BigInt(broker.stats().droppedUnread), b.start, 'every dropped record is counted');
  const warns = logged.filter((l) => l.level === 'warn' && /dropped the oldest records/.test(l.msg));
  // First drop logged, then once per dropLogEvery dropped records.
  assert.ok(warns.length >= 2 && warns.length <= 1 + Math.ceil(Number(b.start) / (SEGMENT_RECORDS * 3)), `${warns.length} warnings`);
  assert.equal(warns[0].obj.topic, 'dlq');
  // A group subscribing afterwards starts at the oldest retained record and is told what it never saw.
  const got: BusRecord[] = [];
  const sub = await bus.subscribe({ group: 'late', topics: ['dlq'], handler: async (batch) => void got.push(...batch.records) });
  await until('the retained records', () => got.length === b.records);
  assert.equal(got[0].offset, b.start);
  assert.deepEqual(
    got.map((r) => r.offset),
    got.map((_, i) => b.start + BigInt(i)),
    'offsets consecutive from the retained start',
  );
  assert.equal(got[0].value.toString(), `v${b.start}`);
  const late = logged.find((l) => /never consumed/.test(l.msg));
  assert.ok(late, 'the late group is warned');
  assert.equal(late.obj.unseen, b.start);
  await sub.close();
  await bus.close();
});

test('a subscribed topic at its bound refuses publishes with BackpressureError (nothing written) until the group catches up', async () => {
  const { broker, bus } = setup({ maxRetainedRecords: SEGMENT_RECORDS });
  await bus.ensureTopic('audit', 2);
  let open!: () => void;
  let gate = new Promise<void>((r) => (open = r));
  let consumed = 0;
  const sub = await bus.subscribe({
    group: 'ledger',
    topics: ['audit'],
    handler: async (b) => {
      await gate;
      consumed += b.records.length;
    },
  });
  await bus.publish('audit', recs(0, SEGMENT_RECORDS));
  const keyOther = Array.from({ length: 50 }, (_, i) => `k${i}`);
  const endsBefore = [0, 1].map((p) => broker.bounds('audit', p).end);
  // A mixed call touching the full partition and the other one: refused whole.
  const err = await bus.publish('audit', [...keyOther.map((k) => ({ key: k, value: Buffer.from('x') })), { key: 'one', value: Buffer.from('y') }]).then(
    () => assert.fail('publish past the bound resolved'),
    (e: unknown) => e,
  );
  assert.ok(isAffidavitError(err, 'AFF_E_BACKPRESSURE'), String(err));
  assert.equal((err as { retriable: boolean }).retriable, true);
  assert.match((err as Error).message, /consumer group ledger/);
  assert.deepEqual(
    [0, 1].map((p) => broker.bounds('audit', p).end),
    endsBefore,
    'a refused publish wrote nothing',
  );
  assert.equal(broker.stats().refusedPublishes, 1);
  assert.equal(broker.stats().droppedUnread, 0, 'nothing is ever dropped from a subscribed topic');
  open();
  await until('catch-up', () => consumed === SEGMENT_RECORDS);
  gate = Promise.resolve();
  // Consumed but not yet released (its segment is still the active one): no longer counted.
  assert.equal(broker.bounds('audit', partitionOf('one')).records, SEGMENT_RECORDS);
  await bus.publish('audit', recs(SEGMENT_RECORDS, 10));
  await until('the new records', () => consumed === SEGMENT_RECORDS + 10);
  await sub.close();
  await bus.close();
});

test('memory stays bounded under a long stream: 1M records with a committing consumer', async () => {
  const { broker, bus } = setup();
  await bus.ensureTopic('long', 1);
  let consumed = 0;
  let expect = 0n;
  let inOrder = true;
  const sub = await bus.subscribe({
    group: 'ledger',
    topics: ['long'],
    handler: async (b) => {
      for (const r of b.records) {
        if (r.offset !== expect) inOrder = false;
        expect++;
      }
      consumed += b.records.length;
    },
  });
  const total = 1_000_000;
  const batch = 1000;
  let maxRetained = 0;
  const value = Buffer.alloc(24, 7);
  const records = Array.from({ length: batch }, () => ({ key: 'session', value }));
  for (let sent = 0; sent < total; sent += batch) {
    await bus.publish('long', records);
    // Let the consumer run as a real one would between producer turns.
    await new Promise((r) => setImmediate(r));
    maxRetained = Math.max(maxRetained, broker.bounds('long', 0).records);
  }
  await until('all consumed', () => consumed === total, 60_000);
  assert.ok(inOrder, 'every offset delivered once, in order');
  const end = broker.bounds('long', 0);
  assert.equal(end.end, BigInt(total));
  assert.ok(end.records <= 2 * SEGMENT_RECORDS, `retained at the end: ${end.records}`);
  assert.ok(maxRetained < 20 * SEGMENT_RECORDS, `retained at most ${maxRetained} records at any time (of ${total})`);
  assert.ok(broker.stats().released >= total - 2 * SEGMENT_RECORDS);
  await sub.close();
  await bus.close();
});

test('retention options are validated, and refused on a bus that shares a broker', () => {
  assert.throws(
    () => createMemoryBroker({ clock: systemClock, retention: { maxRetainedBytes: 10 } }),
    (e) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID'),
  );
  assert.throws(
    () => createMemoryBroker({ clock: systemClock, retention: { bogus: 1 } as MemoryRetentionOptions }),
    (e) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID'),
  );
  const broker = createMemoryBroker({ clock: systemClock });
  assert.throws(
    () => createMemoryBus({ retention: { maxRetainedRecords: 5 } }, { broker }),
    (e) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID'),
  );
});
