#!/usr/bin/env node
// bench/recorder.ts: per-event CPU cost of the access proxies' audit Recorder.
// Drives Recorder (async and sync mode) over an in-process bus (createMemoryBus +
// busEventSink) and compares it with a baseline that only encodes the same events
// (encodeEvent in a loop). The ratio recorder / encode says how much the recorder and the
// memory bus add on top of the unavoidable validate + Avro encode.
import { parseArgs } from 'node:util';
import { Recorder, busEventSink, type EventDraft, type Envelope } from '@affidavit/access';
import { createMemoryBus } from '@affidavit/bus';
import { systemClock, uuidv7 } from '@affidavit/common';
import { EXAMPLE_ACTOR, TOPICS, encodeEvent, exampleEvent, type SessionEvent } from '@affidavit/schemas';

const usage = `usage: node bench/recorder.ts [options]

Measures events/s through the audit Recorder in async and sync mode, publishing to an
in-process bus (createMemoryBus + busEventSink), and events/s of a baseline that only runs
encodeEvent on the same events. In sync mode every session waits for its CommandIssued to be
acknowledged, then records CommandCompleted and sends its next command from a later I/O
callback, as the fail-closed proxy does. Prints each rate and the ratio recorder / baseline.
Profile with: node --cpu-prof bench/recorder.ts

options:
  --events N      events per measured run (default 200000)
  --sessions N    sessions recording concurrently (default 64)
  --partitions N  partitions of the session-events topic (default 3)
  --rounds N      measured runs per variant; the best is reported (default 3)
  --per-turn N    async mode: events recorded per turn of the event loop before yielding, as
                  a proxy serving a few clients per turn does (default 8)
  --no-drain      no consumer: by default a group that commits what it gets stands in for the
                  embedded ledger (as in bench/postgres.ts), so delivery is part of the cost
  --help          show this text`;

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    sessions: { type: 'string', default: '64' },
    partitions: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    'per-turn': { type: 'string', default: '8' },
    'no-drain': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const int = (name: 'events' | 'sessions' | 'partitions' | 'rounds' | 'per-turn', min: number, max: number): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}\n\n${usage}`);
    process.exit(2);
  }
  return n;
};
const events = int('events', 1, 10_000_000);
const sessions = int('sessions', 1, 100_000);
const partitions = int('partitions', 1, 1000);
const rounds = int('rounds', 1, 100);
const perTurn = int('per-turn', 1, 1_000_000);
const drain = !values['no-drain'];

// The proxy's hot path: one CommandIssued and one CommandCompleted per statement.
const ENVELOPE_FIELDS = ['eventId', 'occurredAt', 'sessionId', 'seq', 'actor', 'source', 'target', 'feeder'] as const;
// Copied key by key, not spread-then-delete: `delete` turns an object into a slow dictionary,
// which the proxy's drafts (object literals) never are, and that made #enqueue look 4x dearer.
const draftOf = (e: SessionEvent): EventDraft => {
  const d: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (!(ENVELOPE_FIELDS as readonly string[]).includes(k)) d[k] = v;
  return d as EventDraft;
};
const templates = [exampleEvent('CommandIssued'), exampleEvent('CommandCompleted')] as SessionEvent[];
const drafts = templates.map(draftOf);
const base = templates[0];
const envelopeOf = (): Envelope => ({ sessionId: uuidv7(), actor: EXAMPLE_ACTOR, source: base.source, target: base.target, feeder: base.feeder });

function baseline(): Rate {
  const envs = Array.from({ length: sessions }, () => envelopeOf());
  const seqs = new Array<number>(sessions).fill(0);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < events; i++) {
    const s = i % sessions;
    const ms = Date.now();
    const e = { ...drafts[i & 1], eventId: uuidv7(ms), occurredAt: ms * 1000, seq: seqs[s]++, ...envs[s] } as SessionEvent;
    bytes += encodeEvent(e).length;
  }
  const dt = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (bytes === 0) throw new Error('nothing encoded');
  return { rate: (events / dt) * 1000, cpuUs: (cpu.user + cpu.system) / events };
}

/** A measured rate, and this process's CPU time per event meanwhile (all threads). */
type Rate = { rate: number; cpuUs: number };

async function viaRecorder(mode: 'async' | 'sync'): Promise<Rate> {
  const bus = createMemoryBus();
  await bus.ensureTopic(TOPICS.sessionEvents, partitions);
  let delivered = 0;
  const consumer = drain
    ? await bus.subscribe({ group: 'bench-drain', topics: [TOPICS.sessionEvents], handler: async (b) => void (delivered += b.records.length) })
    : undefined;
  const recorder = new Recorder(busEventSink(bus), { mode, maxBuffered: Math.max(events, 1) }, { clock: systemClock });
  const recs = Array.from({ length: sessions }, () => recorder.openSession(envelopeOf()));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  if (mode === 'async') {
    for (let i = 0; i < events; i++) {
      void recs[i % sessions].record(drafts[i & 1]);
      // Yield as a proxy serving a few clients per turn would, so the flush loop interleaves.
      if (i % perTurn === perTurn - 1) await new Promise<void>((r) => setImmediate(r));
    }
    await recorder.flush(600_000);
  } else {
    // As a fail-closed proxy does: a command's CommandIssued is acknowledged before the command
    // goes on, its CommandCompleted is not waited for, and the session's next command arrives
    // in a later I/O callback (setImmediate), one session per callback. Awaiting in a loop
    // instead would let every session's record share one publish, which no proxy sees.
    let left = events;
    await Promise.all(
      recs.map(
        (r) =>
          new Promise<void>((done, fail) => {
            const command = () => {
              if (left <= 0) return done();
              const completed = left >= 2;
              left -= completed ? 2 : 1;
              r.appendAcknowledged(drafts[0]).then(() => {
                if (completed) r.append(drafts[1]);
                setImmediate(command);
              }, fail);
            };
            setImmediate(command);
          }),
      ),
    );
  }
  // Delivery to the stand-in consumer is part of the cost.
  while (drain && delivered < events) await new Promise<void>((r) => setImmediate(r));
  const dt = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const st = recorder.stats();
  if (st.published !== events) throw new Error(`published ${st.published} of ${events}`);
  await recorder.close();
  await consumer?.close();
  await bus.close();
  return { rate: (events / dt) * 1000, cpuUs: (cpu.user + cpu.system) / events };
}

const best = async (f: () => Rate | Promise<Rate>): Promise<Rate> => {
  let b: Rate = { rate: 0, cpuUs: Infinity };
  for (let r = 0; r < rounds; r++) {
    const x = await f();
    if (x.rate > b.rate) b = x;
  }
  return b;
};

// Warm up the JIT on every path before measuring.
baseline();
await viaRecorder('async');
await viaRecorder('sync');
const enc = await best(baseline);
const asyncRate = await best(() => viaRecorder('async'));
const syncRate = await best(() => viaRecorder('sync'));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);
const us = (r: Rate) => `${r.cpuUs.toFixed(2).padStart(6)} us CPU/event`;
console.log(
  `events=${events} sessions=${sessions} partitions=${partitions} rounds=${rounds} (best of rounds), async: ${perTurn} events per turn, consumer: ${drain ? 'a committing group' : 'none'}`,
);
console.log(`baseline encodeEvent   ${fmt(enc.rate)} events/s  ${us(enc)}`);
console.log(`recorder async         ${fmt(asyncRate.rate)} events/s  ${us(asyncRate)}   ratio ${(asyncRate.rate / enc.rate).toFixed(2)}`);
console.log(`recorder sync          ${fmt(syncRate.rate)} events/s  ${us(syncRate)}   ratio ${(syncRate.rate / enc.rate).toFixed(2)}`);
