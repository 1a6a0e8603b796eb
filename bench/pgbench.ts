// bench/pgbench.ts: run the real pgbench against one host/port/user/database and turn its text
// output and per-transaction logs into a typed result. The parsers are pure (string in, value
// out) so the numbers printed by bench/postgres.ts are traceable to pgbench's own words.
//
// SPEC: https://www.postgresql.org/docs/15/pgbench.html#id-1.9.4.11.9.6
// "client_id transaction_no time script_no time_epoch time_us [ schedule_lag ] [ retries ]"
// "time is the total elapsed transaction time in microseconds" — and, with failures allowed,
// the literal `failed` (or `skipped` under --rate/--latency-limit) instead of a number.
import { createReadStream, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { findPostgresBinaries } from '../test/services/postgres.ts';
import { runCaptured } from '../test/services/process.ts';

/** PgbenchTarget is where pgbench connects, as libpq environment (PGHOST, PGPORT, ...). */
export type PgbenchTarget = {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** sslmode defaults to `disable` (plaintext loopback, the same for every benchmark target). */
  readonly sslmode?: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
  /** caFile is PGSSLROOTCERT for the verify modes. */
  readonly caFile?: string;
};

/** StatementLatency is one line of pgbench's `-r` report. */
export type StatementLatency = { readonly latencyMs: number; readonly failures?: number; readonly command: string };

/** PgbenchSummary is what pgbench prints after a run. */
export type PgbenchSummary = {
  readonly transactionType?: string;
  readonly queryMode?: string;
  readonly clients?: number;
  readonly threads?: number;
  readonly durationS?: number;
  readonly transactions: number;
  readonly failedTransactions: number;
  readonly latencyAverageMs?: number;
  readonly latencyStddevMs?: number;
  readonly initialConnectionTimeMs?: number;
  /** tps excludes connection set-up ("without initial connection time"). */
  readonly tps: number;
  /** statements is empty unless pgbench ran with `-r`. */
  readonly statements: readonly StatementLatency[];
};

/** LatencyPercentiles summarise the per-transaction log (`-l`), in milliseconds. */
export type LatencyPercentiles = {
  readonly count: number;
  /** failed counts `failed`/`skipped` log lines, which have no latency. */
  readonly failed: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
};

/** PgbenchResult is one finished run. `latency` is absent when the run wrote no per-transaction log. */
export type PgbenchResult = {
  readonly args: readonly string[];
  readonly summary: PgbenchSummary;
  readonly latency?: LatencyPercentiles;
  /**
   * processCpuMicros is this process's CPU time (user + system) while pgbench ran: for a target
   * served in-process (the bench's own proxy) it is the path's CPU cost, beyond it mostly idle.
   */
  readonly processCpuMicros: number;
  /** processSystemMicros is the kernel part of processCpuMicros (socket reads and writes, mostly). */
  readonly processSystemMicros: number;
  readonly stdout: string;
  readonly stderr: string;
};

/** RunPgbenchOptions: the target, pgbench's own arguments, and how to run it. */
export type RunPgbenchOptions = {
  readonly target: PgbenchTarget;
  /** args are passed as given (e.g. `-S -c 8 -j 2 -T 10`); `-l --log-prefix` is added when `transactionLog`. */
  readonly args: readonly string[];
  /** transactionLog (default true) writes `-l` logs to a temp dir and computes percentiles from them. */
  readonly transactionLog?: boolean;
  /** binary defaults to the newest cluster's pgbench, else `pgbench` on PATH. */
  readonly binary?: string;
  readonly timeoutMs?: number;
};

const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));

/**
 * parsePgbenchSummary reads pgbench's report. It MUST throw when the report has no tps or no
 * transaction count, so a failed run is never read as a number. Reads pgbench 13 ("excluding
 * connections establishing") and 14+ ("without initial connection time") wording.
 */
export function parsePgbenchSummary(stdout: string): PgbenchSummary {
  const field = (re: RegExp) => re.exec(stdout)?.[1];
  const tps = field(/^tps = ([0-9.]+) \(without initial connection time\)$/m) ?? field(/^tps = ([0-9.]+) \(excluding connections establishing\)$/m);
  const transactions = field(/^number of transactions actually processed: (\d+)/m);
  if (tps === undefined || transactions === undefined) {
    throw new Error(`pgbench printed no tps/transaction count; its output was:\n${stdout.slice(0, 4000)}`);
  }
  const statements: StatementLatency[] = [];
  const header = /^statement latencies in milliseconds( and failures)?:$/m.exec(stdout);
  if (header) {
    const withFailures = header[1] !== undefined;
    const re = withFailures ? /^\s+([0-9.]+)\s+(\d+)\s{2}(.*)$/ : /^\s+([0-9.]+)\s{2}(.*)$/;
    for (const line of stdout
      .slice(header.index + header[0].length)
      .split('\n')
      .slice(1)) {
      const m = re.exec(line);
      if (!m) break;
      statements.push(
        withFailures ? { latencyMs: Number(m[1]), failures: Number(m[2]), command: m[3].trim() } : { latencyMs: Number(m[1]), command: m[2].trim() },
      );
    }
  }
  return {
    transactionType: field(/^transaction type: (.*)$/m),
    queryMode: field(/^query mode: (\S+)$/m),
    clients: num(field(/^number of clients: (\d+)$/m)),
    threads: num(field(/^number of threads: (\d+)$/m)),
    durationS: num(field(/^duration: (\d+) s$/m)),
    transactions: Number(transactions),
    failedTransactions: Number(field(/^number of failed transactions: (\d+)/m) ?? 0),
    latencyAverageMs: num(field(/^latency average = ([0-9.]+) ms$/m)),
    latencyStddevMs: num(field(/^latency stddev = ([0-9.]+) ms$/m)),
    initialConnectionTimeMs: num(field(/^initial connection time = ([0-9.]+) ms$/m)),
    tps: Number(tps),
    statements,
  };
}

