// Scale-out and failover, every part its own OS process: a real Kafka broker (KRaft), two
// `affidavit proxy postgres` processes in front of one real PostgreSQL (log_statement=all), and
// two `affidavit ledger run` instances in one consumer group over a 3-partition topic, sharing one
// SQLite store and signing key, and `affidavit api` reading that store. pgbench drives both proxies; one ledger instance is SIGKILLed
// mid-run and the other takes its partitions over. Afterwards: every statement PostgreSQL's own
// log shows pgbench ran through the proxies is in the ledger exactly once, every event on the
// topic is in the ledger exactly once, every checkpoint either instance published is consistent
// with the one tree of its log (no fork: one writer per log at any time), and `affidavit verify`
// passes; the API serves what the ledger holds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafkaBus } from '@affidavit/bus';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { codec } from '@affidavit/schemas';
import type { SessionEvent } from '@affidavit/schemas';
import { freePort } from '../../services/free-port.ts';
import { ensureKafka, uniqueTopic } from '../../services/kafka.ts';
import { startOidcProvider } from '../../services/oidc.ts';
import type { OidcProviderInstance } from '../../services/oidc.ts';
import { startPostgres, stopPostgres } from '../../services/postgres.ts';
import type { PostgresInstance } from '../../services/postgres.ts';
import { CLI, ROOT, quiet, readTopic, spawnAffidavit, stopChild, until, writeProxyConfig } from './harness.ts';
import type { Child, TopicReader } from './harness.ts';

const PARTITIONS = 3;
const RUN_SECONDS = Number(process.env.AFFIDAVIT_FAILOVER_SECONDS ?? 24);
const KILL_AFTER_MS = 8_000;
const SESSION_TIMEOUT_MS = 6_000;
const POLICY = join(ROOT, 'test/e2e/postgres/fixtures/e2e.policy.yaml');
/** The statements of pgbench's TPC-B-like script that touch data (BEGIN/END are too generic to attribute). */
const SCRIPT = /^(UPDATE pgbench_accounts|SELECT abalance FROM pgbench_accounts|UPDATE pgbench_tellers|UPDATE pgbench_branches|INSERT INTO pgbench_history)/;

const dir = mkdtempSync(join(tmpdir(), 'aff-failover-'));
const store = join(dir, 'ledger.sqlite');
const key = join(dir, 'ledger.key');
const topic = uniqueTopic('failover');
const group = uniqueTopic('ledger-group');
let bootstrap: string;
let pg: PostgresInstance;
let oidc: OidcProviderInstance;
let reader: TopicReader;
const children: Child[] = [];
const proxyPorts: number[] = [];

function ledger(): Promise<Child> {
  return spawnAffidavit(
    [
      'ledger',
      'run',
      '--brokers',
      bootstrap,
      '--store',
      `sqlite:${store}`,
      '--signing-key',
      key,
      '--origin',
      'failover.test',
      '--topic',
      topic,
      '--group',
      group,
      '--partitions',
      String(PARTITIONS),
      '--checkpoint-every',
      '500',
      '--checkpoint-ms',
      '500',
      '--session-timeout-ms',
      String(SESSION_TIMEOUT_MS),
    ],
    /ledger running/,
  );
}

before(async () => {
  // jsonlog under the data directory: PostgreSQL's own record of every statement it ran.
  [{ bootstrap }, pg, oidc] = await Promise.all([
    ensureKafka(),
    startPostgres({
      settings: { log_statement: 'all', logging_collector: 'on', log_destination: 'jsonlog', log_directory: 'log', log_filename: 'statements.log' },
    }),
    startOidcProvider(),
  ]);
  const admin = createKafkaBus({ brokers: [bootstrap] }, { logger: quiet });
  await admin.ensureTopic(topic, PARTITIONS);
  await admin.close();
  reader = await readTopic(bootstrap, topic);
  for (const id of ['pg-a', 'pg-b']) {
    const port = await freePort();
    const config = writeProxyConfig(dir, {
      id,
      brokers: bootstrap,
      topic,
      port,
      pg,
      issuer: oidc.issuer,
      audience: oidc.audience,
      policyFile: POLICY,
      maskingKeyFile: join(dir, 'masking.keys'),
      decisionKeyFiles: [],
    });
    children.push(await spawnAffidavit(['proxy', 'postgres', '--config', config], /proxy listening on/, { env: { AFFIDAVIT_UPSTREAM_PASSWORD: pg.password } }));
    proxyPorts.push(port);
  }
});

