// createPostgresProxy: the TCP listener. Each accepted connection becomes a Session; the server
// owns the map from the BackendKeyData it handed out to sessions, so a CancelRequest (which
// arrives on a new connection) reaches the right upstream backend.
import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { postgresProxyOptions, type PostgresProxyOptions, type PostgresProxyOptionsInput } from './options.ts';
import { Session, type SessionDeps, type SessionRegistry } from './session.ts';

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
      if (s && s.secretKeyMatches(secretKey)) s.cancel();
    },
  };
  let server: Server | undefined;
  let address: AddressInfo | undefined;

  const onConnection = (socket: Socket) => {
    const session = new Session(socket, sessionDeps, registry);
    open.add(session);
    socket.once('close', () => open.delete(session));
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
        if (!server) return resolve();
        server.close(() => resolve());
      });
    },
  };
}
