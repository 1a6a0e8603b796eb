// docker-compose.yml cannot be started here (no Docker engine), so it is checked instead: every
// Affidavit service runs a command the CLI has, its config (file + the service's environment)
// satisfies that command's configuration schema, ports and topics agree across services, the
// files services share sit on the same volume, and the README's "Run it distributed" table names
// exactly the services of the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { TOPICS } from '@affidavit/schemas';
import { loadApiConfig } from '../services/cli/src/distributed/api-config.ts';
import { loadProxyPostgresConfig } from '../services/cli/src/distributed/proxy-postgres-config.ts';
import { parseLedgerRunArgs } from '../services/cli/src/commands/ledger-run.ts';
import { commandLoaders } from '../services/cli/src/commands/index.ts';
import { KAFKA_VERSION } from './services/kafka.ts';

const root = join(import.meta.dirname, '..');

type Service = {
  image?: string;
  entrypoint?: string[];
  command?: string[] | string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
  labels?: Record<string, string>;
  depends_on?: Record<string, unknown>;
};

/** interpolate applies compose's `${VAR:-default}` / `${VAR}` with an empty environment (the defaults). */
function interpolate<T>(v: T): T {
  if (typeof v === 'string') return v.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_, _name: string, dflt?: string) => dflt ?? '') as T;
  if (Array.isArray(v)) return v.map(interpolate) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolate(x)])) as T;
  return v;
}

const compose = interpolate(parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true })) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const affidavit = Object.entries(services).filter(([, s]) => s.entrypoint?.includes('services/cli/src/main.ts'));
const argv = (s: Service) => (Array.isArray(s.command) ? s.command : (s.command ?? '').split(' ')).map(String);

