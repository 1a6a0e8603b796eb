#!/usr/bin/env node
// bench/kafka-feeder.ts: the producer side of bench/ledger.ts's Kafka -> ledger figure, in its
// own process as in a deployment (feeders are the proxies, not the ledger's process), so the
// figure measures the ledger's consumption rather than two clients sharing one event loop.
//
// Protocol with the parent (IPC): the feeder encodes its events, sends {ready}, waits for {go},
// publishes them in calls of 500 records from 4 concurrent publishers, then sends {done, ms}.
import { parseArgs } from 'node:util';
import { createKafkaBus } from '@affidavit/bus';
import type { OutgoingRecord } from '@affidavit/bus';
import { uuidv7 } from '@affidavit/common';
import { encodeEvent, exampleEvent } from '@affidavit/schemas';

const usage = `usage: node bench/kafka-feeder.ts --brokers HOST:PORT --topic T --events N [--sessions S]

Publishes N distinct CommandIssued events (Avro single-object encoding, key = sessionId) to T
through the Kafka bus adapter. Meant to be forked by bench/ledger.ts (it waits for "go" on its
IPC channel when it has one; run alone, it starts at once and prints the elapsed time).`;

const { values } = parseArgs({
  options: {
    brokers: { type: 'string' },
    topic: { type: 'string' },
    events: { type: 'string' },
    sessions: { type: 'string', default: '64' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const events = Number(values.events);
const sessions = Number(values.sessions);
if (!values.brokers || !values.topic || !Number.isInteger(events) || events < 1 || !Number.isInteger(sessions) || sessions < 1) {
  console.error(usage);
  process.exit(2);
}

const ids = Array.from({ length: sessions }, () => uuidv7());
const recs: OutgoingRecord[] = Array.from({ length: events }, (_, i) => {
  const sessionId = ids[i % sessions];
  const seq = Math.floor(i / sessions);
  return {
    key: sessionId,
    value: encodeEvent(
      exampleEvent('CommandIssued', { eventId: uuidv7(), sessionId, seq, text: `select id, email from customers where id = ${i}`, commandId: `c${seq}` }),
    ),
  };
});
const bus = createKafkaBus({ brokers: values.brokers.split(','), publishTimeoutMs: 60_000, requestTimeoutMs: 30_000 });
// Connect before the clock starts: the first publish opens the producer.
await bus.ensureTopic(`${values.topic}.feeder-warmup`, 1);
await bus.publish(`${values.topic}.feeder-warmup`, [{ key: 'warmup', value: Buffer.from('warmup') }]);

const go = Promise.withResolvers<void>();
if (process.send) {
  process.on('message', (m: { go?: boolean }) => m.go && go.resolve());
  process.send({ ready: true });
} else go.resolve();
await go.promise;

const t0 = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (next < recs.length) {
      const from = next;
      next += 500;
      await bus.publish(values.topic!, recs.slice(from, from + 500));
    }
  }),
);
const ms = performance.now() - t0;
await bus.close();
if (process.send) process.send({ done: true, ms }, () => process.exit(0));
else console.log(`published ${events} events in ${ms.toFixed(0)} ms`);
