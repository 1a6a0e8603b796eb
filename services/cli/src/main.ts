#!/usr/bin/env node
import { commandsFor } from './commands/index.ts';
import { EXIT, UsageError } from './command.ts';
import type { Command, Io } from './command.ts';
import { isAffidavitError } from '@affidavit/common';

function overview(list: readonly Command[]): string {
  const width = Math.max(...list.map((c) => c.path.join(' ').length));
  return [
    'usage: affidavit <command> [options]',
    '',
    'Affidavit: an audit ledger whose proxies record every command, provably.',
    '',
    'Commands:',
    ...list.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    "Run 'affidavit <command> --help' for a command's options.",
    'Exit codes: 0 ok, 1 a check failed, 2 usage error, 3 other error. Error codes: docs/errors.md.',
  ].join('\n');
}

/** runCli runs one command line and returns the exit code (main() below exits with it). */
export async function runCli(argv: string[], io: Io, commands?: readonly Command[]): Promise<number> {
  const list = commands ?? (await commandsFor(argv));
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(`${overview(list)}\n`);
    return argv.length === 0 ? EXIT.USAGE : EXIT.OK;
  }
  const match = [...list].sort((a, b) => b.path.length - a.path.length).find((c) => c.path.every((w, i) => argv[i] === w));
  if (!match) {
    io.stderr.write(`affidavit: unknown command '${argv.slice(0, 2).join(' ')}'\n\n${overview(list)}\n`);
    return EXIT.USAGE;
  }
  const rest = argv.slice(match.path.length);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${match.help.trim()}\n`);
    return EXIT.OK;
  }
  try {
    return await match.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`affidavit ${match.path.join(' ')}: ${(e as Error).message}\n\n${match.help.trim()}\n`);
      return EXIT.USAGE;
    }
    if (isAffidavitError(e)) {
      io.stderr.write(`affidavit ${match.path.join(' ')}: ${e.message} [${e.code}]\n`);
      return EXIT.ERROR;
    }
    io.stderr.write(`affidavit ${match.path.join(' ')}: ${(e as Error)?.stack ?? String(e)}\n`);
    return EXIT.ERROR;
  }
}

if (import.meta.main) {
  const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
  process.exitCode = code;
}
