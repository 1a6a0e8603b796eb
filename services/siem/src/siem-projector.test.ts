// The projector over a real SQLite ledger and the in-process bus (a fake broker where failures
// are injected): every entry exactly once, in ledger order per session, resumed from its own
// position after a restart, held (not skipped) while the bus refuses, and refused when its
// position does not fit the ledger.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BusUnavailableError, BusRejectedError, createMemoryBus, type Bus, type BusRecord } from '@affidavit/bus';
import { uuidv7 } from '@affidavit/common';
import { Ledger, loadOrCreateSigningKey, openSqliteLedgerStore, readVerifierKey, StoreUnavailableError } from '@affidavit/ledger';
import { ed25519NoteVerifier, generateEd25519NoteKey, type NoteVerifier } from '@affidavit/tlog';
import { randomBytes } from 'node:crypto';
import { encodeEvent, exampleEvent, TOPICS } from '@affidavit/schemas';
import { loadOcsfSchema } from './ocsf-schema-file.ts';
import { ocsfValidator } from './ocsf/validate-ocsf.ts';
import { openPositionFile } from './adapters/position-file.ts';
import { writeFixtureLedger } from './ledger.fixture.ts';
import { chunk, reduce, SiemProjector } from './siem-projector.ts';

const TOPIC = 'siem-test';
const validator = ocsfValidator(loadOcsfSchema());
const fixtureDir = mkdtempSync(join(tmpdir(), 'aff-siem-'));
const fixture = await writeFixtureLedger(fixtureDir, { sessions: 5, rounds: 2 });

async function readAll(bus: Bus, topic: string, expected: number): Promise<BusRecord[]> {
  const got: BusRecord[] = [];
  const sub = await bus.subscribe({ group: `reader-${Math.random()}`, topics: [topic], handler: async (b) => void got.push(...b.records) });
  const end = Date.now() + 10_000;
  while (got.length < expected && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  // A little longer: anything beyond `expected` would be a duplicate.
  await new Promise((r) => setTimeout(r, 100));
  await sub.close();
  return got;
}

async function projector(bus: Bus, positionFile: string, over: Partial<ConstructorParameters<typeof SiemProjector>[0]> = {}) {
  const store = await openSqliteLedgerStore({ path: fixture.path, readOnly: true });
  const positions = await openPositionFile(positionFile, TOPIC);
  const p = new SiemProjector({ topic: TOPIC, batchEntries: 16, recordsPerPublish: 5, retryMs: 10, ...over }, { bus, store, positions });
  return {
    p,
    close: async () => {
      await p.stop();
      await positions.close();
      await store.close();
    },
  };
}

function check(records: BusRecord[]) {
  const objects = records.map((r) => ({ key: r.key, ev: JSON.parse(r.value.toString('utf8')) }));
  const uids = objects.map((o) => o.ev.metadata.uid);
  assert.equal(new Set(uids).size, uids.length, 'no duplicates');
  assert.equal(objects.length, fixture.entries, 'one object per ledger entry');
  for (const id of fixture.eventIds) assert.ok(uids.includes(id), `event ${id} projected`);
  for (const o of objects) assert.deepEqual(validator.validate(o.ev), [], JSON.stringify(o.ev).slice(0, 300));
  // Per session, objects arrive in ledger order.
  const bySession = new Map<string, number[]>();
  for (const o of objects) {
    if (o.ev.class_uid === 0) continue;
    assert.equal(o.key, o.ev.unmapped.affidavit.session_id, 'keyed by session');
    bySession.set(o.key, [...(bySession.get(o.key) ?? []), o.ev.unmapped.affidavit.seq]);
  }
  for (const [s, seqs] of bySession)
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      `session ${s} in order`,
    );
  const base = objects.filter((o) => o.ev.class_uid === 0);
  assert.equal(base.length, 1, 'the garbage record went out as a Base Event');
  assert.equal(base[0].ev.activity_name, 'InputRejected');
  // Every object names a checkpoint that covers its position.
  for (const o of objects) {
    const { ledger, checkpoint } = o.ev.unmapped.affidavit;
    assert.ok(checkpoint.size > ledger.index, 'the checkpoint covers the entry');
  }
  return objects;
}

