// The embedded demo PostgreSQL target: PGlite (PostgreSQL compiled to WebAssembly, no
// native add-on, no server to install) kept in a folder under ./data and served over the
// PostgreSQL wire protocol on loopback by @electric-sql/pglite-socket, so a new user can
// point `psql` at Affidavit's proxy and reach real tables at once.
//
// What a client of this server (the proxy's upstream connection) MUST know, measured on
// @electric-sql/pglite 0.5.14 + @electric-sql/pglite-socket 0.2.17 (see
// demo-database.int.test.ts, which checks each point that can be checked without harm):
//
// - Authentication is "trust". The StartupMessage is answered with AuthenticationOk
//   (R, code 0) at once, whatever `user` and `database` it names: no password, MD5 or
//   SCRAM exchange ever happens. The session always runs as superuser `postgres` in
//   database `postgres` (the names in the StartupMessage are ignored). A client MUST
//   handle AuthenticationOk as the first answer and MUST NOT send a PasswordMessage
//   (`p`) the server did not ask for: pglite 0.5.14 then loops allocating memory until
//   the whole Node process dies of heap exhaustion. `pg` and libpq only send one when
//   asked, so they are safe. That is also why the server MUST stay on loopback.
// - TLS: an SSLRequest is answered `N`; the client must then go on in clear
//   (libpq `sslmode=disable` or `prefer`; `require` fails). A GSSENCRequest is NOT
//   answered at all (the connection hangs): libpq clients need `gssencmode=disable`
//   when a Kerberos credential cache exists.
// - CancelRequest is read and silently dropped: a running statement is never
//   cancelled, and the cancel connection stays open until the client closes it.
// - One PostgreSQL backend serves every connection. pglite-socket multiplexes
//   connections message by message over it: a client's open transaction makes every
//   other connection's messages wait until it ends (no timeout); session state (SET,
//   PREPARE'd statement names, temp tables, LISTEN, advisory locks) is SHARED with
//   the other connections and OUTLIVES the connection that made it. A proxy MUST NOT
//   rely on upstream session isolation and SHOULD use the unnamed statement/portal.
//   A transaction left open by a closing connection is rolled back.
// - Over `maxConnections`, a new connection is closed by Node's net.Server
//   (`server.maxConnections`) before any byte is sent (no ErrorResponse): the client sees "server closed
//   the connection unexpectedly" / "Connection terminated unexpectedly".
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { validateOptions } from '@affidavit/common';
import type { Logger } from '@affidavit/common';
import { DemoDatabaseStartError } from './demo-errors.ts';

/** DEMO_DB_HOST is the default listen address: loopback only, because the server trusts every client. */
export const DEMO_DB_HOST = '127.0.0.1';
/** DEMO_DB_PORT is the default port: 0 lets the operating system choose a free one. */
export const DEMO_DB_PORT = 0;
/**
 * DEMO_DB_MAX_CONNECTIONS is the default cap on simultaneous connections. More than one,
 * so two demo sessions through the proxy work side by side; small, because they all
 * share one single-threaded backend.
 */
export const DEMO_DB_MAX_CONNECTIONS = 8;
/** DEMO_DB_USER is the role every session runs as, whatever the client names (PGlite has one backend, as `postgres`). */
export const DEMO_DB_USER = 'postgres';
/** DEMO_DB_DATABASE is the database every session uses, whatever the client names. */
export const DEMO_DB_DATABASE = 'postgres';
/**
 * DEMO_DB_PASSWORD is what a client may keep in its configuration: the server never
 * asks for a password (trust), so the value is never checked and never sent.
 */
export const DEMO_DB_PASSWORD = 'postgres';
/** DEMO_SEED_TABLE is the table whose absence means "first start: seed now". */
export const DEMO_SEED_TABLE = 'public.customers';

/** DemoDatabaseOptions configures startDemoDatabase. */
export type DemoDatabaseOptions = {
  /** dataDir is the PGlite data folder (PGDATA); created when missing and kept across restarts. */
  dataDir: string;
  /** host to listen on; MUST be a loopback IP literal (127.0.0.0/8 or ::1). */
  host?: string;
  /** port to listen on; 0 picks a free port (read the chosen one from the result). */
  port?: number;
  /** maxConnections caps simultaneous client connections (default DEMO_DB_MAX_CONNECTIONS). */
  maxConnections?: number;
  logger: Logger;
};

