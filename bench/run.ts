#!/usr/bin/env node
// bench/run.ts: every benchmark in turn (`npm run bench`), each printing its figures beside the
// baseline it measures in the same run. Exit code: 0 when every benchmark ran, 1 otherwise
// (a figure below its target is reported by the benchmark, not turned into a failure: targets
// are machine-specific, see README "Benchmarks").
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const BENCHES = ['bus', 'recorder', 'masking', 'ledger', 'postgres', 'api', 'siem', 'report', 'replay', 'distributed'] as const;

const usage = `usage: node bench/run.ts [--quick] [--only LIST]

Runs ${BENCHES.map((b) => `bench/${b}.ts`).join(', ')} one after another.
  --quick      pass --quick to the benchmarks that have it (short smoke figures)
  --only LIST  comma-separated subset, e.g. --only ledger,postgres
  --help       show this text`;

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, help: { type: 'boolean', default: false } } });
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const only = values.only?.split(',').filter(Boolean);
for (const o of only ?? []) {
  if (!(BENCHES as readonly string[]).includes(o)) {
    console.error(`--only: unknown benchmark ${o}\n\n${usage}`);
    process.exit(2);
  }
}
const QUICK: Record<(typeof BENCHES)[number], string[]> = {
  bus: ['--records', '30000'],
  recorder: ['--events', '20000', '--rounds', '1'],
  masking: [],
  ledger: ['--quick'],
  postgres: ['--quick'],
  api: ['--quick'],
  siem: ['--quick'],
  report: ['--quick'],
  replay: ['--quick'],
  distributed: ['--quick'],
};
const failed: string[] = [];
for (const b of BENCHES) {
  if (only && !only.includes(b)) continue;
  const args = [join(import.meta.dirname, `${b}.ts`), ...(values.quick ? QUICK[b] : [])];
  console.log(`\n=== bench/${b}.ts ${args.slice(1).join(' ')}`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) failed.push(`${b} (exit ${r.status ?? r.signal})`);
}
if (failed.length > 0) {
  console.error(`\nbenchmarks that did not complete: ${failed.join(', ')}`);
  process.exit(1);
}
