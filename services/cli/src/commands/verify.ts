import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  assertReadableFile,
  detectInput,
  entriesWithRecordedLeaves,
  openSqliteLedgerStore,
  readBundle,
  readCheckpointFeed,
  readCheckpointFile,
  readVerifierKey,
  verifyLedger,
} from '@affidavit/ledger';
import type { EntryCheck, LabeledNote, LedgerStore, LedgerVerdict, LogSource } from '@affidavit/ledger';
import { isAffidavitError } from '@affidavit/common';
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

const progress = (io: Io) => (log: string, n: number) => io.stderr.write(`${log}: ${n.toLocaleString('en-US')} entries checked\n`);

/**
 * ENTRY_CHECKS are the per-entry checks run besides the Merkle checks, as entries stream past
 * (e.g. an approval decision's signature). Add one here; verifyLedger reports the first entry
 * that fails it like any other entry problem.
 */
const ENTRY_CHECKS: readonly EntryCheck[] = [];

/** UNSIGNED_HINT says when an unsigned tail gets covered: the ledger checkpoints on a timer and at shutdown. */
const UNSIGNED_HINT =
  'a running ledger signs a checkpoint covering them within its checkpoint interval (checkpointEveryMs, 5 s by default) and at shutdown: verify again then, or pass --allow-unsigned-tail to accept them unproven';

/** Opened is what was read: the logs, and what to close afterwards. */
type Opened = { logs: LogSource[]; scope: 'every-log' | 'some-logs'; close: () => Promise<void> };

async function openBundle(path: string): Promise<Opened> {
  const b = await readBundle(path);
  return {
    logs: [
      {
        id: b.header.log,
        checkpoints: b.checkpoints,
        entries: b.entries,
        claims: { origin: b.header.origin, size: b.header.size, from: b.header.from, to: b.header.to },
      },
    ],
    scope: 'some-logs',
    close: async () => {},
  };
}

async function openLedgerFile(path: string): Promise<Opened> {
  const store: LedgerStore = await openSqliteLedgerStore({ path, readOnly: true });
  try {
    const logs: LogSource[] = [];
    for (const id of await store.listLogs()) {
      const log = await store.openLog(id);
      logs.push({ id, checkpoints: await log.checkpoints(), entries: entriesWithRecordedLeaves(log) });
    }
    return { logs, scope: 'every-log', close: () => store.close() };
  } catch (e) {
    await store.close();
    throw e;
  }
}

type DecisionsVerdict = Awaited<ReturnType<typeof verifyDecisionsIn>>;

function print(io: Io, v: LedgerVerdict, json: boolean, decisions: DecisionsVerdict): void {
  if (json) {
    const logs = v.logs.map(({ report: _r, ...rest }) => rest);
    io.stdout.write(
      `${JSON.stringify({ ok: v.ok && decisions.ok, logs, problems: v.problems, notes: v.notes, approvalDecisions: decisions.report }, null, 2)}\n`,
    );
    return;
  }
  for (const l of v.logs) io.stdout.write(`${l.log}: ${l.message}\n`);
  // stdout keeps one line per log plus one per problem: a decisions line only when it failed.
  (decisions.ok ? io.stderr : io.stdout).write(`${decisions.line}\n`);
  for (const p of v.problems) io.stdout.write(`FAILED: ${p}\n`);
  for (const n of v.notes) io.stderr.write(`note: ${n}\n`);
  const unproven = v.logs.reduce((n, l) => n + l.unsigned, 0);
  // The verdict line goes to stderr with progress: stdout keeps one line per log (and per problem) for scripts.
  if (v.ok && !decisions.ok) io.stderr.write(`NOT VERIFIED: every log is proven, but the approval decisions are not\n`);
  else
    io.stderr.write(
      v.ok
        ? `verified: ${v.logs.length} logs proven${unproven > 0 ? ` (${unproven} entries past their last checkpoint accepted UNPROVEN)` : ''}\n`
        : `NOT VERIFIED: ${v.logs.filter((l) => !l.ok).length} of ${v.logs.length} logs failed${v.problems.length > 0 ? `, ${v.problems.length} other problems` : ''}\n`,
    );
}

