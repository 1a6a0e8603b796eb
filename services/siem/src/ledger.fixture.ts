// Test fixture: a real ledger (SQLite file, signed checkpoints) written through the ledger
// service from the in-process bus, holding every event type over several sessions and one
// record that is not an event (the ledger stores it as InputRejected).
import { join } from 'node:path';
import { createMemoryBus, partitionForKey } from '@affidavit/bus';
import { uuidv7 } from '@affidavit/common';
import { Ledger, loadOrCreateSigningKey, openSqliteLedgerStore } from '@affidavit/ledger';
import { encodeEvent, exampleEvent, SESSION_EVENT_TYPES, TOPICS } from '@affidavit/schemas';

/** FixtureLedger describes what was written. */
export type FixtureLedger = { path: string; entries: number; eventIds: string[]; sessions: string[]; partitions: number };

/**
 * writeFixtureLedger writes `sessions` sessions, each running through every session event type
 * `rounds` times, plus one garbage record, to `dir/ledger.sqlite` over `partitions` partitions,
 * with a checkpoint every `checkpointEvery` entries and a final one at stop.
 */
export async function writeFixtureLedger(
  dir: string,
  o: { sessions?: number; rounds?: number; partitions?: number; checkpointEvery?: number } = {},
): Promise<FixtureLedger> {
  const sessions = o.sessions ?? 4;
  const rounds = o.rounds ?? 1;
  const partitions = o.partitions ?? 2;
  const path = join(dir, 'ledger.sqlite');
  // Where a data folder keeps them (what `affidavit siem run --data` and `verify` read by default).
  const signer = loadOrCreateSigningKey(join(dir, 'keys', 'ledger.key'), join(dir, 'keys', 'ledger.pub'), 'siem.test');
  const bus = createMemoryBus({ maxBatchRecords: 100 });
  await bus.ensureTopic(TOPICS.sessionEvents, partitions);
  for (const t of [TOPICS.sessionEventsDlq, TOPICS.checkpoints]) await bus.ensureTopic(t, 1);
  const store = await openSqliteLedgerStore({ path });
  const ledger = new Ledger(
    { origin: 'siem.test', checkpointEveryEntries: o.checkpointEvery ?? 7, checkpointEveryMs: 60_000 },
    { bus, store, signer, clock: { now: () => Date.now() } },
  );
  await ledger.start();
  const eventIds: string[] = [];
  // Random session ids could all land in one partition; draw until every partition (log) has one.
  let sessionIds: string[];
  do sessionIds = Array.from({ length: sessions }, () => uuidv7());
  while (sessions >= partitions && new Set(sessionIds.map((id) => partitionForKey(id, partitions))).size < partitions);
  const records = [];
  for (const sessionId of sessionIds) {
    let seq = 0;
    for (let r = 0; r < rounds; r++) {
      for (const type of SESSION_EVENT_TYPES) {
        const eventId = uuidv7();
        eventIds.push(eventId);
        records.push({ key: sessionId, value: encodeEvent(exampleEvent(type, { eventId, sessionId, seq: seq++ } as never)) });
      }
    }
  }
  records.push({ key: sessionIds[0], value: Buffer.from('not an avro event') });
  await bus.publish(TOPICS.sessionEvents, records);
  const end = Date.now() + 60_000;
  while (ledger.stats().appended < records.length && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await ledger.stop();
  await bus.close();
  await store.close();
  return { path, entries: records.length, eventIds, sessions: sessionIds, partitions };
}
