import type { Writable } from 'node:stream';

/** EXIT are the exit codes scripts can rely on. */
export const EXIT = Object.freeze({
  /** Everything checked out / the command did what it was asked. */
  OK: 0,
  /** A check failed: verification found tampering, a policy has errors, a request was refused. */
  FAILED: 1,
  /** The command line was wrong; nothing was done. */
  USAGE: 2,
  /** Something outside the check went wrong (file unreadable, service unreachable). */
  ERROR: 3,
});

/** Io is where a command writes; injected so tests capture it. */
export type Io = { stdout: Writable; stderr: Writable; env: NodeJS.ProcessEnv; cwd: string };

/** Command is one `affidavit` sub-command. */
export type Command = {
  /** Words that select it, e.g. ['ledger', 'export']. */
  readonly path: readonly string[];
  /** One line for the command list. */
  readonly summary: string;
  /** The whole `--help` text. */
  readonly help: string;
  /** run returns the process exit code. */
  run(args: string[], io: Io): Promise<number>;
};

/** UsageError is thrown by a command whose arguments are wrong; main prints it with the help and exits 2. */
export class UsageError extends Error {}
