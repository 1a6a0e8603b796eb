#!/usr/bin/env node
// affidavit-test-tier: runs one test tier of the workspace in the current directory.
// The file suffix names the tier (STYLE rule 7): `*.int.test.ts` needs real services,
// files under `e2e/` drive the system with real clients, every other `*.test.ts` is pure.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const TIERS = ['unit', 'int', 'e2e'] as const;
type Tier = (typeof TIERS)[number];

const usage = `usage: affidavit-test-tier <unit|int|e2e> [--list]

Runs node's test runner on this workspace's test files of one tier:
  unit  *.test.ts that are not *.int.test.ts and not under e2e/
  int   *.int.test.ts (real services on 127.0.0.1)
  e2e   *.test.ts under an e2e/ folder (real clients)
Exit code: the test runner's (0 all passed, 1 a failure).`;

const tier = process.argv[2] as Tier;
if (process.argv.includes('--help') || !TIERS.includes(tier)) {
  console.log(usage);
  process.exit(process.argv.includes('--help') ? 0 : 2);
}

/** tierOf names the tier of one test file, or undefined when it is not a test. */
export function tierOf(path: string): Tier | undefined {
  if (!path.endsWith('.test.ts')) return undefined;
  if (path.split(sep).includes('e2e')) return 'e2e';
  if (path.endsWith('.int.test.ts')) return 'int';
  return 'unit';
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.') || name === 'data') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

const cwd = process.cwd();
const files = walk(cwd, [])
  .filter((f) => tierOf(relative(cwd, f)) === tier)
  .map((f) => relative(cwd, f))
  .sort();
if (process.argv.includes('--list')) {
  console.log(files.join('\n'));
  process.exit(0);
}
if (files.length === 0) {
  console.log(`no ${tier} tests in ${relative(process.env.INIT_CWD ?? cwd, cwd) || '.'}`);
  process.exit(0);
}
const concurrency = tier === 'unit' ? [] : ['--test-concurrency=1'];
const r = spawnSync(process.execPath, ['--test', ...concurrency, '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
