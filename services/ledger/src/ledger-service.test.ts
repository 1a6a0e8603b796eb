// The ledger service in-process: in-memory bus (same contract as Kafka) and a real SQLite file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryBroker, createMemoryBus } from '@affidavit/bus';
import type { BusRecord } from '@affidavit/bus';
import { codec, encodeEvent, exampleEvent, TOPICS } from '@affidavit/schemas';
import { uuidv7 as _u } from '@affidavit/common';
import { ed25519NoteVerifier, generateEd25519NoteKey, ed25519NoteSigner, openNote, parseCheckpoint } from '@affidavit/tlog';
import { randomBytes } from 'node:crypto';
import { openSqliteLedgerStore } from './adapters/index.ts';
import { Ledger, logIdFor } from './ledger-service.ts';
import { verifyLog } from './core/verify-log.ts';
import type { VerifyEntry } from './core/verify-log.ts';
import type { LogStore } from './ports/index.ts';

const clock = { now: () => Date.now() };
const key = generateEd25519NoteKey('ledger.test', (n) => randomBytes(n));
const signer = ed25519NoteSigner(key.signerKey);
const verifier = ed25519NoteVerifier(key.verifierKey);
const ev = (sessionId: string, seq: number) => encodeEvent(exampleEvent('CommandIssued', { eventId: _u(), sessionId, seq, text: `select ${seq}` }));

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function* asVerify(log: LogStore): AsyncIterable<VerifyEntry> {
  for await (const e of log.readEntries(0, Number.MAX_SAFE_INTEGER)) yield { index: e.index, bytes: e.bytes };
}
const open = (n: string) => parseCheckpoint(openNote(n, [verifier]).text);

async function setup(dir = mkdtempSync(join(tmpdir(), 'aff-ledger-'))) {
  const broker = createMemoryBroker({ clock });
  const bus = createMemoryBus({}, { broker, clock });
  for (const t of [TOPICS.sessionEvents, TOPICS.sessionEventsDlq, TOPICS.checkpoints]) await bus.ensureTopic(t, t === TOPICS.sessionEvents ? 2 : 1);
  const store = await openSqliteLedgerStore({ path: join(dir, 'ledger.sqlite') });
  const ledger = new Ledger({ origin: 'ledger.test', checkpointEveryEntries: 50, checkpointEveryMs: 60_000 }, { bus, store, signer, clock });
  return { dir, broker, bus, store, ledger };
}

test('events are appended once per eventId, per partition log, with verifiable checkpoints', async () => {
  const { bus, store, ledger } = await setup();
  await ledger.start();
  const sent = Array.from({ length: 120 }, (_, i) => ({ key: `s${i % 5}`, value: ev(`s${i % 5}`, Math.floor(i / 5)) }));
  await bus.publish(TOPICS.sessionEvents, sent);
  await bus.publish(TOPICS.sessionEvents, sent.slice(0, 30)); // redelivered duplicates
  await until(() => ledger.stats().appended === 120 && ledger.stats().duplicates === 30);
  await ledger.stop();
  let total = 0;
  for (const p of [0, 1]) {
    const log = await store.openLog(logIdFor(TOPICS.sessionEvents, p));
    const checkpoints = await log.checkpoints();
    assert.ok(checkpoints.length >= 1, 'a final checkpoint at stop');
    const r = await verifyLog({ origin: `ledger.test/${log.logId}`, checkpoints, entries: asVerify(log), open });
    assert.equal(r.ok, true, JSON.stringify(r));
    total += r.entries;
  }
  assert.equal(total, 120);
  await store.close();
});

test('malformed input becomes an InputRejected entry and its raw bytes go to the DLQ', async () => {
  const { bus, store, ledger } = await setup();
  await ledger.start();
  const dlq: BusRecord[] = [];
  const sub = await bus.subscribe({ group: 'dlq-reader', topics: [TOPICS.sessionEventsDlq], handler: async (b) => void dlq.push(...b.records) });
  await bus.publish(TOPICS.sessionEvents, [
    { key: 'x', value: Buffer.from('garbage') },
    { key: 'x', value: ev('x', 0) },
  ]);
  await until(() => ledger.stats().appended === 2 && dlq.length === 1);
  assert.equal(ledger.stats().rejected, 1);
  assert.equal(dlq[0].value.toString(), 'garbage');
  await sub.close();
  await ledger.stop();
  const entries = [];
  for (const p of [0, 1]) for await (const e of (await store.openLog(logIdFor(TOPICS.sessionEvents, p))).readEntries(0, 100)) entries.push(e);
  const rejected = entries.find((e) => e.kind === 'rejected')!;
  const rec = codec().decode(rejected.bytes) as { type: string; code: string };
  assert.equal(rec.type, 'InputRejected');
  assert.equal(rec.code, 'AFF_E_AVRO_BAD_MAGIC');
  await store.close();
});

test('a restarted ledger resumes from its own log tail and loses nothing', async () => {
  const first = await setup();
  await first.ledger.start();
  await first.bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 40 }, (_, i) => ({ key: 'r', value: ev('r', i) })),
  );
  await until(() => first.ledger.stats().appended === 40);
  await first.ledger.stop();
  await first.store.close();
  // Same broker (the topic keeps its records), same file, a new ledger.
  const bus = createMemoryBus({}, { broker: first.broker, clock });
  const store = await openSqliteLedgerStore({ path: join(first.dir, 'ledger.sqlite') });
  const ledger = new Ledger({ origin: 'ledger.test', checkpointEveryEntries: 50, checkpointEveryMs: 60_000 }, { bus, store, signer, clock });
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 10 }, (_, i) => ({ key: 'r', value: ev('r', 40 + i) })),
  );
  await until(() => ledger.stats().appended === 10);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(ledger.stats().duplicates, 0, 'resumed after its tail, not from the start of the topic');
  await ledger.stop();
  let size = 0;
  for (const p of [0, 1]) size += (await (await store.openLog(logIdFor(TOPICS.sessionEvents, p))).tail()).size;
  assert.equal(size, 50);
  await store.close();
});

test('with an ephemeral bus (embedded), a restart reads the new bus from its start: nothing of it is skipped', async () => {
  const first = await setup();
  await first.ledger.start();
  await first.bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 30 }, (_, i) => ({ key: 'e', value: ev('e', i) })),
  );
  await until(() => first.ledger.stats().appended === 30);
  await first.ledger.stop();
  await first.store.close();
  // A new process: a new, empty in-memory bus whose offsets start at 0 again.
  const bus = createMemoryBus({}, { clock });
  for (const t of [TOPICS.sessionEvents, TOPICS.sessionEventsDlq, TOPICS.checkpoints]) await bus.ensureTopic(t, t === TOPICS.sessionEvents ? 2 : 1);
  const store = await openSqliteLedgerStore({ path: join(first.dir, 'ledger.sqlite') });
  const ledger = new Ledger(
    { origin: 'ledger.test', checkpointEveryEntries: 50, checkpointEveryMs: 60_000, ephemeralBus: true },
    { bus, store, signer, clock },
  );
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 5 }, (_, i) => ({ key: 'e', value: ev('e', 30 + i) })),
  );
  await until(() => ledger.stats().appended === 5);
  await ledger.stop();
  await store.close();
});
