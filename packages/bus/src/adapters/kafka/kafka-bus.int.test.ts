// The bus contract against a real Apache Kafka (KRaft, 127.0.0.1) from test/services/kafka.ts,
// plus what only a real broker can show: a broker that dies under a connected producer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAffidavitError } from '@affidavit/common';
import { ensureKafka, launchKafka } from '../../../../../test/services/kafka.ts';
import { freePort } from '../../../../../test/services/free-port.ts';
import { busContract, uniqueName } from '../../contract/bus-contract.ts';
import { createKafkaBus } from './kafka-bus.ts';

// Short group timings so rebalances in tests take about a second, not the production 30 s.
const fast = { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 10_000 };

busContract('kafka', async () => {
  const { bootstrap } = await ensureKafka();
  return {
    newBus: () => createKafkaBus({ brokers: [bootstrap], ...fast }),
    deadBus: async () => {
      // A port nobody listens on: connection refused on every try.
      const bus = createKafkaBus({ brokers: [`127.0.0.1:${await freePort()}`], publishTimeoutMs: 3_000, requestTimeoutMs: 1_000, connectionTimeoutMs: 500 });
      return { bus, boundMs: 3_000, dispose: () => bus.close() };
    },
    waitMs: 45_000,
  };
});

test('kafka: a broker killed under a connected producer gives AFF_E_BUS_UNAVAILABLE within publishTimeoutMs', async () => {
  const broker = await launchKafka();
  const bus = createKafkaBus({ brokers: [broker.bootstrap], publishTimeoutMs: 4_000, requestTimeoutMs: 2_000, connectionTimeoutMs: 500 });
  try {
    const topic = uniqueName('dies');
    await bus.ensureTopic(topic, 1);
    await bus.publish(topic, [{ key: 'k', value: Buffer.from('before') }]);
    await broker.stop();
    const t0 = Date.now();
    const err = await bus.publish(topic, [{ key: 'k', value: Buffer.from('after') }]).then(
      () => assert.fail('publish resolved with the broker gone'),
      (e: unknown) => e,
    );
    const took = Date.now() - t0;
    assert.ok(isAffidavitError(err, 'AFF_E_BUS_UNAVAILABLE'), `got ${String(err)}`);
    assert.equal((err as { retriable: boolean }).retriable, true);
    assert.ok(took <= 5_000, `took ${took} ms`);
  } finally {
    await bus.close();
    await broker.stop();
  }
});

test('kafka: options are validated and frozen', () => {
  assert.throws(
    () => createKafkaBus({ brokers: [] }),
    (e) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID'),
  );
  assert.throws(
    () => createKafkaBus({ brokers: ['x:1'], requestTimeoutMs: 5_000, publishTimeoutMs: 1_000 }),
    (e) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID') && /requestTimeoutMs/.test(e.message),
  );
  assert.throws(
    () => createKafkaBus({ brokers: ['x:1'], bogus: 1 } as never),
    (e) => isAffidavitError(e, 'AFF_E_CONFIG_INVALID') && /bogus/.test(e.message),
  );
});

test('kafka: concurrent publish() calls ride shared requests: each resolves, nothing lost or doubled, per-key order kept', async () => {
  const { bootstrap } = await ensureKafka();
  const bus = createKafkaBus({ brokers: [bootstrap], ...fast });
  const reader = createKafkaBus({ brokers: [bootstrap], ...fast });
  try {
    const a = uniqueName('coalesce-a');
    const b = uniqueName('coalesce-b');
    await bus.ensureTopic(a, 3);
    await bus.ensureTopic(b, 1);
    // 400 one-record calls over 8 keys and two topics, plus two calls larger than one shared request.
    const calls = Array.from({ length: 400 }, (_, i) => ({ topic: i % 5 === 0 ? b : a, records: [{ key: `k${i % 8}`, value: Buffer.from(`v${i}`) }] }));
    calls.splice(100, 0, { topic: a, records: Array.from({ length: 600 }, (_, j) => ({ key: 'big', value: Buffer.from(`big${j}`) })) });
    calls.splice(300, 0, { topic: b, records: Array.from({ length: 700 }, (_, j) => ({ key: 'k1', value: Buffer.from(`large${j}`) })) });
    await Promise.all(calls.map((c) => bus.publish(c.topic, c.records)));
    const got = new Map<string, string[]>();
    const sub = await reader.subscribe({
      group: uniqueName('g'),
      topics: [a, b],
      handler: async (batch) => {
        for (const r of batch.records) {
          const k = `${batch.topic}/${r.key}`;
          got.set(k, [...(got.get(k) ?? []), r.value.toString()]);
        }
      },
    });
    const total = calls.reduce((s, c) => s + c.records.length, 0);
    const end = Date.now() + 45_000;
    while ([...got.values()].reduce((s, v) => s + v.length, 0) < total && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    await sub.close();
    const expected = new Map<string, string[]>();
    for (const c of calls) for (const r of c.records) expected.set(`${c.topic}/${r.key}`, [...(expected.get(`${c.topic}/${r.key}`) ?? []), r.value.toString()]);
    assert.deepEqual(new Map([...got].sort()), new Map([...expected].sort()), 'every record once, in call order per key');
  } finally {
    await reader.close();
    await bus.close();
  }
});
