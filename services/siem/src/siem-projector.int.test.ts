// The projector against a real Kafka broker that is restarted (JVM stopped, same data and
// port, started again) while the projector publishes: afterwards the topic holds every ledger
// entry exactly once. A broker of its own, so the restart disturbs no other test.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafkaBus, type BusRecord } from '@affidavit/bus';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { JAVA, kafkaClasspath, kafkaJavaArgs, kafkaReady, launchKafka, uniqueTopic } from '../../../test/services/kafka.ts';
import { startProcess, stopProcess, waitFor, type ServiceProcess } from '../../../test/services/process.ts';
import { openPositionFile } from './adapters/position-file.ts';
import { writeFixtureLedger } from './ledger.fixture.ts';
import { loadOcsfSchema } from './ocsf-schema-file.ts';
import { ocsfValidator } from './ocsf/validate-ocsf.ts';
import { SiemProjector } from './siem-projector.ts';

const broker = await launchKafka();
let restarted: ServiceProcess | undefined;
after(async () => {
  if (restarted) await stopProcess(restarted, 15_000);
  await broker.stop();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** restartBroker stops the broker's JVM (clean shutdown, data kept) and starts it again on the same port and data. */
async function restartBroker(downMs: number): Promise<void> {
  const pid = restarted?.child.pid ?? broker.pid;
  process.kill(pid, 'SIGTERM');
  await waitFor('the broker JVM to exit', async () => !alive(pid), { timeoutMs: 60_000, intervalMs: 100 });
  await new Promise((r) => setTimeout(r, downMs));
  const cp = await kafkaClasspath();
  restarted = startProcess(JAVA, [...kafkaJavaArgs(cp, '512m'), 'kafka.Kafka', join(broker.dir, 'server.properties')], { cwd: broker.dir });
  await waitFor('the restarted broker', () => kafkaReady(broker.bootstrap).catch(() => false), { timeoutMs: 120_000, intervalMs: 500, process: restarted });
}

test('a broker restart mid-projection loses nothing and duplicates nothing', { timeout: 10 * 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aff-siem-int-'));
  const fixture = await writeFixtureLedger(dir, { sessions: 30, rounds: 8, partitions: 3, checkpointEvery: 100 });
  const topic = uniqueTopic('siem-restart');
  // A publish deadline longer than the outage: the idempotent producer keeps its id and its
  // retries are deduplicated by the broker (the CLI runs with the same setting).
  const bus = createKafkaBus({ brokers: [broker.bootstrap], clientId: 'siem-int', publishTimeoutMs: 120_000, requestTimeoutMs: 30_000 });
  await bus.ensureTopic(topic, 3);
  const store = await openSqliteLedgerStore({ path: fixture.path, readOnly: true });
  const positionFile = join(dir, 'siem-position.json');
  let positions = await openPositionFile(positionFile, topic);
  // Small batches and a slowed bus, so the restart lands while batches are in flight.
  const slow = { ...bus, publish: async (...a: Parameters<typeof bus.publish>) => (await new Promise((r) => setTimeout(r, 50)), bus.publish(...a)) };
  let projector = new SiemProjector({ topic, batchEntries: 40, recordsPerPublish: 20, retryMs: 200, pollMs: 50 }, { bus: slow, store, positions });
  const run = projector.start();
  await waitFor('a first share projected', async () => projector.stats().projected >= 300, { timeoutMs: 120_000, intervalMs: 20 });
  await restartBroker(2_000);
  const atRestart = projector.stats().projected;
  assert.ok(atRestart < fixture.entries, `the restart landed mid-projection (${atRestart} of ${fixture.entries})`);

  // Then a projector restart too, from the position file alone.
  await waitFor('more projected after the restart', async () => projector.stats().projected > atRestart + 200, { timeoutMs: 240_000, intervalMs: 50 });
  await projector.stop();
  await run.done;
  await positions.close();
  positions = await openPositionFile(positionFile, topic);
  projector = new SiemProjector({ topic, batchEntries: 500 }, { bus, store, positions });
  await projector.runOnce();
  await positions.close();
  await store.close();

  // Read the topic back with a fresh consumer group.
  const got: BusRecord[] = [];
  const sub = await bus.subscribe({ group: uniqueTopic('siem-reader'), topics: [topic], handler: async (b) => void got.push(...b.records) });
  await waitFor('every record read back', async () => got.length >= fixture.entries, { timeoutMs: 120_000, intervalMs: 100 });
  await new Promise((r) => setTimeout(r, 2_000));
  await sub.close();
  await bus.close();

  const validator = ocsfValidator(loadOcsfSchema());
  const uids = got.map((r) => {
    const ev = JSON.parse(r.value.toString('utf8'));
    assert.deepEqual(validator.validate(ev), []);
    return ev.metadata.uid as string;
  });
  assert.equal(new Set(uids).size, uids.length, `no duplicates (${uids.length - new Set(uids).size} repeated)`);
  assert.equal(uids.length, fixture.entries, 'every ledger entry is on the topic');
  for (const id of fixture.eventIds) assert.ok(uids.includes(id));
});