test('projects every ledger entry exactly once, per session in order, each valid OCSF', async () => {
  const bus = createMemoryBus();
  await bus.ensureTopic(TOPIC, 3);
  const dir = mkdtempSync(join(tmpdir(), 'aff-siem-pos-'));
  const { p, close } = await projector(bus, join(dir, 'pos.json'));
  assert.equal(await p.runOnce(), fixture.entries);
  assert.equal(await p.runOnce(), 0, 'nothing left: a second pass publishes nothing');
  await close();
  check(await readAll(bus, TOPIC, fixture.entries));
  const stored = JSON.parse(readFileSync(join(dir, 'pos.json'), 'utf8'));
  assert.equal(
    Object.values(stored.logs as Record<string, number>).reduce((a, b) => a + b, 0),
    fixture.entries,
  );
  await bus.close();
});

test('a restarted projector resumes from its own position: nothing twice, nothing missing', async () => {
  const bus = createMemoryBus();
  await bus.ensureTopic(TOPIC, 3);
  const file = join(mkdtempSync(join(tmpdir(), 'aff-siem-pos-')), 'pos.json');
  // First run: stop after the first batches by making the bus fail non-retriably midway.
  let calls = 0;
  const flaky: Bus = {
    ...bus,
    publish: async (t, r, o) => {
      if (++calls > 6) throw new BusRejectedError('stop here');
      return bus.publish(t, r, o);
    },
  };
  const first = await projector(flaky, file);
  await assert.rejects(first.p.runOnce(), { code: 'AFF_E_SIEM_PUBLISH_REJECTED' });
  const committed = first.p.stats().projected;
  await first.close();
  assert.ok(committed > 0 && committed < fixture.entries, `stopped midway (${committed})`);
  // The acknowledged calls of the failed batch were committed too: the topic holds exactly them.
  assert.equal((await readAll(bus, TOPIC, committed)).length, committed);
  const second = await projector(bus, file);
  assert.equal(await second.p.runOnce(), fixture.entries - committed);
  await second.close();
  check(await readAll(bus, TOPIC, fixture.entries));
  await bus.close();
});

test('while the bus does not acknowledge, the batch is held and retried; nothing is skipped or doubled', async () => {
  const bus = createMemoryBus();
  await bus.ensureTopic(TOPIC, 3);
  let down = true;
  let refused = 0;
  const outage: Bus = {
    ...bus,
    publish: async (t, r, o) => {
      if (down) {
        refused++;
        throw new BusUnavailableError('broker down');
      }
      return bus.publish(t, r, o);
    },
  };
  const { p, close } = await projector(outage, join(mkdtempSync(join(tmpdir(), 'aff-siem-pos-')), 'pos.json'));
  const run = p.runOnce();
  while (refused < 10) await new Promise((r) => setTimeout(r, 5));
  assert.equal(p.stats().projected, 0, 'no position committed while the bus refuses');
  down = false;
  assert.equal(await run, fixture.entries);
  assert.ok(p.stats().retries > 0);
  await close();
  check(await readAll(bus, TOPIC, fixture.entries));
  await bus.close();
});

test('a position past the end of the ledger is refused (another or rolled-back ledger)', async () => {
  const bus = createMemoryBus();
  await bus.ensureTopic(TOPIC, 1);
  const file = join(mkdtempSync(join(tmpdir(), 'aff-siem-pos-')), 'pos.json');
  const store = await openSqliteLedgerStore({ path: fixture.path, readOnly: true });
  const [log] = await store.listLogs();
  await store.close();
  writeFileSync(file, JSON.stringify({ format: 'affidavit-siem-position/1', topic: TOPIC, logs: { [log]: 1_000_000 } }));
  const { p, close } = await projector(bus, file);
  await assert.rejects(p.runOnce(), { code: 'AFF_E_SIEM_POSITION_AHEAD' });
  await close();
  await bus.close();
});

