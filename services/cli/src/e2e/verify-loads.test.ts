// The offline verifier an auditor runs loads only what verification needs: not the EventStoreDB
// driver, not Kafka, not the proxies (issue #17). Checked by recording every module the real
// `affidavit verify` process resolves, with a guard that the recorder sees the ledger itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..', '..', '..');

test('affidavit verify loads no EventStoreDB client, Kafka client, proxy or SQL parser', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'aff-verify-loads-')), 'imports.txt');
  const r = spawnSync(
    join(root, 'node_modules', '.bin', 'node'),
    [
      '--import',
      join(root, 'test', 'fixtures', 'record-imports.mjs'),
      join(root, 'services', 'cli', 'src', 'main.ts'),
      'verify',
      join(root, 'no-such-ledger.sqlite'),
      '--key',
      join(root, 'no-such.pub'),
    ],
    { cwd: root, encoding: 'utf8', env: { ...process.env, RECORD_IMPORTS_TO: out } },
  );
  assert.equal(r.status, 2, `a missing input is a usage error: ${r.stderr}`);
  const loaded = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  assert.ok(
    loaded.some((u) => u.includes('/services/ledger/src/')),
    'the recorder sees the ledger modules (guards the guard)',
  );
  const forbidden = loaded.filter((u) =>
    /@eventstore|\/kafkajs\/|\/proxies\/postgres\/|\/packages\/bus\/src\/adapters\/kafka\/|\/libpg-query\/|\/proxies\/access\/src\/(policy|identity|masking)\//.test(
      u,
    ),
  );
  assert.deepEqual(forbidden, []);
});
