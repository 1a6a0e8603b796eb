// The embedded mode's recording path, shared by `affidavit start` and bench/postgres.ts so the
// benchmark measures what the product runs: an in-process bus, the ledger appending to its
// SQLite file from a worker thread, and a sink that acknowledges an event only once the ledger
// holds it durably.
import { busEventSink } from '@affidavit/access';
import type { EventSink } from '@affidavit/access';
import { createMemoryBus } from '@affidavit/bus';
import type { Bus } from '@affidavit/bus';
import { systemClock } from '@affidavit/common';
import type { Logger } from '@affidavit/common';
import { Ledger, loadOrCreateSigningKey, openWorkerSqliteLedgerStore } from '@affidavit/ledger';
import type { LedgerStore } from '@affidavit/ledger';
import { decodeEvent, TOPICS } from '@affidavit/schemas';

/**
 * SESSION_EVENT_PARTITIONS is 1 in the embedded mode: one partition is one log and one writer,
 * and every writer commits to the same SQLite file through the same worker thread, so more
 * partitions only split the group commit. With 8 sessions waiting on their events (sync
 * recording), three partitions made ~2.7 entries per commit instead of ~8, at the same cost
 * per commit (bench/postgres.ts; the cost of a commit barely depends on its entry count).
 */
export const SESSION_EVENT_PARTITIONS = 1;

export type EmbeddedRecordingOptions = {
  ledgerFile: string;
  signingKeyFile: string;
  verifierKeyFile: string;
  origin: string;
  checkpointEveryEntries: number;
  checkpointEveryMs: number;
  logger?: Logger;
};

/** EmbeddedRecording is the started path; `stops` are its parts in start order (stop them in reverse). */
export type EmbeddedRecording = {
  readonly bus: Bus;
  readonly ledger: Ledger;
  readonly store: LedgerStore;
  /** sink acknowledges a publish once the ledger holds every event durably (see ledgerDurableSink). */
  readonly sink: EventSink;
  readonly stops: Array<[string, () => Promise<unknown>]>;
};

/** startEmbeddedRecording starts the bus, the ledger store and the ledger; on failure it stops what it started. */
export async function startEmbeddedRecording(o: EmbeddedRecordingOptions): Promise<EmbeddedRecording> {
  const stops: Array<[string, () => Promise<unknown>]> = [];
  try {
    // Bounded by the broker's default retention: records go once every group (ledger, approvals)
    // committed them; a partition whose consumers fall 64 MiB behind refuses publishes (the
    // recorder then fails closed) rather than dropping audit records.
    const bus = createMemoryBus({}, o.logger ? { logger: o.logger.child({ component: 'bus' }) } : {});
    await bus.ensureTopic(TOPICS.sessionEvents, SESSION_EVENT_PARTITIONS);
    await bus.ensureTopic(TOPICS.sessionEventsDlq, 1);
    await bus.ensureTopic(TOPICS.checkpoints, 1);
    stops.push(['bus', () => bus.close()]);
    const store = await openWorkerSqliteLedgerStore({ path: o.ledgerFile });
    stops.push(['ledger store', () => store.close()]);
    const signer = loadOrCreateSigningKey(o.signingKeyFile, o.verifierKeyFile, o.origin);
    const ledger = new Ledger(
      { origin: o.origin, checkpointEveryEntries: o.checkpointEveryEntries, checkpointEveryMs: o.checkpointEveryMs, ephemeralBus: true },
      { bus, store, signer, clock: systemClock, ...(o.logger ? { logger: o.logger.child({ component: 'ledger' }) } : {}) },
    );
    await ledger.start();
    stops.push(['ledger', () => ledger.stop()]);
    return { bus, ledger, store, sink: ledgerDurableSink(ledger, bus), stops };
  } catch (e) {
    for (const [, stop] of stops.reverse()) await stop().catch(() => {});
    throw e;
  }
}

/**
 * ledgerDurableSink publishes to the in-process bus and resolves once the ledger holds every
 * event in its SQLite file. The in-process bus is memory: acknowledging on its word would let
 * sync recording (fail-closed) lose an acknowledged event in a crash of this process.
 */
export function ledgerDurableSink(ledger: Ledger, bus: Bus): EventSink {
  const toBus = busEventSink(bus);
  return {
    async publish(events) {
      // The id the event carries when a caller left the (optional) header out: waiting for ''
      // would hold the caller until the timeout for an event that was stored all along.
      const done = ledger.appended(events.map((e) => e.headers?.eventId ?? decodeEvent(e.value).eventId));
      done.catch(() => {});
      await toBus.publish(events);
      await done;
    },
  };
}