test('the position file is locked, bound to its topic, and refused when damaged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aff-siem-pos-'));
  const file = join(dir, 'pos.json');
  const a = await openPositionFile(file, TOPIC);
  await assert.rejects(openPositionFile(file, TOPIC), { code: 'AFF_E_SIEM_POSITION_LOCKED' });
  await a.commit(new Map([['log:0', 5]]));
  await a.close();
  await assert.rejects(openPositionFile(file, 'other-topic'), { code: 'AFF_E_SIEM_POSITION_MISMATCH' });
  const b = await openPositionFile(file, TOPIC);
  assert.deepEqual([...(await b.load())], [['log:0', 5]]);
  await b.close();
  writeFileSync(file, '{"format":"affidavit-siem-position/1","topic":"siem-test","logs":{"log:0":-1}}');
  await assert.rejects(openPositionFile(file, TOPIC), { code: 'AFF_E_SIEM_POSITION_UNREADABLE' });
  writeFileSync(file, 'garbage');
  await assert.rejects(openPositionFile(file, TOPIC), { code: 'AFF_E_SIEM_POSITION_UNREADABLE' });
  // A lock left by a process that no longer exists is stale and taken over.
  writeFileSync(`${file}.lock`, '999999999\n');
  writeFileSync(file, '{"format":"affidavit-siem-position/1","topic":"siem-test","logs":{}}');
  const c = await openPositionFile(file, TOPIC);
  await c.close();
});

test('follows a ledger while it is written: entries go out once a checkpoint covers them, and all of them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aff-siem-live-'));
  const path = join(dir, 'ledger.sqlite');
  const inBus = createMemoryBus({ maxBatchRecords: 100 });
  await inBus.ensureTopic(TOPICS.sessionEvents, 1);
  for (const t of [TOPICS.sessionEventsDlq, TOPICS.checkpoints]) await inBus.ensureTopic(t, 1);
  const writeStore = await openSqliteLedgerStore({ path });
  const signer = loadOrCreateSigningKey(join(dir, 'k'), join(dir, 'k.pub'), 'siem.live');
  const ledger = new Ledger(
    { origin: 'siem.live', checkpointEveryEntries: 50, checkpointEveryMs: 60_000 },
    { bus: inBus, store: writeStore, signer, clock: { now: () => Date.now() } },
  );
  await ledger.start();
  const session = uuidv7();
  const event = (seq: number) => ({ key: session, value: encodeEvent(exampleEvent('CommandIssued', { eventId: uuidv7(), sessionId: session, seq })) });
  const waitFor = async (what: string, ok: () => boolean) => {
    const end = Date.now() + 20_000;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await inBus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 100 }, (_, i) => event(i)),
  );
  await waitFor('100 appended', () => ledger.stats().appended >= 100);
  // Five more, one at a time: fewer than a checkpoint interval, so no checkpoint covers them yet.
  for (let i = 100; i < 105; i++) await inBus.publish(TOPICS.sessionEvents, [event(i)]);
  await waitFor('105 appended', () => ledger.stats().appended >= 105);

  const out = createMemoryBus();
  await out.ensureTopic(TOPIC, 1);
  const store = await openSqliteLedgerStore({ path, readOnly: true });
  const positions = await openPositionFile(join(dir, 'pos.json'), TOPIC);
  const p = new SiemProjector({ topic: TOPIC, batchEntries: 30, pollMs: 10 }, { bus: out, store, positions });
  const run = p.start();
  const total = () => Object.values(p.stats().positions).reduce((a, b) => a + b, 0);
  const covered = () => Object.values(p.stats().covered).reduce((a, b) => a + b, 0);
  await waitFor('the covered entries projected', () => covered() > 0 && total() === covered());
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(total() < 105, `only covered entries went out (${total()} of 105)`);
  assert.equal(total(), covered());
  // The ledger's final checkpoint at stop covers the rest; the projector follows.
  await ledger.stop();
  await waitFor('every entry projected', () => total() === 105);
  await p.stop();
  await run.done;
  await positions.close();
  await store.close();
  await writeStore.close();
  await inBus.close();
  const got = await readAll(out, TOPIC, 105);
  const seqs = got.map((r) => JSON.parse(r.value.toString()).unmapped.affidavit.seq as number);
  assert.deepEqual(
    seqs,
    Array.from({ length: 105 }, (_, i) => i),
    'every entry once, in order',
  );
  await out.close();
});

