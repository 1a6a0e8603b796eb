// The embedded demo PostgreSQL target: PGlite (PostgreSQL compiled to WebAssembly, no
// native add-on, no server to install) kept in a folder under ./data and served over the
// PostgreSQL wire protocol to the proxy alone, so a new user can point `psql` at Affidavit's
// proxy and reach real tables at once, and nobody on the machine can get around the proxy.
//
// What a client of this server (the proxy's upstream connection) MUST know, measured on
// @electric-sql/pglite 0.5.14 (see demo-database.int.test.ts, which checks each point):
//
// - Reach: a Unix socket, DIR/.s.PGSQL.5432, in a folder created 0700 under the system's
//   temporary folder for each start (so only this user, or root, can even connect). No TCP
//   port is opened. libpq: `host=DIR port=5432`; node: `net.connect({ path })`.
// - Authentication: SCRAM-SHA-256 with a random password made at each start and held only
//   in memory (DemoDatabase.password, handed to the proxy). A wrong or missing proof gets
//   FATAL 28P01. The session then runs as superuser `postgres` in database `postgres`
//   whatever the StartupMessage names (PGlite has one role in use and one database).
// - Isolation: PGlite has ONE backend. A session holds it from its login to its end (as
//   PgBouncer's session mode with a pool of one); a session that logs in meanwhile waits up
//   to leaseWaitMs, then gets FATAL 53300. When a session ends (any way), an open COPY or
//   extended-query batch is ended, an open transaction rolled back and DISCARD ALL run
//   (prepared statements, cursors, temp tables, settings, LISTENs, advisory locks) before
//   the next session gets the backend. If that reset fails, no later session is admitted.
//   The proxy keeps sessions short: its idle timeout frees the backend for the next user.
// - TLS: an SSLRequest or GSSENCRequest is answered `N` (no TLS on a local socket).
// - CancelRequest is read and dropped: a running statement is never cancelled.
// - COPY FROM STDIN is not supported by PGlite 0.5.14 over the wire: it ends the PGlite
//   program (exit(1)) for everyone until a restart. So a Query or Parse holding one is
//   refused before it reaches PGlite (demo-copy-guard.ts): FATAL 0A000, connection closed.
// - A PasswordMessage after login ends the connection (FATAL 08P01); it never reaches
//   PGlite, which loops allocating memory on one until the process dies.
// - Over `maxConnections` (logged in or waiting), a new connection is closed by Node's
//   net.Server before any byte is sent.
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { initSqlParser, parsePostgres } from '@affidavit/access';
import { validateOptions } from '@affidavit/common';
import type { Logger } from '@affidavit/common';
import { DemoDatabaseStartError } from './demo-errors.ts';
import { serveDemoSessions, type DemoSessionServer } from './demo-session-server.ts';
import { copyFromStdinGuard } from './demo-copy-guard.ts';

/** DEMO_DB_SOCKET_PORT names the socket file, DIR/.s.PGSQL.5432, as libpq expects for port 5432. */
export const DEMO_DB_SOCKET_PORT = 5432;
/**
 * DEMO_DB_MAX_CONNECTIONS is the default cap on simultaneous connections (one holds the
 * backend, the others wait for it or are cancel requests).
 */
export const DEMO_DB_MAX_CONNECTIONS = 8;
/** DEMO_DB_LEASE_WAIT_MS is how long a session waits for the one backend before FATAL 53300 (below the proxy's 10 s upstream login timeout). */
export const DEMO_DB_LEASE_WAIT_MS = 5_000;
/** DEMO_DB_SCRAM_ITERATIONS is PostgreSQL's default scram_iterations. */
export const DEMO_DB_SCRAM_ITERATIONS = 4096;
/** DEMO_DB_USER is the role every session runs as, whatever the client names (PGlite has one backend, as `postgres`). */
export const DEMO_DB_USER = 'postgres';
/** DEMO_DB_DATABASE is the database every session uses, whatever the client names. */
export const DEMO_DB_DATABASE = 'postgres';
/** DEMO_SEED_TABLE is the table whose absence means "first start: seed now". */
export const DEMO_SEED_TABLE = 'public.customers';

