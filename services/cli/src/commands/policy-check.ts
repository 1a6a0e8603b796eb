import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatFindings, initSqlParser, policyCheck } from '@affidavit/access';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';

/** policyCheckCommand lints a policy file: exit 0 when usable (warnings allowed), 1 when it has errors. */
export const policyCheckCommand: Command = {
  path: ['policy', 'check'],
  summary: 'lint a policy file (schema, unknown fields, duplicate ids, unreachable rules)',
  help: `usage: affidavit policy check FILE [--json] [--strict]

Checks a YAML policy file: YAML syntax, the JSON Schema (unknown fields, wrong types, with
their line), duplicate rule ids, undefined lists, unknown detectors, and rules shadowed by an
earlier catch-all. Prints one line per finding.

Options:
  --json     print the findings as JSON
  --strict   treat warnings as errors

Exit codes: 0 the policy is usable, 1 it has errors (or warnings with --strict), 2 usage error.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean' }, strict: { type: 'boolean' } }, allowPositionals: true });
    if (positionals.length !== 1) throw new UsageError('expected exactly one FILE');
    await initSqlParser();
    const path = resolve(io.cwd, positionals[0]);
    const result = await policyCheck(path);
    const failed = !result.ok || (values.strict === true && result.findings.length > 0);
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ path, ok: !failed, findings: result.findings }, null, 2)}\n`);
    } else {
      if (result.findings.length > 0) io.stdout.write(`${formatFindings(result.findings, positionals[0])}\n`);
      const rules = result.policy ? ` (${result.policy.rules.length} rules)` : '';
      io.stdout.write(failed ? `${positionals[0]}: policy has errors\n` : `${positionals[0]}: ok${rules}\n`);
    }
    return failed ? EXIT.FAILED : EXIT.OK;
  },
};
