// Two independent OSCAL validators for the tests: NIST's JSON Schema for assessment-results
// 1.2.1 (services/evidence/oscal) through ajv (draft-07), and compliance-trestle from PyPI, pinned, in a
// venv under .cache (gitignored), installed on first use.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';

const REPO = join(import.meta.dirname, '..');
/** OSCAL_SCHEMA is NIST's assessment-results schema, kept in the repository (its README names the source). */
export const OSCAL_SCHEMA = join(REPO, 'services', 'evidence', 'oscal', 'oscal_assessment-results_schema.json');
const TRESTLE_VERSION = '5.2.0';
const VENV = join(REPO, '.cache', 'trestle-venv');

/** schemaValidator compiles NIST's schema once; it returns the ajv errors of a document (empty when valid). */
export function schemaValidator(): (doc: unknown) => string[] {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(OSCAL_SCHEMA, 'utf8')));
  return (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));
}

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
}

/** ensureTrestle installs the pinned compliance-trestle unless it is there, and returns its `trestle` command. */
export function ensureTrestle(): string {
  const py = join(VENV, 'bin', 'python');
  if (!existsSync(py)) run('python3', ['-m', 'venv', VENV]);
  const have = spawnSync(py, ['-c', 'import importlib.metadata as m; print(m.version("compliance-trestle"))'], { encoding: 'utf8' });
  if (have.status !== 0 || have.stdout.trim() !== TRESTLE_VERSION)
    run(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `compliance-trestle==${TRESTLE_VERSION}`]);
  return join(VENV, 'bin', 'trestle');
}

/** trestleValidate runs `trestle partial-object-validate -e assessment-results` on a document; it returns trestle's verdict and output. */
export function trestleValidate(trestle: string, doc: unknown): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'aff-trestle-'));
  const file = join(dir, 'assessment-results.json');
  writeFileSync(file, JSON.stringify(doc));
  const r = spawnSync(trestle, ['partial-object-validate', '-f', file, '-e', 'assessment-results'], { encoding: 'utf8', cwd: dir, timeout: 120_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
