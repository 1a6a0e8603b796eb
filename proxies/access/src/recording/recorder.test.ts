import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEvent, exampleEvent } from '@affidavit/schemas';
import type { SessionEvent } from '@affidavit/schemas';
import { Recorder } from './recorder.ts';
import type { EncodedEvent, EventSink } from './event-sink.ts';
import type { Envelope } from './recorder.ts';

/** A sink whose acknowledgement the test controls: it can fail, hold or pass every publish call. */
class FakeSink implements EventSink {
  published: EncodedEvent[] = [];
  calls = 0;
  failing = false;
  gate?: Promise<void>;
  async publish(events: readonly EncodedEvent[]): Promise<void> {
    this.calls++;
    if (this.gate) await this.gate;
    if (this.failing) throw new Error('broker unreachable');
    this.published.push(...events);
  }
  decoded(): SessionEvent[] {
    return this.published.map((e) => decodeEvent(e.value) as SessionEvent);
  }
}

const base = exampleEvent('CommandIssued');
const envelope = (sessionId: string): Envelope => ({ sessionId, actor: base.actor, source: base.source, target: base.target, feeder: base.feeder });
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
let n = 0;
const deps = { clock: { now: () => 1_700_000_000_000 }, newId: () => `id-${n++}` };

test('sync record resolves only after the sink acknowledged', async () => {
  const sink = new FakeSink();
  let open!: () => void;
  sink.gate = new Promise((r) => (open = r));
  const rec = new Recorder(sink, { mode: 'sync' }, deps);
  const s = rec.openSession(envelope('s1'));
  let done = false;
  const p = s.record(issued('select 1')).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(done, false, 'resolved before the acknowledgement');
  open();
  await p;
  assert.equal(done, true);
  assert.equal(sink.decoded()[0].type, 'CommandIssued');
});

test('sync record fails closed while the bus is down, keeps the event and delivers it first after recovery', async () => {
  const sink = new FakeSink();
  sink.failing = true;
  const rec = new Recorder(sink, { mode: 'sync', retryInitialMs: 5, retryMaxMs: 10 }, deps);
  const s = rec.openSession(envelope('s2'));
  await assert.rejects(s.record(issued('a')), { code: 'AFF_E_RECORDING_UNAVAILABLE' });
  // While known down, a second sync record is refused at once.
  await assert.rejects(s.record(issued('b')), { code: 'AFF_E_RECORDING_UNAVAILABLE' });
  assert.equal(rec.stats().busDown, true);
  sink.failing = false;
  await rec.flush(2_000);
  await s.record(issued('c'));
  const events = sink.decoded();
  assert.deepEqual(
    events.map((e) => e.seq),
    [0, 1, 2],
    'seq gap-free and in order',
  );
  assert.deepEqual(
    events.map((e) => (e as { text: string }).text),
    ['a', 'b', 'c'],
  );
});

test('async mode answers before the acknowledgement and refuses when the buffer is full', async () => {
  const sink = new FakeSink();
  sink.failing = true;
  const rec = new Recorder(sink, { mode: 'async', maxBuffered: 3, retryInitialMs: 5, retryMaxMs: 5 }, deps);
  const s = rec.openSession(envelope('s3'));
  await s.record(issued('1'));
  await s.record(issued('2'));
  await s.record(issued('3'));
  await assert.rejects(s.record(issued('4')), { code: 'AFF_E_BACKPRESSURE' });
  sink.failing = false;
  await rec.flush(2_000);
  assert.deepEqual(
    sink.decoded().map((e) => e.seq),
    [0, 1, 2],
    'the refused event took no seq',
  );
  await s.record(issued('5'));
  await rec.flush();
  assert.deepEqual(
    sink.decoded().map((e) => e.seq),
    [0, 1, 2, 3],
  );
});

