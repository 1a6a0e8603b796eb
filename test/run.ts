#!/usr/bin/env node
// The README's test command (`npm test`): type-check, contract drift check, then every test
// tier of every workspace through Turborepo, one tier after another. Real services (Kafka,
// PostgreSQL, sshd, the OIDC provider) are started by the tests themselves through
// test/services and stopped when they finish, also on failure.
//
// It ends with one line `tests: N passed, N failed` summed over every node:test run, and exits
// non-zero when anything failed, so CI and scripts can trust the exit code.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const HELP = `usage: npm test [-- --tier unit|int|e2e ...] [-- --filter <workspace>]

Runs, in order: tsc --noEmit; the generated-types drift check; then the unit, int and e2e
test tiers of every workspace (Turborepo). Options:
  --tier T      run only tier T (repeatable)
  --filter W    run only workspace W (turbo --filter syntax), e.g. @affidavit/tlog
  --no-typecheck  skip tsc
Exit code 0 when every step passed, 1 otherwise.`;

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(HELP);
  process.exit(0);
}
const root = join(import.meta.dirname, '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const tiers = argv.flatMap((a, i) => (a === '--tier' ? [argv[i + 1]] : []));
const filters = argv.flatMap((a, i) => (a === '--filter' ? ['--filter', argv[i + 1]] : []));

let passed = 0;
let failed = 0;
const failures: string[] = [];

function run(step: string, cmd: string, args: string[], count: boolean): Promise<number> {
  const started = Date.now();
  console.log(`\n▶ ${step}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    const scan = (chunk: Buffer, out: NodeJS.WriteStream) => {
      out.write(chunk);
      if (!count) return;
      for (const m of chunk.toString('utf8').matchAll(/ℹ (pass|fail) (\d+)\s*$/gm)) {
        if (m[1] === 'pass') passed += Number(m[2]);
        else failed += Number(m[2]);
      }
    };
    child.stdout.on('data', (c: Buffer) => scan(c, process.stdout));
    child.stderr.on('data', (c: Buffer) => scan(c, process.stderr));
    child.on('close', (code) => {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`${code === 0 ? '✔' : '✖'} ${step} (${secs} s, exit ${code})`);
      if (code !== 0) failures.push(step);
      resolve(code ?? 1);
    });
  });
}

const steps: Array<[string, string, string[], boolean]> = [];
if (!argv.includes('--no-typecheck') && tiers.length === 0) {
  steps.push(['typecheck (tsc --noEmit)', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json'], false]);
  steps.push(['generated types are up to date', process.execPath, ['schemas/scripts/gen-types.ts', '--check'], false]);
}
for (const tier of tiers.length > 0 ? tiers : ['unit', 'int', 'e2e']) {
  // int and e2e tiers share machine-wide resources (2 cores, real servers): one workspace at a time.
  const conc = tier === 'unit' ? [] : ['--concurrency=1'];
  steps.push([`test:${tier}`, bin('turbo'), ['run', `test:${tier}`, '--continue', '--log-order=grouped', ...conc, ...filters], true]);
}

for (const [name, cmd, args, count] of steps) await run(name, cmd, args, count);

console.log(`\n${failures.length === 0 ? 'all steps passed' : `failed steps: ${failures.join(', ')}`}`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failures.length === 0 && failed === 0 ? 0 : 1);
