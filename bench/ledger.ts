#!/usr/bin/env node
// bench/ledger.ts: the ledger's four throughput figures, each printed beside its baseline.
//
// 1. Embedded append: the real Ledger (Merkle leaves, tiles, signed checkpoints, SQLite with
//    synchronous=FULL) fed by the in-process bus, against a raw batched INSERT of the same bytes
//    into node:sqlite with the same pragmas (rawInsertBaseline). Targets: >= 100k events/s and
//    >= 0.5 x raw.
// 2. Acknowledged appends: writers that each wait for their event to be durable before the
//    next (sync recording in the embedded mode), beside a raw INSERT committing as many rows.
// 3. Kafka -> ledger end to end on a real broker: publish N pre-encoded events through the Kafka
//    bus and time until the ledger has appended them all. Target: >= 30k events/s.
// 4. verify of a ledger file of 1M entries (verifyLog over entriesWithRecordedLeaves, the path of
//    `affidavit verify LEDGER.sqlite`, and the CLI process itself), beside the machine's raw
//    SHA-256 rate over the same bytes. Target: < 10 s.
import { execFile, fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { createKafkaBus, createMemoryBroker, createMemoryBus } from '@affidavit/bus';
import type { Bus, OutgoingRecord } from '@affidavit/bus';
import { uuidv7 } from '@affidavit/common';
import { entriesWithRecordedLeaves, Ledger, openSqliteLedgerStore, openWorkerSqliteLedgerStore, verifyLog } from '@affidavit/ledger';
import { rawInsertBaseline } from './raw-insert-baseline.ts';
import { encodeEvent, exampleEvent } from '@affidavit/schemas';
import { ed25519NoteSigner, ed25519NoteVerifier, generateEd25519NoteKey, openNote, parseCheckpoint } from '@affidavit/tlog';
import { ensureKafka, uniqueTopic } from '../test/services/kafka.ts';
import { appendSigned } from '@affidavit/ledger';

const run = promisify(execFile);

const usage = `usage: node bench/ledger.ts [options]

Measures, in one run, and prints each figure beside its baseline and the ratio:
  1. embedded append: the Ledger (memory bus -> Merkle tiles + signed checkpoints -> SQLite,
     synchronous=FULL) vs a raw batched INSERT of the same bytes (targets >= 100k events/s
     and >= 0.5 x raw);
  2. acknowledged appends, the pattern of sync recording in the embedded mode: --writers
     writers each publish one event and wait for ledger.appended() before the next, for
     --ack-seconds; events/s, entries per commit and CPU per event, beside a raw INSERT that
     commits as many rows per transaction as the ledger's commits held on average;
  3. Kafka -> ledger end to end on a real broker (target >= 30k events/s);
  4. verify of a ledger file of --verify-entries entries, in process and through the
     'affidavit verify' CLI, beside a raw SHA-256 pass over the same bytes (target < 10 s).
Events are CommandIssued records (~300 bytes, Avro single-object encoding), encoded before timing.
Each figure is measured --runs times; the median is reported.

Uses the broker named by AFFIDAVIT_TEST_KAFKA (host:port) if set, else starts one
(test/services/kafka.ts).

options:
  --events N          events per append measurement (default 200000)
  --verify-entries N  entries of the ledger file that verify checks (default 1000000)
  --runs N            repetitions of each measurement (default 3)
  --partitions N      partitions of the session-events topic (default 1: one log)
  --quick             small sizes for a smoke run (20000 events, 100000 verify entries, 1 run)
  --store KIND        SQLite store of the embedded figure: worker (default: a worker thread
                      owns the file, as in the embedded mode) or direct (same thread)
  --writers N         writers of the acknowledged-appends figure (default 8, as pgbench -c 8)
  --ack-seconds S     duration of the acknowledged-appends figure (default 10; --quick: 3)
  --skip LIST         comma-separated parts to skip: embedded, kafka, verify, acked
  --help              show this text`;

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    'verify-entries': { type: 'string' },
    runs: { type: 'string' },
    partitions: { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    skip: { type: 'string', default: '' },
    store: { type: 'string', default: 'worker' },
    writers: { type: 'string' },
    'ack-seconds': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const int = (name: 'events' | 'verify-entries' | 'runs' | 'partitions' | 'writers' | 'ack-seconds', fallback: number, min: number, max: number): number => {
  const n = Number(values[name] ?? fallback);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}\n\n${usage}`);
    process.exit(2);
  }
  return n;
};
const quick = values.quick;
const events = int('events', quick ? 20_000 : 200_000, 1, 10_000_000);
const verifyEntries = int('verify-entries', quick ? 100_000 : 1_000_000, 1, 20_000_000);
const runs = int('runs', quick ? 1 : 3, 1, 20);
const partitions = int('partitions', 1, 1, 64);
const writers = int('writers', 8, 1, 1000);
const ackSeconds = int('ack-seconds', quick ? 3 : 10, 1, 3600);
const storeKind = values.store;
if (storeKind !== 'worker' && storeKind !== 'direct') {
  console.error(`--store must be worker or direct\n\n${usage}`);
  process.exit(2);
}
const skip = new Set(values.skip.split(',').filter(Boolean));
for (const s of skip) {
  if (!['embedded', 'kafka', 'verify', 'acked'].includes(s)) {
    console.error(`--skip: unknown part ${s}\n\n${usage}`);
    process.exit(2);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'affidavit-bench-ledger-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newPath = () => join(dir, `ledger-${files++}.sqlite`);

const clock = { now: () => Date.now() };
const key = generateEd25519NoteKey('bench.affidavit', (n) => randomBytes(n));
const signer = ed25519NoteSigner(key.signerKey);
const verifier = ed25519NoteVerifier(key.verifierKey);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const verdict = (ok: boolean) => (ok ? 'OK' : 'BELOW TARGET');

/** encodeEvents returns `n` distinct CommandIssued events, Avro-encoded, over `sessions` sessions. */
function encodeEvents(n: number, sessions = 64): { key: string; value: Buffer }[] {
  const ids = Array.from({ length: sessions }, () => uuidv7());
  return Array.from({ length: n }, (_, i) => {
    const sessionId = ids[i % sessions];
    const seq = Math.floor(i / sessions);
    const text = `select id, email from customers where id = ${i}`;
    return { key: sessionId, value: encodeEvent(exampleEvent('CommandIssued', { eventId: uuidv7(), sessionId, seq, text, commandId: `c${seq}` })) };
  });
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const TOPICS = (tag: string) => ({ topic: `bench.${tag}.events`, dlqTopic: `bench.${tag}.dlq`, checkpointsTopic: `bench.${tag}.checkpoints` });

/** embeddedBus is an in-process bus over `broker` with the ledger's three topics (tagged `tag`). */
async function embeddedBus(tag: string, broker: ReturnType<typeof createMemoryBroker>) {
  const bus = createMemoryBus({}, { broker, clock });
  const t = TOPICS(tag);
  await bus.ensureTopic(t.topic, partitions);
  await bus.ensureTopic(t.dlqTopic, 1);
  await bus.ensureTopic(t.checkpointsTopic, 1);
  return { bus, t };
}

/** openEmbeddedStore opens a new ledger file with the store --store names. */
const openEmbeddedStore = () => (storeKind === 'worker' ? openWorkerSqliteLedgerStore({ path: newPath() }) : openSqliteLedgerStore({ path: newPath() }));

/** embeddedRun pre-publishes the events to an in-process broker, then times the Ledger appending them all. */
async function embeddedRun(recs: readonly OutgoingRecord[]): Promise<number> {
  // The whole run is published before the ledger subscribes: keep all of it (the default
  // retention caps a topic no group has subscribed to yet).
  const { bus, t } = await embeddedBus('embedded', createMemoryBroker({ clock, retention: { maxRetainedBytes: 2 ** 40, maxRetainedRecords: 100_000_000 } }));
  for (let i = 0; i < recs.length; i += 10_000) await bus.publish(t.topic, recs.slice(i, i + 10_000));
  const store = await openEmbeddedStore();
  const ledger = new Ledger({ origin: 'bench.affidavit', group: 'ledger', ...t }, { bus, store, signer, clock });
  const t0 = performance.now();
  await ledger.start();
  await until(() => ledger.stats().appended >= recs.length, 600_000, 'the embedded ledger');
  const ms = performance.now() - t0;
  await ledger.stop();
  await bus.close();
  await store.close();
  return ms;
}

async function partEmbedded(): Promise<void> {
  console.log(`\n1. embedded append: ${fmt(events)} events, ${partitions} partition(s), memory bus -> Ledger -> SQLite (synchronous=FULL, ${storeKind} store)`);
  const recs = encodeEvents(events);
  const avg = recs.reduce((s, r) => s + r.value.length, 0) / recs.length;
  const blobs = recs.map((r) => r.value);
  const ledgerMs: number[] = [];
  const rawMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    ledgerMs.push(await embeddedRun(recs));
    rawMs.push(rawInsertBaseline({ path: newPath(), blobs, count: blobs.length, batchSize: 500 }));
    console.log(`   run ${r + 1}: ledger ${fmt(events / (ledgerMs[r] / 1000))} events/s, raw ${fmt(events / (rawMs[r] / 1000))} rows/s`);
  }
  const ledgerRate = events / (median(ledgerMs) / 1000);
  const rawRate = events / (median(rawMs) / 1000);
  console.log(`   events: ${avg.toFixed(0)} bytes on average`);
  console.log(`   ledger (median):            ${fmt(ledgerRate)} events/s (target >= 100,000) ${verdict(ledgerRate >= 100_000)}`);
  console.log(`   raw INSERT, batches of 500: ${fmt(rawRate)} rows/s`);
  console.log(`   ratio ledger/raw: ${(ledgerRate / rawRate).toFixed(2)} (target >= 0.5) ${verdict(ledgerRate / rawRate >= 0.5)}`);
}

/**
 * kafkaRun times a real broker between a feeder process (bench/kafka-feeder.ts, as the proxies
 * are separate processes in a deployment) and the Ledger in this one: from the feeder's first
 * publish until the ledger has appended every event. Returns [end-to-end ms, feeder publish ms].
 */
async function kafkaRun(bootstrap: string, n: number): Promise<[number, number]> {
  const tag = uniqueTopic('bench-ledger');
  const t = TOPICS(tag);
  const bus: Bus = createKafkaBus({ brokers: [bootstrap], publishTimeoutMs: 60_000, requestTimeoutMs: 30_000, maxWaitTimeMs: 50 });
  await bus.ensureTopic(t.topic, partitions);
  await bus.ensureTopic(t.dlqTopic, 1);
  await bus.ensureTopic(t.checkpointsTopic, 1);
  const store = await openSqliteLedgerStore({ path: newPath() });
  const ledger = new Ledger({ origin: 'bench.affidavit', group: `${tag}-ledger`, ...t }, { bus, store, signer, clock });
  const feeder = fork(join(import.meta.dirname, 'kafka-feeder.ts'), ['--brokers', bootstrap, '--topic', t.topic, '--events', String(n)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const exited = new Promise<never>((_, reject) => feeder.once('exit', (code) => reject(new Error(`the feeder exited (${code}) early`))));
    const message = (key: 'ready' | 'done') =>
      Promise.race([exited, new Promise<{ ms?: number }>((resolve) => feeder.on('message', (m: Record<string, unknown>) => m[key] && resolve(m)))]);
    await ledger.start();
    await message('ready');
    const t0 = performance.now();
    const done = message('done');
    feeder.send({ go: true });
    await until(() => ledger.stats().appended >= n, 600_000, 'the Kafka-fed ledger');
    const ms = performance.now() - t0;
    const { ms: publishMs = NaN } = await done;
    return [ms, publishMs];
  } finally {
    feeder.kill();
    await ledger.stop();
    await bus.close();
    await store.close();
  }
}

async function partKafka(): Promise<void> {
  const { bootstrap } = await ensureKafka();
  console.log(`\n3. Kafka -> ledger: ${fmt(events)} events, ${partitions} partition(s), broker ${bootstrap}, acks=all`);
  console.log('   feeder: bench/kafka-feeder.ts in its own process (4 concurrent publishes of 500 records); ledger in this one');
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const [total, publish] = await kafkaRun(bootstrap, events);
    ms.push(total);
    console.log(`   run ${r + 1}: ${fmt(events / (total / 1000))} events/s end to end (the feeder published at ${fmt(events / (publish / 1000))} events/s)`);
  }
  const rate = events / (median(ms) / 1000);
  console.log(`   Kafka -> ledger (median): ${fmt(rate)} events/s (target >= 30,000) ${verdict(rate >= 30_000)}`);
}

/** buildLedgerFile writes `n` entries to one log through the ledger's append path (integrate + append), a checkpoint every 10k. */
async function buildLedgerFile(path: string, n: number): Promise<void> {
  const pool = encodeEvents(Math.min(n, 100_000)).map((r) => r.value);
  const store = await openSqliteLedgerStore({ path });
  const log = await store.openLog('bench.events:0');
  const origin = `bench.affidavit/${log.logId}`;
  await appendSigned(
    log,
    n,
    (i) => ({
      eventId: uuidv7(),
      kind: 'event',
      bytes: pool[i % pool.length],
      source: { topic: 'bench.events', partition: 0, offset: BigInt(i) },
      appendedAt: clock.now(),
    }),
    { origin, signer },
  );
  await store.close();
}

async function partVerify(): Promise<void> {
  console.log(`\n4. verify: a ledger file of ${fmt(verifyEntries)} entries (one log, a signed checkpoint every 10,000)`);
  const path = newPath();
  const b0 = performance.now();
  await buildLedgerFile(path, verifyEntries);
  console.log(`   built in ${((performance.now() - b0) / 1000).toFixed(1)} s`);
  const open = (note: string) => {
    const c = parseCheckpoint(openNote(note, [verifier]).text);
    return { origin: c.origin, size: c.size, root: c.root };
  };
  const pubFile = join(dir, 'ledger.pub');
  writeFileSync(pubFile, `${key.verifierKey}\n`);
  const cli = join(import.meta.dirname, '..', 'services', 'cli', 'src', 'main.ts');
  const inproc: number[] = [];
  const viaCli: number[] = [];
  const sha: number[] = [];
  for (let r = 0; r < runs; r++) {
    // In process: the library path `affidavit verify LEDGER.sqlite` runs.
    let t0 = performance.now();
    const store = await openSqliteLedgerStore({ path, readOnly: true });
    const log = await store.openLog('bench.events:0');
    const checkpoints = await log.checkpoints();
    const report = await verifyLog({ origin: checkpoints[0].split('\n')[0], checkpoints, entries: entriesWithRecordedLeaves(log), open });
    inproc.push(performance.now() - t0);
    if (!report.ok || report.entries !== verifyEntries) throw new Error(`verify failed: ${JSON.stringify(report)}`);
    // The machine's raw SHA-256 rate over the same bytes: one hash per entry, nothing else.
    const blobs: Buffer[] = [];
    for await (const e of log.readEntries(0, verifyEntries)) blobs.push(e.bytes);
    await store.close();
    t0 = performance.now();
    for (const b of blobs) createHash('sha256').update(b).digest();
    sha.push(performance.now() - t0);
    blobs.length = 0;
    // The CLI process, start to exit.
    t0 = performance.now();
    const { stdout } = await run(process.execPath, [cli, 'verify', path, '--key', pubFile], { timeout: 600_000, maxBuffer: 1 << 24 });
    viaCli.push(performance.now() - t0);
    if (!/ok: /.test(stdout)) throw new Error(`affidavit verify did not pass: ${stdout}`);
    console.log(
      `   run ${r + 1}: verifyLog ${(inproc[r] / 1000).toFixed(2)} s, CLI ${(viaCli[r] / 1000).toFixed(2)} s, raw SHA-256 ${(sha[r] / 1000).toFixed(2)} s`,
    );
  }
  const v = median(inproc) / 1000;
  const c = median(viaCli) / 1000;
  const s = median(sha) / 1000;
  console.log(
    `   verifyLog over entriesWithRecordedLeaves (median): ${v.toFixed(2)} s = ${fmt(verifyEntries / v)} entries/s (target < 10 s) ${verdict(v < 10)}`,
  );
  console.log(`   affidavit verify LEDGER.sqlite, CLI process (median): ${c.toFixed(2)} s (target < 10 s) ${verdict(c < 10)}`);
  console.log(`   raw SHA-256 of the same entries (median): ${s.toFixed(2)} s = ${fmt(verifyEntries / s)} hashes/s`);
  console.log(`   ratio verify/raw SHA-256 time: ${(v / s).toFixed(1)}x`);
}

console.log(`bench/ledger.ts: node ${process.version}, ${runs} run(s) per figure, medians reported`);
/**
 * partAcked measures the ledger as sync recording drives it: each writer publishes one event and
 * waits until the ledger holds it durably (Ledger#appended, what the embedded mode's sink awaits)
 * before publishing the next. Commits then hold about one event per writer, so the figure is
 * the ledger's cost per commit; the baseline is a raw INSERT committing as many rows per
 * transaction as the ledger's commits held on average.
 */
async function partAcked(): Promise<void> {
  console.log(`\n2. acknowledged appends: ${writers} writers, each waits for its event to be durable before the next; ${ackSeconds} s, ${storeKind} store`);
  const { bus, t } = await embeddedBus('acked', createMemoryBroker({ clock }));
  const store = await openEmbeddedStore();
  let commits = 0;
  const counted = {
    ...store,
    openLog: async (id: string) => {
      const log = await store.openLog(id);
      return { ...log, append: (batch: Parameters<typeof log.append>[0], expected: number) => (commits++, log.append(batch, expected)) };
    },
  };
  const ledger = new Ledger({ origin: 'bench.affidavit', group: 'ledger', ...t }, { bus, store: counted, signer, clock });
  await ledger.start();
  let acked = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + ackSeconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      const sessionId = uuidv7();
      for (let seq = 0; performance.now() < deadline; seq++) {
        const eventId = uuidv7();
        const value = encodeEvent(
          exampleEvent('CommandIssued', { eventId, sessionId, seq, text: 'SELECT abalance FROM pgbench_accounts WHERE aid = $1', commandId: `c${seq}` }),
        );
        const durable = ledger.appended([eventId]);
        await bus.publish(t.topic, [{ key: sessionId, value, headers: { eventId } }]);
        await durable;
        acked++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  await ledger.stop();
  await bus.close();
  await store.close();
  const perCommit = acked / Math.max(1, commits);
  const rate = acked / seconds;
  const blobs = encodeEvents(2_000).map((r) => r.value);
  const rawBatch = Math.max(1, Math.round(perCommit));
  const rawMs = rawInsertBaseline({ path: newPath(), blobs, count: 20_000, batchSize: rawBatch });
  const rawRate = 20_000 / (rawMs / 1000);
  console.log(
    `   ledger: ${fmt(rate)} events/s acknowledged, ${perCommit.toFixed(1)} entries per commit, ${((cpu.user + cpu.system) / acked).toFixed(0)} us CPU per event (this process, every thread)`,
  );
  console.log(`   raw INSERT, ${rawBatch} rows per commit: ${fmt(rawRate)} rows/s`);
  console.log(`   ratio ledger/raw: ${(rate / rawRate).toFixed(2)}`);
}

if (!skip.has('embedded')) await partEmbedded();
// Before the Kafka and verify parts, which leave this process with a large heap.
if (!skip.has('acked')) await partAcked();
if (!skip.has('kafka')) await partKafka();
if (!skip.has('verify')) await partVerify();
process.exit(0);
