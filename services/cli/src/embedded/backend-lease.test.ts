import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackendLease, LeaseBusyError } from './backend-lease.ts';

const tick = () => new Promise((r) => setImmediate(r));

test('given a held backend, when a second session asks, then it waits until the first released and the reset ran', async () => {
  const log: string[] = [];
  const lease = new BackendLease(async () => {
    log.push('reset');
  });
  const a = await lease.acquire(1000);
  let bIn = false;
  const b = lease.acquire(1000).then((r) => {
    bIn = true;
    log.push('b in');
    return r;
  });
  await tick();
  assert.equal(bIn, false, 'b must not get the backend while a holds it');
  assert.equal(lease.waiting, 1);
  await a();
  const rb = await b;
  assert.deepEqual(log, ['reset', 'b in']);
  await rb();
  assert.equal(lease.held, false);
  assert.deepEqual(log, ['reset', 'b in', 'reset']);
});

test('given a held backend, when the wait runs out, then the waiter gets LeaseBusyError and leaves the queue', async () => {
  const lease = new BackendLease(async () => undefined);
  const a = await lease.acquire(10);
  await assert.rejects(lease.acquire(20), LeaseBusyError);
  assert.equal(lease.waiting, 0);
  await a();
  assert.equal(lease.held, false);
});

test('waiters are served first come first served; a release called twice resets once', async () => {
  let resets = 0;
  const lease = new BackendLease(async () => {
    resets++;
  });
  const order: string[] = [];
  const a = await lease.acquire(1000);
  const b = lease.acquire(1000).then((r) => (order.push('b'), r));
  const c = lease.acquire(1000).then((r) => (order.push('c'), r));
  await Promise.all([a(), a()]);
  assert.equal(resets, 1);
  await (await b)();
  await (await c)();
  assert.deepEqual(order, ['b', 'c']);
  assert.equal(resets, 3);
});

test('given a reset that fails, then nobody gets the backend again', async () => {
  const lease = new BackendLease(async () => {
    throw new Error('DISCARD ALL failed');
  });
  const a = await lease.acquire(1000);
  const b = lease.acquire(1000);
  await assert.rejects(a(), /could not be reset/);
  await assert.rejects(b, /could not be reset/);
  await assert.rejects(lease.acquire(1000), /could not be reset/);
  assert.ok(lease.poisoned);
});
