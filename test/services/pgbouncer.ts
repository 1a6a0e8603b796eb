// PgBouncer in front of the test PostgreSQL cluster (test/services/postgres.ts): the baseline the
// Affidavit PostgreSQL proxy is benchmarked against. One PgBouncer per call, on its own free
// 127.0.0.1 port, with its ini, userlist, unix socket, pidfile and logfile in a temp dir.
//
// Authentication: clients log in to PgBouncer with SCRAM-SHA-256 (`auth_type = scram-sha-256`).
// By default the userlist holds the role's SCRAM secret copied from pg_authid, not its password:
// PgBouncer (>= 1.14) can then log in to the server with SCRAM pass-through, because a client
// that proved itself against the same secret (same salt and iteration count) gives PgBouncer the
// ClientKey the server asks for. `auth: 'plain'` writes the plaintext password instead (PgBouncer
// derives SCRAM from it); use it against a server whose secret cannot be read.
//
// Client TLS is off (`client_tls_sslmode = disable`): the benchmark compares plaintext loopback
// paths so encryption cost does not blur the pooling cost. Server TLS is configurable.
//
// Running as root: PgBouncer refuses ("PgBouncer should not run as root"), so as root it runs
// as the `postgres` OS user (or `nobody`), and its temp dir is chowned to that user.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, LOOPBACK } from './free-port.ts';
import type { ClientOptions, PostgresInstance, RunResult } from './postgres.ts';
import { onExitCleanup, startProcess, stopProcess, tcpOpen, unprivilegedUser, waitFor, type ServiceProcess } from './process.ts';

/** PGBOUNCER_BINARY is where Debian's pgbouncer package installs the daemon. */
export const PGBOUNCER_BINARY = '/usr/sbin/pgbouncer';

/** PgBouncerPoolMode is when a server connection goes back to the pool. */
export type PgBouncerPoolMode = 'session' | 'transaction' | 'statement';

/** StartPgBouncerOptions tune one PgBouncer; every field has a default fit for `pgbench -c 8`. */
export type StartPgBouncerOptions = {
  readonly binary?: string;
  /** poolMode defaults to `transaction`. */
  readonly poolMode?: PgBouncerPoolMode;
  /** defaultPoolSize is server connections per user/database pair (default 20, above `-c 8`). */
  readonly defaultPoolSize?: number;
  /** maxClientConn is the client connection limit (default 200). */
  readonly maxClientConn?: number;
  /** auth: `scram-secret` (default) copies the role's SCRAM secret; `plain` writes its password. */
  readonly auth?: 'scram-secret' | 'plain';
  /**
   * maxPreparedStatements enables protocol-level prepared statements in transaction pooling
   * (`max_prepared_statements`, PgBouncer >= 1.21; default 200). It is left out of the ini on
   * older versions, which would refuse the unknown setting.
   */
  readonly maxPreparedStatements?: number;
  /** serverTlsSslmode is PgBouncer's sslmode towards the server (default `disable`). */
  readonly serverTlsSslmode?: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
  readonly readyTimeoutMs?: number;
};

/** PgBouncerInstance is a running PgBouncer and how to reach the database through it. */
export type PgBouncerInstance = {
  readonly host: typeof LOOPBACK;
  readonly port: number;
  /** user/password/database are the cluster's `app` login, now through PgBouncer. */
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly version: string;
  readonly poolMode: PgBouncerPoolMode;
  /**
   * preparedStatements is true when `pgbench -M prepared` works through this PgBouncer: always in
   * session pooling, and in transaction/statement pooling only when `max_prepared_statements` is on.
   */
  readonly preparedStatements: boolean;
  readonly dir: string;
  readonly pid: number;
  /** psql runs the cluster's psql against PgBouncer (sslmode=disable); it MUST NOT throw on a non-zero exit. */
  psql(args: readonly string[], opts?: ClientOptions): Promise<RunResult>;
  /** pgbench runs the cluster's pgbench against PgBouncer (sslmode=disable). */
  pgbench(args: readonly string[], opts?: ClientOptions): Promise<RunResult>;
  /** admin runs one command on PgBouncer's admin console (database `pgbouncer`), e.g. `SHOW POOLS`. */
  admin(command: string): Promise<RunResult>;
  /** log returns PgBouncer's recent output (for failure messages). */
  log(): string;
  /** stop sends SIGTERM (immediate shutdown), then SIGKILL after 5 s, and removes the temp dir. */
  stop(): Promise<void>;
};

