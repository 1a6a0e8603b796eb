import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, EMBEDDED_IDLE_TIMEOUT_SECONDS, EMBEDDED_MAX_CONNECTIONS, EMBEDDED_MAX_CONNECTIONS_PER_IDENTITY } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'aff-config-'));
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('defaults alone give a valid frozen config with absolute paths under cwd', () => {
  const c = loadConfig({ cwd: dir, env: {} });
  assert.equal(c.dataDir, join(dir, 'data'));
  assert.equal(c.policyFile, join(dir, 'data', 'policy.yaml'));
  assert.equal(c.recording.mode, 'sync');
  assert.ok(Object.isFrozen(c));
});

test('a file overrides defaults, relative paths resolve against the file, users replace', () => {
  const file = write('a.yaml', 'dataDir: ./state\nissuer:\n  users:\n    dave: { groups: [ops] }\npostgres:\n  port: 7000\n');
  const c = loadConfig({ file, cwd: '/', env: {} });
  assert.equal(c.dataDir, join(dir, 'state'));
  assert.deepEqual(Object.keys(c.issuer.users), ['dave']);
  assert.equal(c.postgres.port, 7000);
  assert.equal(c.issuer.audience, 'affidavit', 'unset fields keep their defaults');
});

test('environment overrides the file', () => {
  const file = write('b.yaml', 'postgres:\n  port: 7000\n');
  const c = loadConfig({ file, cwd: dir, env: { AFFIDAVIT_PG_PORT: '7100', AFFIDAVIT_RECORDING_MODE: 'async' } });
  assert.equal(c.postgres.port, 7100);
  assert.equal(c.recording.mode, 'async');
});

test('errors name the bad field', () => {
  assert.throws(
    () => loadConfig({ file: write('c.yaml', 'postgres:\n  port: 70000\n'), cwd: dir, env: {} }),
    (e: Error & { code?: string }) => e.code === 'AFF_E_CONFIG_INVALID' && /config\.postgres\.port/.test(e.message),
  );
  assert.throws(() => loadConfig({ file: write('d.yaml', 'recordng: {}\n'), cwd: dir, env: {} }), /unknown field "recordng"/);
  assert.throws(() => loadConfig({ cwd: dir, env: { AFFIDAVIT_PG_PORT: 'abc' } }), /AFFIDAVIT_PG_PORT=abc: must be an integer/);
  assert.throws(() => loadConfig({ file: join(dir, 'missing.yaml'), cwd: dir, env: {} }), /does not exist/);
  assert.throws(() => loadConfig({ file: write('e.yaml', 'a: [\n'), cwd: dir, env: {} }), /not valid YAML/);
});

test('the embedded proxy is safe by default: an idle timeout and connection limits, all configurable and checked', () => {
  const c = loadConfig({ cwd: dir, env: {} });
  assert.equal(c.postgres.idleTimeoutSeconds, EMBEDDED_IDLE_TIMEOUT_SECONDS);
  assert.ok(c.postgres.idleTimeoutSeconds > 0);
  assert.equal(c.postgres.maxConnections, EMBEDDED_MAX_CONNECTIONS);
  assert.equal(c.postgres.maxConnectionsPerIdentity, EMBEDDED_MAX_CONNECTIONS_PER_IDENTITY);
  const f = loadConfig({ file: write('limits.yaml', 'postgres:\n  idleTimeoutSeconds: 30\n  maxConnectionsPerIdentity: 2\n'), cwd: dir, env: {} });
  assert.equal(f.postgres.idleTimeoutSeconds, 30);
  assert.equal(f.postgres.maxConnectionsPerIdentity, 2);
  assert.throws(
    () => loadConfig({ file: write('limits2.yaml', 'postgres:\n  maxConnections: 3\n  maxConnectionsPerIdentity: 4\n'), cwd: dir, env: {} }),
    /maxConnectionsPerIdentity: 4 is more than maxConnections \(3\)/,
  );
  assert.throws(
    () => loadConfig({ file: write('limits3.yaml', 'postgres:\n  idleTimeoutSeconds: -1\n'), cwd: dir, env: {} }),
    /config\.postgres\.idleTimeoutSeconds/,
  );
});
