// Options of the PostgreSQL proxy: named defaults, one JSON Schema, cross-field rules, frozen.
import { validateOptions } from '@affidavit/common';
import { DEFAULT_MAX_MESSAGE_SIZE } from './wire/index.ts';

/** UpstreamOptions: the PostgreSQL server the proxy logs in to with ITS OWN credentials. */
export type UpstreamOptions = {
  host: string;
  port: number;
  /**
   * socketPath, when set, reaches the server on this Unix socket (DIR/.s.PGSQL.PORT) instead of
   * host:port, which then only name the target in events. No TLS on a local socket.
   */
  socketPath?: string;
  user: string;
  password: string;
  database: string;
  /** tls: absent = plain TCP; otherwise TLS is required, verified against `ca` (PEM) when given. */
  tls?: { ca?: string; servername?: string; rejectUnauthorized: boolean };
  connectTimeoutMs: number;
};

/** PostgresProxyOptions configure one proxy listener and its upstream. */
export type PostgresProxyOptions = {
  listen: { host: string; port: number };
  /** tls: server certificate and key (PEM) offered to clients after SSLRequest; absent = answer 'N'. */
  tls?: { cert: string; key: string };
  /** allowCleartextOnLoopback lets a client on 127.0.0.1/::1 send its token without TLS (development only). */
  allowCleartextOnLoopback: boolean;
  upstream: UpstreamOptions;
  /** resource is the target name policies match (`target.resource`); defaults to the upstream database. */
  resource: string;
  maxMessageSize: number;
  /**
   * idleTimeoutMs closes a session the client leaves silent that long while no statement runs,
   * idle or idle in a transaction alike (0 = never).
   */
  idleTimeoutMs: number;
  /** maxConnections caps client connections of this listener; past it a connection gets FATAL 53300 before login. */
  maxConnections: number;
  /** maxConnectionsPerIdentity caps logged-in sessions per identity (issuer + subject); the next login gets FATAL 53300. */
  maxConnectionsPerIdentity: number;
  /**
   * preLogin: rejections before login are recorded one by one for the first `recordsPerSource`
   * per source address and window, then counted into one summary event per source and window.
   */
  preLogin: { windowMs: number; recordsPerSource: number };
  /** statementTimeoutMs cancels a statement running that long (0 = never). */
  statementTimeoutMs: number;
  approvalTimeoutMs: number;
  /** authTimeoutMs bounds the login exchange (startup to ReadyForQuery). */
  authTimeoutMs: number;
  /** slowClientTimeoutMs closes a session whose client does not read its results for that long. */
  slowClientTimeoutMs: number;
  /** maxPendingMessages bounds client messages queued while a decision is pending; past it reading pauses. */
  maxPendingMessages: number;
  recordingMode: 'sync' | 'async';
  /** maxCaptureBytes caps the rows one ResultCaptured event carries. */
  maxCaptureBytes: number;
  feeder: { id: string; version: string };
};

/** PostgresProxyOptionsInput is what callers pass; every field with a default may be left out. */
export type PostgresProxyOptionsInput = Partial<Omit<PostgresProxyOptions, 'upstream' | 'listen' | 'feeder' | 'preLogin'>> & {
  listen?: Partial<PostgresProxyOptions['listen']>;
  preLogin?: Partial<PostgresProxyOptions['preLogin']>;
  upstream: Omit<UpstreamOptions, 'tls' | 'connectTimeoutMs' | 'port' | 'host'> &
    Partial<Pick<UpstreamOptions, 'host' | 'port' | 'connectTimeoutMs'>> & {
      tls?: { ca?: string; servername?: string; rejectUnauthorized?: boolean };
    };
  feeder?: Partial<PostgresProxyOptions['feeder']>;
};

/** DEFAULT_PG_PROXY_PORT is the port the proxy listens on unless told otherwise. */
export const DEFAULT_PG_PROXY_PORT = 6432;
/** DEFAULT_APPROVAL_TIMEOUT_MS is how long a held statement waits for a decision (5 minutes). */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 5 * 60_000;
/** DEFAULT_AUTH_TIMEOUT_MS bounds a login like PostgreSQL's authentication_timeout (60 s). */
export const DEFAULT_AUTH_TIMEOUT_MS = 60_000;
/** DEFAULT_SLOW_CLIENT_TIMEOUT_MS is how long a client may leave its results unread. */
export const DEFAULT_SLOW_CLIENT_TIMEOUT_MS = 60_000;
/**
 * DEFAULT_IDLE_TIMEOUT_MS closes a silent session after 30 minutes (AWS RDS Proxy's default
 * idle client timeout): an abandoned psql, or one idle in a transaction, holds an upstream
 * connection (and maybe locks) for nobody.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 30 * 60_000;
/** DEFAULT_MAX_CONNECTIONS caps a listener's client connections (PgBouncer's max_client_conn is 100; a proxy fronts more). */
export const DEFAULT_MAX_CONNECTIONS = 1000;
/** DEFAULT_MAX_CONNECTIONS_PER_IDENTITY: enough for a person's tools side by side, not for one user to take the upstream. */
export const DEFAULT_MAX_CONNECTIONS_PER_IDENTITY = 20;
/** DEFAULT_PRELOGIN_WINDOW_MS is the window pre-login rejections are aggregated in, per source address (1 minute). */
export const DEFAULT_PRELOGIN_WINDOW_MS = 60_000;
/** DEFAULT_PRELOGIN_RECORDS_PER_SOURCE: a few failed logins are each recorded in full; a flood is summarised. */
export const DEFAULT_PRELOGIN_RECORDS_PER_SOURCE = 10;
/** DEFAULT_MAX_CAPTURE_BYTES caps a ResultCaptured event's rows (events are capped at 1 MiB). */
export const DEFAULT_MAX_CAPTURE_BYTES = 256 * 1024;

