import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '@affidavit/common';
import { createMemoryBroker } from './memory-broker.ts';
import { createMemoryBus } from './memory-bus.ts';

test('publishNow stores the records before it returns, and throws (storing nothing) what publish would reject with', async () => {
  const broker = createMemoryBroker({ clock: systemClock });
  const bus = createMemoryBus({}, { broker });
  await bus.ensureTopic('t', 2);
  const total = () => broker.end('t', 0) + broker.end('t', 1);
  bus.publishNow!('t', [
    { key: 'a', value: Buffer.from('1') },
    { key: 'b', value: Buffer.from('2') },
  ]);
  assert.equal(total(), 2, 'stored within the call');

  broker.setAvailable(false);
  assert.throws(() => bus.publishNow!('t', [{ key: 'a', value: Buffer.from('3') }]), { code: 'AFF_E_BUS_UNAVAILABLE' });
  broker.setAvailable(true);
  assert.throws(() => bus.publishNow!('missing', [{ key: 'a', value: Buffer.from('4') }]), { code: 'AFF_E_BUS_TOPIC_UNKNOWN' });
  assert.equal(total(), 2, 'a refused publishNow stored nothing');
  await bus.close();
  assert.throws(() => bus.publishNow!('t', [{ key: 'a', value: Buffer.from('5') }]), { code: 'AFF_E_SHUTDOWN' });
});
