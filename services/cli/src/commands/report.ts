import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateReport, renderHtml, renderMarkdown, toOscal } from '@affidavit/evidence';
import { openSqliteLedgerStore, readVerifierKey } from '@affidavit/ledger';
import { ed25519NoteSigner } from '@affidavit/tlog';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';

/** zoned parses an ISO 8601 time that names its zone (a zoneless time would depend on the machine's). */
function zoned(s: string | undefined, what: string): Date {
  if (!s) throw new UsageError(`${what} is required`);
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(s))
    throw new UsageError(`${what} ${JSON.stringify(s)} is not an ISO 8601 date or a time with a zone`);
  const d = new Date(s.length === 10 ? `${s}T00:00:00Z` : s);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${what} ${JSON.stringify(s)} is not a valid time`);
  return d;
}

/** reportCommand computes one control's report over a period from the ledger. */
export const reportCommand: Command = {
  path: ['report'],
  summary: 'an SP 800-53 control report over a period, from the ledger, every row proven (JSON, OSCAL, Markdown)',
  help: `usage: affidavit report CONTROL --from TIME --to TIME [--format json|oscal|md|html] [--out FILE]
                       (--data DIR | --store LEDGER.sqlite --key LEDGER.pub) [--decision-key F]
                       [--signing-key F] [--dormant-days N] [--one-pass]

Computes the report of CONTROL over the period [--from, --to) from the ledger alone: every row
cites the ledger entries it rests on, each with an inclusion proof against the first signed
checkpoint after the period, and each log carries the consistency proof from the checkpoint
before the period. Check it offline with 'affidavit verify report FILE --key LEDGER.pub'.

  CONTROL          AC-2, AC-6(9), AU-2 or AU-3 (one report), AU-9, AU-9(3) or AU-10 (one
                   report), AU-12, IA-2, IA-2(1) or IA-2(2) (one report)
  --from, --to     ISO 8601 dates (UTC midnight) or times with a zone, e.g. 2026-11-01T00:00:00Z
  --format         json (default; what 'verify report' checks), oscal (OSCAL 1.2.1
                   assessment-results), md (Markdown) or html (a page) for people
  --out FILE       write there instead of stdout
  --data DIR       an embedded data directory: its ledger.sqlite, keys/ledger.pub,
                   keys/decisions.pub and, when readable, keys/ledger-signing.key
  --store FILE     a ledger file (with --key, the ledger's public key)
  --decision-key F the approval decision verifier key (approvals are reported unsigned without it)
  --signing-key F  the ledger's signing key: attests the report, so a verifier notices a row
                   dropped together with everything that names it
  --dormant-days N AC-2: accounts seen before the period and unused for N days (default 30)
  --one-pass       read each log in one pass on one core (by default a log of 200,000 entries
                   or more is read on two: a worker thread takes its later chunks; same report)

Exit codes: 0 written, 2 usage error, 3 the ledger or a key could not be read, or the period is
not covered by a signed checkpoint (the AFF_E_* code is printed).`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        format: { type: 'string', default: 'json' },
        out: { type: 'string' },
        data: { type: 'string' },
        store: { type: 'string' },
        key: { type: 'string' },
        'decision-key': { type: 'string' },
        'signing-key': { type: 'string' },
        'dormant-days': { type: 'string' },
        'one-pass': { type: 'boolean', default: false },
      },
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one CONTROL');
    if (!['json', 'oscal', 'md', 'html'].includes(values.format!)) throw new UsageError('--format is json, oscal, md or html');
    if (!values.data === !values.store) throw new UsageError('give exactly one of --data DIR or --store FILE');
    const from = zoned(values.from, '--from');
    const to = zoned(values.to, '--to');
    const data = values.data ? resolve(io.cwd, values.data) : undefined;
    const file = data ? join(data, 'ledger.sqlite') : resolve(io.cwd, values.store!);
    const keyFile = values.key ? resolve(io.cwd, values.key) : data ? join(data, 'keys', 'ledger.pub') : undefined;
    if (!keyFile) throw new UsageError('--key is required with --store');
    if (!existsSync(file)) throw new UsageError(`no ledger file at ${file}`);
    const decisionFile = values['decision-key'] ? resolve(io.cwd, values['decision-key']) : data ? join(data, 'keys', 'decisions.pub') : undefined;
    const signingFile = values['signing-key'] ? resolve(io.cwd, values['signing-key']) : data ? join(data, 'keys', 'ledger-signing.key') : undefined;
    const dormantDays = values['dormant-days'] === undefined ? 30 : Number(values['dormant-days']);
    const store = await openSqliteLedgerStore({ path: file, readOnly: true });
    let text: string;
    try {
      const report = await generateReport(store, {
        control: positionals[0],
        from,
        to,
        dormantDays,
        // The file itself too: a big log is then read on two cores (a worker opens it read-only).
        ...(values['one-pass'] ? {} : { ledgerFile: file }),
        key: readVerifierKey(keyFile),
        decisionKeys: decisionFile && existsSync(decisionFile) ? [readVerifierKey(decisionFile)] : [],
        ...(signingFile && existsSync(signingFile) ? { signer: ed25519NoteSigner(readFileSync(signingFile, 'utf8').trim()) } : {}),
      });
      text =
        values.format === 'md'
          ? renderMarkdown(report)
          : values.format === 'html'
            ? renderHtml(report)
            : `${JSON.stringify(values.format === 'oscal' ? toOscal(report) : report, null, values.format === 'oscal' ? 2 : undefined)}\n`;
    } finally {
      await store.close();
    }
    if (values.out) writeFileSync(resolve(io.cwd, values.out), text, { mode: 0o600 });
    else io.stdout.write(text);
    return EXIT.OK;
  },
};
