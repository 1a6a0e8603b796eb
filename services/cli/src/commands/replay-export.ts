// `affidavit replay export` and `affidavit replay keygen`: encrypted replay bundles for an analyst.
import { chmodSync, createWriteStream, existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { newSessionScan, replayBundleLines, ReplaySessionNotFoundError, scanSession } from '@affidavit/replay';
import { EXIT, UsageError } from '../command.ts';
import type { Command } from '../command.ts';
import { openLedgerForReading } from './ledger-source.ts';
import { encryptLines, newAnalystKey, recipientFrom } from './replay-crypto.ts';
import { failedCheck } from './replay.ts';

/** replayExportCommand writes a session's entries, proofs and checkpoints, encrypted to an analyst. */
export const replayExportCommand: Command = {
  path: ['replay', 'export'],
  summary: 'write an encrypted, offline-verifiable replay bundle of one session',
  help: `usage: affidavit replay export SESSION --recipient KEY (--data DIR | --store FILE) [--output FILE] > session.bundle

Writes every ledger entry of SESSION (its own events and the decisions on its held statements,
from any log), each with its inclusion proof against the latest signed checkpoint of its log,
and those checkpoints, encrypted to the analyst's age key (X25519, https://age-encryption.org).
The analyst replays it offline, after every proof and signature verified:
  affidavit replay session.bundle --identity analyst.key --key data/keys/ledger.pub

An entry appended after the latest checkpoint cannot be proved yet: the export then fails
(exit 1, AFF_E_REPLAY_NOT_COVERED) rather than ship it unproved; try again after the next
checkpoint (a stopped system writes a final one).

Options:
  --recipient KEY   the analyst's public key (age1…), or a file holding it ('replay keygen' writes KEYFILE.pub)
  --output FILE     write here (mode 0600, never over an existing file) instead of standard output

Exit codes: 0 written; 1 no entries of SESSION, or an entry not yet covered by a checkpoint;
2 usage error (standard output is a terminal and no --output, or the --output file exists);
3 the ledger could not be read.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { data: { type: 'string' }, store: { type: 'string' }, recipient: { type: 'string' }, output: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one SESSION');
    if (!values.recipient) throw new UsageError('--recipient KEY is required (the analyst’s age1… public key, from `affidavit replay keygen`)');
    const recipient = recipientFrom(values.recipient, io.cwd);
    if (!values.output && (io.stdout as { isTTY?: boolean }).isTTY)
      throw new UsageError('the bundle is binary: redirect standard output to a file, or give --output FILE');
    if (values.output && existsSync(resolve(io.cwd, values.output)))
      throw new UsageError(`${resolve(io.cwd, values.output)} exists; export never writes over a file`);
    const sessionId = positionals[0];
    const { store } = await openLedgerForReading(values, io, openSqliteLedgerStore);
    try {
      const entries = await scanSession(store, newSessionScan(sessionId));
      if (entries.length === 0) throw new ReplaySessionNotFoundError(`the ledger holds no entry of session ${sessionId}`);
      // Proofs are computed before the first byte is written, so a refusal leaves no partial bundle behind.
      const lines: string[] = [];
      for await (const l of replayBundleLines(sessionId, entries, (log) => store.openLog(log))) lines.push(l);
      const cipher = await encryptLines(
        (async function* () {
          yield* lines;
        })(),
        recipient,
      );
      const out = values.output ? createWriteStream(resolve(io.cwd, values.output), { flags: 'wx', mode: 0o600 }) : io.stdout;
      await pipeline(Readable.fromWeb(cipher as never), out, { end: Boolean(values.output) });
      if (values.output) chmodSync(resolve(io.cwd, values.output), 0o600);
      io.stderr.write(`exported ${entries.length} entries of session ${sessionId}, encrypted to ${recipient}\n`);
      return EXIT.OK;
    } catch (e) {
      return failedCheck(e, io, 'replay export');
    } finally {
      await store.close();
    }
  },
};

/** replayKeygenCommand makes an analyst's age key pair for replay bundles. */
export const replayKeygenCommand: Command = {
  path: ['replay', 'keygen'],
  summary: 'make an analyst key pair (age X25519) for replay bundles',
  help: `usage: affidavit replay keygen --output KEYFILE

Writes a new age X25519 identity (the private key) to KEYFILE (mode 0600, never over an existing
file) and its public key (age1…) to KEYFILE.pub, and prints the public key. Give the public key
to whoever exports bundles (--recipient); keep KEYFILE to open them (--identity). The files are
age's own format, so 'age -d -i KEYFILE session.bundle' opens a bundle too.

Exit codes: 0 written, 2 usage error (missing --output, or KEYFILE exists), 3 the file could not be written.`,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { output: { type: 'string' } } });
    if (!values.output) throw new UsageError('--output KEYFILE is required (the private key is never printed)');
    const file = resolve(io.cwd, values.output);
    const { identity, recipient } = await newAnalystKey();
    try {
      writeFileSync(file, `# created: ${new Date().toISOString()} by affidavit replay keygen\n# public key: ${recipient}\n${identity}\n`, {
        mode: 0o600,
        flag: 'wx',
      });
    } catch (e) {
      if ((e as { code?: string }).code === 'EEXIST') throw new UsageError(`${file} exists; keygen never replaces a key (bundles made for it would be lost)`);
      throw e;
    }
    chmodSync(file, 0o600);
    writeFileSync(`${file}.pub`, `${recipient}\n`, { mode: 0o644 });
    io.stdout.write(`${recipient}\n`);
    return EXIT.OK;
  },
};
