// Approvals and reads across processes: `affidavit proxy postgres`, `affidavit ledger run` and
// `affidavit api` as separate OS processes on a real Kafka broker, PostgreSQL and OIDC provider.
// A write alice sends is held by the proxy; the API (its own process) lists it from the ledger's
// store, refuses alice's own approval, and bob's approve mutation, signed by the API's decision
// key and carried by Kafka, releases it in the proxy process, once. A value the proxy masked is
// opened through the API process (its MaskedValueOpened reaches the ledger through Kafka), and
// the API process answers compliance reports from the ledger's store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createKafkaBus } from '@affidavit/bus';
import { loadOrCreateSigningKey } from '@affidavit/ledger';
import { freePort } from '../../services/free-port.ts';
import { ensureKafka, uniqueTopic } from '../../services/kafka.ts';
import { startOidcProvider } from '../../services/oidc.ts';
import type { OidcProviderInstance } from '../../services/oidc.ts';
import { startPostgres, stopPostgres } from '../../services/postgres.ts';
import type { PostgresInstance } from '../../services/postgres.ts';
import { CLI, ROOT, quiet, spawnAffidavit, stopChild, until, writeProxyConfig } from './harness.ts';
import type { Child } from './harness.ts';

const POLICY = join(ROOT, 'test/e2e/postgres/fixtures/e2e.policy.yaml');
const dir = mkdtempSync(join(tmpdir(), 'aff-api-process-'));
const topic = uniqueTopic('api-process');
const store = join(dir, 'ledger.sqlite');
let pg: PostgresInstance;
let oidc: OidcProviderInstance;
let apiUrl: string;
let proxyPort: number;
const children: Child[] = [];

before(async () => {
  let bootstrap: string;
  [{ bootstrap }, pg, oidc] = await Promise.all([ensureKafka(), startPostgres(), startOidcProvider()]);
  const admin = createKafkaBus({ brokers: [bootstrap] }, { logger: quiet });
  await admin.ensureTopic(topic, 3);
  await admin.close();
  // The decision key pair: the API signs with the private half, the proxy trusts the public one.
  loadOrCreateSigningKey(join(dir, 'decisions.key'), join(dir, 'decisions.pub'), 'affidavit-decisions');
  children.push(
    await spawnAffidavit(
      [
        'ledger',
        'run',
        '--brokers',
        bootstrap,
        '--store',
        `sqlite:${store}`,
        '--signing-key',
        join(dir, 'ledger.key'),
        '--origin',
        'api.test',
        '--topic',
        topic,
      ],
      /ledger running/,
    ),
  );
  proxyPort = await freePort();
  const proxyConfig = writeProxyConfig(dir, {
    id: 'pg-api-test',
    brokers: bootstrap,
    topic,
    port: proxyPort,
    pg,
    issuer: oidc.issuer,
    audience: oidc.audience,
    policyFile: POLICY,
    maskingKeyFile: join(dir, 'masking.keys'),
    decisionKeyFiles: [join(dir, 'decisions.pub')],
  });
  children.push(
    await spawnAffidavit(['proxy', 'postgres', '--config', proxyConfig], /proxy listening on/, { env: { AFFIDAVIT_UPSTREAM_PASSWORD: pg.password } }),
  );
  const apiConfig = join(dir, 'api.yaml');
  writeFileSync(
    apiConfig,
    stringify({
      id: 'api-test',
      kafka: { brokers: [bootstrap], topic },
      listen: { host: '127.0.0.1', port: await freePort() },
      ledgerFile: store,
      readModelFile: join(dir, 'read-models.sqlite'),
      oidc: { issuer: oidc.issuer, audience: oidc.audience },
      // The test provider's users: bob is in dba and approvers.
      roleGroups: { auditor: ['dba'], approver: ['approvers'], admin: ['nobody'] },
      decisions: { signingKeyFile: join(dir, 'decisions.key'), publicKeyFile: join(dir, 'decisions.pub') },
      // The ledger's public key (reports) and the proxies' masking key (reveal): `ledger run`
      // writes KEY.pub beside its signing key; the proxy created the masking key file.
      ledgerKeyFile: join(dir, 'ledger.key.pub'),
      masking: { keyFile: join(dir, 'masking.keys') },
    }),
  );
  const api = await spawnAffidavit(['api', '--config', apiConfig], /api listening on/);
  children.push(api);
  apiUrl = /api listening on (\S+)/.exec(api.output())![1];
});

after(async () => {
  for (const c of children.reverse()) await stopChild(c).catch(() => {});
  await oidc?.stop();
  await stopPostgres();
  rmSync(dir, { recursive: true, force: true });
});

