// `affidavit proxy postgres --config FILE` as its own process against a real Kafka broker of its
// own (so this test may stop and restart it), a real PostgreSQL and a real OIDC provider:
// a bad config is refused naming the field; sync recording acknowledges through Kafka; a held
// statement is released by a signed ApprovalDecided published to Kafka by another process (a
// forged one releases nothing); while the broker is down statements are refused with
// AFF_E_RECORDING_UNAVAILABLE, and the proxy recovers by itself once the broker is back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { actorFromIdentity, commandDigest, createTokenVerifier, signDecision } from '@affidavit/access';
import { createKafkaBus } from '@affidavit/bus';
import { systemClock, uuidv7 } from '@affidavit/common';
import { loadOrCreateSigningKey } from '@affidavit/ledger';
import { encodeEvent } from '@affidavit/schemas';
import type { ApprovalDecided, ApprovalRequested } from '@affidavit/schemas';
import { ed25519NoteSigner, generateEd25519NoteKey } from '@affidavit/tlog';
import { freePort } from '../../services/free-port.ts';
import { JAVA, kafkaClasspath, kafkaJavaArgs, kafkaReady, launchKafka, uniqueTopic } from '../../services/kafka.ts';
import type { KafkaBroker } from '../../services/kafka.ts';
import { startOidcProvider } from '../../services/oidc.ts';
import type { OidcProviderInstance } from '../../services/oidc.ts';
import { startPostgres, stopPostgres } from '../../services/postgres.ts';
import type { PostgresInstance } from '../../services/postgres.ts';
import { startProcess, stopProcess } from '../../services/process.ts';
import type { ServiceProcess } from '../../services/process.ts';
import { CLI, ROOT, quiet, readTopic, spawnAffidavit, stopChild, until, writeProxyConfig } from './harness.ts';
import type { Child, TopicReader } from './harness.ts';

const POLICY = join(ROOT, 'test/e2e/postgres/fixtures/e2e.policy.yaml');
const dir = mkdtempSync(join(tmpdir(), 'aff-proxy-process-'));
let broker: KafkaBroker;
/** restarted is the broker JVM started again on the same data dir and ports after a stop. */
let restarted: ServiceProcess | undefined;
let pg: PostgresInstance;
let oidc: OidcProviderInstance;
let proxy: Child;
let reader: TopicReader;
let port: number;
const topic = uniqueTopic('proxy-process');
const decisionSigner = loadOrCreateSigningKey(join(dir, 'decisions.key'), join(dir, 'decisions.pub'), 'e2e-decisions');

before(async () => {
  [broker, pg, oidc] = await Promise.all([launchKafka(), startPostgres(), startOidcProvider()]);
  const admin = createKafkaBus({ brokers: [broker.bootstrap] }, { logger: quiet });
  await admin.ensureTopic(topic, 3);
  await admin.close();
  port = await freePort();
  const config = writeProxyConfig(dir, {
    id: 'pg-e2e-1',
    brokers: broker.bootstrap,
    topic,
    port,
    pg,
    issuer: oidc.issuer,
    audience: oidc.audience,
    policyFile: POLICY,
    maskingKeyFile: join(dir, 'masking.keys'),
    decisionKeyFiles: [join(dir, 'decisions.pub')],
  });
  proxy = await spawnAffidavit(['proxy', 'postgres', '--config', config], /proxy listening on/, { env: { AFFIDAVIT_UPSTREAM_PASSWORD: pg.password } });
  reader = await readTopic(broker.bootstrap, topic);
});

after(async () => {
  if (proxy) await stopChild(proxy);
  await reader?.close().catch(() => {});
  await oidc?.stop();
  if (restarted) await stopProcess(restarted, 15_000);
  await broker?.stop();
  await stopPostgres();
  rmSync(dir, { recursive: true, force: true });
});

const psql = async (user: string, sql: string) => pg.psql(['-c', sql], { port, user, password: await oidc.issueToken(user), timeoutMs: 60_000 });

test('a config that breaks the schema is refused, naming the field; --help documents exit codes', () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'id: x\nkafka: { brokers: ["127.0.0.1:9092"] }\nlisten: { port: 70000 }\nupstream: { host: h, user: u, database: d, password: p }\n');
  const r = spawnSync(process.execPath, [CLI, 'proxy', 'postgres', '--config', bad], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /config\.listen\.port: must be <= 65535/);
  assert.match(r.stderr, /config\.oidc: is required/);
  assert.match(r.stderr, /AFF_E_CONFIG_INVALID/);
  const env = spawnSync(process.execPath, [CLI, 'proxy', 'postgres', '--config', bad], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, AFFIDAVIT_KAFKA_BROKERS: 'not a broker' },
  });
  assert.match(env.stderr, /config\.kafka\.brokers\.0: must match pattern/);
  const help = spawnSync(process.execPath, [CLI, 'proxy', 'postgres', '--help'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Exit codes: 0 stopped cleanly, 2 usage error, 3 could not start/);
});

