// Real PostgreSQL for integration tests: our own throwaway cluster on 127.0.0.1, never the
// machine's packaged cluster. SCRAM-SHA-256 for every login and TLS with a test CA, so the proxy
// is tested against the same handshake a production server asks for.
//
// Running as root: initdb and postgres refuse root, so the cluster runs as the `postgres` OS user
// (created by Debian's postgresql package) or, failing that, `nobody`. The temp dir is chowned to
// that user; the clients (psql, pgbench) still run as us, which only needs TCP and the CA file.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCertificates } from './certs.ts';
import { freePort } from './free-port.ts';
import { registerExitCleanup, runCaptured, unprivilegedUser, type OsUser } from './process.ts';

/** PostgresBinaries is where the newest installed server's programs live. */
export type PostgresBinaries = { readonly binDir: string; readonly version: string };

/** RunResult is a finished client program: exit code and its captured output. */
export type RunResult = { readonly code: number; readonly stdout: string; readonly stderr: string };

/** ClientOptions override who a psql/pgbench run logs in as and how. */
export type ClientOptions = {
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  /** sslmode defaults to `verify-full` against the test CA. */
  readonly sslmode?: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  readonly host?: string;
  readonly port?: number;
  readonly input?: string;
  readonly timeoutMs?: number;
};

/** PostgresInstance is a running test cluster and the way to reach it. */
export type PostgresInstance = {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** user/password/database are the unprivileged `app` login (SCRAM). */
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly superuser: string;
  readonly superuserPassword: string;
  /** caFile is the test CA that signed the server certificate (PGSSLROOTCERT). */
  readonly caFile: string;
  /** connectionString is a libpq URI for `app` with sslmode=verify-full. */
  readonly connectionString: string;
  readonly dir: string;
  readonly socketDir: string;
  readonly version: string;
  readonly pid: number;
  /** psql runs the real psql with `-X -v ON_ERROR_STOP=1` and our env; it MUST NOT throw on a non-zero exit. */
  psql(args: readonly string[], opts?: ClientOptions): Promise<RunResult>;
  /** pgbench runs the real pgbench with the same env as psql. */
  pgbench(args: readonly string[], opts?: ClientOptions): Promise<RunResult>;
  /** log returns the server's recent stderr (for failure messages). */
  log(): string;
  /** stop shuts the server down (fast, then SIGKILL) and removes the temp dir. */
  stop(): Promise<void>;
};

/** StartPostgresOptions tune the cluster; ignored when an instance is already running. */
export type StartPostgresOptions = {
  readonly binDir?: string;
  readonly readyTimeoutMs?: number;
  /** settings are extra `-c name=value` server settings. */
  readonly settings?: Readonly<Record<string, string>>;
};

/**
 * findPostgresBinaries returns the newest server under /usr/lib/postgresql/<ver>/bin.
 * It MUST fail with an install hint when there is none, not with a spawn ENOENT later.
 */
export function findPostgresBinaries(root = '/usr/lib/postgresql'): PostgresBinaries {
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(`no PostgreSQL server found under ${root}/<version>/bin: run \`apt-get install postgresql\``);
  }
  return { binDir: join(root, versions[0], 'bin'), version: versions[0] };
}

function runAs(user: OsUser | undefined, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: 120_000,
    env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...(user ? { HOME: user.home, USER: user.name } : {}), ...env },
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

// cleanEnv drops the caller's PG* variables so a developer's PGSERVICE or PGHOST never redirects a test.
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
}

function runClient(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, input: string | undefined, timeoutMs: number): Promise<RunResult> {
  return runCaptured(cmd, args, { env, input, timeoutMs });
}

let current: Promise<PostgresInstance> | undefined;

/**
 * startPostgres starts (once per process) a SCRAM + TLS PostgreSQL cluster on 127.0.0.1 with an
 * `app` role and database. A second call MUST return the same running instance; after `stop()`
 * the next call starts a fresh one. The server and temp dir are removed on process exit too.
 */
export function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresInstance> {
  current ??= boot(opts).catch((e: unknown) => {
    current = undefined;
    throw e;
  });
  return current;
}

/** stopPostgres stops the running instance, if any. */
export async function stopPostgres(): Promise<void> {
  const c = current;
  if (c) await (await c).stop();
}

