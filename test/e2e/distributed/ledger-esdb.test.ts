// `affidavit ledger run --store esdb://…` against a real EventStoreDB. No package registry
// reachable from the build machines serves an EventStoreDB server (and no Docker engine runs
// there), so this runs only where EVENTSTORE_CONNECTION names one, e.g. after
// `docker compose up -d eventstore`: EVENTSTORE_CONNECTION=esdb://127.0.0.1:2113?tls=false.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafkaBus } from '@affidavit/bus';
import { uuidv7 } from '@affidavit/common';
import { openEventStoreLedgerStore } from '@affidavit/ledger/eventstoredb';
import { encodeEvent, exampleEvent } from '@affidavit/schemas';
import { ensureKafka, uniqueTopic } from '../../services/kafka.ts';
import { quiet, spawnAffidavit, stopChild, until } from './harness.ts';

const connection = process.env.EVENTSTORE_CONNECTION;

test('ledger run --store esdb://: events from Kafka land once in EventStoreDB streams, one per partition', {
  skip: connection ? undefined : 'set EVENTSTORE_CONNECTION (e.g. esdb://127.0.0.1:2113?tls=false) to run against a real EventStoreDB',
  timeout: 300_000,
}, async () => {
  const { bootstrap } = await ensureKafka();
  const topic = uniqueTopic('esdb-ledger');
  const bus = createKafkaBus({ brokers: [bootstrap], clientId: 'esdb-e2e' }, { logger: quiet });
  await bus.ensureTopic(topic, 2);
  const ids: string[] = [];
  const records = [...Array(200).keys()].map((i) => {
    const eventId = uuidv7();
    ids.push(eventId);
    const sessionId = `s-${i % 10}`;
    return { key: sessionId, value: encodeEvent(exampleEvent('CommandIssued', { eventId, sessionId, seq: Math.floor(i / 10), text: `select ${i}` })) };
  });
  await bus.publish(topic, records);
  await bus.publish(topic, records.slice(0, 20)); // a producer retry: dropped by eventId
  await bus.close();
  const dir = mkdtempSync(join(tmpdir(), 'aff-esdb-'));
  const ledger = await spawnAffidavit(
    ['ledger', 'run', '--brokers', bootstrap, '--store', connection!, '--signing-key', join(dir, 'ledger.key'), '--origin', 'esdb.test', '--topic', topic],
    /ledger running/,
  );
  const store = await openEventStoreLedgerStore({ connectionString: connection! });
  try {
    const stored = async () => {
      const out: string[] = [];
      for (const id of await store.listLogs()) {
        if (!id.startsWith(`${topic}:`)) continue;
        for await (const e of (await store.openLog(id)).readEntries(0, Number.MAX_SAFE_INTEGER)) out.push(e.eventId);
      }
      return out;
    };
    await until('every event in EventStoreDB', async () => (await stored()).length >= ids.length, 120_000);
    assert.equal(await stopChild(ledger), 0);
    const all = await stored();
    assert.equal(all.length, ids.length, 'each event once');
    assert.deepEqual(new Set(all), new Set(ids));
  } finally {
    await stopChild(ledger);
    await store.close();
  }
});
