#!/usr/bin/env node
// bench/distributed.ts: audit events per second end to end, pgbench's TPC-B-like script through
// the distributed topology (two `affidavit proxy postgres` processes with sync recording, a real
// Kafka broker, two `affidavit ledger run` instances in one consumer group sharing one SQLite
// store), beside the single-process embedded system (`affidavit start`, sync recording into its
// own ledger) in the same run on the same machine, against the same PostgreSQL with the same total
// number of pgbench clients. An event counts once it is in the ledger: for the distributed path
// the clock stops when the ledgers hold every record the topic holds, not when pgbench ends.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { createKafkaBus } from '@affidavit/bus';
import { openSqliteLedgerStore, sourceKey } from '@affidavit/ledger';
import { stringify } from 'yaml';
import { freePort } from '../test/services/free-port.ts';
import { ensureKafka, uniqueTopic } from '../test/services/kafka.ts';
import { startOidcProvider } from '../test/services/oidc.ts';
import { startPostgres, stopPostgres } from '../test/services/postgres.ts';
import type { PostgresInstance } from '../test/services/postgres.ts';
import { runCaptured } from '../test/services/process.ts';
import { CLI, ROOT, quiet, spawnAffidavit, stopChild, writeProxyConfig } from '../test/e2e/distributed/harness.ts';
import type { Child } from '../test/e2e/distributed/harness.ts';
import { runPgbench } from './pgbench.ts';
import type { PgbenchResult } from './pgbench.ts';

