#!/usr/bin/env node
// bench/siem.ts: the SIEM projector's rate (ledger entries → OCSF JSON → Kafka, acks=all,
// position committed per batch) beside a raw produce of the same byte volume through the same
// bus adapter to the same broker in the same run. Target: ratio >= 0.5.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createKafkaBus, type Bus, type OutgoingRecord } from '@affidavit/bus';
import { uuidv7 } from '@affidavit/common';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { encodeEvent, exampleEvent, type LedgerRecord } from '@affidavit/schemas';
import { openPositionFile, SiemProjector } from '@affidavit/siem';
import { ed25519NoteSigner, generateEd25519NoteKey } from '@affidavit/tlog';
import { ensureKafka, uniqueTopic } from '../test/services/kafka.ts';
import { appendSigned } from '@affidavit/ledger';

const usage = `usage: node bench/siem.ts [options]

Builds a ledger file of --events entries (one log, a signed checkpoint every 10,000; a mix of
session events over --sessions sessions), then measures in one run on one broker:
  1. projection: SiemProjector reads the ledger, maps every entry to OCSF 1.5.0 JSON and
     publishes it through @affidavit/bus (Kafka, idempotent, acks=all), committing its
     position after each acknowledged batch: entries/s;
  2. raw produce: the same number of records of the same total bytes (pre-built buffers, same
     keys) through the same bus to the same broker, batch 500, 4 calls in flight (bench/bus.ts's
     pattern): records/s;
and prints the ratio projection / raw (target >= 0.5). Also prints the mapping rate alone
(read, decode, map, JSON) without Kafka, to show where the time goes.

Uses the broker named by AFFIDAVIT_TEST_KAFKA (host:port) if set, else starts one
(test/services/kafka.ts).

options:
  --events N       ledger entries (default 1000000)
  --sessions N     distinct sessions (Kafka keys) (default 1000)
  --partitions N   partitions of each topic (default 3)
  --quick          100000 entries
  --help           show this text`;

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    sessions: { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const int = (v: string, name: string, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}\n\n${usage}`);
    process.exit(2);
  }
  return n;
};
const events = int(values.events ?? (values.quick ? '100000' : '1000000'), 'events', 1, 20_000_000);
const sessions = int(values.sessions!, 'sessions', 1, 1_000_000);
const partitions = int(values.partitions!, 'partitions', 1, 1000);

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const dir = mkdtempSync(join(tmpdir(), 'affidavit-bench-siem-'));
const key = generateEd25519NoteKey('bench.affidavit', (n) => randomBytes(n));
const signer = ed25519NoteSigner(key.signerKey);

/** MIX is the share of each type in the ledger: mostly statements, as a proxy's ledger is. */
const MIX: readonly [LedgerRecord['type'], number][] = [
  ['CommandIssued', 40],
  ['CommandCompleted', 40],
  ['DataMasked', 5],
  ['SessionStarted', 4],
  ['SessionEnded', 4],
  ['CommandBlocked', 3],
  ['AuthenticationFailed', 2],
  ['ApprovalRequested', 1],
  ['ApprovalDecided', 1],
];

/** eventPool encodes `n` events of the mix over the sessions (entries reuse them; each entry gets its own event id). */
function eventPool(n: number): Buffer[] {
  const types = MIX.flatMap(([t, w]) => Array.from({ length: w }, () => t));
  const ids = Array.from({ length: sessions }, () => uuidv7());
  const seqs = new Map<string, number>();
  return Array.from({ length: n }, (_, i) => {
    const sessionId = ids[i % ids.length];
    const seq = seqs.get(sessionId) ?? 0;
    seqs.set(sessionId, seq + 1);
    const type = types[i % types.length];
    const over: Record<string, unknown> = { eventId: uuidv7(), sessionId, seq };
    if (type === 'CommandIssued') over.text = `select id, name, email from customers where id = ${i} and region = 'eu-west'`;
    return encodeEvent(exampleEvent(type, over as never));
  });
}

/** buildLedgerFile writes `n` entries to one log through the ledger's append path (integrate + append), a checkpoint every 10k. */
async function buildLedgerFile(path: string, n: number): Promise<void> {
  const pool = eventPool(Math.min(n, 100_000));
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
      appendedAt: Date.now(),
    }),
    { origin, signer },
  );
  await store.close();
}

/** counting wraps a bus so the bench learns the records and bytes the projector published. */
function counting(bus: Bus, totals: { records: number; bytes: number; keys: Set<string> }): Bus {
  return {
    ...bus,
    publish: (topic, records, opts) => {
      for (const r of records) {
        totals.records++;
        totals.bytes += r.value.length;
        if (totals.keys.size < 100_000) totals.keys.add(r.key);
      }
      return bus.publish(topic, records, opts);
    },
  };
}

/** project runs the projector over the whole ledger and returns entries/s and what it published. */
async function project(bootstrap: string, path: string, topic: string, kafka: boolean) {
  const store = await openSqliteLedgerStore({ path, readOnly: true });
  const positions = await openPositionFile(join(dir, `${topic}.position.json`), topic);
  const totals = { records: 0, bytes: 0, keys: new Set<string>() };
  const real = kafka ? createKafkaBus({ brokers: [bootstrap], clientId: 'bench-siem', publishTimeoutMs: 60_000, requestTimeoutMs: 30_000 }) : undefined;
  if (real) await real.ensureTopic(topic, partitions);
  // Without Kafka: a bus that acknowledges at once, to time reading, decoding, mapping and JSON alone.
  const bus = real ?? ({ publish: async () => {} } as unknown as Bus);
  const projector = new SiemProjector({ topic }, { store, bus: counting(bus, totals), positions });
  if (real) await real.publish(topic, [{ key: 'warm-up', value: Buffer.from('{}') }]);
  const t0 = performance.now();
  const n = await projector.runOnce();
  const seconds = (performance.now() - t0) / 1000;
  await positions.close();
  await store.close();
  await real?.close();
  if (n !== events) throw new Error(`projected ${n} of ${events} entries`);
  return { rate: n / seconds, seconds, ...totals };
}

/** rawProduce publishes `records` records totalling `bytes` bytes over `keys` through the bus and returns records/s. */
async function rawProduce(bootstrap: string, topic: string, records: number, bytes: number, keys: string[]): Promise<number> {
  const bus = createKafkaBus({ brokers: [bootstrap], clientId: 'bench-raw', publishTimeoutMs: 60_000, requestTimeoutMs: 30_000 });
  try {
    await bus.ensureTopic(topic, partitions);
    const size = Math.round(bytes / records);
    const value = Buffer.from(JSON.stringify({ pad: 'x'.repeat(Math.max(0, size - 10)) }));
    const calls: OutgoingRecord[][] = [];
    const BATCH = 500;
    for (let i = 0; i < records; i += BATCH) {
      calls.push(Array.from({ length: Math.min(BATCH, records - i) }, (_, j) => ({ key: keys[(i + j) % keys.length], value })));
    }
    await bus.publish(topic, [{ key: keys[0], value }]);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < calls.length) await bus.publish(topic, calls[next++]);
      }),
    );
    return records / ((performance.now() - t0) / 1000);
  } finally {
    await bus.close();
  }
}

try {
  const { bootstrap } = await ensureKafka();
  const path = join(dir, 'ledger.sqlite');
  const b0 = performance.now();
  await buildLedgerFile(path, events);
  console.log(`ledger of ${fmt(events)} entries built in ${((performance.now() - b0) / 1000).toFixed(1)} s; broker ${bootstrap}, ${partitions} partitions`);

  const mapOnly = await project(bootstrap, path, uniqueTopic('bench-siem-map'), false);
  console.log(`mapping alone (read, decode, OCSF, JSON; no Kafka): ${fmt(mapOnly.rate)} entries/s`);

  const projected = await project(bootstrap, path, uniqueTopic('bench-siem'), true);
  const avg = projected.bytes / projected.records;
  console.log(
    `projection to Kafka:  ${fmt(projected.rate)} entries/s   (${fmt(projected.records)} OCSF objects, ${(projected.bytes / 2 ** 20).toFixed(0)} MiB, ${fmt(avg)} bytes each, ${projected.seconds.toFixed(1)} s)`,
  );
  const raw = await rawProduce(bootstrap, uniqueTopic('bench-siem-raw'), projected.records, projected.bytes, [...projected.keys]);
  console.log(`raw produce, same bytes: ${fmt(raw)} records/s   (pre-built ${fmt(avg)}-byte records, batch 500, 4 calls in flight)`);
  const ratio = projected.rate / raw;
  console.log(`ratio projection/raw: ${ratio.toFixed(2)} (target >= 0.5) ${ratio >= 0.5 ? 'OK' : 'BELOW TARGET'}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
