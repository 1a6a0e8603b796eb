#!/usr/bin/env node
// bench/api.ts: the API's figures, each beside a baseline measured in the same run.
//
// 1. Projection: rebuilding the read models from a ledger file of --events entries (decode +
//    pure projection + SQLite read-model writes), events/s, beside the raw SQLite scan rate of the
//    same file (SELECT of every entry bundle through node:sqlite) and the store's readEntries
//    (bundles parsed into entries). Target: rebuild >= 0.3 x raw scan.
// 2. Queries under load: --clients concurrent HTTP clients (keep-alive fetch) against the API
//    listening in a child process (so the clients do not share its event loop), for --seconds
//    each: first a baseline ({ me { subject } }: HTTP, token check and GraphQL, no read model),
//    then a paginated sessions query (first 50, following endCursor up to 20 pages, then
//    again from the top) and the commands of one random session (first 50). p50/p99 latency.
//    Target: p99 < 50 ms.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildServer, createProofService, openSqliteReadModel, ReadModelProjector } from '@affidavit/api';
import { uuidv7 } from '@affidavit/common';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { codec, encodeEvent, exampleEvent, EXAMPLE_ACTOR } from '@affidavit/schemas';
import { ed25519NoteSigner, generateEd25519NoteKey } from '@affidavit/tlog';
import { appendSigned } from '@affidavit/ledger';

