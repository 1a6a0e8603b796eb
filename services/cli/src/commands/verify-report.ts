import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EvidenceReportMalformedError, verifyReport } from '@affidavit/evidence';
import { readVerifierKey } from '@affidavit/ledger';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';

/** verifyReportCommand checks a report offline: proofs, checkpoint and approval signatures, and that every row says what its entries say. */
export const verifyReportCommand: Command = {
  path: ['verify', 'report'],
  summary: 'verify a report offline: every cited proof, checkpoint and approval signature, every row against its entries',
  help: `usage: affidavit verify report FILE --key LEDGER.pub [--decision-key DECISIONS.pub] [--allow-unattested] [--json]

Checks a report written by 'affidavit report --format json' with nothing but public keys:
  - every log's checkpoints (before the period, after it, and the chain between) are signed by
    the ledger key, name the log's origin, and each extends the one before (consistency proofs):
    a period rolled back or rewritten after the fact fails;
  - every cited entry is included in the signed tree (inclusion proof), decodes, and gives
    exactly the row's claims (a changed row, or an entry or proof from another log, fails);
  - approval decisions the rows cite are signed by the decision key;
  - rows are numbered without a gap and every row an objective names is present (a dropped row
    fails), the objectives are what the rows give, and the attestation signs this very report.
Each problem names the row it was found in.

  --key FILE           the ledger's public key (as written next to its signing key)
  --decision-key FILE  the approval decision key (default: decisions.pub beside --key, if there)
  --allow-unattested   accept a report without attestation (e.g. from the GraphQL API); a row
                       dropped together with every reference to it, a period or parameter
                       (dormantDays) other than the one asked, and the rows' counts (stats)
                       then go unseen
  --json               print the verdict as JSON

Exit codes: 0 verified, 1 a check failed (each problem is printed with its row), 2 usage error,
3 the file or a key could not be read, or the file is not a report (AFF_E_EVIDENCE_REPORT_MALFORMED).`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { key: { type: 'string' }, 'decision-key': { type: 'string' }, 'allow-unattested': { type: 'boolean' }, json: { type: 'boolean' } },
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one report FILE');
    if (!values.key) throw new UsageError('--key is required');
    const file = resolve(io.cwd, positionals[0]);
    if (!existsSync(file)) throw new UsageError(`no report at ${file}`);
    const keyFile = resolve(io.cwd, values.key);
    const decisionFile = values['decision-key'] ? resolve(io.cwd, values['decision-key']) : join(dirname(keyFile), 'decisions.pub');
    const decisionKeys = values['decision-key'] || existsSync(decisionFile) ? [readVerifierKey(decisionFile)] : [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new EvidenceReportMalformedError(`${file} is not JSON: ${(e as Error).message}`);
    }
    const v = verifyReport(parsed, { key: readVerifierKey(keyFile), decisionKeys, allowUnattested: values['allow-unattested'] === true });
    if (values.json) io.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
    else {
      for (const p of v.problems) io.stdout.write(`FAILED: ${p.row ? `row ${p.row}: ` : ''}${p.problem}\n`);
      io.stderr.write(
        v.ok
          ? `verified: ${v.rows} rows, ${v.cites} cited entries proven in ${v.logs} logs${v.attested ? ', attested' : ', NOT attested (accepted)'}\n`
          : `NOT VERIFIED: ${v.problems.length} problems\n`,
      );
    }
    return v.ok ? EXIT.OK : EXIT.FAILED;
  },
};