/** pgbouncerVersion returns the `x.y.z` that `pgbouncer --version` prints. */
export function pgbouncerVersion(binary: string = PGBOUNCER_BINARY): string {
  if (!existsSync(binary)) throw new Error(`${binary} not found: run \`apt-get install pgbouncer\``);
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const m = /PgBouncer (\d+\.\d+(?:\.\d+)?)/.exec(`${r.stdout}${r.stderr}`);
  if (!m) throw new Error(`could not read the version from \`${binary} --version\`: ${r.stdout}${r.stderr}`);
  return m[1];
}

/** supportsMaxPreparedStatements is true from PgBouncer 1.21, which added `max_prepared_statements`. */
export function supportsMaxPreparedStatements(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 1 || (major === 1 && minor >= 21);
}

// quoteUserlist writes one auth_file field: double quotes, a literal quote doubled.
const quoteUserlist = (s: string) => `"${s.replaceAll('"', '""')}"`;

async function userSecret(pg: PostgresInstance, auth: 'scram-secret' | 'plain'): Promise<string> {
  if (auth === 'plain') return pg.password;
  const r = await pg.psql(['-tA', '-c', `SELECT rolpassword FROM pg_authid WHERE rolname = '${pg.user}'`], {
    user: pg.superuser,
    password: pg.superuserPassword,
    database: 'postgres',
  });
  const secret = r.stdout.trim();
  if (r.code !== 0 || !secret.startsWith('SCRAM-SHA-256$')) {
    throw new Error(`could not read the SCRAM secret of ${pg.user} (exit ${r.code}): ${r.stderr}${secret.slice(0, 20)}`);
  }
  return secret;
}

/** pgbouncerIni renders the ini file; pure, so the settings are visible in one place. */
export function pgbouncerIni(s: {
  readonly dir: string;
  readonly port: number;
  readonly serverPort: number;
  readonly database: string;
  readonly adminUser: string;
  readonly poolMode: PgBouncerPoolMode;
  readonly defaultPoolSize: number;
  readonly maxClientConn: number;
  readonly maxPreparedStatements?: number;
  readonly serverTlsSslmode: string;
  readonly serverCaFile?: string;
}): string {
  const server = `host=${LOOPBACK} port=${s.serverPort}`;
  const lines = [
    '[databases]',
    `${s.database} = ${server} dbname=${s.database}`,
    // Any other database name goes to the same server under its own name.
    `* = ${server}`,
    '',
    '[pgbouncer]',
    `listen_addr = ${LOOPBACK}`,
    `listen_port = ${s.port}`,
    `unix_socket_dir = ${s.dir}`,
    `pidfile = ${join(s.dir, 'pgbouncer.pid')}`,
    `logfile = ${join(s.dir, 'pgbouncer.log')}`,
    'auth_type = scram-sha-256',
    `auth_file = ${join(s.dir, 'userlist.txt')}`,
    `admin_users = ${s.adminUser}`,
    `stats_users = ${s.adminUser}`,
    `pool_mode = ${s.poolMode}`,
    `default_pool_size = ${s.defaultPoolSize}`,
    'min_pool_size = 0',
    'reserve_pool_size = 0',
    `max_client_conn = ${s.maxClientConn}`,
    // JDBC and some drivers send extra_float_digits in the startup packet; PgBouncer would refuse it.
    'ignore_startup_parameters = extra_float_digits',
    'client_tls_sslmode = disable',
    `server_tls_sslmode = ${s.serverTlsSslmode}`,
    ...(s.serverCaFile && s.serverTlsSslmode.startsWith('verify') ? [`server_tls_ca_file = ${s.serverCaFile}`] : []),
    ...(s.maxPreparedStatements !== undefined ? [`max_prepared_statements = ${s.maxPreparedStatements}`] : []),
    // A benchmark opens and closes connections in bursts; per-connection log lines would cost I/O.
    'log_connections = 0',
    'log_disconnections = 0',
    'log_pooler_errors = 1',
    'stats_period = 60',
    '',
  ];
  return lines.join('\n');
}