test('publish calls are bounded by records and bytes, in order; an oversized object is reduced, not dropped', async () => {
  const rec = (n: number, size: number) => ({ key: 'k', value: Buffer.alloc(size, n) });
  const records = [rec(0, 100), rec(1, 100), rec(2, 900), rec(3, 50), rec(4, 50), rec(5, 50)];
  const runs = chunk(records, 2, 1000);
  assert.deepEqual(
    runs.map((r) => r.map((x) => x.value[0])),
    [
      [0, 1],
      [2, 3],
      [4, 5],
    ],
  );
  assert.deepEqual(
    chunk([rec(0, 5000), rec(1, 10)], 10, 1000).map((r) => r.length),
    [1, 1],
    'a record over the byte bound goes alone',
  );
  const big = {
    class_uid: 6005,
    query_info: { uid: 'c', query_string: 'x'.repeat(100_000), data: { parameters: ['y'.repeat(100_000)] } },
    unmapped: { affidavit: { ledger: { log: 'l', index: 1 }, checkpoint: { size: 2 }, session_id: 's', event_type: 'CommandIssued', masks: ['z'] } },
  };
  const small = reduce(big, 200_000) as any;
  assert.equal(small.class_uid, 6005);
  assert.equal(small.query_info.query_string.length, 4096);
  assert.equal(small.query_info.data, undefined);
  assert.deepEqual(small.unmapped.affidavit.ledger, { log: 'l', index: 1 });
  assert.deepEqual(small.unmapped.affidavit.reduced, { original_bytes: 200_000 });
  assert.ok(JSON.stringify(small).length < 10_000);
});

test('objects over the record bound go out reduced and still valid, none dropped', async () => {
  const bus = createMemoryBus();
  await bus.ensureTopic(TOPIC, 2);
  const { p, close } = await projector(bus, join(mkdtempSync(join(tmpdir(), 'aff-siem-pos-')), 'pos.json'), { maxRecordBytes: 1_500 });
  assert.equal(await p.runOnce(), fixture.entries);
  await close();
  const objects = check(await readAll(bus, TOPIC, fixture.entries));
  const reduced = objects.filter((o) => o.ev.unmapped.affidavit.reduced);
  assert.ok(reduced.length > 0 && reduced.length < objects.length, `some reduced (${reduced.length})`);
  await bus.close();
});

