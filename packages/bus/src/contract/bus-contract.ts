// busContract: the ONE behavioural test suite every Bus adapter must pass (emmett-style
// shared contract). Run by adapters/memory/memory-bus.test.ts and by
// adapters/kafka/kafka-bus.int.test.ts against a real broker.
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isAffidavitError } from '@affidavit/common';
import { partitionForKey } from '../partition.ts';
import type { Bus, BusBatch, BusRecord, OutgoingRecord, SubscribeOptions, Subscription } from '../ports/bus.ts';

/** BusFixture is what an adapter's test gives the contract. */
export type BusFixture = {
  /** newBus returns a new client of the shared broker (one per simulated process). */
  newBus(): Bus;
  /** deadBus returns a client whose broker is unreachable, and the bound its publish MUST fail within. */
  deadBus(): Promise<{ bus: Bus; boundMs: number; dispose(): Promise<void> }>;
  /** waitMs bounds every "eventually" in the suite (group joins on Kafka take seconds). */
  waitMs: number;
  dispose?(): Promise<void>;
};

/** uniqueName returns a topic or group name no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

const rec = (key: string, body: string): OutgoingRecord => ({ key, value: Buffer.from(body) });

async function eventually(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Collector records every batch one subscription received. */
type Collector = { readonly batches: BusBatch[]; records(): BusRecord[]; sub: Subscription };

async function collect(bus: Bus, opts: Omit<SubscribeOptions, 'handler'> & { handler?: SubscribeOptions['handler'] }): Promise<Collector> {
  const batches: BusBatch[] = [];
  const sub = await bus.subscribe({
    ...opts,
    handler: async (b) => {
      if (opts.handler) await opts.handler(b);
      batches.push(b);
    },
  });
  return { batches, records: () => batches.flatMap((b) => b.records), sub };
}