/**
 * startPgBouncer starts a PgBouncer on a free 127.0.0.1 port in front of `pg`, for its `app` role
 * and database. It MUST resolve only once PgBouncer accepts TCP connections, and MUST leave no
 * process or temp dir behind when it fails or when the Node process exits.
 */
export async function startPgBouncer(pg: PostgresInstance, opts: StartPgBouncerOptions = {}): Promise<PgBouncerInstance> {
  const binary = opts.binary ?? PGBOUNCER_BINARY;
  const version = pgbouncerVersion(binary);
  const poolMode = opts.poolMode ?? 'transaction';
  const canPrepare = supportsMaxPreparedStatements(version);
  const owner = unprivilegedUser('PgBouncer');
  const secret = await userSecret(pg, opts.auth ?? 'scram-secret');
  const dir = mkdtempSync(join(tmpdir(), 'affidavit-pgbouncer-'));
  let proc: ServiceProcess | undefined;
  let stopped = false;
  const syncCleanup = () => {
    if (stopped) return;
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  onExitCleanup(syncCleanup);
  try {
    const userlist = join(dir, 'userlist.txt');
    writeFileSync(userlist, `${quoteUserlist(pg.user)} ${quoteUserlist(secret)}\n`, { mode: 0o600 });
    const ini = join(dir, 'pgbouncer.ini');
    if (owner) for (const p of [dir, userlist]) chownSync(p, owner.uid, owner.gid);

    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      writeFileSync(
        ini,
        pgbouncerIni({
          dir,
          port,
          serverPort: pg.port,
          database: pg.database,
          adminUser: pg.user,
          poolMode,
          defaultPoolSize: opts.defaultPoolSize ?? 20,
          maxClientConn: opts.maxClientConn ?? 200,
          maxPreparedStatements: canPrepare ? (opts.maxPreparedStatements ?? 200) : undefined,
          serverTlsSslmode: opts.serverTlsSslmode ?? 'disable',
          serverCaFile: pg.caFile,
        }),
        { mode: 0o600 },
      );
      if (owner) chownSync(ini, owner.uid, owner.gid);
      // Foreground (no -d): the child is PgBouncer itself, so SIGTERM/SIGKILL reach it directly.
      const p = startProcess(binary, [ini], {
        cwd: dir,
        env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...(owner ? { HOME: owner.home, USER: owner.name } : {}) },
        ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
      });
      proc = p;
      try {
        await waitFor(`PgBouncer on ${LOOPBACK}:${port}`, () => tcpOpen(LOOPBACK, port, 500), {
          timeoutMs: opts.readyTimeoutMs ?? 15_000,
          intervalMs: 50,
          process: p,
        });
        break;
      } catch (e) {
        await stopProcess(p, 1_000);
        // A port taken between freePort() and bind() is the one failure worth a retry.
        if (attempt < 2 && /already in use/i.test(p.output())) continue;
        throw e;
      }
    }

    const running = proc!;
    const through = (o: ClientOptions = {}): ClientOptions => ({ sslmode: 'disable', ...o, host: LOOPBACK, port });
    let stopping: Promise<void> | undefined;
    const shutdown = async () => {
      // PgBouncer: SIGTERM is immediate shutdown, SIGINT would wait for clients to finish.
      await stopProcess(running, 5_000);
      syncCleanup();
      stopped = true;
    };
    return Object.freeze({
      host: LOOPBACK,
      port,
      user: pg.user,
      password: pg.password,
      database: pg.database,
      version,
      poolMode,
      preparedStatements: poolMode === 'session' || canPrepare,
      dir,
      pid: running.child.pid!,
      psql: (args: readonly string[], o?: ClientOptions) => pg.psql(args, through(o)),
      pgbench: (args: readonly string[], o?: ClientOptions) => pg.pgbench(args, through(o)),
      admin: (command: string) => pg.psql(['-tA', '-c', command], through({ database: 'pgbouncer', timeoutMs: 15_000 })),
      log: () => running.output(),
      stop: () => (stopping ??= shutdown()),
    });
  } catch (e) {
    syncCleanup();
    stopped = true;
    throw e;
  }
}