after(async () => {
  for (const c of children) await stopChild(c).catch(() => {});
  await reader?.close().catch(() => {});
  await oidc?.stop();
  await stopPostgres();
  rmSync(dir, { recursive: true, force: true });
});

/** statementsInPostgresLog returns the script statements the server ran for the app role, as the server logged them. */
function statementsInPostgresLog(): string[] {
  const file = join(pg.dir, 'data', 'log', 'statements.json');
  if (!existsSync(file)) return [];
  const out: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const r = JSON.parse(line) as { user?: string; message?: string };
    if (r.user !== pg.user || !r.message?.startsWith('statement: ')) continue;
    const text = r.message.slice('statement: '.length).trim();
    if (SCRIPT.test(text)) out.push(text);
  }
  return out;
}

/** ledgerContents reads every log of the store (read-only, through the store's own API). */
async function ledgerContents() {
  const s = await openSqliteLedgerStore({ path: store, readOnly: true });
  try {
    const logs: Array<{ id: string; entries: Array<{ eventId: string; appendedAt: number; event: SessionEvent }>; checkpoints: string[] }> = [];
    for (const id of await s.listLogs()) {
      const log = await s.openLog(id);
      const entries = [];
      for await (const e of log.readEntries(0, Number.MAX_SAFE_INTEGER))
        entries.push({ eventId: e.eventId, appendedAt: e.appendedAt, event: codec().decode(e.bytes) as SessionEvent });
      logs.push({ id, entries, checkpoints: await log.checkpoints() });
    }
    return logs;
  } finally {
    await s.close();
  }
}

/** publishedCheckpoints reads every note either ledger instance published on the checkpoints topic. */
async function publishedCheckpoints(): Promise<string[]> {
  const bus = createKafkaBus({ brokers: [bootstrap], clientId: 'e2e-checkpoints' }, { logger: quiet });
  const notes: string[] = [];
  const sub = await bus.subscribe({
    group: uniqueTopic('e2e-checkpoints'),
    topics: [`${topic}.checkpoints`],
    handler: async (b) => {
      for (const r of b.records) notes.push(r.value.toString('utf8'));
    },
  });
  // The last checkpoint is written at the clean stop: wait until the stream goes quiet.
  let seen = -1;
  await until('the checkpoints topic read to its end', async () => {
    await new Promise((r) => setTimeout(r, 1_500));
    const done = notes.length > 0 && notes.length === seen;
    seen = notes.length;
    return done;
  });
  await sub.close();
  await bus.close();
  return notes;
}