test('events of many sessions are group-committed and stay in order per session', async () => {
  const sink = new FakeSink();
  const rec = new Recorder(sink, { mode: 'sync' }, deps);
  const sessions = Array.from({ length: 20 }, (_, i) => rec.openSession(envelope(`g${i}`)));
  await Promise.all(
    sessions.map(async (s) => {
      for (let i = 0; i < 10; i++) await s.record(issued(`${s.sessionId}-${i}`));
    }),
  );
  const events = sink.decoded();
  assert.equal(events.length, 200);
  assert.ok(sink.calls < 200, `expected batching, got ${sink.calls} publish calls for 200 events`);
  for (const s of sessions) {
    const seqs = events.filter((e) => e.sessionId === s.sessionId).map((e) => e.seq);
    assert.deepEqual(seqs, [...Array(10).keys()]);
  }
  assert.ok(
    sink.published.every((e) => e.key === (decodeEvent(e.value) as SessionEvent).sessionId),
    'key is the session id',
  );
});

test('an invalid draft is refused to its caller and does not consume a seq or block the queue', async () => {
  const sink = new FakeSink();
  const rec = new Recorder(sink, { mode: 'sync' }, deps);
  const s = rec.openSession(envelope('s4'));
  await assert.rejects(s.record({ ...issued('x'), decision: 'maybe' } as never), { code: 'AFF_E_EVENT_INVALID' });
  await s.record(issued('y'));
  assert.deepEqual(
    sink.decoded().map((e) => e.seq),
    [0],
  );
});

test('options are validated and frozen', () => {
  assert.throws(() => new Recorder(new FakeSink(), { mode: 'fast' as never }, deps), { code: 'AFF_E_CONFIG_INVALID' });
  assert.throws(() => new Recorder(new FakeSink(), { retryInitialMs: 100, retryMaxMs: 10 }, deps), /retryMaxMs/);
  const rec = new Recorder(new FakeSink(), {}, deps);
  assert.ok(Object.isFrozen(rec.options));
  assert.equal(rec.options.mode, 'sync');
});

test('append (the async hot path) queues in order without a promise, and one loop turn is one publish call (lingerMs 0)', async () => {
  const sink = new FakeSink();
  const rec = new Recorder(sink, { mode: 'async', lingerMs: 0 }, deps);
  const sessions = Array.from({ length: 5 }, (_, i) => rec.openSession(envelope(`a${i}`)));
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) {
    const s = sessions[i % 5];
    assert.equal(s.nextSeq, Math.floor(i / 5));
    ids.push(s.append(issued(`q${i}`)));
  }
  assert.equal(sink.calls, 0, 'nothing is published inside the task that recorded');
  await new Promise((r) => setImmediate(r));
  assert.equal(sink.calls, 1, 'group commit: one publish for the whole turn, at its end');
  await rec.flush();
  assert.equal(sink.calls, 1);
  const events = sink.decoded();
  assert.deepEqual(
    events.map((e) => (e as { text: string }).text),
    Array.from({ length: 40 }, (_, i) => `q${i}`),
  );
  assert.deepEqual(
    events.map((e) => e.eventId),
    ids,
    'append returns the eventId each event was recorded with',
  );
  for (const s of sessions)
    assert.deepEqual(
      events.filter((e) => e.sessionId === s.sessionId).map((e) => e.seq),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
});

test('unwaited events linger lingerMs (default 2) to share one publish; a waited-for one takes them along at once', async () => {
  assert.equal(new Recorder(new FakeSink(), { mode: 'async' }, deps).options.lingerMs, 2);
  assert.throws(() => new Recorder(new FakeSink(), { lingerMs: -1 }, deps), { code: 'AFF_E_CONFIG_INVALID' });
  // A long linger, so that a loaded machine cannot end it before the loop turn does.
  const sink = new FakeSink();
  const rec = new Recorder(sink, { mode: 'async', lingerMs: 300 }, deps);
  const s = rec.openSession(envelope('linger'));
  const t0 = performance.now();
  s.append(issued('a'));
  await new Promise((r) => setImmediate(r));
  s.append(issued('b'));
  if (performance.now() - t0 < 250) assert.equal(sink.calls, 0, 'still lingering after the loop turn');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(sink.calls, 1, 'both went out in one publish once the linger was over');
  s.append(issued('c'));
  await s.record(issued('d'), { wait: true });
  assert.equal(sink.calls, 2, 'the waited-for event did not linger, and took the queued one along');
  assert.deepEqual(
    sink.decoded().map((e) => (e as { text: string }).text),
    ['a', 'b', 'c', 'd'],
  );
  await rec.close();
});