/** hostPath maps a path inside a service's container to the bind-mounted file of this checkout, if any. */
function hostPath(s: Service, inContainer: string): string | undefined {
  for (const v of s.volumes ?? []) {
    const [src, dst] = v.split(':');
    if (src.startsWith('.') && dst === inContainer) return join(root, src);
  }
  return undefined;
}
/** volumeOf names the volume (or bind source) a container path lives on, by the longest mount prefix. */
function volumeOf(s: Service, inContainer: string): string | undefined {
  let best: { src: string; len: number } | undefined;
  for (const v of s.volumes ?? []) {
    const [src, dst] = v.split(':');
    if ((inContainer === dst || inContainer.startsWith(`${dst}/`)) && dst.length > (best?.len ?? -1)) best = { src, len: dst.length };
  }
  return best?.src;
}
/** containerPorts lists the container side of a service's port mappings. */
const containerPorts = (s: Service) => (s.ports ?? []).map((p) => Number(p.split(':').at(-1)));
/** advertised are the host:port pairs Kafka tells clients to use. */
const advertised = new Set(
  (services.kafka?.environment?.KAFKA_ADVERTISED_LISTENERS ?? '')
    .split(',')
    .map((l) => l.replace(/^[A-Z_]+:\/\//, ''))
    .filter(Boolean),
);

function configOf(name: string, s: Service) {
  const args = argv(s);
  const i = args.indexOf('--config');
  assert.ok(i >= 0, `${name}: --config FILE`);
  const file = hostPath(s, args[i + 1]);
  assert.ok(file && existsSync(file), `${name}: ${args[i + 1]} is bind-mounted from a file of this checkout`);
  return file;
}

function assertBrokers(name: string, brokers: readonly string[]) {
  for (const b of brokers) assert.ok(advertised.has(b), `${name}: broker ${b} is one Kafka advertises (${[...advertised].join(', ')})`);
}

test('Kafka is the official image, KRaft, the version the tests run', () => {
  assert.equal(services.kafka.image, `apache/kafka:${KAFKA_VERSION}`);
  assert.match(services.kafka.environment!.KAFKA_PROCESS_ROLES, /broker,controller/);
  assert.ok(services.eventstore, 'EventStoreDB');
  for (const s of ['keycloak', 'postgres', 'sshd', 'ledger', 'api', 'proxy-a', 'proxy-b']) assert.ok(services[s], s);
});

test('every Affidavit service runs a command the CLI has (or is a marked, not-started placeholder)', () => {
  assert.ok(affidavit.length >= 4);
  for (const [name, s] of affidavit) {
    const args = argv(s);
    const known = commandLoaders.some((c) => c.path.every((w, i) => args[i] === w));
    if (known) {
      assert.equal(s.labels?.['affidavit.pending'], undefined, `${name}: the command exists now; drop the affidavit.pending label and its profile`);
    } else {
      assert.ok(s.labels?.['affidavit.pending'], `${name}: 'affidavit ${args.slice(0, 2).join(' ')}' is no CLI command`);
      assert.ok(s.profiles?.length, `${name}: a placeholder must not start with a plain 'docker compose up'`);
    }
  }
});

test('proxy configs satisfy the schema with each service environment; ports, brokers, upstream and files agree', () => {
  const proxies = affidavit.filter(([, s]) => argv(s)[0] === 'proxy');
  assert.equal(proxies.length, 2, 'two PostgreSQL proxies');
  const ids = new Set<string>();
  for (const [name, s] of proxies) {
    const file = configOf(name, s);
    const c = loadProxyPostgresConfig({ file, cwd: root, env: s.environment ?? {} });
    ids.add(c.id);
    assert.ok(containerPorts(s).includes(c.listen.port), `${name}: listen.port ${c.listen.port} is published`);
    assertBrokers(name, c.kafka.brokers);
    assert.equal(c.kafka.topic, TOPICS.sessionEvents);
    assert.ok(services[c.upstream.host], `${name}: upstream ${c.upstream.host} is a service`);
    assert.equal(c.upstream.port, 5432);
    assert.equal(c.upstream.user, services[c.upstream.host].environment?.POSTGRES_USER);
    assert.equal(c.upstream.database, services[c.upstream.host].environment?.POSTGRES_DB);
    assert.equal(s.environment?.AFFIDAVIT_UPSTREAM_PASSWORD, services[c.upstream.host].environment?.POSTGRES_PASSWORD);
    const jwks = new URL(c.oidc.jwksUri!);
    assert.ok(services[jwks.hostname], `${name}: the JWKS host ${jwks.hostname} is a service`);
    assert.ok(containerPorts(services[jwks.hostname]).includes(Number(jwks.port)), `${name}: JWKS port`);
    assert.equal(new URL(c.oidc.issuer).port, jwks.port);
    for (const f of [c.policyFile]) assert.ok(hostPath(s, f), `${name}: ${f} is mounted`);
    for (const f of [c.tls!.certFile, c.tls!.keyFile, c.masking.keyFile, ...c.approvals.decisionKeyFiles]) {
      assert.equal(volumeOf(s, f), 'affidavit-data', `${name}: ${f} is on the shared volume`);
    }
    assert.equal(volumeOf(services['tls-init'], c.tls!.certFile), 'affidavit-data');
  }
  assert.equal(ids.size, proxies.length, 'each proxy has its own id (its approvals consumer group)');
});

test('the ledger command line parses; its store is where the API reads; topics agree', () => {
  const [, ledger] = affidavit.find(([, s]) => argv(s)[0] === 'ledger')!;
  const o = parseLedgerRunArgs(argv(ledger).slice(2));
  assertBrokers('ledger', o.values.brokers!.split(','));
  assert.equal(o.values.topic, TOPICS.sessionEvents);
  assert.equal(o.partitions, 3);
  assert.equal(o.storeSpec.kind, 'sqlite');
  assert.equal(volumeOf(ledger, o.values['signing-key']!), 'affidavit-data');
  const [, api] = affidavit.find(([, s]) => argv(s)[0] === 'api')!;
  const a = loadApiConfig({ file: configOf('api', api), cwd: root, env: api.environment ?? {} });
  assert.equal(o.storeSpec.kind === 'sqlite' && o.storeSpec.path, a.ledgerFile, 'the API reads the file the ledger writes');
  assert.equal(volumeOf(ledger, a.ledgerFile), volumeOf(api, a.ledgerFile));
  assert.equal(a.kafka.topic, TOPICS.sessionEvents);
  assertBrokers('api', a.kafka.brokers);
  assert.ok(containerPorts(api).includes(a.listen.port), 'api: listen.port is published');
  // The proxies trust the key the API signs decisions with.
  for (const [name, s] of affidavit.filter(([, x]) => argv(x)[0] === 'proxy')) {
    const c = loadProxyPostgresConfig({ file: configOf(name, s), cwd: root, env: s.environment ?? {} });
    assert.ok(c.approvals.decisionKeyFiles.includes(a.decisions!.publicKeyFile), `${name} trusts ${a.decisions!.publicKeyFile}`);
  }
});

test('host ports are unique and bound to 127.0.0.1; named volumes are declared', () => {
  const seen = new Map<string, string>();
  for (const [name, s] of Object.entries(services)) {
    for (const p of s.ports ?? []) {
      assert.match(p, /^127\.0\.0\.1:\d+:\d+$/, `${name}: ${p} binds to loopback`);
      const host = p.split(':')[1];
      assert.ok(!seen.has(host), `host port ${host} used by ${seen.get(host)} and ${name}`);
      seen.set(host, name);
    }
    for (const v of s.volumes ?? []) {
      const src = v.split(':')[0];
      if (src.startsWith('.')) assert.ok(existsSync(join(root, src)), `${name}: ${src} exists`);
      else assert.ok(src in compose.volumes, `${name}: volume ${src} is declared`);
    }
  }
});

test('the README "Run it distributed" table names exactly the services of docker-compose.yml', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('## Run it distributed');
  assert.ok(start >= 0, 'README has a "Run it distributed" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const named = [...section.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(
    named.filter((n) => !services[n]),
    [],
    'services the README names but the file lacks',
  );
  assert.deepEqual(
    Object.keys(services).filter((n) => !named.includes(n)),
    [],
    'services of the file the README table does not name',
  );
  for (const m of section.matchAll(/`(deploy\/compose\/[^`]+)`/g)) assert.ok(existsSync(join(root, m[1])), `${relative(root, join(root, m[1]))} exists`);
});
