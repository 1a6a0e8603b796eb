import { systemClock } from '@affidavit/common';
import { busContract } from '../../contract/bus-contract.ts';
import { createMemoryBroker } from './memory-broker.ts';
import { createMemoryBus } from './memory-bus.ts';

busContract('in-process', async () => {
  const broker = createMemoryBroker({ clock: systemClock });
  return {
    newBus: () => createMemoryBus({ retryBackoffMs: 20, maxBatchRecords: 7 }, { broker }),
    deadBus: async () => {
      const down = createMemoryBroker({ clock: systemClock });
      down.setAvailable(false);
      const bus = createMemoryBus({}, { broker: down });
      return { bus, boundMs: 50, dispose: () => bus.close() };
    },
    waitMs: 5_000,
  };
});