/** busContract registers the contract tests for one adapter. */
export function busContract(name: string, makeFixture: () => Promise<BusFixture>): void {
  describe(`bus contract: ${name}`, () => {
    let fx: BusFixture;
    const buses: Bus[] = [];
    const client = () => {
      const b = fx.newBus();
      buses.push(b);
      return b;
    };

    before(async () => {
      fx = await makeFixture();
    });
    after(async () => {
      await Promise.all(buses.map((b) => b.close()));
      await fx.dispose?.();
    });

    test('publish resolves only after every record is stored: a new group reads them all at once', async () => {
      const bus = client();
      const topic = uniqueName('ack');
      await bus.ensureTopic(topic, 3);
      const records = Array.from({ length: 50 }, (_, i) => rec(`s-${i % 7}`, `r${i}`));
      await bus.publish(topic, records);
      // A different client, a fresh group: it can only see what the broker acknowledged.
      const reader = await collect(client(), { group: uniqueName('g'), topics: [topic] });
      await eventually('all 50 records', () => reader.records().length >= 50, fx.waitMs);
      assert.deepEqual(
        reader
          .records()
          .map((r) => r.value.toString())
          .sort(),
        records.map((r) => r.value.toString()).sort(),
      );
      await reader.sub.close();
    });

    test('records of one key keep their order and their partition; partition = Kafka default partitioner', async () => {
      const bus = client();
      const topic = uniqueName('order');
      await bus.ensureTopic(topic, 4);
      assert.equal(await bus.partitionsOf(topic), 4);
      const keys = Array.from({ length: 10 }, (_, i) => `session-${i}-${randomBytes(3).toString('hex')}`);
      // Five calls, each carrying 4 records of every key, interleaved across keys.
      for (let call = 0; call < 5; call++) {
        const batch: OutgoingRecord[] = [];
        for (let j = 0; j < 4; j++)
          for (const k of keys) batch.push({ key: k, value: Buffer.from(String(call * 4 + j)), headers: { n: String(call * 4 + j) } });
        await bus.publish(topic, batch);
      }
      const reader = await collect(bus, { group: uniqueName('g'), topics: [topic] });
      await eventually('200 records', () => reader.records().length >= 200, fx.waitMs);
      const all = reader.records();
      assert.equal(all.length, 200);
      for (const k of keys) {
        const mine = all.filter((r) => r.key === k);
        assert.deepEqual(
          mine.map((r) => Number(r.value.toString())),
          Array.from({ length: 20 }, (_, i) => i),
          `order of ${k}`,
        );
        assert.deepEqual(new Set(mine.map((r) => r.partition)), new Set([partitionForKey(k, 4)]), `partition of ${k}`);
        assert.deepEqual(
          mine.map((r) => r.headers.n?.toString()),
          mine.map((r) => r.value.toString()),
          'headers travel with the record',
        );
      }
      await reader.sub.close();
    });

    test('offsets are bigint, start at 0 and grow by one per partition; batches hold one partition in order', async () => {
      const bus = client();
      const topic = uniqueName('offsets');
      await bus.ensureTopic(topic, 2);
      for (let i = 0; i < 6; i++)
        await bus.publish(
          topic,
          Array.from({ length: 10 }, (_, j) => rec(`k${j}`, `${i}-${j}`)),
        );
      const reader = await collect(bus, { group: uniqueName('g'), topics: [topic] });
      await eventually('60 records', () => reader.records().length >= 60, fx.waitMs);
      for (const b of reader.batches) {
        assert.ok(
          b.records.every((r) => r.topic === topic && r.partition === b.partition),
          'one partition per batch',
        );
      }
      for (const p of [0, 1]) {
        const offs = reader
          .records()
          .filter((r) => r.partition === p)
          .map((r) => r.offset);
        assert.ok(offs.every((o) => typeof o === 'bigint'));
        assert.deepEqual(
          offs,
          offs.map((_, i) => BigInt(i)),
          `partition ${p} offsets`,
        );
      }
      const now = Date.now();
      assert.ok(
        reader.records().every((r) => Math.abs(r.timestamp - now) < 10 * 60_000),
        'timestamps are Unix milliseconds',
      );
      await reader.sub.close();
    });

    test('startOffsets: resumes at the hook offset, also behind the committed offset', async () => {
      const bus = client();
      const topic = uniqueName('resume');
      await bus.ensureTopic(topic, 1);
      await bus.publish(
        topic,
        Array.from({ length: 10 }, (_, i) => rec('one-key', `v${i}`)),
      );
      const group = uniqueName('g');
      const asked: Array<[string, number]> = [];
      const first = await collect(bus, {
        group,
        topics: [topic],
        startOffsets: async (t, p) => {
          asked.push([t, p]);
          return 6n;
        },
      });
      await eventually('offsets 6..9', () => first.records().length >= 4, fx.waitMs);
      await first.sub.close();
      assert.deepEqual(
        first.records().map((r) => r.offset),
        [6n, 7n, 8n, 9n],
      );
      assert.deepEqual(asked[0], [topic, 0]);
      // The group has now committed offset 10; the ledger's own tail says 3: the hook wins.
      const second = await collect(client(), { group, topics: [topic], startOffsets: async () => 3n });
      await eventually('offsets 3..9', () => second.records().length >= 7, fx.waitMs);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        second.records().map((r) => r.offset),
        [3n, 4n, 5n, 6n, 7n, 8n, 9n],
      );
      await second.sub.close();
      // Hook answering undefined: the committed offset (10) applies, nothing is re-read.
      await bus.publish(topic, [rec('one-key', 'v10')]);
      const third = await collect(client(), { group, topics: [topic], startOffsets: async () => undefined });
      await eventually('offset 10', () => third.records().length >= 1, fx.waitMs);
      assert.deepEqual(
        third.records().map((r) => r.offset),
        [10n],
      );
      await third.sub.close();
    });

    test('two members split the partitions; when one leaves, the other gets everything that is left', async () => {
      const topic = uniqueName('group');
      const group = uniqueName('g');
      const setup = client();
      await setup.ensureTopic(topic, 4);
      // Keys chosen so every partition gets records.
      const keys: string[] = [];
      for (let i = 0; keys.length < 4 * 3; i++) {
        const k = `s${i}`;
        if (keys.filter((x) => partitionForKey(x, 4) === partitionForKey(k, 4)).length < 3) keys.push(k);
      }
      const a = await collect(client(), { group, topics: [topic] });
      const b = await collect(client(), { group, topics: [topic] });
      let aCallsAfterClose = 0;
      let aClosed = false;
      a.batches.push = new Proxy(a.batches.push, {
        apply(target, self, args) {
          if (aClosed) aCallsAfterClose++;
          return Reflect.apply(target, self, args);
        },
      });
      const phase1 = keys.flatMap((k) => Array.from({ length: 10 }, (_, i) => rec(k, `${k}:1:${i}`)));
      await setup.publish(topic, phase1);
      const seen = () => new Set([...a.records(), ...b.records()].map((r) => r.value.toString()));
      await eventually('phase 1 consumed', () => seen().size >= phase1.length, fx.waitMs);
      assert.ok(a.records().length > 0 && b.records().length > 0, `both members got records (a=${a.records().length}, b=${b.records().length})`);
      await a.sub.close();
      aClosed = true;
      const phase2 = keys.flatMap((k) => Array.from({ length: 10 }, (_, i) => rec(k, `${k}:2:${i}`)));
      await setup.publish(topic, phase2);
      await eventually('phase 2 consumed', () => seen().size >= phase1.length + phase2.length, fx.waitMs);
      const expected = [...phase1, ...phase2].map((r) => r.value.toString());
      assert.deepEqual([...seen()].sort(), expected.sort(), 'nothing lost across the rebalance');
      assert.ok(
        phase2.every((r) => b.records().some((x) => x.value.equals(r.value))),
        'the remaining member got all of phase 2',
      );
      assert.equal(aCallsAfterClose, 0, 'no handler call after close() resolved');
      // Per key order holds within each member's deliveries.
      for (const k of keys) {
        const got = b
          .records()
          .filter((r) => r.key === k)
          .map((r) => r.offset);
        assert.deepEqual(
          got,
          [...got].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
        );
      }
      await b.sub.close();
    });

    test('a failing handler gets the same batch again; nothing is skipped', async () => {
      const bus = client();
      const topic = uniqueName('retry');
      await bus.ensureTopic(topic, 1);
      await bus.publish(
        topic,
        Array.from({ length: 5 }, (_, i) => rec('k', `v${i}`)),
      );
      let failures = 0;
      const errors: unknown[] = [];
      const c = await collect(bus, {
        group: uniqueName('g'),
        topics: [topic],
        onError: (e) => errors.push(e),
        handler: async () => {
          if (failures < 2) {
            failures++;
            throw new Error('handler down');
          }
        },
      });
      await eventually('delivery after two failures', () => c.records().length >= 5, fx.waitMs);
      assert.equal(failures, 2);
      assert.equal(errors.length, 2);
      assert.deepEqual(
        c.records().map((r) => r.value.toString()),
        ['v0', 'v1', 'v2', 'v3', 'v4'],
      );
      await c.sub.close();
    });

    test('close() waits for the in-flight handler and starts no new one; a closed bus refuses work', async () => {
      const bus = client();
      const topic = uniqueName('close');
      await bus.ensureTopic(topic, 1);
      let inFlight = 0;
      let calls = 0;
      let entered!: () => void;
      const started = new Promise<void>((r) => (entered = r));
      const sub = await bus.subscribe({
        group: uniqueName('g'),
        topics: [topic],
        handler: async () => {
          calls++;
          inFlight++;
          entered();
          await new Promise((r) => setTimeout(r, 400));
          inFlight--;
        },
      });
      await bus.publish(topic, [rec('k', 'a')]);
      await started;
      const t0 = Date.now();
      await sub.close();
      assert.equal(inFlight, 0, 'close resolved only after the handler finished');
      assert.ok(Date.now() - t0 >= 100, 'close waited for the handler');
      const callsAtClose = calls;
      await bus.publish(topic, [rec('k', 'b')]);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(calls, callsAtClose, 'no handler call after close');
      await bus.close();
      await assert.rejects(bus.publish(topic, [rec('k', 'c')]), (e) => isAffidavitError(e, 'AFF_E_SHUTDOWN'));
    });

    test('bad input is refused with typed errors before anything is sent', async () => {
      const bus = client();
      const topic = uniqueName('bad');
      await bus.ensureTopic(topic, 1);
      await assert.rejects(bus.publish(topic, [rec('', 'x')]), (e) => isAffidavitError(e, 'AFF_E_BUS_RECORD_INVALID'));
      await assert.rejects(bus.publish(topic, [{ key: 'k', value: 'not a buffer' as unknown as Buffer }]), (e) =>
        isAffidavitError(e, 'AFF_E_BUS_RECORD_INVALID'),
      );
      await assert.rejects(bus.publish('bad topic!', [rec('k', 'x')]), (e) => isAffidavitError(e, 'AFF_E_BUS_RECORD_INVALID'));
      await assert.rejects(bus.ensureTopic(uniqueName('t'), 0), (e) => isAffidavitError(e, 'AFF_E_BUS_RECORD_INVALID'));
      await assert.rejects(
        bus.publish(uniqueName('missing'), [rec('k', 'x')]),
        (e) => isAffidavitError(e, 'AFF_E_BUS_TOPIC_UNKNOWN') && !(e as { retriable: boolean }).retriable,
      );
      await assert.rejects(bus.subscribe({ group: uniqueName('g'), topics: [uniqueName('missing')], handler: async () => {} }), (e) =>
        isAffidavitError(e, 'AFF_E_BUS_TOPIC_UNKNOWN'),
      );
      // Mixed valid and invalid records: the call is refused whole.
      await assert.rejects(bus.publish(topic, [rec('k', 'good'), rec('', 'bad')]), (e) => isAffidavitError(e, 'AFF_E_BUS_RECORD_INVALID'));
      const reader = await collect(bus, { group: uniqueName('g'), topics: [topic] });
      await bus.publish(topic, [rec('k', 'marker')]);
      await eventually('marker', () => reader.records().length >= 1, fx.waitMs);
      assert.deepEqual(
        reader.records().map((r) => r.value.toString()),
        ['marker'],
      );
      await reader.sub.close();
    });

    test('a dead broker gives a retriable AFF_E_BUS_UNAVAILABLE within the bound, never a hang', async () => {
      const { bus, boundMs, dispose } = await fx.deadBus();
      try {
        const t0 = Date.now();
        const err = await bus.publish('any-topic', [rec('k', 'x')]).then(
          () => assert.fail('publish to a dead broker resolved'),
          (e: unknown) => e,
        );
        const took = Date.now() - t0;
        assert.ok(isAffidavitError(err, 'AFF_E_BUS_UNAVAILABLE'), `got ${String(err)}`);
        assert.equal((err as { retriable: boolean }).retriable, true);
        assert.ok(took <= boundMs + 1000, `failed after ${took} ms, bound ${boundMs} ms`);
      } finally {
        await dispose();
      }
    });
  });
}
