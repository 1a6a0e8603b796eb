import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { entriesWithRecordedLeaves, openSqliteLedgerStore, readBundle, readVerifierKey, verifyLog } from '@affidavit/ledger';
import type { VerifyReport } from '@affidavit/ledger';
import { openNote, parseCheckpoint } from '@affidavit/tlog';
import type { NoteVerifier } from '@affidavit/tlog';
import { EXIT, UsageError } from '../command.ts';
import type { Command, Io } from '../command.ts';
import { DECISION_KEY_HELP, verifyDecisionsIn } from './verify-decisions.ts';

function opener(verifier: NoteVerifier) {
  return (note: string) => {
    const opened = openNote(note, [verifier]);
    const c = parseCheckpoint(opened.text);
    return { origin: c.origin, size: c.size, root: c.root };
  };
}

function describe(r: VerifyReport): string {
  if (r.ok) return `ok: ${r.entries} entries, ${r.checkpoints} checkpoints verified${r.root ? `, root ${r.root}` : ''}`;
  const p = r.problem;
  if (p.kind === 'entry') return `FAILED at entry ${p.index}: ${p.message}`;
  if (p.kind === 'range') return `FAILED in entries [${p.from}, ${p.to}): ${p.message}`;
  return `FAILED at ${p.which}: ${p.message}`;
}

const progress = (io: Io, label: string) => (n: number) => io.stderr.write(`${label}: ${n.toLocaleString('en-US')} entries checked\n`);

/** verifyCommand checks a bundle or a ledger file offline with the ledger's public key. */
export const verifyCommand: Command = {
  path: ['verify'],
  summary: 'verify a bundle, a ledger file or a data directory offline',
  help: `usage: affidavit verify (BUNDLE | LEDGER.sqlite | DATA_DIR) --key PUBLIC_KEY [--checkpoint FILE]... [--json]

Checks, with nothing but the ledger's public key: every checkpoint's signature, that checkpoints
agree, that entries are consecutive, that each entry's bytes hash to the leaf recorded when it was
appended, and that the Merkle root over the entries equals every checkpoint's root at its size
(each entry's inclusion and the consistency between checkpoints). A checkpoint kept outside the
system (--checkpoint, e.g. copied from the checkpoints topic) also catches a rollback.

  BUNDLE          a file written by 'affidavit ledger export'
  LEDGER.sqlite   the ledger's SQLite file (opened read-only; every log in it is checked)
  DATA_DIR        an embedded data directory (its ledger.sqlite; --key defaults to DATA_DIR/keys/ledger.pub)
  --key FILE      the verifier key (name+hash+base64), as written next to the signing key
  --checkpoint F  a signed checkpoint held elsewhere (repeatable)
  --json          print the report as JSON
${DECISION_KEY_HELP}

Progress goes to stderr. Exit codes: 0 everything holds, 1 a check failed (the first bad entry or
checkpoint is named), 2 usage error, 3 the input could not be read.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { key: { type: 'string' }, checkpoint: { type: 'string', multiple: true }, json: { type: 'boolean' }, 'decision-key': { type: 'string' } } });
    if (positionals.length !== 1) throw new UsageError('expected exactly one BUNDLE, LEDGER.sqlite or DATA_DIR');
    const target = resolve(io.cwd, positionals[0]);
    if (!existsSync(target)) throw new UsageError(`${target} does not exist`);
    const isDir = statSync(target).isDirectory();
    const keyFile = values.key ? resolve(io.cwd, values.key) : isDir ? join(target, 'keys', 'ledger.pub') : undefined;
    if (!keyFile) throw new UsageError('--key is required');
    const verifier = readVerifierKey(keyFile);
    const open = opener(verifier);
    const external = (values.checkpoint ?? []).map((f) => readFileSync(resolve(io.cwd, f), 'utf8'));
    const reports: Array<{ log: string; report: VerifyReport }> = [];

    const isSqlite = isDir || readFileSync(target).subarray(0, 16).toString('latin1') === 'SQLite format 3\0';
    if (!isSqlite) {
      const bundle = await readBundle(target);
      const mine = external.filter((n) => n.startsWith(`${bundle.header.origin}\n`));
      reports.push({ log: bundle.header.log, report: await verifyLog({ origin: bundle.header.origin, checkpoints: bundle.checkpoints, external: mine, entries: bundle.entries, open, onProgress: progress(io, bundle.header.log) }) });
    } else {
      const store = await openSqliteLedgerStore({ path: isDir ? join(target, 'ledger.sqlite') : target, readOnly: true });
      try {
        const logs = await store.listLogs();
        for (const id of logs) {
          const log = await store.openLog(id);
          const checkpoints = await log.checkpoints();
          // The log's origin is what its checkpoints name; a log never checkpointed has nothing signed to check against.
          const origin = checkpoints[0]?.split('\n')[0] ?? '';
          const mine = external.filter((n) => n.startsWith(`${origin}\n`));
          reports.push({ log: id, report: await verifyLog({ origin, checkpoints, external: mine, entries: entriesWithRecordedLeaves(log), open, onProgress: progress(io, id) }) });
        }
        if (logs.length === 0) io.stderr.write('the ledger holds no logs\n');
      } finally {
        await store.close();
      }
    }
    const decisions = await verifyDecisionsIn(target, { isDir, isSqlite, cwd: io.cwd, ...(values['decision-key'] ? { keyFile: values['decision-key'] } : {}) });
    const ok = reports.every((r) => r.report.ok) && decisions.ok;
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ ok, logs: reports, approvalDecisions: decisions.report }, null, 2)}\n`);
    } else {
      for (const r of reports) io.stdout.write(`${r.log}: ${describe(r.report)}\n`);
      io.stdout.write(`${decisions.line}\n`);
    }
    return ok ? EXIT.OK : EXIT.FAILED;
  },
};