/** DemoDatabase is a running demo database and how to reach it over the PostgreSQL wire protocol. */
export type DemoDatabase = {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** password is accepted by no check at all: the server uses trust authentication (see authMethod). */
  readonly password: string;
  readonly database: string;
  /** authMethod tells the upstream client that AuthenticationOk comes straight after the StartupMessage. */
  readonly authMethod: 'trust';
  /** seeded is true when this start created and filled the demo tables (the data folder was new). */
  readonly seeded: boolean;
  /**
   * stop closes every client connection, stops listening and closes PGlite so its files
   * are consistent on disk. It MUST be awaited before the process exits or the same
   * dataDir is opened again; calling it twice is harmless.
   */
  stop(): Promise<void>;
};

type ValidatedOptions = { dataDir: string; host: string; port: number; maxConnections: number };

const OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['dataDir', 'host', 'port', 'maxConnections'],
  properties: {
    dataDir: { type: 'string', minLength: 1, maxLength: 4096 },
    host: { type: 'string', minLength: 1, maxLength: 64 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    maxConnections: { type: 'integer', minimum: 1, maximum: 64 },
  },
} as const;

/** isLoopbackAddress tells whether an IP literal is on the loopback range (127.0.0.0/8 or ::1). */
export function isLoopbackAddress(host: string): boolean {
  if (isIPv4(host)) return host.split('.')[0] === '127';
  if (isIPv6(host)) return host === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(host) || /^::ffff:127\./i.test(host);
  return false;
}

// One PGlite instance per data folder per process: a second one on the same files would
// corrupt them (PGlite keeps no postmaster.pid lock). Across processes the CLI's pid file
// is the guard.
const openDataDirs = new Set<string>();

/**
 * startDemoDatabase opens (creating on first use) the PGlite database in `dataDir`, seeds
 * the demo tables when they do not exist yet, and serves it over the PostgreSQL wire
 * protocol on a loopback address.
 *
 * It MUST NOT listen anywhere but loopback (trust authentication), MUST NOT seed a data
 * folder twice (a restart keeps the rows, changed or not, and adds none), and MUST NOT
 * resolve before the port accepts connections. Bad options throw ConfigInvalidError; a
 * data folder already open in this process, one PGlite cannot open, or a port that
 * cannot be bound throw DemoDatabaseStartError.
 */
export async function startDemoDatabase(options: DemoDatabaseOptions): Promise<DemoDatabase> {
  const { logger, ...rest } = options;
  const opts = validateOptions<ValidatedOptions>(
    OPTIONS_SCHEMA,
    { host: DEMO_DB_HOST, port: DEMO_DB_PORT, maxConnections: DEMO_DB_MAX_CONNECTIONS, ...rest },
    {
      name: 'demoDatabase',
      rules: [
        (o) => (isLoopbackAddress(o.host) ? undefined : `demoDatabase.host: "${o.host}" is not a loopback IP address (127.0.0.0/8 or ::1); the demo database trusts every client, so it MUST NOT be reachable from elsewhere`),
      ],
    },
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

  let server: PGLiteSocketServer | undefined;
  try {
    const seeded = await seedOnFirstStart(db);
    let port = opts.port;
    server = new PGLiteSocketServer({ db, host: opts.host, port: opts.port, maxConnections: opts.maxConnections });
    server.addEventListener('listening', (e) => {
      const detail = (e as CustomEvent<{ port?: number }>).detail;
      if (typeof detail?.port === 'number') port = detail.port;
    });
    server.addEventListener('error', (e) => {
      logger.warn({ err: (e as CustomEvent<unknown>).detail }, 'demo database connection error');
    });
    await server.start();
    logger.info(
      { host: opts.host, port, dataDir, seeded, maxConnections: opts.maxConnections, ms: Math.round(performance.now() - started) },
      'demo database listening',
    );
    return Object.freeze({
      host: opts.host,
      port,
      user: DEMO_DB_USER,
      password: DEMO_DB_PASSWORD,
      database: DEMO_DB_DATABASE,
      authMethod: 'trust' as const,
      seeded,
      stop: once(async () => {
        try {
          await server?.stop();
        } finally {
          await db.close();
          openDataDirs.delete(dataDir);
          logger.info({ dataDir }, 'demo database stopped');
        }
      }),
    });
  } catch (err) {
    await server?.stop().catch(() => undefined);
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
