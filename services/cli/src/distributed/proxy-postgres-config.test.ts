import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProxyPostgresConfig } from './proxy-postgres-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'aff-proxy-config-'));
const MINIMAL = `id: pg-1
kafka: { brokers: ["kafka:9092"] }
tls: { certFile: tls/proxy.crt, keyFile: tls/proxy.key }
upstream: { host: db, user: app, database: app, passwordFile: secrets/pg }
oidc: { issuer: "https://idp.example", audience: affidavit }
policyFile: policy.yaml
masking: { keyFile: keys/masking.keys }
`;
function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return loadProxyPostgresConfig({ file, cwd: '/', env });
}

test('defaults come from the schema; paths resolve against the file folder', () => {
  const c = load(MINIMAL);
  assert.equal(c.listen.port, 6432);
  assert.equal(c.recording.mode, 'sync');
  assert.equal(c.kafka.topic, 'affidavit.session-events.v1');
  assert.deepEqual(c.approvals.decisionKeyFiles, []);
  assert.equal(c.policyFile, join(dir, 'policy.yaml'));
  assert.equal(c.upstream.passwordFile, join(dir, 'secrets/pg'));
  assert.ok(Object.isFrozen(c));
});

test('AFFIDAVIT_* overrides: lists split on commas, integers checked, every error names its field', () => {
  const c = load(MINIMAL, { AFFIDAVIT_KAFKA_BROKERS: 'a:9092, b:9092', AFFIDAVIT_PG_PORT: '7000', AFFIDAVIT_RECORDING_MODE: 'async' });
  assert.deepEqual(c.kafka.brokers, ['a:9092', 'b:9092']);
  assert.equal(c.listen.port, 7000);
  assert.equal(c.recording.mode, 'async');
  assert.throws(() => load(MINIMAL, { AFFIDAVIT_PG_PORT: '70x' }), /AFFIDAVIT_PG_PORT=70x: must be an integer/);
  assert.throws(() => load(MINIMAL, { AFFIDAVIT_RECORDING_MODE: 'fast' }), /config\.recording\.mode: must be equal to one of the allowed values/);
  assert.throws(() => load(`${MINIMAL}surprise: 1\n`), /config: unknown field "surprise"/);
});

test('cross-field rules: TLS off loopback, exactly one upstream password', () => {
  const noTls = MINIMAL.replace(/^tls:.*\n/m, '');
  assert.throws(() => load(noTls), /config\.tls: is required/);
  assert.throws(() => load(`${noTls}allowCleartextOnLoopback: true\nlisten: { host: 0.0.0.0 }\n`), /listen\.host is 0\.0\.0\.0 \(not loopback\)/);
  assert.equal(load(`${noTls}allowCleartextOnLoopback: true\n`).listen.host, '127.0.0.1');
  assert.throws(() => load(MINIMAL, { AFFIDAVIT_UPSTREAM_PASSWORD: 'x' }), /give exactly one of password/);
  assert.throws(() => load(MINIMAL.replace(', passwordFile: secrets/pg', '')), /give exactly one of password/);
});