const usage = `usage: node bench/distributed.ts [options]

Runs \`pgbench -c CLIENTS -T DURATION\` (TPC-B-like, simple protocol, TLS) through:
  embedded     one \`affidavit start\` process: proxy, in-process bus, ledger (sync recording)
  distributed  two \`affidavit proxy postgres\` processes (CLIENTS/2 each, sync recording on
               acks=all), Kafka (one KRaft broker), two \`affidavit ledger run\` instances in one
               group over PARTITIONS partitions, one shared SQLite store
and prints events/s into the ledger (entries appended / seconds from pgbench start until the
ledger held them), transactions/s, the ratio distributed/embedded, and per partition events/s.

options:
  --duration S      seconds of each pgbench run (default 20; --quick: 5)
  --clients N       pgbench clients in total (default 8, even)
  --partitions N    partitions of the session-events topic (default 3)
  --scale N         pgbench -i scale (default 10; --quick: 1). At scale 1 every transaction
                    updates the one pgbench_branches row, so the run measures lock hold time
  --quick           short smoke run`;

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    clients: { type: 'string', default: '8' },
    partitions: { type: 'string', default: '3' },
    scale: { type: 'string' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const duration = Number(values.duration ?? (values.quick ? 5 : 20));
const scale = values.scale ?? (values.quick ? '1' : '10');
const clients = Number(values.clients);
const partitions = Number(values.partitions);
if (
  !Number.isInteger(clients) ||
  clients < 2 ||
  clients % 2 !== 0 ||
  !Number.isInteger(duration) ||
  duration < 1 ||
  !Number.isInteger(partitions) ||
  partitions < 1
) {
  console.error(`bad option\n\n${usage}`);
  process.exit(2);
}
const POLICY = join(ROOT, 'test/e2e/postgres/fixtures/e2e.policy.yaml');
const dir = mkdtempSync(join(tmpdir(), 'affidavit-bench-dist-'));
const children: Child[] = [];

/** Row is one measured path. */
type Row = { path: string; tps: number; events: number; seconds: number; perPartition?: number[] };

/** ledgerCounts returns the entries of every log of a SQLite ledger (read-only) and, per log, the last source offset. */
async function ledgerCounts(file: string): Promise<Map<string, { size: number; last: Map<string, bigint> }>> {
  const s = await openSqliteLedgerStore({ path: file, readOnly: true });
  try {
    const out = new Map<string, { size: number; last: Map<string, bigint> }>();
    for (const id of await s.listLogs()) {
      const t = await (await s.openLog(id)).tail();
      out.set(id, { size: t.size, last: t.lastSource });
    }
    return out;
  } finally {
    await s.close();
  }
}

const total = (m: Map<string, { size: number }>) => [...m.values()].reduce((n, l) => n + l.size, 0);
const pgbenchArgs = (c: number) => ['-n', '-c', String(c), '-j', String(Math.min(c, 2)), '-T', String(duration), '-M', 'simple'];

async function embedded(pg: PostgresInstance): Promise<Row> {
  const dataDir = join(dir, 'embedded');
  const config = join(dir, 'embedded.yaml');
  const port = await freePort();
  writeFileSync(
    config,
    stringify({
      dataDir,
      issuer: { port: await freePort(), users: { alice: { groups: ['dev'] } } },
      postgres: {
        port,
        resource: 'app',
        upstream: { kind: 'external', host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database, caFile: pg.caFile },
        maxConnections: 64,
        maxConnectionsPerIdentity: clients + 2,
      },
      policyFile: POLICY,
      recording: { mode: 'sync' },
      api: { port: 0 },
    }),
  );
  const system = await spawnAffidavit(['start', '--config', config], /Affidavit is running/);
  children.push(system);
  const token = await runCaptured(process.execPath, [CLI, 'token', 'alice', '--config', config], { timeoutMs: 60_000 });
  const t0 = performance.now();
  const r = await runPgbench({
    target: { host: '127.0.0.1', port, user: 'alice', password: token.stdout.trim(), database: pg.database, sslmode: 'require' },
    args: pgbenchArgs(clients),
    transactionLog: false,
  });
  // Sync recording in the embedded mode acknowledges once the ledger holds the event durably.
  const seconds = (performance.now() - t0) / 1000;
  await stopChild(system);
  return { path: `embedded (1 process, ${clients} clients)`, tps: r.summary.tps, events: total(await ledgerCounts(join(dataDir, 'ledger.sqlite'))), seconds };
}

async function distributed(
  pg: PostgresInstance,
  bootstrap: string,
  issuer: { issuer: string; audience: string; token(u: string): Promise<string> },
): Promise<Row> {
  const topic = uniqueTopic('bench-dist');
  const store = join(dir, 'distributed.sqlite');
  const admin = createKafkaBus({ brokers: [bootstrap] }, { logger: quiet });
  await admin.ensureTopic(topic, partitions);
  await admin.close();
  const ports: number[] = [];
  for (const id of ['bench-pg-a', 'bench-pg-b']) {
    const port = await freePort();
    const file = writeProxyConfig(dir, {
      id,
      brokers: bootstrap,
      topic,
      port,
      pg,
      issuer: issuer.issuer,
      audience: issuer.audience,
      policyFile: POLICY,
      maskingKeyFile: join(dir, 'masking.keys'),
      decisionKeyFiles: [],
      maxConnectionsPerIdentity: clients + 2,
    });
    children.push(await spawnAffidavit(['proxy', 'postgres', '--config', file], /proxy listening on/, { env: { AFFIDAVIT_UPSTREAM_PASSWORD: pg.password } }));
    ports.push(port);
  }
  const group = uniqueTopic('bench-ledger');
  for (let i = 0; i < 2; i++) {
    const args = ['ledger', 'run', '--brokers', bootstrap, '--store', `sqlite:${store}`, '--signing-key', join(dir, 'ledger.key'), '--origin', 'bench.dist'];
    children.push(await spawnAffidavit([...args, '--topic', topic, '--group', group, '--partitions', String(partitions)], /ledger running/));
  }
  const t0 = performance.now();
  const runs: PgbenchResult[] = await Promise.all(
    ports.map(async (port) =>
      runPgbench({
        target: { host: '127.0.0.1', port, user: 'alice', password: await issuer.token('alice'), database: pg.database, sslmode: 'require' },
        args: pgbenchArgs(clients / 2),
        transactionLog: false,
      }),
    ),
  );
  // The clock stops when the ledgers hold every record on the topic (offsets: high watermark - 1).
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
  await kafka.connect();
  const highs = new Map((await kafka.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  await kafka.disconnect();
  let counts = await ledgerCounts(store);
  const caughtUp = () => [...highs].every(([p, high]) => high === 0n || (counts.get(`${topic}:${p}`)?.last.get(sourceKey(topic, p)) ?? -1n) >= high - 1n);
  while (!caughtUp()) {
    await new Promise((r) => setTimeout(r, 50));
    counts = await ledgerCounts(store);
  }
  const seconds = (performance.now() - t0) / 1000;
  const perPartition = [...Array(partitions).keys()].map((p) => (counts.get(`${topic}:${p}`)?.size ?? 0) / seconds);
  return {
    path: `distributed (2 proxies x ${clients / 2} clients, Kafka, 2 ledgers)`,
    tps: runs.reduce((n, r) => n + r.summary.tps, 0),
    events: total(counts),
    seconds,
    perPartition,
  };
}

try {
  const [pg, { bootstrap }, oidc] = await Promise.all([startPostgres(), ensureKafka(), startOidcProvider({ accessTokenTtlSeconds: 3600 })]);
  const init = await pg.pgbench(['-i', '-s', scale, '-q'], { timeoutMs: 600_000 });
  if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
  // Taking turns would be fairer on a loaded machine; one each keeps the run short. The embedded
  // system runs first: the distributed run's broker and JVM warm-up then cost it nothing.
  const rows = [await embedded(pg)];
  rows.push(await distributed(pg, bootstrap, { issuer: oidc.issuer, audience: oidc.audience, token: (u) => oidc.issueToken(u) }));
  const base = rows[0].events / rows[0].seconds;
  console.log(
    `\nmachine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); pgbench TPC-B-like, scale ${scale}, -M simple, TLS; ${duration} s per run; sync recording`,
  );
  console.log(
    `${'path'.padEnd(56)} ${'tps'.padStart(8)} ${'events'.padStart(8)} ${'seconds'.padStart(8)} ${'events/s'.padStart(9)} ${'vs embedded'.padStart(11)}`,
  );
  for (const r of rows) {
    const eps = r.events / r.seconds;
    console.log(
      `${r.path.padEnd(56)} ${r.tps.toFixed(1).padStart(8)} ${String(r.events).padStart(8)} ${r.seconds.toFixed(1).padStart(8)} ${eps.toFixed(0).padStart(9)} ${(eps / base).toFixed(2).padStart(10)}x`,
    );
  }
  const per = rows[1].perPartition!;
  console.log(`distributed, per partition events/s: ${per.map((e, p) => `p${p} ${e.toFixed(0)}`).join(', ')}`);
  await oidc.stop();
} finally {
  for (const c of children.reverse()) await stopChild(c).catch(() => {});
  await stopPostgres();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