/** verifyCommand checks a bundle, a ledger file or a data directory offline with the ledger's public key: it proves, or it fails. */
export const verifyCommand: Command = {
  path: ['verify'],
  summary: 'verify a bundle, a ledger file or a data directory offline: prove it, or fail',
  help: `usage: affidavit verify (BUNDLE | LEDGER.sqlite | DATA_DIR) [--key PUBLIC_KEY] [--checkpoint FILE]...
                       [--checkpoints-from FILE] [--allow-unsigned-tail] [--json]

Proves, with nothing but the ledger's public key, that the entries are the ones the ledger
signed, or fails. Checks: every checkpoint's signature; that checkpoints of one size agree (two
signed checkpoints of one size with different roots: a fork or a rollback, both named); that
entries are consecutive from 0; that each entry's bytes hash to the leaf recorded when it was
appended; that the Merkle root over the entries equals every checkpoint's root at its size (each
entry's inclusion and the consistency between checkpoints); that a bundle's header (log,
origin, size, range) agrees with its content.

Fails (exit 1) when nothing signed covers a log's entries (no checkpoint), and when entries past
the last checkpoint are unproven, unless --allow-unsigned-tail accepts them (their number is
printed either way). A running ledger signs a checkpoint at least every checkpointEveryMs (5 s by
default) and at shutdown, so a tail is covered shortly.

Checkpoints kept outside the system catch a rollback, a fork and a deleted log: every one MUST
verify and MUST name a log present here ("no log with origin X here: deleted or renamed?").

  BUNDLE                 a file written by 'affidavit ledger export' (streamed; lines over 32 MiB
                         or JSON nested deeper than 8 levels are refused)
  LEDGER.sqlite          the ledger's SQLite file (opened read-only; every log in it is checked)
  DATA_DIR               an embedded data directory (its ledger.sqlite)
  --key FILE             the verifier key (name+hash+base64), as written next to the signing key;
                         default DATA_DIR/keys/ledger.pub for a data directory
  --checkpoint F         one signed checkpoint held elsewhere (repeatable); its log MUST be here
  --checkpoints-from F   a file of published checkpoints, e.g. the checkpoints topic dumped by
                         kcat -C -t affidavit.checkpoints.v1 -e -f '%s\\n' > F
                         (signed notes one after another; blank lines between them are ignored).
                         With a ledger file or data directory, every log in F MUST be here; with
                         a bundle, checkpoints of other logs are skipped (and counted)
  --allow-unsigned-tail  accept entries past the last checkpoint (reported as unproven)
  --json                 print the verdict as JSON
${DECISION_KEY_HELP}

Progress goes to stderr. Exit codes: 0 every log proven, 1 not proven (a check failed, something
is unsigned, a log is missing: the problem is named), 2 usage error or a named file does not
exist (AFF_E_LEDGER_VERIFY_INPUT_MISSING), 3 an input could not be read (unreadable, malformed
bundle or checkpoints file, wrong key file: the AFF_E_* code is printed).`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        key: { type: 'string' },
        checkpoint: { type: 'string', multiple: true },
        'checkpoints-from': { type: 'string' },
        'allow-unsigned-tail': { type: 'boolean' },
        json: { type: 'boolean' },
        'decision-key': { type: 'string' },
      },
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one BUNDLE, LEDGER.sqlite or DATA_DIR');
    try {
      const target = resolve(io.cwd, positionals[0]);
      const kind = await detectInput(target);
      const keyFile = values.key ? resolve(io.cwd, values.key) : kind === 'dir' ? join(target, 'keys', 'ledger.pub') : undefined;
      if (!keyFile) throw new UsageError('--key is required');
      await assertReadableFile(keyFile, 'verifier key');
      const open = opener(readVerifierKey(keyFile));
      const single: LabeledNote[] = [];
      for (const f of values.checkpoint ?? []) single.push(await readCheckpointFile(resolve(io.cwd, f)));
      const feed = values['checkpoints-from'] ? await readCheckpointFeed(resolve(io.cwd, values['checkpoints-from'])) : [];
      let opened: Opened;
      if (kind === 'bundle') {
        opened = await openBundle(target);
      } else {
        const file = kind === 'dir' ? join(target, 'ledger.sqlite') : target;
        await assertReadableFile(file, 'ledger file');
        opened = await openLedgerFile(file);
      }
      let verdict: LedgerVerdict;
      try {
        verdict = await verifyLedger({
          logs: opened.logs,
          external: [...single, ...feed],
          open,
          allowUnsignedTail: values['allow-unsigned-tail'] === true,
          scope: opened.scope,
          strictLabels: new Set(single.map((n) => n.label)),
          entryChecks: ENTRY_CHECKS,
          unsignedHint: UNSIGNED_HINT,
          onProgress: progress(io),
        });
      } finally {
        await opened.close();
      }
      // Approval decisions are checked on their own pass: their rules span logs (a request and
      // its decision may sit in different partitions), unlike the per-log Merkle checks.
      const decisions = await verifyDecisionsIn(target, {
        isDir: kind === 'dir',
        isSqlite: kind !== 'bundle',
        cwd: io.cwd,
        ...(values['decision-key'] ? { keyFile: values['decision-key'] } : {}),
      });
      print(io, verdict, values.json === true, decisions);
      return verdict.ok && decisions.ok ? EXIT.OK : EXIT.FAILED;
    } catch (e) {
      if (isAffidavitError(e, 'AFF_E_LEDGER_VERIFY_INPUT_MISSING')) {
        io.stderr.write(`affidavit verify: ${e.message} [${e.code}]\n`);
        return EXIT.USAGE;
      }
      throw e;
    }
  },
};
