// createPostgresProxy: the TCP listener. Each accepted connection becomes a Session; the server
// owns the map from the BackendKeyData it handed out to sessions, so a CancelRequest (which
// arrives on a new connection) reaches the right upstream backend. It also owns what sessions
// share: the connection limits (in total, per identity) and the per-source aggregation of
// pre-login rejections.
import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { postgresProxyOptions, type PostgresProxyOptions, type PostgresProxyOptionsInput } from './options.ts';
import { Session, type SessionDeps, type SessionRegistry } from './session.ts';
import { ConnectionLimits, PgProxyFullError } from './connection-limits.ts';
import { DEFAULT_PRELOGIN_MAX_RECORDS, DEFAULT_PRELOGIN_MAX_SOURCES, PreloginRecording } from './prelogin-recording.ts';
import { errorResponse } from './wire/index.ts';

/** PostgresProxyDeps are the proxy's collaborators (see SessionDeps); options come separately. */
export type PostgresProxyDeps = Omit<SessionDeps, 'options' | 'secureContext'>;

/** PostgresProxy is a built (not yet listening) proxy. */
export type PostgresProxy = {
  readonly options: Readonly<PostgresProxyOptions>;
  /** listen binds the configured address; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** address is the bound address (undefined before listen). */
  readonly address: AddressInfo | undefined;
  /** sessions is the number of open client connections. */
  readonly sessions: number;
  /** close stops accepting, ends every session and resolves when the listener is closed. */
  close(): Promise<void>;
};

/**
 * createPostgresProxy validates and freezes the options and builds the proxy. A session's
 * failure (hostile input, a lost upstream) MUST end that session only.
 */
export function createPostgresProxy(input: PostgresProxyOptionsInput, deps: PostgresProxyDeps): PostgresProxy {
  const options = postgresProxyOptions(input);
  const secureContext = options.tls ? createSecureContext({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' }) : undefined;
  const sessionDeps: SessionDeps = { ...deps, options, ...(secureContext ? { secureContext } : {}) };
  const byProcessId = new Map<number, Session>();
  const limits = new ConnectionLimits(options);
  const u = options.upstream;
  const prelogin = new PreloginRecording(
    { ...options.preLogin, maxSources: DEFAULT_PRELOGIN_MAX_SOURCES, maxRecordsPerWindow: DEFAULT_PRELOGIN_MAX_RECORDS },
    {
      recorder: deps.recorder,
      clock: deps.clock,
      newId: deps.newId,
      target: { kind: 'postgres', resource: options.resource, host: u.host, port: u.port, database: u.database, login: u.user },
      feeder: { ...options.feeder },
      ...(deps.logger ? { logger: deps.logger } : {}),
    },
  );
  const open = new Set<Session>();
  const registry: SessionRegistry = {
    register(session) {
      let processId: number;
      do processId = randomInt(1, 0x7fffffff);
      while (byProcessId.has(processId));
      byProcessId.set(processId, session);
      return { processId, secretKey: randomBytes(4) };
    },
    unregister(processId) {
      byProcessId.delete(processId);
    },
    cancel(processId, secretKey) {
      const s = byProcessId.get(processId);
      // Like PostgreSQL: a wrong key is ignored silently, so a cancel cannot probe sessions.
      if (s?.secretKeyMatches(secretKey)) s.cancel();
    },
    admitIdentity: (identity) => limits.admitIdentity(identity),
    preLoginRejected: (address, code, reason) => prelogin.note(address, code, reason),
  };
  let server: Server | undefined;
  let address: AddressInfo | undefined;

  const onConnection = (socket: Socket) => {
    const slot = limits.openConnection();
    if (!slot) {
      // Like PostgreSQL's "sorry, too many clients already": answered before reading a byte.
      const e = new PgProxyFullError();
      const reason = `sorry, too many clients already: the proxy holds its maximum of ${options.maxConnections} connections (${e.code})`;
      socket.on('error', () => undefined);
      socket.end(errorResponse({ severity: 'FATAL', code: '53300', message: reason }));
      setTimeout(() => socket.destroy(), 1000).unref();
      prelogin.rejected(socket.remoteAddress ?? 'unknown', socket.remotePort ?? null, e.code, reason);
      return;
    }
    const session = new Session(socket, sessionDeps, registry);
    open.add(session);
    socket.once('close', () => {
      open.delete(session);
      slot();
    });
    session.start();
  };

  return {
    options,
    get address() {
      return address;
    },
    get sessions() {
      return open.size;
    },
    listen() {
      return new Promise<AddressInfo>((resolve, reject) => {
        server = createServer({ noDelay: true }, onConnection);
        server.once('error', reject);
        server.listen(options.listen.port, options.listen.host, () => {
          server!.off('error', reject);
          address = server!.address() as AddressInfo;
          resolve(address);
        });
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const s of open) s.close();
        prelogin.close();
        if (!server) return resolve();
        server.close(() => resolve());
      });
    },
  };
}