const usage = `usage: node bench/api.ts [options]

  --events N     ledger entries (default 1000000; --quick 100000)
  --clients N    concurrent HTTP clients (default 50)
  --seconds S    duration of each query figure (default 10; --quick 3)
  --quick        small sizes for a smoke run
  --cpu-prof DIR write a V8 CPU profile of the API server process to DIR (node --cpu-prof)
  --help         show this text

Events are sessions of 50 entries (SessionStarted, 24 commands as CommandIssued +
CommandCompleted, SessionEnded; every 10th session a CommandBlocked instead of its last
completion), users spread over 200 subjects, encoded with the real Avro codec.`;

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    clients: { type: 'string', default: '50' },
    seconds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
    serve: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const int = (v: string | undefined, fallback: number, min: number, max: number, name: string) => {
  const n = Number(v ?? fallback);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}\n\n${usage}`);
    process.exit(2);
  }
  return n;
};

const IDENTITY = Object.freeze({ issuer: 'bench', subject: 'auditor', groups: ['auditor'], amr: [], mfa: false, expiresAt: Date.now() + 86_400_000 });

// Child mode: serve the API over an already projected read-model file.
if (values.serve) {
  const [ledgerFile, readModelFile] = values.serve.split('|');
  const ledger = await openSqliteLedgerStore({ path: ledgerFile, readOnly: true });
  const store = openSqliteReadModel({ path: readModelFile });
  // The bench measures the API, not the IdP: the token check is a constant-time stub.
  const app = await buildServer(
    { rateLimit: { max: 1_000_000, windowMs: 60_000 } },
    { verify: async () => IDENTITY, store, proofs: createProofService(ledger) },
  );
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.send!({ url });
  process.on('message', async (m) => {
    // 'cpu': report this process's CPU time (server CPU per request, independent of other load on the machine).
    if (m === 'cpu') return void process.send!({ cpu: process.cpuUsage() });
    await app.close();
    store.close();
    await ledger.close();
    process.exit(0);
  });
} else {
  await main();
}

async function main(): Promise<void> {
  const quick = values.quick;
  const events = int(values.events, quick ? 100_000 : 1_000_000, 1000, 20_000_000, 'events');
  const clients = int(values.clients, 50, 1, 1000, 'clients');
  const seconds = int(values.seconds, quick ? 3 : 10, 1, 3600, 'seconds');
  const dir = mkdtempSync(join(tmpdir(), 'affidavit-bench-api-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const ledgerFile = join(dir, 'ledger.sqlite');
  const readModelFile = join(dir, 'read-models.sqlite');
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

  const { loadavg, availableParallelism } = await import('node:os');
  console.log(
    `bench/api.ts: ${fmt(events)} ledger entries, ${clients} clients, ${seconds} s per query figure (${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(1)})`,
  );
  let t = performance.now();
  const sessionIds = await buildLedger(ledgerFile, events);
  console.log(
    `   ledger built in ${((performance.now() - t) / 1000).toFixed(1)} s (${(statSync(ledgerFile).size / 2 ** 20).toFixed(0)} MiB, ${fmt(sessionIds.length)} sessions)`,
  );

  // 1. Projection vs raw scan.
  console.log('\n1. projection: rebuild of the read models vs a raw SQLite scan of the same ledger file');
  const db = new DatabaseSync(ledgerFile, { readOnly: true });
  t = performance.now();
  let bytes = 0;
  for (const r of db.prepare('SELECT data FROM bundles UNION ALL SELECT data FROM bundle_tail').iterate()) bytes += (r.data as Uint8Array).byteLength;
  const rawS = (performance.now() - t) / 1000;
  db.close();
  const ledger = await openSqliteLedgerStore({ path: ledgerFile, readOnly: true });
  const log = await ledger.openLog((await ledger.listLogs())[0]);
  t = performance.now();
  let n = 0;
  for await (const e of log.readEntries(0, events)) n += e.bytes.length > 0 ? 1 : 0;
  const readS = (performance.now() - t) / 1000;
  // The floor of any projection that reads events: readEntries plus the Avro decode, nothing written.
  const c = codec();
  t = performance.now();
  for await (const e of log.readEntries(0, events)) c.decode(e.bytes);
  const decodeS = (performance.now() - t) / 1000;
  const store = openSqliteReadModel({ path: readModelFile });
  const projector = new ReadModelProjector({ ledger, store });
  t = performance.now();
  const cpu0 = process.cpuUsage();
  const projected = await projector.rebuild();
  const rebuildS = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const rebuildCpuS = (cpu.user + cpu.system) / 1e6;
  store.close();
  await ledger.close();
  if (projected !== events || n !== events) throw new Error(`projected ${projected}, read ${n}, expected ${events}`);
  const raw = events / rawS;
  const rebuild = events / rebuildS;
  console.log(`   raw SQLite scan (SELECT every bundle, ${(bytes / 2 ** 20).toFixed(0)} MiB): ${rawS.toFixed(2)} s = ${fmt(raw)} entries/s`);
  console.log(`   store readEntries (bundles parsed into entries):  ${readS.toFixed(2)} s = ${fmt(events / readS)} entries/s`);
  console.log(`   readEntries + Avro decode (no writes):            ${decodeS.toFixed(2)} s = ${fmt(events / decodeS)} events/s`);
  console.log(
    `   read-model rebuild (decode + project + write):    ${rebuildS.toFixed(2)} s = ${fmt(rebuild)} events/s (CPU ${rebuildCpuS.toFixed(2)} s = ${fmt(events / rebuildCpuS)} events per CPU-second)`,
  );
  console.log(
    `   ratio rebuild / raw scan = ${(rebuild / raw).toFixed(3)} (target >= 0.3) ${rebuild / raw >= 0.3 ? 'OK' : 'BELOW TARGET'}; rebuild / readEntries = ${(rebuild / (events / readS)).toFixed(3)}; rebuild / (readEntries + decode) = ${(rebuild / (events / decodeS)).toFixed(3)}`,
  );

  // 2. Queries under load, server in a child process.
  console.log(`\n2. queries: ${clients} concurrent clients, keep-alive HTTP, ${seconds} s each`);
  const profile = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : [];
  const child = fork(import.meta.filename, ['--serve', `${ledgerFile}|${readModelFile}`], { stdio: 'inherit', execArgv: [...process.execArgv, ...profile] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { url: string }).url));
    child.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  const childCpu = () =>
    new Promise<number>((resolve) => {
      child.once('message', (m) => {
        const c = (m as { cpu: { user: number; system: number } }).cpu;
        resolve((c.user + c.system) / 1000);
      });
      child.send('cpu');
    });
  try {
    const post = async (query: string, variables: Record<string, unknown>) => {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: unknown };
      if (res.status !== 200 || body.errors) throw new Error(`query failed: ${res.status} ${JSON.stringify(body.errors)}`);
      return body.data;
    };
    const SESSIONS =
      'query($a: String) { sessions(first: 50, after: $a) { nodes { sessionId subject sourceAddress targetResource startedAt endedAt endReason } pageInfo { hasNextPage endCursor } } }';
    const COMMANDS = 'query($s: ID!) { commands(sessionId: $s, first: 50) { nodes { commandId seq text decision ruleId outcome } } }';
    const figures: Array<[string, (state: { after: string | null; pages: number }) => Promise<void>]> = [
      [
        'baseline: { me { subject } } (HTTP, token check, GraphQL; no read model)',
        async () => {
          await post('{ me { subject } }', {});
        },
      ],
      [
        'sessions, paginated (first 50, following endCursor)',
        async (st) => {
          const d = await post(SESSIONS, { a: st.after });
          st.pages++;
          st.after = d.sessions.pageInfo.hasNextPage && st.pages < 20 ? d.sessions.pageInfo.endCursor : null;
          if (!st.after) st.pages = 0;
        },
      ],
      [
        'commands of one session (first 50)',
        async () => {
          const d = await post(COMMANDS, { s: sessionIds[Math.floor(Math.random() * sessionIds.length)] });
          if (d.commands.nodes.length === 0) throw new Error('no commands');
        },
      ],
    ];
    let floor: { p50: number; p99: number; cpu: number } | undefined;
    for (const [name, once] of figures) {
      // Warm-up: prepared statements, JIT.
      for (let i = 0; i < 50; i++) await once({ after: null, pages: 0 });
      const lat: number[] = [];
      const cpuBefore = await childCpu();
      const end = performance.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          const st = { after: null as string | null, pages: 0 };
          while (performance.now() < end) {
            const t0 = performance.now();
            await once(st);
            lat.push(performance.now() - t0);
          }
        }),
      );
      const cpuMs = (await childCpu()) - cpuBefore;
      lat.sort((a, b) => a - b);
      const p = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))];
      const cpu = cpuMs / lat.length;
      // The machine may be shared: the baseline, measured the same way in this run, shows what any request costs here.
      const vs = floor ? ` = ${(p(0.99) / floor.p99).toFixed(1)} x baseline p99, ${(cpu / floor.cpu).toFixed(1)} x baseline CPU` : '';
      console.log(
        `   ${name}: ${fmt(lat.length / seconds)} req/s, p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms${floor ? ` (target p99 < 50 ms) ${p(0.99) < 50 ? 'OK' : 'ABOVE TARGET'}` : ''}; server CPU ${cpu.toFixed(2)} ms/request${vs}`,
      );
      floor ??= { p50: p(0.5), p99: p(0.99), cpu };
    }
  } finally {
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
}

/** buildLedger writes `n` distinct events (sessions of 50) to one log through integrate + append, a checkpoint every 10k; returns the session ids. */
async function buildLedger(path: string, n: number): Promise<string[]> {
  const key = generateEd25519NoteKey('bench.affidavit', (k) => randomBytes(k));
  const signer = ed25519NoteSigner(key.signerKey);
  const store = await openSqliteLedgerStore({ path });
  const log = await store.openLog('affidavit.session-events.v1:0');
  const origin = `bench.affidavit/${log.logId}`;
  const sessions: string[] = [];
  const T0 = 1_760_000_000_000_000;
  let s = -1;
  let sessionId = '';
  let actor = EXAMPLE_ACTOR;
  let source = { address: '10.0.0.1', port: 40000, application: 'psql' };
  let t = T0;
  const eventAt = (i: number) => {
    const k = i % 50;
    if (k === 0) {
      s++;
      sessionId = uuidv7(1_760_000_000_000 + s);
      sessions.push(sessionId);
      actor = { ...EXAMPLE_ACTOR, subject: `user${s % 200}`, email: `user${s % 200}@example.com` };
      source = { address: `10.0.${(s >> 8) & 255}.${s & 255}`, port: 40000 + (s % 20000), application: 'psql' };
      t = T0 + s * 60_000_000;
      return exampleEvent('SessionStarted', { eventId: uuidv7(), sessionId, seq: 0, actor, source, occurredAt: t });
    }
    const env = { eventId: uuidv7(), sessionId, seq: k, actor, source, occurredAt: t + k * 1000 };
    if (k === 49) return exampleEvent('SessionEnded', { ...env, reason: 'client-closed', commands: 24, durationMicros: 49_000 });
    const c = `c${(k - 1) >> 1}`;
    if (k % 2 === 1) return exampleEvent('CommandIssued', { ...env, commandId: c, text: `select * from orders where customer_id = ${i}` });
    if (k === 48 && s % 10 === 0) return exampleEvent('CommandBlocked', { ...env, commandId: c });
    return exampleEvent('CommandCompleted', { ...env, commandId: c });
  };
  await appendSigned(
    log,
    n,
    (i) => {
      const e = eventAt(i);
      return { eventId: e.eventId, kind: 'event', bytes: encodeEvent(e), source: null, appendedAt: 0 };
    },
    { origin, signer },
  );
  await store.close();
  return sessions;
}