async function boot(opts: StartPostgresOptions): Promise<PostgresInstance> {
  const bins = opts.binDir ? { binDir: opts.binDir, version: 'custom' } : findPostgresBinaries();
  const owner = unprivilegedUser('the PostgreSQL server');
  const dir = mkdtempSync(join(tmpdir(), 'affidavit-pg-'));
  let child: ChildProcess | undefined;
  const dataDir = join(dir, 'data');
  const bin = (name: string) => join(bins.binDir, name);
  // syncCleanup is the last resort from the 'exit' hook, so it MUST be synchronous.
  const syncCleanup = () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      spawnSync(bin('pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '10'], {
        stdio: 'ignore',
        ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
      });
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = registerExitCleanup(syncCleanup);
  try {
    const tlsDir = join(dir, 'tls');
    mkdirSync(tlsDir);
    const certs = await createTestCertificates({ dir: tlsDir, commonName: 'localhost' });
    const superuserPassword = randomBytes(18).toString('hex');
    const password = randomBytes(18).toString('hex');
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${superuserPassword}\n`, { mode: 0o600 });
    if (owner) {
      for (const p of [dir, tlsDir, pwfile, certs.keyFile, certs.certFile, certs.caFile]) chownSync(p, owner.uid, owner.gid);
    }
    runAs(owner, bin('initdb'), [
      '-D',
      dataDir,
      '--auth=scram-sha-256',
      '--username=postgres',
      `--pwfile=${pwfile}`,
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
    rmSync(pwfile);
    // Every TCP login is SCRAM; TLS is offered and verify-full works, and plain TCP stays allowed
    // on loopback so codec tests can speak raw protocol without a TLS layer.
    writeFileSync(join(dataDir, 'pg_hba.conf'), ['local all all scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256', ''].join('\n'));

    let port = 0;
    const logTail: string[] = [];
    const log = () => logTail.join('');
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      const settings: Record<string, string> = {
        listen_addresses: '127.0.0.1',
        port: String(port),
        unix_socket_directories: dir,
        ssl: 'on',
        ssl_cert_file: certs.certFile,
        ssl_key_file: certs.keyFile,
        password_encryption: 'scram-sha-256',
        // Durability is worthless for a throwaway test cluster; speed is not.
        fsync: 'off',
        synchronous_commit: 'off',
        full_page_writes: 'off',
        max_connections: '100',
        ...opts.settings,
      };
      const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
      logTail.length = 0;
      const proc = spawn(bin('postgres'), args, {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...(owner ? { HOME: owner.home } : {}) },
        ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
      });
      child = proc;
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
        logTail.push(d);
        while (logTail.length > 200) logTail.shift();
      });
      const ready = await waitReady(bin('pg_isready'), port, proc, opts.readyTimeoutMs ?? 30_000);
      if (ready) break;
      // A port taken between freePort() and bind() is the one failure worth a retry.
      if (attempt < 2 && /already in use/i.test(log())) continue;
      throw new Error(`PostgreSQL did not become ready on 127.0.0.1:${port}:\n${log()}`);
    }

    const baseEnv = cleanEnv();
    const clientEnv = (o: ClientOptions, user: string, pw: string, db: string): NodeJS.ProcessEnv => ({
      ...baseEnv,
      PGHOST: o.host ?? '127.0.0.1',
      PGPORT: String(o.port ?? port),
      PGUSER: o.user ?? user,
      PGPASSWORD: o.password ?? pw,
      PGDATABASE: o.database ?? db,
      PGSSLMODE: o.sslmode ?? 'verify-full',
      PGSSLROOTCERT: certs.caFile,
      PGCONNECT_TIMEOUT: '10',
      PGAPPNAME: 'affidavit-test',
    });
    const su = (sql: string) =>
      runClient(bin('psql'), ['-X', '-v', 'ON_ERROR_STOP=1', '-c', sql], clientEnv({}, 'postgres', superuserPassword, 'postgres'), undefined, 30_000);
    for (const sql of [`CREATE ROLE app LOGIN PASSWORD '${password}'`, 'CREATE DATABASE app OWNER app']) {
      const r = await su(sql);
      if (r.code !== 0) throw new Error(`setting up the app role failed (${sql.split(' ').slice(0, 3).join(' ')}): ${r.stderr}`);
    }

    const proc = child!;
    let stopping: Promise<void> | undefined;
    const instance: PostgresInstance = Object.freeze({
      host: '127.0.0.1' as const,
      port,
      user: 'app',
      password,
      database: 'app',
      superuser: 'postgres',
      superuserPassword,
      caFile: certs.caFile,
      connectionString: `postgresql://app:${password}@127.0.0.1:${port}/app?sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.caFile)}`,
      dir,
      socketDir: dir,
      version: bins.version,
      pid: proc.pid!,
      psql: (args: readonly string[], o: ClientOptions = {}) =>
        runClient(bin('psql'), ['-X', '-v', 'ON_ERROR_STOP=1', ...args], clientEnv(o, 'app', password, 'app'), o.input, o.timeoutMs ?? 60_000),
      pgbench: (args: readonly string[], o: ClientOptions = {}) =>
        runClient(bin('pgbench'), args, clientEnv(o, 'app', password, 'app'), o.input, o.timeoutMs ?? 300_000),
      log,
      stop: () => (stopping ??= shutdown()),
    });
    const shutdown = async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        spawnSync(bin('pg_ctl'), ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '15'], {
          stdio: 'ignore',
          ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
        });
        const killTimer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killTimer);
      }
      rmSync(dir, { recursive: true, force: true });
      unregister();
      current = undefined;
    };
    return instance;
  } catch (e) {
    syncCleanup();
    unregister();
    throw e;
  }
}

// waitReady polls pg_isready until the server accepts connections; false when the server died.
async function waitReady(pgIsReady: string, port: number, proc: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) return false;
    const r = await runClient(pgIsReady, ['-h', '127.0.0.1', '-p', String(port), '-t', '1', '-q'], cleanEnv(), undefined, 5_000);
    if (r.code === 0) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  return false;
}