test('two proxies, two ledgers in one group; one ledger SIGKILLed mid-run: exactly once, one writer per log, verify passes', { timeout: 600_000 }, async () => {
  const init = await pg.pgbench(['-i', '-s', '1', '-q'], { port: proxyPorts[0], user: 'alice', password: await oidc.issueToken('alice'), timeoutMs: 120_000 });
  assert.equal(init.code, 0, init.stderr);
  const ledgerA = await ledger();
  const ledgerB = await ledger();
  children.push(ledgerA, ledgerB);
  const apiConfig = join(dir, 'api.yaml');
  writeFileSync(
    apiConfig,
    stringify({
      id: 'api-failover',
      kafka: { brokers: [bootstrap], topic },
      listen: { host: '127.0.0.1', port: await freePort() },
      ledgerFile: store,
      readModelFile: join(dir, 'read-models.sqlite'),
      oidc: { issuer: oidc.issuer, audience: oidc.audience },
      roleGroups: { auditor: ['dba'], approver: ['approvers'], admin: ['nobody'] },
    }),
  );
  const api = await spawnAffidavit(['api', '--config', apiConfig], /api listening on/);
  children.push(api);
  const apiUrl = /api listening on (\S+)/.exec(api.output())![1];

  // -C: a new connection (a new session, keyed to a partition by its id) per transaction, so
  // every partition carries events until the end and the survivor must take every one over.
  const runs = proxyPorts.map(async (port) =>
    pg.pgbench(['-n', '-C', '-c', '4', '-j', '2', '-T', String(RUN_SECONDS), '-M', 'simple'], {
      port,
      user: 'alice',
      password: await oidc.issueToken('alice'),
      timeoutMs: (RUN_SECONDS + 60) * 1000,
    }),
  );
  await new Promise((r) => setTimeout(r, KILL_AFTER_MS));
  ledgerA.proc.kill('SIGKILL');
  const killedAt = Date.now();
  assert.equal(await ledgerA.exited, 'SIGKILL');
  const results = await Promise.all(runs);
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /number of failed transactions: 0/);
  }
  const transactions = results.map((r) => Number(/number of transactions actually processed: (\d+)/.exec(r.stdout)?.[1] ?? 0));
  assert.ok(
    transactions.every((n) => n > 0),
    `both proxies carried transactions: ${transactions.join(', ')}`,
  );

  // The survivor catches up with everything on the topic, then stops cleanly (final checkpoint).
  const onTopic = () => new Set(reader.events.map((e) => e.eventId));
  await until(
    'the surviving ledger holds every event on the topic',
    async () => {
      const have = new Set((await ledgerContents()).flatMap((l) => l.entries.map((e) => e.eventId)));
      const want = onTopic();
      return want.size > 0 && [...want].every((id) => have.has(id));
    },
    120_000,
  );
  assert.equal(await stopChild(ledgerB), 0, `clean stop: ${ledgerB.output()}`);

  const logs = await ledgerContents();
  assert.equal(logs.length, PARTITIONS, 'one log per partition');
  const ids = logs.flatMap((l) => l.entries.map((e) => e.eventId));
  assert.equal(new Set(ids).size, ids.length, 'no event twice in the ledger');
  assert.deepEqual(new Set(ids), onTopic(), 'exactly the events on the topic');
  for (const l of logs) {
    assert.ok(
      l.entries.some((e) => e.appendedAt > killedAt + SESSION_TIMEOUT_MS),
      `${l.id}: appended to after the kill, so the survivor took it over (the killed instance could not)`,
    );
  }

  // PostgreSQL's own log against the ledger: each statement it ran is there once (as a multiset).
  const ran = statementsInPostgresLog();
  assert.ok(ran.length > 100, `PostgreSQL logged ${ran.length} script statements`);
  const recorded = logs.flatMap((l) => l.entries.map((e) => e.event)).filter((e) => e.type === 'CommandIssued' && SCRIPT.test(e.text));
  const count = (texts: string[]) => texts.reduce((m, t) => m.set(t, (m.get(t) ?? 0) + 1), new Map<string, number>());
  const inPg = count(ran);
  const inLedger = count(recorded.map((e) => (e.type === 'CommandIssued' ? e.text.trim() : '')));
  const missing = [...inPg].filter(([t, n]) => (inLedger.get(t) ?? 0) !== n);
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} statements PostgreSQL ran are not in the ledger exactly as often`);
  assert.equal(recorded.length, ran.length, 'no statement in the ledger that PostgreSQL did not run');
  const byProxy = count(recorded.map((e) => e.feeder.id));
  assert.ok((byProxy.get('pg-a') ?? 0) > 0 && (byProxy.get('pg-b') ?? 0) > 0, JSON.stringify([...byProxy]));

  // The API process serves the sessions the ledger holds (bob's groups grant the auditor role here).
  const sessions = new Set(logs.flatMap((l) => l.entries.map((e) => e.event.sessionId)));
  const someSession = logs[0].entries.at(-1)!.event.sessionId;
  const served = await until('the API serves a session the survivor appended', async () => {
    const res = await fetch(`${apiUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await oidc.issueToken('bob')}` },
      body: JSON.stringify({ query: 'query ($id: ID!) { session(sessionId: $id) { sessionId subject } }', variables: { id: someSession } }),
    });
    const body = (await res.json()) as { data?: { session?: { sessionId: string; subject: string } | null } };
    return body.data?.session ?? undefined;
  });
  assert.equal(served.subject, 'alice');
  assert.ok(sessions.size > PARTITIONS, `${sessions.size} sessions`);

  // One tree per log: every checkpoint published by either instance, the stored ones, and the
  // entries agree (a second writer would have produced a checkpoint no single tree explains).
  const notes = await publishedCheckpoints();
  const notesFile = join(dir, 'published.notes');
  writeFileSync(notesFile, `${notes.join('\n')}\n`);
  const v = spawnSync(process.execPath, [CLI, 'verify', store, '--key', `${key}.pub`, '--checkpoints-from', notesFile], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(v.status, 0, v.stdout + v.stderr);
  const ok = v.stdout.trim().split('\n');
  assert.equal(ok.filter((l) => / ok: \d+ entries, \d+ checkpoints verified/.test(l)).length, PARTITIONS, v.stdout);
  for (const l of logs) {
    const sizes = new Map<number, string>();
    for (const n of l.checkpoints) {
      const [, size, root] = n.split('\n');
      assert.ok(!sizes.has(Number(size)) || sizes.get(Number(size)) === root, `${l.id}: two roots for size ${size}`);
      sizes.set(Number(size), root);
    }
  }
});
