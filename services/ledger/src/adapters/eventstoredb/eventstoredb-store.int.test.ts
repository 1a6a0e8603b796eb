// The shared contract against a real EventStoreDB. EventStoreDB cannot run on the build machines
// (no package in the reachable registries, no Docker engine), so this run is gated on
// EVENTSTORE_CONNECTION, e.g. `esdb://127.0.0.1:2113?tls=false` (docker compose up eventstore).
import { ledgerStoreContract } from '../ledger-store.contract.ts';
import { openEventStoreLedgerStore, uniqueStreamPrefix } from './eventstoredb-store.ts';

const connectionString = process.env.EVENTSTORE_CONNECTION;

ledgerStoreContract(
  'eventstoredb',
  async () => {
    // One prefix per run: every log id in the contract is unique too, so reruns never collide.
    const streamPrefix = uniqueStreamPrefix();
    return {
      // Each open() is a separate client (a simulated separate process); closing the store disposes it.
      open: () => openEventStoreLedgerStore({ connectionString: connectionString!, streamPrefix }),
    };
  },
  { skip: connectionString ? undefined : 'set EVENTSTORE_CONNECTION (e.g. esdb://127.0.0.1:2113?tls=false) to run against a real EventStoreDB' },
);
