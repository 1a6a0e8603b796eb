import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadApiConfig } from './api-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'aff-api-config-'));
const MINIMAL = `id: api-1
kafka: { brokers: ["kafka:9092"] }
ledgerFile: data/ledger.sqlite
readModelFile: data/read-models.sqlite
oidc: { issuer: "https://idp.example", audience: affidavit }
`;
function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return loadApiConfig({ file, cwd: '/', env });
}

test('defaults: port 9480, read-only without decision keys, development off; paths resolved', () => {
  const c = load(MINIMAL);
  assert.equal(c.listen.port, 9480);
  assert.equal(c.decisions, undefined);
  assert.equal(c.development, false);
  assert.deepEqual(c.roleGroups.approver, ['approvers']);
  assert.equal(c.ledgerFile, join(dir, 'data/ledger.sqlite'));
});

test('errors name the field; the read models never overwrite the ledger file', () => {
  assert.throws(() => load(MINIMAL, { AFFIDAVIT_API_PORT: '0' }), /config\.listen\.port: must be >= 1/);
  assert.throws(
    () => load(`${MINIMAL}roleGroups: { auditor: [] , approver: [a], admin: [b] }\n`),
    /config\.roleGroups\.auditor: must NOT have fewer than 1 items/,
  );
  assert.throws(() => load(MINIMAL.replace('data/read-models.sqlite', 'data/ledger.sqlite')), /readModelFile: must not be the ledger file/);
});
