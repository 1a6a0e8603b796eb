#!/usr/bin/env node
// bench/bus.ts: throughput of the bus's Kafka adapter against Kafka's own producer.
// Both publish 1 KiB records with acks=all to the same broker in the same run; the ratio
// (bus / Java) says how much the adapter (kafkajs, idempotent, per-call acknowledgement)
// costs compared with the reference client. Target: ratio >= 0.5.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs, promisify } from 'node:util';
import { createKafkaBus, type OutgoingRecord } from '@affidavit/bus';
import { ensureKafka, JAVA, kafkaClasspath, kafkaJavaArgs, uniqueTopic } from '../test/services/kafka.ts';

const run = promisify(execFile);

const usage = `usage: node bench/bus.ts [options]

Publishes 1 KiB records through @affidavit/bus (Kafka adapter: kafkajs, idempotent,
acks=all) and through Kafka's org.apache.kafka.tools.ProducerPerformance (acks=all) to the
same broker, and prints both rates in records/s and their ratio (target >= 0.5).

Uses the broker named by AFFIDAVIT_TEST_KAFKA (host:port) if set, else starts one
(test/services/kafka.ts; the first run downloads Kafka's jars with Maven).

options:
  --records N       records per run (default 100000)
  --batch N         records per publish() call (default 500)
  --concurrency N   publish() calls in flight at once (default 4)
  --size N          value bytes per record (default 1024)
  --partitions N    partitions of each topic (default 3)
  --sessions N      distinct keys (session ids) (default 64)
  --help            show this text`;

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '4' },
    size: { type: 'string', default: '1024' },
    partitions: { type: 'string', default: '3' },
    sessions: { type: 'string', default: '64' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const int = (name: keyof typeof values, min: number, max: number): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}\n\n${usage}`);
    process.exit(2);
  }
  return n;
};
const records = int('records', 1, 10_000_000);
const batch = int('batch', 1, 100_000);
const concurrency = int('concurrency', 1, 64);
const size = int('size', 1, 1_000_000);
const partitions = int('partitions', 1, 1000);
const sessions = int('sessions', 1, 100_000);

/** busRate publishes `n` records through the bus and returns records per second. */
async function busRate(bootstrap: string, topic: string, n: number): Promise<number> {
  const bus = createKafkaBus({ brokers: [bootstrap], publishTimeoutMs: 60_000, requestTimeoutMs: 30_000 });
  try {
    await bus.ensureTopic(topic, partitions);
    const keys = Array.from({ length: sessions }, () => randomBytes(16).toString('hex'));
    const value = randomBytes(size);
    const calls: OutgoingRecord[][] = [];
    for (let i = 0; i < n; i += batch) {
      calls.push(Array.from({ length: Math.min(batch, n - i) }, (_, j) => ({ key: keys[(i + j) % sessions], value })));
    }
    // Warm the connection and metadata so the timed part measures steady state, as the
    // Java tool's own measurement starts after its producer is created.
    await bus.publish(topic, [{ key: keys[0], value }]);
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < calls.length) await bus.publish(topic, calls[next++]);
      }),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return n / seconds;
  } finally {
    await bus.close();
  }
}

/** javaRate runs ProducerPerformance and returns the records/s it reports. */
async function javaRate(bootstrap: string, topic: string, n: number): Promise<{ rate: number; line: string }> {
  const cp = await kafkaClasspath();
  const bus = createKafkaBus({ brokers: [bootstrap] });
  await bus.ensureTopic(topic, partitions);
  await bus.close();
  const { stdout } = await run(
    JAVA,
    [
      ...kafkaJavaArgs(cp, '512m'),
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(n),
      '--record-size',
      String(size),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${bootstrap}`,
      'acks=all',
      'enable.idempotence=true',
    ],
    { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
  );
  // Last summary line: "100000 records sent, 41000.2 records/sec (40.04 MB/sec), ..."
  const line =
    stdout
      .trim()
      .split('\n')
      .filter((l) => l.includes('records sent'))
      .at(-1) ?? '';
  const m = /records sent, ([0-9.]+) records\/sec/.exec(line);
  if (!m) throw new Error(`could not read ProducerPerformance output:\n${stdout}`);
  return { rate: Number(m[1]), line };
}

const { bootstrap } = await ensureKafka();
console.log(`broker ${bootstrap}; ${records} records of ${size} bytes, acks=all, ${partitions} partitions`);
const java = await javaRate(bootstrap, uniqueTopic('bench-java'), records);
console.log(`kafka ProducerPerformance: ${java.rate.toFixed(0)} records/s   (${java.line.trim()})`);
const bus = await busRate(bootstrap, uniqueTopic('bench-bus'), records);
console.log(`@affidavit/bus (kafkajs):  ${bus.toFixed(0)} records/s   (batch ${batch}, ${concurrency} calls in flight, ${sessions} keys)`);
const ratio = bus / java.rate;
console.log(`ratio bus/java: ${ratio.toFixed(2)} (target >= 0.5) ${ratio >= 0.5 ? 'OK' : 'BELOW TARGET'}`);