test('logs take turns, and a passing store failure is waited out by start()', async () => {
  const bus = createMemoryBus();
  await bus.ensureTopic(TOPIC, 1);
  const store = await openSqliteLedgerStore({ path: fixture.path, readOnly: true });
  let failures = 0;
  const flaky = {
    ...store,
    openLog: store.openLog.bind(store),
    close: store.close.bind(store),
    listLogs: async () => {
      if (failures++ < 2) throw new StoreUnavailableError('busy', { retriable: true });
      return store.listLogs();
    },
  };
  const positions = await openPositionFile(join(mkdtempSync(join(tmpdir(), 'aff-siem-pos-')), 'pos.json'), TOPIC);
  const order: string[] = [];
  const watching: Bus = {
    ...bus,
    publish: async (t, r, o) => {
      for (const x of r) order.push(JSON.parse(x.value.toString()).unmapped.affidavit.ledger.log);
      return bus.publish(t, r, o);
    },
  };
  const p = new SiemProjector({ topic: TOPIC, batchEntries: 1, retryMs: 10, pollMs: 10 }, { bus: watching, store: flaky, positions });
  const run = p.start();
  const end = Date.now() + 30_000;
  while (p.stats().projected < fixture.entries && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  await p.stop();
  await run.done;
  await positions.close();
  await store.close();
  assert.equal(p.stats().projected, fixture.entries);
  assert.ok(failures > 2);
  // With one entry per batch and 20 batches a turn, the second log starts long before the first is done.
  const logs = [...new Set(order)];
  assert.equal(logs.length, 2);
  assert.ok(order.slice(0, 45).includes(logs[1]), 'the second log had a turn within the first 45 records');
  check(await readAll(bus, TOPIC, fixture.entries));
  await bus.close();
});

test("with the ledger's key, checkpoints are verified before anything they cover is published", async () => {
  const bus = createMemoryBus();
  await bus.ensureTopic(TOPIC, 1);
  const run = async (verifier: NoteVerifier) => {
    const store = await openSqliteLedgerStore({ path: fixture.path, readOnly: true });
    const positions = await openPositionFile(join(mkdtempSync(join(tmpdir(), 'aff-siem-pos-')), 'pos.json'), TOPIC);
    const p = new SiemProjector({ topic: TOPIC }, { bus, store, positions, verifier });
    try {
      return await p.runOnce();
    } finally {
      await positions.close();
      await store.close();
    }
  };
  assert.equal(await run(readVerifierKey(join(fixtureDir, 'keys', 'ledger.pub'))), fixture.entries);
  // Another key of the same name: every checkpoint is unverified, nothing goes out.
  const other = generateEd25519NoteKey('siem.test', (n) => randomBytes(n));
  const published = (await readAll(bus, TOPIC, fixture.entries)).length;
  await assert.rejects(run(ed25519NoteVerifier(other.verifierKey)), { code: 'AFF_E_SIEM_CHECKPOINT_UNVERIFIED' });
  assert.equal((await readAll(bus, TOPIC, published)).length, published, 'nothing more was published');
  await bus.close();
});

test('an entry whose bytes are not the ones its checkpoint signed (an edited ledger file) is never published', async () => {
  const bus = createMemoryBus();
  await bus.ensureTopic(TOPIC, 1);
  const real = await openSqliteLedgerStore({ path: fixture.path, readOnly: true });
  const [logId] = await real.listLogs();
  const size = (await (await real.openLog(logId)).tail()).size;
  const victim = Math.floor(size / 2);
  // What the file would give after someone edited one entry (the store keeps no hash beside it
  // that it checks on read): every other byte of the ledger, its tiles and checkpoints untouched.
  const store: typeof real = {
    listLogs: () => real.listLogs(),
    close: () => real.close(),
    openLog: async (id) => {
      const log = await real.openLog(id);
      return Object.assign(Object.create(log) as typeof log, {
        async *readEntries(from: number, to: number) {
          for await (const e of log.readEntries(from, to)) {
            if (id !== logId || e.index !== victim) yield e;
            else {
              const bytes = Uint8Array.from(e.bytes);
              bytes[bytes.length - 1] ^= 0x01;
              yield { ...e, bytes };
            }
          }
        },
      });
    },
  };
  const positions = await openPositionFile(join(mkdtempSync(join(tmpdir(), 'aff-siem-pos-')), 'pos.json'), TOPIC);
  const p = new SiemProjector({ topic: TOPIC, batchEntries: 7 }, { bus, store, positions, verifier: readVerifierKey(join(fixtureDir, 'keys', 'ledger.pub')) });
  try {
    await assert.rejects(p.runOnce(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'AFF_E_SIEM_ENTRY_UNVERIFIED');
      assert.match(e.message, new RegExp(`${logId}`));
      return true;
    });
    const published = await readAll(bus, TOPIC, size);
    const indexes = published.map((r) => JSON.parse(r.value.toString('utf8')).unmapped.affidavit.ledger.index as number);
    assert.ok(!indexes.includes(victim), `entry ${victim} was published as covered by a checkpoint that does not hold it`);
    assert.ok(indexes.length < size);
  } finally {
    await positions.close();
    await store.close();
    await bus.close();
  }
});