test('sync recording: the statement runs and its events are on the Kafka topic', async () => {
  const r = await psql('alice', "select 'through-kafka-1' as marker");
  assert.equal(r.code, 0, r.stderr + proxy.output());
  assert.match(r.stdout, /through-kafka-1/);
  const issued = await until('CommandIssued on Kafka', () => reader.events.find((e) => e.type === 'CommandIssued' && e.text.includes('through-kafka-1')));
  assert.equal(issued.feeder.id, 'pg-e2e-1');
  assert.equal(issued.actor?.subject, 'alice');
  await until('CommandCompleted on Kafka', () => reader.events.find((e) => e.type === 'CommandCompleted' && e.sessionId === issued.sessionId));
});

/** decided builds an ApprovalDecided for `req` as `approverToken`'s subject, signed by `signer`. */
async function decided(req: ApprovalRequested, approverToken: string, signer: Parameters<typeof signDecision>[1]): Promise<ApprovalDecided> {
  const verifier = createTokenVerifier({ issuer: oidc.issuer, audience: oidc.audience }, { clock: systemClock });
  const approver = actorFromIdentity(await verifier.verify(approverToken));
  const decidedAt = Date.now() * 1000;
  const digest = commandDigest(req.text);
  const justification = 'ticket 42';
  const signature = await signDecision({ requestId: req.requestId, commandDigest: digest, decision: 'approved', approver, justification, decidedAt }, signer);
  return {
    eventId: uuidv7(),
    type: 'ApprovalDecided',
    occurredAt: decidedAt,
    sessionId: req.requestId,
    seq: 0,
    actor: approver,
    source: { address: '127.0.0.1', port: null, application: 'e2e-decider' },
    target: req.target,
    feeder: { id: 'e2e-decider', version: '0' },
    requestId: req.requestId,
    decision: 'approved',
    approver,
    justification,
    signature: Buffer.from(signature),
    commandDigest: digest,
  };
}

test('approvals across processes: a forged decision releases nothing, a signed one releases the held statement', async () => {
  const setup = await psql('alice', 'create table if not exists payments (id int primary key, amount int)');
  assert.equal(setup.code, 0, setup.stderr);
  const held = psql('alice', 'insert into payments values (7, 100)');
  const req = (await until('ApprovalRequested on Kafka', () =>
    reader.events.find((e) => e.type === 'ApprovalRequested' && e.text.includes('insert into payments values (7')),
  )) as ApprovalRequested;
  const bus = createKafkaBus({ brokers: [broker.bootstrap], clientId: 'e2e-decider' }, { logger: quiet });
  try {
    const publish = async (d: ApprovalDecided) =>
      bus.publish(topic, [{ key: d.sessionId, value: encodeEvent(d), headers: { type: d.type, eventId: d.eventId } }]);
    // Forged: a well-formed decision signed by a key the proxy does not trust.
    const forger = ed25519NoteSigner(generateEd25519NoteKey('e2e-decisions', (n) => randomBytes(n)).signerKey);
    await publish(await decided(req, await oidc.issueToken('bob'), forger));
    await until('the forged decision refused', () => reader.events.find((e) => e.type === 'ApprovalRefused' && e.requestId === req.requestId));
    const noRow = await psql('bob', 'select count(*) from payments where id = 7');
    assert.match(noRow.stdout, /\b0\b/, 'nothing was written on a forged decision');
    await publish(await decided(req, await oidc.issueToken('bob'), decisionSigner));
    const r = await held;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /INSERT 0 1/);
  } finally {
    await bus.close();
  }
});

/** stopBroker stops the broker JVM (controlled shutdown), keeping its data dir and ports. */
async function stopBroker(): Promise<void> {
  process.kill(broker.pid, 'SIGTERM');
  await until('the broker exited', () => !pidAlive(broker.pid), 60_000);
}
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
/** startBroker starts the broker again on the same data dir, so the topic and its records are still there. */
async function startBroker(): Promise<void> {
  const cp = await kafkaClasspath();
  restarted = startProcess(JAVA, [...kafkaJavaArgs(cp), 'kafka.Kafka', join(broker.dir, 'server.properties')], { cwd: broker.dir });
  await until('the broker answers again', () => kafkaReady(broker.bootstrap).catch(() => false), 90_000);
}

test('broker down: statements are refused with a clear error; broker back: the proxy recovers by itself', { timeout: 300_000 }, async () => {
  await stopBroker();
  const refused = await psql('alice', "select 'while-down' as marker");
  assert.notEqual(refused.code, 0, 'a statement that cannot be recorded must not run');
  assert.match(refused.stderr, /AFF_E_RECORDING_UNAVAILABLE/);
  assert.doesNotMatch(refused.stdout, /while-down/);
  await startBroker();
  // Nobody restarts the proxy: it must reconnect and publish again on its own.
  const back = await until(
    'a statement accepted after the broker returned',
    async () => {
      const r = await psql('alice', "select 'after-restart' as marker");
      return r.code === 0 ? r : undefined;
    },
    120_000,
  );
  assert.match(back.stdout, /after-restart/);
  // The reader's consumer reconnects as well; the acknowledged event is on the topic.
  await until(
    'CommandIssued after the restart on Kafka',
    () => reader.events.find((e) => e.type === 'CommandIssued' && e.text.includes('after-restart')),
    120_000,
  );
});