type GqlAnswer = { status: number; data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
async function gql(user: string | null, query: string, variables: Record<string, unknown> = {}): Promise<GqlAnswer> {
  const token = user ? await oidc.issueToken(user) : null;
  const res = await fetch(`${apiUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json().catch(() => ({}))) as object) };
}
const APPROVE = 'mutation ($id: ID!, $why: String!) { approve(id: $id, justification: $why) { requestId decision } }';

test('affidavit api --help and a bad config', () => {
  const help = spawnSync(process.execPath, [CLI, 'api', '--help'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Exit codes: 0 stopped cleanly/);
  const bad = join(dir, 'bad-api.yaml');
  writeFileSync(bad, 'id: a\nkafka: { brokers: [] }\nledgerFile: x\nreadModelFile: y\n');
  const r = spawnSync(process.execPath, [CLI, 'api', '--config', bad], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 3);
  assert.match(r.stderr, /config\.kafka\.brokers: must NOT have fewer than 1 items/);
  assert.match(r.stderr, /config\.oidc: is required/);
});

test('a held write is listed by the API process and released by its approve mutation, across processes', { timeout: 240_000 }, async () => {
  const psql = async (user: string, sql: string) => pg.psql(['-c', sql], { port: proxyPort, user, password: await oidc.issueToken(user), timeoutMs: 120_000 });
  const setup = await psql('alice', 'create table if not exists payments (id int primary key, amount int)');
  assert.equal(setup.code, 0, setup.stderr);
  const held = psql('alice', 'insert into payments values (42, 4200)');
  // The request reaches the API through Kafka -> ledger -> store -> read model.
  const pending = await until('the held request in the API', async () => {
    const r = await gql('bob', '{ approvals(filter: { status: pending }) { nodes { requestId text requester } } }');
    const nodes = ((r.data?.approvals as { nodes?: Array<{ requestId: string; text: string; requester: string }> })?.nodes ?? []).filter((n) =>
      n.text.includes('values (42'),
    );
    return nodes[0];
  });
  assert.equal(pending.requester, 'alice');
  const self = await gql('alice', APPROVE, { id: pending.requestId, why: 'my own' });
  assert.ok(self.errors?.length, 'alice has no approver role');
  const ok = await gql('bob', APPROVE, { id: pending.requestId, why: 'ticket 42' });
  assert.deepEqual(ok.errors, undefined, JSON.stringify(ok));
  assert.deepEqual(ok.data?.approve, { requestId: pending.requestId, decision: 'approved' });
  const r = await held;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /INSERT 0 1/);
  const again = await gql('bob', APPROVE, { id: pending.requestId, why: 'again' });
  assert.ok(again.errors?.length, 'a decided request cannot be decided twice');
  const rows = await psql('bob', 'select count(*) from payments where id = 42');
  assert.match(rows.stdout, /\b1\b/, 'the statement ran once');
});

test('a value masked by the proxy process is opened through the API process, on the record; reports work there too', { timeout: 240_000 }, async () => {
  const from = new Date(Date.now() - 60_000).toISOString();
  const psql = async (user: string, sql: string) =>
    pg.psql(['-At', '-c', sql], { port: proxyPort, user, password: await oidc.issueToken(user), timeoutMs: 120_000 });
  // bob (dba) may create and fill the table; the policy masks customers' e-mail on every read.
  const setup = await psql(
    'bob',
    "create table if not exists customers (id int, email text, card_number text); insert into customers values (7, 'eve@example.com', null)",
  );
  assert.equal(setup.code, 0, setup.stderr);
  const read = await psql('alice', 'select email from customers where id = 7');
  assert.equal(read.code, 0, read.stderr);
  assert.doesNotMatch(read.stdout, /eve@example\.com/, 'the proxy masked the value');
  const masked = await until('the DataMasked event in the API', async () => {
    const r = await gql('bob', '{ maskedData(first: 50) { nodes { eventId columns subject } } }');
    const nodes = (r.data?.maskedData as { nodes?: Array<{ eventId: string; columns: string[]; subject: string }> })?.nodes ?? [];
    return nodes.find((n) => n.subject === 'alice' && n.columns.includes('email'));
  });
  const REVEAL = 'mutation ($id: ID!, $why: String!) { revealMaskedValue(eventId: $id, index: 0, reason: $why) { value column recordedAs } }';
  const nobody = await gql('alice', REVEAL, { id: masked.eventId, why: 'curious' });
  assert.equal(nobody.errors?.[0].extensions?.code, 'AFF_E_API_FORBIDDEN', 'alice has no API role');
  const opened = await gql('bob', REVEAL, { id: masked.eventId, why: 'incident 7' });
  assert.deepEqual(opened.errors, undefined, JSON.stringify(opened));
  const v = opened.data?.revealMaskedValue as { value: string; column: string; recordedAs: string };
  assert.deepEqual([v.value, v.column], ['eve@example.com', 'email']);
  // The opening is in the ledger (Kafka -> ledger process -> store), naming bob and the event.
  const opening = await until('the MaskedValueOpened in the ledger', async () => {
    const show = spawnSync(process.execPath, [CLI, 'ledger', 'show', '--store', store, '--type', 'MaskedValueOpened'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(show.status, 0, show.stderr);
    const lines = show.stdout.trim().split('\n').filter(Boolean);
    return lines
      .map((l) => (JSON.parse(l) as { event: { maskedEventId: string; actor: { subject: string } } }).event)
      .find((e) => e.maskedEventId === masked.eventId);
  });
  assert.equal(opening.actor.subject, 'bob');
  const to = new Date(Date.now() + 60_000).toISOString();
  const report = await gql('bob', 'query ($f: String!, $t: String!) { report(control: "AU-12", from: $f, to: $t) { control rows } }', { f: from, t: to });
  assert.deepEqual(report.errors, undefined, JSON.stringify(report.errors));
  const r = report.data?.report as { control: string; rows: number };
  assert.equal(r.control, 'au-12');
  assert.ok(r.rows > 0, 'the report has rows: the proxy process is a feeder of the period');
});
