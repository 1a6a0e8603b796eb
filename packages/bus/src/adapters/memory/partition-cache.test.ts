import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { systemClock } from '@affidavit/common';
import { partitionForKey } from '../../partition.ts';
import { createMemoryBroker } from './memory-broker.ts';
import { createMemoryBus, PARTITION_CACHE_KEYS, PartitionCache } from './memory-bus.ts';

test('PartitionCache answers exactly what partitionForKey answers, whatever the partition count', () => {
  const cache = new PartitionCache();
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 64 })), { minLength: 1, maxLength: 50 }), (calls) => {
      for (const [key, n] of calls) assert.equal(cache.of(key, n), partitionForKey(key, n));
    }),
  );
});

test('PartitionCache stays correct when it starts over past its bound', () => {
  const cache = new PartitionCache();
  for (let i = 0; i < PARTITION_CACHE_KEYS + 10; i++) cache.of(`k${i}`, 7);
  for (const i of [0, 1, PARTITION_CACHE_KEYS + 9]) assert.equal(cache.of(`k${i}`, 7), partitionForKey(`k${i}`, 7));
});

test('the memory bus stores its own copies: changing the published buffers afterwards changes nothing', async () => {
  const broker = createMemoryBroker({ clock: systemClock });
  const bus = createMemoryBus({}, { broker });
  await bus.ensureTopic('copies', 2);
  const values = [Buffer.from('first value'), Buffer.from('second')];
  const header = Buffer.from('h-bytes');
  await bus.publish('copies', [
    { key: 'a', value: values[0], headers: { type: 'T1', raw: header } },
    { key: 'a', value: values[1], headers: { type: 'T2ü' } },
  ]);
  values[0].fill(0);
  values[1].fill(0);
  header.fill(0);
  const p = partitionForKey('a', 2);
  const stored = broker.read('copies', p, 0n, 10);
  assert.deepEqual(
    stored.map((r) => r.value.toString()),
    ['first value', 'second'],
  );
  assert.deepEqual(
    stored.map((r) => Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.toString()]))),
    [{ type: 'T1', raw: 'h-bytes' }, { type: 'T2ü' }],
  );
  assert.deepEqual(
    stored.map((r) => r.offset),
    [0n, 1n],
  );
  await bus.close();
});

test('publish with transfer keeps the given value buffers (the caller promised never to write them); headers still copied', async () => {
  const broker = createMemoryBroker({ clock: systemClock });
  const bus = createMemoryBus({}, { broker });
  await bus.ensureTopic('handed-over', 1);
  const value = Buffer.from('encoded event');
  const header = Buffer.from('raw');
  await bus.publish('handed-over', [{ key: 'a', value, headers: { type: 'T', raw: header } }], { transfer: true });
  header.fill(0);
  const [stored] = broker.read('handed-over', 0, 0n, 1);
  assert.equal(stored.value, value, 'the very buffer, no copy');
  assert.equal(stored.headers.raw.toString(), 'raw', 'a Buffer header is copied even so');
  await bus.close();
});