const str = { type: 'string', minLength: 1, maxLength: 4096 } as const;
const pem = { type: 'string', minLength: 1, maxLength: 1 << 20 } as const;
const ms = (dflt: number, min = 0) => ({ type: 'integer', minimum: min, maximum: 24 * 3600_000, default: dflt }) as const;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['upstream'],
  properties: {
    listen: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { host: { ...str, default: '127.0.0.1' }, port: { type: 'integer', minimum: 0, maximum: 65535, default: DEFAULT_PG_PROXY_PORT } },
    },
    tls: { type: 'object', additionalProperties: false, required: ['cert', 'key'], properties: { cert: pem, key: pem } },
    allowCleartextOnLoopback: { type: 'boolean', default: false },
    upstream: {
      type: 'object',
      additionalProperties: false,
      required: ['user', 'password', 'database'],
      properties: {
        host: { ...str, default: '127.0.0.1' },
        port: { type: 'integer', minimum: 1, maximum: 65535, default: 5432 },
        // 107 bytes: sun_path is 108 bytes with its terminating NUL on Linux.
        socketPath: { type: 'string', minLength: 1, maxLength: 107 },
        user: { ...str, maxLength: 63 },
        password: { type: 'string', maxLength: 1024 },
        database: { ...str, maxLength: 63 },
        tls: {
          type: 'object',
          additionalProperties: false,
          properties: { ca: pem, servername: str, rejectUnauthorized: { type: 'boolean', default: true } },
        },
        connectTimeoutMs: ms(10_000, 1),
      },
    },
    resource: str,
    maxMessageSize: { type: 'integer', minimum: 1024, maximum: 0x3fffffff, default: DEFAULT_MAX_MESSAGE_SIZE },
    idleTimeoutMs: ms(DEFAULT_IDLE_TIMEOUT_MS),
    maxConnections: { type: 'integer', minimum: 1, maximum: 1_000_000, default: DEFAULT_MAX_CONNECTIONS },
    maxConnectionsPerIdentity: { type: 'integer', minimum: 1, maximum: 1_000_000, default: DEFAULT_MAX_CONNECTIONS_PER_IDENTITY },
    preLogin: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        windowMs: ms(DEFAULT_PRELOGIN_WINDOW_MS, 1000),
        recordsPerSource: { type: 'integer', minimum: 1, maximum: 10_000, default: DEFAULT_PRELOGIN_RECORDS_PER_SOURCE },
      },
    },
    statementTimeoutMs: ms(0),
    approvalTimeoutMs: ms(DEFAULT_APPROVAL_TIMEOUT_MS, 1),
    authTimeoutMs: ms(DEFAULT_AUTH_TIMEOUT_MS, 1),
    slowClientTimeoutMs: ms(DEFAULT_SLOW_CLIENT_TIMEOUT_MS, 1),
    maxPendingMessages: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1000 },
    recordingMode: { type: 'string', enum: ['sync', 'async'], default: 'sync' },
    maxCaptureBytes: { type: 'integer', minimum: 0, maximum: 900 * 1024, default: DEFAULT_MAX_CAPTURE_BYTES },
    feeder: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { id: { ...str, default: 'postgres-proxy' }, version: { ...str, default: '0.1.0' } },
    },
  },
} as const;

/**
 * postgresProxyOptions validates options, applies the defaults and freezes them. It MUST throw
 * ConfigInvalidError naming every bad field; `resource` defaults to the upstream database.
 */
export function postgresProxyOptions(input: PostgresProxyOptionsInput): Readonly<PostgresProxyOptions> {
  const withResource =
    input && typeof input === 'object' && input.resource === undefined && input.upstream ? { ...input, resource: input.upstream.database } : input;
  return validateOptions<PostgresProxyOptions>(schema, withResource, {
    name: 'postgresProxy',
    rules: [
      (o) =>
        o.tls === undefined && !o.allowCleartextOnLoopback
          ? 'postgresProxy.tls: is required unless allowCleartextOnLoopback is true (tokens never travel in clear)'
          : undefined,
      (o) =>
        o.maxConnectionsPerIdentity > o.maxConnections
          ? `postgresProxy.maxConnectionsPerIdentity: ${o.maxConnectionsPerIdentity} is more than maxConnections (${o.maxConnections})`
          : undefined,
      (o) =>
        o.upstream.socketPath !== undefined && o.upstream.tls !== undefined
          ? 'postgresProxy.upstream.tls: cannot be used with upstream.socketPath (no TLS on a Unix socket)'
          : undefined,
    ],
  });
}
