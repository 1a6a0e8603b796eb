// Architecture rules (STYLE rule 9, tessera's TestForbiddenFunction): pure code stays pure,
// drivers stay inside their adapters, and the layers of the README's layout table hold:
// packages/ (libraries) < proxies/ (feeders) < services/ (deployable services and the CLI, the
// composition root). A rule names a folder and what its files MUST NOT import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');

function files(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]);
}

/** LAYERS lists every workspace package by layer; a package imports only from lower layers. */
const LAYERS: Readonly<Record<string, readonly string[]>> = {
  library: ['@affidavit/common', '@affidavit/bus', '@affidavit/tlog', '@affidavit/schemas', '@affidavit/replay'],
  feeder: ['@affidavit/access', '@affidavit/postgres-proxy'],
  service: ['@affidavit/ledger', '@affidavit/evidence', '@affidavit/api', '@affidavit/siem', '@affidavit/cli'],
};
const pkgOf = (spec: string) => spec.split('/').slice(0, 2).join('/');
const inLayer = (layer: keyof typeof LAYERS) => (spec: string) => LAYERS[layer].includes(pkgOf(spec));

const IO = ['node:fs', 'node:fs/promises', 'node:net', 'node:http', 'node:child_process', 'node:sqlite', 'kafkajs', '@eventstore/db-client'];

type Rule = { name: string; folder: string; forbidden: (spec: string, file: string) => boolean };
/** outside returns a predicate true for files NOT under `sub` (a pure folder's I/O adapters live there). */
const outside = (sub: string) => (f: string) => !relative(root, f).startsWith(sub);
const rules: Rule[] = [
  { name: 'packages/tlog is pure (no I/O, no drivers)', folder: 'packages/tlog/src', forbidden: (s) => IO.includes(s) },
  { name: 'libraries (packages/) import no feeder or service', folder: 'packages', forbidden: (s) => inLayer('feeder')(s) || inLayer('service')(s) },
  { name: 'the event contract (schemas/) imports no feeder or service', folder: 'schemas', forbidden: (s) => inLayer('feeder')(s) || inLayer('service')(s) },
  { name: 'feeders (proxies/) import no service', folder: 'proxies', forbidden: inLayer('service') },
  {
    name: 'policy classification and evaluation are pure (I/O only in policy/adapters)',
    folder: 'proxies/access/src/policy',
    forbidden: (s, f) => IO.includes(s) && outside('proxies/access/src/policy/adapters/')(f),
  },
  {
    name: 'masking detectors, styles and lineage are pure (I/O only in masking/adapters)',
    folder: 'proxies/access/src/masking',
    forbidden: (s, f) => IO.includes(s) && outside('proxies/access/src/masking/adapters/')(f),
  },
  { name: 'ledger core is pure', folder: 'services/ledger/src/core', forbidden: (s) => IO.includes(s) },
  { name: 'the OCSF mapping and validator are pure', folder: 'services/siem/src/ocsf', forbidden: (s) => IO.includes(s) },
  { name: 'evidence core (report folds, claims, OSCAL, verification) is pure', folder: 'services/evidence/src/core', forbidden: (s) => IO.includes(s) },
  { name: 'packages/replay is pure (the ledger is reached through an injected store)', folder: 'packages/replay/src', forbidden: (s) => IO.includes(s) },
  {
    name: 'kafkajs only in the bus Kafka adapter',
    folder: '.',
    forbidden: (s, f) =>
      s === 'kafkajs' &&
      !relative(root, f).startsWith('packages/bus/src/adapters/kafka') &&
      !relative(root, f).startsWith('test/') &&
      !relative(root, f).startsWith('bench/'),
  },
  {
    name: 'node:sqlite only in the ledger and read-model SQLite adapters',
    folder: '.',
    forbidden: (s, f) =>
      s === 'node:sqlite' &&
      !['services/ledger/src/adapters/sqlite', 'services/api/src/adapters/sqlite', 'bench/', 'test/'].some((p) => relative(root, f).startsWith(p)),
  },
  {
    name: '@eventstore/db-client only in the ledger EventStoreDB adapter',
    folder: '.',
    forbidden: (s, f) => s === '@eventstore/db-client' && !relative(root, f).startsWith('services/ledger/src/adapters/eventstoredb'),
  },
  { name: 'proxies do not import ledger internals', folder: 'proxies', forbidden: (s) => s.startsWith('@affidavit/ledger') || s.includes('services/ledger') },
  {
    name: 'workspaces import each other only through their package name',
    folder: '.',
    forbidden: (s) => /^(\.\.\/)+(packages|services|proxies|schemas)\//.test(s),
  },
];

for (const rule of rules) {
  test(rule.name, () => {
    const dirs = rule.folder === '.' ? ['schemas', 'packages', 'services', 'proxies'].map((d) => join(root, d)) : [join(root, rule.folder)];
    const violations = dirs
      .flatMap((d) => files(d))
      .flatMap((f) =>
        imports(f)
          .filter((s) => rule.forbidden(s, f))
          .map((s) => `${relative(root, f)} imports ${s}`),
      );
    assert.deepEqual(violations, []);
  });
}

test('the import scanner sees imports (guards the guard)', () => {
  const seen = imports(join(root, 'schemas', 'src', 'codec.ts'));
  assert.ok(seen.includes('avsc'), `scanner found ${seen.join(', ')}`);
});

test('every workspace package is placed in a layer (guards the layer rules)', () => {
  const names = ['packages', 'services', 'proxies'].flatMap((d) =>
    readdirSync(join(root, d)).flatMap((w) => {
      const pj = join(root, d, w, 'package.json');
      return existsSync(pj) ? [JSON.parse(readFileSync(pj, 'utf8')).name as string] : [];
    }),
  );
  const placed = Object.values(LAYERS).flat();
  assert.deepEqual(
    names.filter((n) => !placed.includes(n)),
    [],
  );
  for (const n of readdirSync(join(root, 'packages'))) assert.ok(inLayer('library')(`@affidavit/${n}`), `packages/${n} is a library`);
});
