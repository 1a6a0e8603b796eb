import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '@affidavit/common';
import { createMemoryBroker } from './memory-broker.ts';
import { createMemoryBus } from './memory-bus.ts';

const turn = () => new Promise<void>((r) => setImmediate(r));

// A fail-closed proxy publishes once per command, each from its own I/O callback. Waking the
// consumer per publish cost a delivery, a handler call and a commit for every ~2 events (the
// embedded ledger: one SQLite transaction each).
test('publishes made in one turn of the event loop reach a consumer as one batch, in order', async () => {
  const broker = createMemoryBroker({ clock: systemClock });
  const bus = createMemoryBus({ maxBatchRecords: 1000 }, { broker });
  await bus.ensureTopic('t', 1);
  const batches: string[][] = [];
  const sub = await bus.subscribe({ group: 'g', topics: ['t'], handler: async (b) => void batches.push(b.records.map((r) => r.value.toString())) });
  await turn();
  // Ten publishes from ten callbacks of one turn, each awaited as a sync recorder does.
  await new Promise<void>((done) => {
    let left = 10;
    for (let i = 0; i < 10; i++) {
      setImmediate(async () => {
        await bus.publish('t', [{ key: 'k', value: Buffer.from(`v${i}`) }]);
        if (--left === 0) done();
      });
    }
  });
  for (let i = 0; i < 50 && batches.flat().length < 10; i++) await turn();
  assert.deepEqual(
    batches.flat(),
    Array.from({ length: 10 }, (_, i) => `v${i}`),
  );
  assert.ok(batches.length <= 2, `expected the ten publishes in at most two deliveries, got ${batches.length}: ${JSON.stringify(batches)}`);

  // A publish after the consumer went idle still wakes it.
  await bus.publish('t', [{ key: 'k', value: Buffer.from('late') }]);
  for (let i = 0; i < 50 && batches.flat().length < 11; i++) await turn();
  assert.equal(batches.flat().at(-1), 'late');
  await sub.close();
  await bus.close();
});