/**
 * parseTransactionLogLine returns a line's latency in microseconds, `'failed'` for a
 * failed/skipped transaction, or undefined for a line that is not a transaction record.
 */
export function parseTransactionLogLine(line: string): number | 'failed' | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 6) return undefined;
  if (f[2] === 'failed' || f[2] === 'skipped') return 'failed';
  if (!/^\d+$/.test(f[2])) return undefined;
  return Number(f[2]);
}

/** percentile is the nearest-rank `p`-th percentile (0 < p <= 100) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** summarizeLatencies turns microsecond latencies into millisecond percentiles. It sorts `us` in place. */
export function summarizeLatencies(us: Float64Array, failed: number): LatencyPercentiles {
  us.sort();
  let sum = 0;
  for (const v of us) sum += v;
  const ms = (v: number) => v / 1000;
  return {
    count: us.length,
    failed,
    p50Ms: ms(percentile(us, 50)),
    p90Ms: ms(percentile(us, 90)),
    p99Ms: ms(percentile(us, 99)),
    maxMs: ms(us.length ? us[us.length - 1] : Number.NaN),
    meanMs: us.length ? ms(sum / us.length) : Number.NaN,
  };
}

/** readTransactionLogs streams every `<prefix>.*` file in `dir` (one per pgbench thread) and summarises them. */
export async function readTransactionLogs(dir: string, prefix: string): Promise<LatencyPercentiles> {
  let buf = new Float64Array(1 << 16);
  let n = 0;
  let failed = 0;
  for (const name of readdirSync(dir).filter((f) => f.startsWith(`${prefix}.`))) {
    const lines = createInterface({ input: createReadStream(join(dir, name), { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      const v = parseTransactionLogLine(line);
      if (v === undefined) continue;
      if (v === 'failed') {
        failed++;
        continue;
      }
      if (n === buf.length) {
        const bigger = new Float64Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      buf[n++] = v;
    }
  }
  return summarizeLatencies(buf.subarray(0, n), failed);
}

/** findPgbench returns the newest cluster's pgbench, or `pgbench` (PATH) when no cluster is installed. */
export function findPgbench(): string {
  try {
    const p = join(findPostgresBinaries().binDir, 'pgbench');
    if (existsSync(p)) return p;
  } catch {
    // no server under /usr/lib/postgresql: fall back to the client on PATH
  }
  return 'pgbench';
}

function pgEnv(t: PgbenchTarget): NodeJS.ProcessEnv {
  // The caller's PG* variables are dropped so a developer's PGSERVICE never redirects a run.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  return {
    ...base,
    PGHOST: t.host,
    PGPORT: String(t.port),
    PGUSER: t.user,
    PGPASSWORD: t.password,
    PGDATABASE: t.database,
    PGSSLMODE: t.sslmode ?? 'disable',
    ...(t.caFile ? { PGSSLROOTCERT: t.caFile } : {}),
    PGCONNECT_TIMEOUT: '10',
    PGAPPNAME: 'affidavit-bench',
  };
}

/** RunOutput is a finished program: exit code and captured output. */
export type RunOutput = { readonly code: number; readonly stdout: string; readonly stderr: string };

/** runClientProgram runs a libpq client program against `target`; it MUST NOT throw on a non-zero exit. */
export function runClientProgram(cmd: string, args: readonly string[], target: PgbenchTarget, timeoutMs: number): Promise<RunOutput> {
  return runCaptured(cmd, args, { env: pgEnv(target), timeoutMs });
}

/**
 * runPgbench runs pgbench once and returns its parsed report and, with `transactionLog`,
 * p50/p90/p99 from the per-transaction logs. It MUST throw (with pgbench's stderr) when pgbench
 * exits non-zero, and MUST remove its log dir whatever happens.
 */
export async function runPgbench(opts: RunPgbenchOptions): Promise<PgbenchResult> {
  const withLog = opts.transactionLog ?? true;
  const logDir = withLog ? mkdtempSync(join(tmpdir(), 'affidavit-pgbench-')) : undefined;
  const prefix = 'tx';
  try {
    const args = [...opts.args, ...(logDir ? ['-l', '--log-prefix', join(logDir, prefix)] : [])];
    const cpu0 = process.cpuUsage();
    const r = await runClientProgram(opts.binary ?? findPgbench(), args, opts.target, opts.timeoutMs ?? 30 * 60_000);
    const cpu = process.cpuUsage(cpu0);
    if (r.code !== 0) {
      throw new Error(`pgbench ${args.join(' ')} against ${opts.target.host}:${opts.target.port} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
    }
    const summary = parsePgbenchSummary(r.stdout);
    const latency = logDir ? await readTransactionLogs(logDir, prefix) : undefined;
    return {
      args,
      summary,
      ...(latency ? { latency } : {}),
      processCpuMicros: cpu.user + cpu.system,
      processSystemMicros: cpu.system,
      stdout: r.stdout,
      stderr: r.stderr,
    };
  } finally {
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  }
}