/** DemoDatabaseOptions configures startDemoDatabase. */
export type DemoDatabaseOptions = {
  /** dataDir is the PGlite data folder (PGDATA); created when missing and kept across restarts. */
  dataDir: string;
  /** maxConnections caps simultaneous client connections (default DEMO_DB_MAX_CONNECTIONS). */
  maxConnections?: number;
  /** leaseWaitMs: how long a session waits for the backend another session holds (default DEMO_DB_LEASE_WAIT_MS). */
  leaseWaitMs?: number;
  logger: Logger;
};

/** DemoDatabase is a running demo database and how the proxy reaches it. */
export type DemoDatabase = {
  /** socketDir is the private (0700) folder of the socket: libpq's `host`. */
  readonly socketDir: string;
  /** socketPath is socketDir/.s.PGSQL.<port>: node's `net.connect({ path })`. */
  readonly socketPath: string;
  /** port is only the socket file's name suffix (libpq's `port`); no TCP port is open. */
  readonly port: number;
  readonly user: string;
  /** password is random per start and exists only in this process's memory; SCRAM-SHA-256 checks it. */
  readonly password: string;
  readonly database: string;
  readonly authMethod: 'scram-sha-256';
  /** seeded is true when this start created and filled the demo tables (the data folder was new). */
  readonly seeded: boolean;
  /** sessionsServed counts sessions that held the backend, each reset after it ended. */
  readonly sessionsServed: number;
  /**
   * stop closes every client connection, stops listening, removes the socket folder and
   * closes PGlite so its files are consistent on disk. It MUST be awaited before the process
   * exits or the same dataDir is opened again; calling it twice is harmless.
   */
  stop(): Promise<void>;
};

type ValidatedOptions = { dataDir: string; maxConnections: number; leaseWaitMs: number };

const OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['dataDir', 'maxConnections', 'leaseWaitMs'],
  properties: {
    dataDir: { type: 'string', minLength: 1, maxLength: 4096 },
    maxConnections: { type: 'integer', minimum: 1, maximum: 64 },
    leaseWaitMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
  },
} as const;

// One PGlite instance per data folder per process: a second one on the same files would
// corrupt them (PGlite keeps no postmaster.pid lock). Across processes the CLI's pid file
// is the guard.
const openDataDirs = new Set<string>();

/**
 * startDemoDatabase opens (creating on first use) the PGlite database in `dataDir`, seeds
 * the demo tables when they do not exist yet, and serves it over the PostgreSQL wire
 * protocol on a Unix socket in a private folder, behind a random SCRAM password.
 *
 * It MUST NOT listen on any TCP port, MUST NOT admit a client without the password, MUST
 * NOT let a session see what an earlier one left (see the header), MUST NOT seed a data
 * folder twice (a restart keeps the rows, changed or not, and adds none), and MUST NOT
 * resolve before the socket accepts connections. Bad options throw ConfigInvalidError; a
 * data folder already open in this process, one PGlite cannot open, or a socket that
 * cannot be bound throw DemoDatabaseStartError.
 */
export async function startDemoDatabase(options: DemoDatabaseOptions): Promise<DemoDatabase> {
  const { logger, ...rest } = options;
  const opts = validateOptions<ValidatedOptions>(
    OPTIONS_SCHEMA,
    { maxConnections: DEMO_DB_MAX_CONNECTIONS, leaseWaitMs: DEMO_DB_LEASE_WAIT_MS, ...rest },
    { name: 'demoDatabase' },
  );
  const dataDir = resolve(opts.dataDir);
  if (openDataDirs.has(dataDir)) {
    throw new DemoDatabaseStartError(`the demo database in ${dataDir} is already open in this process; stop it first`);
  }
  openDataDirs.add(dataDir);
  try {
    return await open(dataDir, opts, logger);
  } catch (err) {
    openDataDirs.delete(dataDir);
    throw err;
  }
}

