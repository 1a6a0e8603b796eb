// The recorder against a real Kafka broker: sync mode resolves only after acks=all, events of a
// session land in one partition in seq order, and a dead broker refuses commands (fail closed)
// within the bus's bound instead of hanging.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createKafkaBus } from '@affidavit/bus';
import type { BusRecord } from '@affidavit/bus';
import { decodeEvent, exampleEvent } from '@affidavit/schemas';
import type { SessionEvent } from '@affidavit/schemas';
import { ensureKafka, uniqueTopic } from '../../../../test/services/kafka.ts';
import { freePort } from '../../../../test/services/free-port.ts';
import { Recorder } from './recorder.ts';
import { busEventSink } from './bus-event-sink.ts';

const base = exampleEvent('CommandIssued');
const envelope = (sessionId: string) => ({ sessionId, actor: base.actor, source: base.source, target: base.target, feeder: base.feeder });
const issued = (text: string) => ({
  type: 'CommandIssued' as const,
  commandId: text,
  channel: 'simple' as const,
  text,
  parameters: [],
  classes: ['select'],
  decision: 'allow' as const,
  ruleId: null,
});
const clock = { now: () => Date.now() };

const { bootstrap } = await ensureKafka();
const bus = createKafkaBus({ brokers: [bootstrap], clientId: 'recorder-int' });
after(() => bus.close());

test('sync recording through Kafka: acknowledged, one partition per session, seq in order', async () => {
  const topic = uniqueTopic('recorder');
  await bus.ensureTopic(topic, 3);
  const rec = new Recorder(busEventSink(bus, topic), { mode: 'sync' }, { clock });
  const sessions = ['s-a', 's-b', 's-c', 's-d'].map((id) => rec.openSession(envelope(id)));
  await Promise.all(
    sessions.map(async (s) => {
      for (let i = 0; i < 25; i++) await s.record(issued(`${s.sessionId} #${i}`));
    }),
  );
  assert.equal(rec.stats().buffered, 0, 'every sync record resolved after its acknowledgement');

  const seen: BusRecord[] = [];
  const done = Promise.withResolvers<void>();
  const sub = await bus.subscribe({
    group: uniqueTopic('g'),
    topics: [topic],
    handler: async (batch) => {
      seen.push(...batch.records);
      if (seen.length >= 100) done.resolve();
    },
  });
  await Promise.race([done.promise, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${seen.length} of 100 events consumed`)), 30_000))]);
  await sub.close();
  for (const s of sessions) {
    const mine = seen.filter((r) => r.key === s.sessionId);
    assert.equal(new Set(mine.map((r) => r.partition)).size, 1, `${s.sessionId} spread over several partitions`);
    const events = mine.sort((a, b) => Number(a.offset - b.offset)).map((r) => decodeEvent(r.value) as SessionEvent);
    assert.deepEqual(
      events.map((e) => e.seq),
      [...Array(25).keys()],
    );
    assert.ok(events.every((e) => e.sessionId === s.sessionId));
  }
});

test('a dead broker: sync commands are refused with AFF_E_RECORDING_UNAVAILABLE within the bound', async () => {
  const dead = createKafkaBus({
    brokers: [`127.0.0.1:${await freePort()}`],
    publishTimeoutMs: 2_000,
    connectionTimeoutMs: 200,
    requestTimeoutMs: 1_000,
    adminTimeoutMs: 2_000,
  });
  try {
    const rec = new Recorder(busEventSink(dead, uniqueTopic('dead')), { mode: 'sync', retryInitialMs: 60_000, retryMaxMs: 60_000 }, { clock });
    const s = rec.openSession(envelope('s-dead'));
    const started = Date.now();
    await assert.rejects(s.record(issued('select 1')), { code: 'AFF_E_RECORDING_UNAVAILABLE' });
    const took = Date.now() - started;
    assert.ok(took < 15_000, `refusal took ${took} ms`);
    assert.equal(rec.stats().buffered, 1, 'the refused command’s event is kept, not dropped');
  } finally {
    await dead.close().catch(() => {});
  }
});
