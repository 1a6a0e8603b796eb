// The error catalogue and docs/errors.md MUST agree both ways (fastify's errors.test.js idea):
// a code users can receive is documented, and a documented code still exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.') || name === 'data') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

// Codes are found where they are defined, `defineError('AFF_E_…'`, across every workspace,
// so a module that is never imported by a test still cannot define an undocumented code.
const defined = new Map<string, string>();
for (const dir of ['schemas', 'packages', 'services', 'proxies', 'test']) {
  for (const file of sources(join(root, dir))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/defineError\(\s*['"](AFF_E_[A-Z0-9_]+)['"]/g)) {
      assert.ok(!defined.has(m[1]), `${m[1]} defined in both ${defined.get(m[1])} and ${file}`);
      defined.set(m[1], file);
    }
  }
}
const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
const documented = new Set([...doc.matchAll(/^\| (AFF_E_[A-Z0-9_]+) \|/gm)].map((m) => m[1]));

test('every defined error code is documented in docs/errors.md', () => {
  const missing = [...defined.keys()].filter((c) => !documented.has(c));
  assert.deepEqual(missing, [], `undocumented codes: ${missing.join(', ')}`);
});

test('every documented error code is defined in the source', () => {
  const stale = [...documented].filter((c) => !defined.has(c));
  assert.deepEqual(stale, [], `documented but not defined: ${stale.join(', ')}`);
});

test('the catalogue is not empty', () => {
  assert.ok(defined.size >= 4, `found only ${defined.size} codes`);
});