/**
 * privateSocketDir makes a fresh folder for the socket, readable and searchable by this
 * user alone. Under the system's temporary folder, not ./data: a socket path is limited to
 * 107 bytes, and a fresh name each start leaves no stale socket to clean up.
 */
export function privateSocketDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'affidavit-demo-db-'));
  chmodSync(dir, 0o700);
  const st = lstatSync(dir);
  if (!st.isDirectory() || (st.mode & 0o077) !== 0 || (typeof process.getuid === 'function' && st.uid !== process.getuid())) {
    throw new DemoDatabaseStartError(`the demo database socket folder ${dir} is not a private folder of this user`);
  }
  return dir;
}

async function open(dataDir: string, opts: ValidatedOptions, logger: Logger): Promise<DemoDatabase> {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // PGlite writes its files world-readable (0666); a private folder keeps other local
    // users out of the demo data even so.
    chmodSync(dataDir, 0o700);
  } catch (err) {
    throw new DemoDatabaseStartError(`cannot create the demo database folder ${dataDir}: ${(err as Error).message}`, { cause: err });
  }

  const started = performance.now();
  let db: PGlite;
  try {
    db = await PGlite.create({ dataDir });
  } catch (err) {
    throw new DemoDatabaseStartError(`PGlite cannot open ${dataDir}: ${(err as Error).message}`, { cause: err });
  }

  let server: DemoSessionServer | undefined;
  let socketDir: string | undefined;
  try {
    const seeded = await seedOnFirstStart(db);
    await initSqlParser();
    socketDir = privateSocketDir();
    const socketPath = join(socketDir, `.s.PGSQL.${DEMO_DB_SOCKET_PORT}`);
    // 32 random bytes: never written anywhere, gone with the process.
    const password = randomBytes(32).toString('base64url');
    server = await serveDemoSessions({
      db,
      socketPath,
      password,
      maxConnections: opts.maxConnections,
      leaseWaitMs: opts.leaseWaitMs,
      scramIterations: DEMO_DB_SCRAM_ITERATIONS,
      refuseSql: copyFromStdinGuard(parsePostgres),
      logger,
    });
    logger.info(
      { socketDir, dataDir, seeded, maxConnections: opts.maxConnections, ms: Math.round(performance.now() - started) },
      'demo database listening on a private Unix socket',
    );
    const srv = server;
    const dir = socketDir;
    return Object.freeze({
      socketDir: dir,
      socketPath,
      port: DEMO_DB_SOCKET_PORT,
      user: DEMO_DB_USER,
      password,
      database: DEMO_DB_DATABASE,
      authMethod: 'scram-sha-256' as const,
      seeded,
      get sessionsServed() {
        return srv.sessionsServed;
      },
      stop: once(async () => {
        try {
          await srv.stop();
        } finally {
          rmSync(dir, { recursive: true, force: true });
          await db.close();
          openDataDirs.delete(dataDir);
          logger.info({ dataDir }, 'demo database stopped');
        }
      }),
    });
  } catch (err) {
    await server?.stop().catch(() => undefined);
    if (socketDir) rmSync(socketDir, { recursive: true, force: true });
    await db.close().catch(() => undefined);
    throw new DemoDatabaseStartError(`the demo database in ${dataDir} could not start: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * seedOnFirstStart runs demo-seed.sql when DEMO_SEED_TABLE does not exist yet and tells
 * whether it did. The seed is one transaction, so a crash leaves either no demo tables
 * (seeded on the next start) or all of them.
 */
export async function seedOnFirstStart(db: PGlite): Promise<boolean> {
  const found = await db.query<{ t: string | null }>('select to_regclass($1)::text as t', [DEMO_SEED_TABLE]);
  if (found.rows[0]?.t) return false;
  await db.exec(readFileSync(new URL('./demo-seed.sql', import.meta.url), 'utf8'));
  return true;
}

function once(f: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= f());
}
