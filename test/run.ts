#!/usr/bin/env node
// The README's test command (`npm test`): type-check, contract drift check, then every test
// tier of every workspace through Turborepo, one tier after another. Real services (Kafka,
// PostgreSQL, sshd, the OIDC provider) are started by the tests themselves through
// test/services and stopped when they finish, also on failure.
//
// It first runs test/prerequisites.sh, which installs the Debian packages the suite needs (or,
// for a user who cannot install, stops with one message naming them), so a missing tool is
// never reported as failing tests. It ends with one line `tests: N passed, N failed, N skipped`
// summed over every node:test run (a cancelled test counts as failed; a skipped test or suite
// counts once), lists every skip with its reason, and exits non-zero when anything failed, so CI and scripts can trust
// the exit code.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const HELP = `usage: npm test [-- --tier unit|int|e2e ...] [-- --filter <workspace>]

Runs, in order: test/prerequisites.sh (installs missing Debian packages when run as root,
else names them and stops with exit 3); the formatter and linter (biome ci); tsc --noEmit; the generated-types drift check; then the unit, int and e2e
test tiers of every workspace (Turborepo). Options:
  --tier T      run only tier T (repeatable)
  --filter W    run only workspace W (turbo --filter syntax), e.g. @affidavit/tlog
  --no-typecheck  skip biome and tsc
  --no-prerequisites  do not check or install the Debian packages the tests need
Exit code 0 when every step passed, 1 when a step or test failed, 3 when a prerequisite is
missing and could not be installed.`;

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
/** skips are the skipped tests seen, as `workspace: name # reason`. */
const skips: string[] = [];
// The spec reporter prints a skipped test as `﹣ name (1.2ms) # reason`; turbo prefixes each
// line with `<workspace>:<task>: `.
const SKIP_LINE = /^(?:(\S+?):test:\w+: )?\s*\uFE63 (.*) \([\d.]+m?s\)(?: # (.*))?$/;

/** countLine adds one line of a test run's output to the totals and the list of skips. */
function countLine(line: string): void {
  // Skips are counted from their lines, not from `ℹ skipped`: node counts a skipped suite
  // (the EventStoreDB contract without EVENTSTORE_CONNECTION) in neither tests nor skips.
  const total = /ℹ (pass|fail|cancelled) (\d+)\s*$/.exec(line);
  if (total) {
    if (total[1] === 'pass') passed += Number(total[2]);
    else failed += Number(total[2]);
    return;
  }
  const skip = SKIP_LINE.exec(line);
  if (skip) skips.push(`${skip[1] ?? '(root)'}: ${skip[2]}${skip[3] ? ` # ${skip[3]}` : ''}`);
}

function run(step: string, cmd: string, args: string[], count: boolean): Promise<number> {
  const started = Date.now();
  console.log(`\n▶ ${step}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    // Output is counted a whole line at a time: a chunk may end in the middle of one.
    const rest = { out: '', err: '' };
    const scan = (chunk: Buffer, out: NodeJS.WriteStream, which: 'out' | 'err') => {
      out.write(chunk);
      if (!count) return;
      const lines = (rest[which] + chunk.toString('utf8')).split('\n');
      rest[which] = lines.pop() ?? '';
      for (const line of lines) countLine(line);
    };
    child.stdout.on('data', (c: Buffer) => scan(c, process.stdout, 'out'));
    child.stderr.on('data', (c: Buffer) => scan(c, process.stderr, 'err'));
    child.on('close', (code) => {
      if (count) for (const line of [rest.out, rest.err]) countLine(line);
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`${code === 0 ? '✔' : '✖'} ${step} (${secs} s, exit ${code})`);
      if (code !== 0) failures.push(step);
      resolve(code ?? 1);
    });
  });
}

const steps: Array<[string, string, string[], boolean]> = [];
if (!argv.includes('--no-prerequisites')) {
  const pre = spawnSync('bash', [join(root, 'test', 'prerequisites.sh')], { stdio: 'inherit' });
  if (pre.status !== 0) {
    console.log(`\nthe test prerequisites are missing (see above); no test was run`);
    process.exit(pre.status === 3 ? 3 : 1);
  }
}
// Go may live outside PATH on Debian images (/usr/local/go); the reference-code tests need it.
process.env.PATH = `/usr/local/go/bin:${process.env.PATH ?? ''}`;
if (!argv.includes('--no-typecheck') && tiers.length === 0) {
  steps.push(['format and lint (biome ci)', bin('biome'), ['ci', '--colors=off', '.'], false]);
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
if (skips.length > 0) console.log(`\nskipped:\n${skips.map((s) => `  ${s}`).join('\n')}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skips.length} skipped`);
process.exit(failures.length === 0 && failed === 0 ? 0 : 1);