test('append throws synchronously what record() would reject with (backpressure), taking no seq', () => {
  const sink = new FakeSink();
  const rec = new Recorder(sink, { mode: 'async', maxBuffered: 2 }, deps);
  const s = rec.openSession(envelope('bp'));
  assert.throws(() => s.append({ ...issued('0'), decision: 'maybe' } as never), { code: 'AFF_E_EVENT_INVALID' });
  s.append(issued('1'));
  s.append(issued('2'));
  assert.throws(() => s.append(issued('3')), { code: 'AFF_E_BACKPRESSURE' });
  assert.equal(s.nextSeq, 2);
});

test('a waited-for event is published within the current turn: a sync command waits for no extra loop turn', async () => {
  const sink = new FakeSink();
  const rec = new Recorder(sink, { mode: 'sync' }, deps);
  const s = rec.openSession(envelope('fast'));
  let turnEnded = false;
  setImmediate(() => (turnEnded = true));
  await s.record(issued('now'));
  assert.equal(turnEnded, false, 'the acknowledgement waited for setImmediate');
  assert.equal(sink.published.length, 1);
});

test('the envelope is the recording’s own copy: changing the caller’s objects later changes no event', async () => {
  const sink = new FakeSink();
  const rec = new Recorder(sink, { mode: 'sync' }, deps);
  const env = { ...envelope('copy'), source: structuredClone(base.source) };
  const actor = structuredClone(base.actor!);
  const s = rec.openSession(env);
  s.setActor(actor);
  await s.record(issued('first'));
  actor.email = 'mallory@example.com';
  (env.source as { address: string }).address = '10.6.6.6';
  await s.record(issued('second'));
  const [a, b] = sink.decoded();
  assert.equal(a.actor!.email, base.actor!.email);
  assert.equal(b.actor!.email, base.actor!.email, 'a later change to the caller’s actor leaked into the audit record');
  assert.equal(b.source.address, base.source.address);
});

test('appendAcknowledged resolves only after the sink acknowledged; in sync mode an unwaited event rides along or goes out at the end of the turn (lingerMs 0)', async () => {
  const sink = new FakeSink();
  const rec = new Recorder(sink, { mode: 'sync', lingerMs: 0 }, deps);
  const s = rec.openSession(envelope('s1'));
  s.append({ type: 'SessionEnded', reason: 'first, unwaited', durationMicros: 1, commands: 0, errorCode: null });
  assert.equal(sink.calls, 0, 'an unwaited event was published before the turn ended');
  const acked = s.appendAcknowledged({ type: 'SessionEnded', reason: 'waited', durationMicros: 1, commands: 0, errorCode: null });
  let done = false;
  void acked.then(() => (done = true));
  assert.equal(done, false);
  await acked;
  assert.equal(sink.calls, 1, 'the waited event took the earlier one along in one publish');
  assert.deepEqual(
    sink.decoded().map((e) => (e.type === 'SessionEnded' ? e.reason : e.type)),
    ['first, unwaited', 'waited'],
  );
  s.append({ type: 'SessionEnded', reason: 'later, unwaited', durationMicros: 1, commands: 0, errorCode: null });
  await new Promise((r) => setImmediate(r));
  assert.equal(sink.calls, 2, 'an unwaited event is published by the end of the loop turn');
  assert.deepEqual(
    sink.decoded().map((e) => e.seq),
    [0, 1, 2],
  );
  assert.equal(s.nextSeq, 3);
});
