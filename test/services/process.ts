// Helpers to start and stop the child processes of test services (kafka, postgres, sshd).
// Every helper is bounded in time: a test harness MUST NOT hang on a dead or stuck service.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

/** ServiceProcess is a started child process plus the tail of its output (for error messages). */
export type ServiceProcess = {
  readonly child: ChildProcess;
  /** output returns the last ~64 KiB the process wrote to stdout and stderr, interleaved. */
  output(): string;
  /** exited resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
};

const OUTPUT_TAIL_BYTES = 64 * 1024;

/**
 * startProcess spawns `cmd args` with piped output, keeping a bounded tail of what it
 * prints so a failed start-up can be reported with the service's own words. The child is
 * not detached: it shares the caller's process group and dies with a killed test run.
 */
export function startProcess(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ServiceProcess {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail += chunk.toString('utf8');
    if (tail.length > OUTPUT_TAIL_BYTES) tail = tail.slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
    child.once('error', (err) => {
      keep(Buffer.from(`spawn error: ${err.message}\n`));
      resolve(-1);
    });
  });
  return { child, output: () => tail, exited };
}

/**
 * stopProcess sends SIGTERM, waits up to `graceMs`, then SIGKILL and waits for the exit.
 * It resolves once the process has exited (at once if it already has).
 */
export async function stopProcess(p: ServiceProcess, graceMs = 10_000): Promise<void> {
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = new Promise<'timeout'>((r) => setTimeout(r, graceMs, 'timeout').unref());
  if ((await Promise.race([p.exited, timer])) === 'timeout') {
    child.kill('SIGKILL');
    await p.exited;
  }
}

/**
 * detachFromEventLoop lets the Node process exit while `p` still runs (unref on the child
 * and its output pipes). Use it for a service shared by a whole test file, together with
 * onExitCleanup() to kill it on exit; otherwise the test file never ends.
 */
export function detachFromEventLoop(p: ServiceProcess): void {
  p.child.unref();
  for (const s of [p.child.stdout, p.child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
}

/**
 * waitFor polls `check` every `intervalMs` until it returns true, the process `p` (if
 * given) exits, or `timeoutMs` passes; it throws with `what` and the process output
 * otherwise. Exceptions thrown by `check` count as "not yet".
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  opts: { timeoutMs: number; intervalMs?: number; process?: ServiceProcess },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 200;
  let lastError: unknown;
  let exited = false;
  opts.process?.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${what}: process exited during start-up\n${opts.process?.output() ?? ''}`);
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`${what}: not ready within ${opts.timeoutMs} ms${why}\n${opts.process?.output() ?? ''}`);
}

/** tcpOpen resolves true when a TCP connection to host:port succeeds within `timeoutMs`. */
export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * onExitCleanup registers `fn` to run once when the Node process exits normally or on
 * SIGINT/SIGTERM (after which the process exits with 128+signal). `fn` MUST be synchronous
 * enough to be useful on 'exit' (e.g. kill a child with SIGKILL, remove a directory with rmSync).
 */
export function onExitCleanup(fn: () => void): void {
  let ran = false;
  const once = () => {
    if (ran) return;
    ran = true;
    try {
      fn();
    } catch {
      // cleanup is best effort; the process is going away anyway
    }
  };
  process.once('exit', once);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      once();
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
  }
}

const exitCleanups = new Set<() => void>();
let exitHooksInstalled = false;

/**
 * registerExitCleanup runs `fn` when the process exits — normally, after an uncaught exception,
 * or on SIGINT/SIGTERM/SIGHUP (turned into an exit) — unless the returned function removed it
 * first (the service was stopped properly). Keeps a failing test from leaving servers behind.
 */
export function registerExitCleanup(fn: () => void): () => void {
  if (!exitHooksInstalled) {
    exitHooksInstalled = true;
    process.on('exit', () => {
      for (const c of exitCleanups) {
        try {
          c();
        } catch {
          // best effort: the process is going away
        }
      }
    });
    for (const [sig, n] of [
      ['SIGINT', 2],
      ['SIGTERM', 15],
      ['SIGHUP', 1],
    ] as const)
      process.once(sig, () => process.exit(128 + n));
  }
  exitCleanups.add(fn);
  return () => exitCleanups.delete(fn);
}

/** OsUser is an account a server can be run as. */
export type OsUser = { readonly name: string; readonly uid: number; readonly gid: number; readonly home: string };

function lookupUser(name: string): OsUser | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const f = line.split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
}

/**
 * unprivilegedUser names who runs a server that refuses root (PostgreSQL, PgBouncer): undefined
 * means "us" (we are not root); as root, the `postgres` OS user, else `nobody`.
 */
export function unprivilegedUser(what: string): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const u = lookupUser('postgres') ?? lookupUser('nobody');
  if (!u) throw new Error(`running as root, but neither a \`postgres\` nor a \`nobody\` OS user exists to run ${what}`);
  return u;
}

/** CapturedRun is what a client program printed and how it ended (128 when a signal ended it, -1 when it could not start). */
export type CapturedRun = { code: number; stdout: string; stderr: string };

/**
 * runCaptured runs a client program (psql, pgbench, ssh …) to completion, feeding `input` on
 * stdin, and resolves with its exit code and output; it never rejects on a non-zero exit.
 */
export function runCaptured(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs: number }): Promise<CapturedRun> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => resolve({ code: -1, stdout, stderr: stderr + e.message }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
    // A program that exits before reading its stdin (psql refusing a connection while the
    // server starts) makes the write fail with EPIPE: its exit code and output tell why, so the
    // pipe's error is not one more failure (unhandled, it ended the whole test process).
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
  });
}
