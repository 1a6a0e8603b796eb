// Configuration of `affidavit proxy postgres`: the PostgreSQL proxy as its own process, publishing
// to Kafka. The JSON Schema below is the contract (defaults included); docker-compose.yml's
// configs are checked against it by test/compose.test.ts.
import { readFileSync } from 'node:fs';
import { ConfigInvalidError } from '@affidavit/common';
import { TOPICS } from '@affidavit/schemas';
import { loadProcessConfig } from './process-config.ts';
import type { EnvOverride, ProcessConfigSpec } from './process-config.ts';

/** ProxyPostgresConfig is the validated configuration (every default filled in, paths absolute). */
export type ProxyPostgresConfig = {
  /** id names this proxy instance: its feeder id in every event and its approvals consumer group. */
  id: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  kafka: { brokers: string[]; topic: string; publishTimeoutMs: number; connectionTimeoutMs: number; requestTimeoutMs: number };
  listen: { host: string; port: number };
  /** tls: the certificate offered to clients; absent only with allowCleartextOnLoopback (development). */
  tls?: { certFile: string; keyFile: string };
  allowCleartextOnLoopback: boolean;
  /** resource is the target name policies match on. */
  resource: string;
  upstream: { host: string; port: number; user: string; password?: string; passwordFile?: string; database: string; caFile?: string };
  oidc: { issuer: string; audience: string; jwksUri?: string };
  policyFile: string;
  recording: { mode: 'sync' | 'async' };
  approvals: { timeoutSeconds: number; decisionKeyFiles: string[] };
  masking: { keyFile: string };
  limits: { idleTimeoutSeconds: number; maxConnections: number; maxConnectionsPerIdentity: number };
};

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
const name = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9._-]+$' } as const;
const file = { type: 'string', minLength: 1, maxLength: 4096 } as const;

/** KAFKA_SCHEMA is the `kafka` section every distributed process shares. */
export const KAFKA_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['brokers'],
  properties: {
    brokers: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', pattern: '^[^\\s:,]+:[0-9]{1,5}$' } },
    topic: { ...name, default: TOPICS.sessionEvents },
    // A refusal while the broker is away should come within seconds, not Kafka's 30 s default.
    publishTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 5_000 },
    connectionTimeoutMs: { type: 'integer', minimum: 50, maximum: 60_000, default: 1_000 },
    requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 600_000, default: 4_000 },
  },
} as const;

/** PROXY_POSTGRES_SCHEMA validates the proxy's YAML after the environment overrides. */
export const PROXY_POSTGRES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'kafka', 'upstream', 'oidc', 'policyFile', 'masking'],
  properties: {
    id: name,
    logLevel: { type: 'string', enum: ['trace', 'debug', 'info', 'warn', 'error'], default: 'info' },
    kafka: KAFKA_SCHEMA,
    listen: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { host: { type: 'string', minLength: 1, default: '127.0.0.1' }, port: { ...port, default: 6432 } },
    },
    tls: { type: 'object', additionalProperties: false, required: ['certFile', 'keyFile'], properties: { certFile: file, keyFile: file } },
    allowCleartextOnLoopback: { type: 'boolean', default: false },
    resource: { ...name, default: 'postgres' },
    upstream: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'user', 'database'],
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { ...port, default: 5432 },
        user: { type: 'string', minLength: 1, maxLength: 63 },
        password: { type: 'string', maxLength: 1024 },
        passwordFile: file,
        database: { type: 'string', minLength: 1, maxLength: 63 },
        caFile: file,
      },
    },
    oidc: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer', 'audience'],
      properties: { issuer: { type: 'string', minLength: 1 }, audience: { type: 'string', minLength: 1 }, jwksUri: { type: 'string', minLength: 1 } },
    },
    policyFile: file,
    recording: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { mode: { type: 'string', enum: ['sync', 'async'], default: 'sync' } },
    },
    approvals: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        timeoutSeconds: { type: 'integer', minimum: 1, maximum: 86_400, default: 300 },
        decisionKeyFiles: { type: 'array', items: file, default: [] },
      },
    },
    masking: { type: 'object', additionalProperties: false, required: ['keyFile'], properties: { keyFile: file } },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        idleTimeoutSeconds: { type: 'integer', minimum: 0, maximum: 86_400, default: 1800 },
        maxConnections: { type: 'integer', minimum: 1, maximum: 100_000, default: 1000 },
        maxConnectionsPerIdentity: { type: 'integer', minimum: 1, maximum: 100_000, default: 20 },
      },
    },
  },
} as const;

/** PROXY_POSTGRES_ENV are the environment overrides (the only place the proxy process reads env). */
export const PROXY_POSTGRES_ENV: readonly EnvOverride[] = [
  { env: 'AFFIDAVIT_ID', path: ['id'], type: 'string' },
  { env: 'AFFIDAVIT_LOG_LEVEL', path: ['logLevel'], type: 'string' },
  { env: 'AFFIDAVIT_KAFKA_BROKERS', path: ['kafka', 'brokers'], type: 'list' },
  { env: 'AFFIDAVIT_KAFKA_TOPIC', path: ['kafka', 'topic'], type: 'string' },
  { env: 'AFFIDAVIT_PG_HOST', path: ['listen', 'host'], type: 'string' },
  { env: 'AFFIDAVIT_PG_PORT', path: ['listen', 'port'], type: 'integer' },
  { env: 'AFFIDAVIT_UPSTREAM_HOST', path: ['upstream', 'host'], type: 'string' },
  { env: 'AFFIDAVIT_UPSTREAM_PORT', path: ['upstream', 'port'], type: 'integer' },
  { env: 'AFFIDAVIT_UPSTREAM_USER', path: ['upstream', 'user'], type: 'string' },
  { env: 'AFFIDAVIT_UPSTREAM_PASSWORD', path: ['upstream', 'password'], type: 'string' },
  { env: 'AFFIDAVIT_UPSTREAM_DATABASE', path: ['upstream', 'database'], type: 'string' },
  { env: 'AFFIDAVIT_OIDC_ISSUER', path: ['oidc', 'issuer'], type: 'string' },
  { env: 'AFFIDAVIT_OIDC_AUDIENCE', path: ['oidc', 'audience'], type: 'string' },
  { env: 'AFFIDAVIT_OIDC_JWKS_URI', path: ['oidc', 'jwksUri'], type: 'string' },
  { env: 'AFFIDAVIT_POLICY_FILE', path: ['policyFile'], type: 'string' },
  { env: 'AFFIDAVIT_RECORDING_MODE', path: ['recording', 'mode'], type: 'string' },
];

/** PROXY_POSTGRES_SPEC ties the schema, the overrides and the path fields together. */
export const PROXY_POSTGRES_SPEC: ProcessConfigSpec = {
  name: 'config',
  schema: PROXY_POSTGRES_SCHEMA,
  env: PROXY_POSTGRES_ENV,
  paths: [
    ['tls', 'certFile'],
    ['tls', 'keyFile'],
    ['upstream', 'passwordFile'],
    ['upstream', 'caFile'],
    ['policyFile'],
    ['approvals', 'decisionKeyFiles'],
    ['masking', 'keyFile'],
  ],
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * proxyPostgresRules are the cross-field checks the schema cannot say: a listener off loopback
 * needs TLS (tokens are passwords), and the upstream password comes from exactly one place.
 */
export function proxyPostgresProblems(c: ProxyPostgresConfig): string[] {
  const out: string[] = [];
  if (!c.tls && !c.allowCleartextOnLoopback) out.push('config.tls: is required (or allowCleartextOnLoopback: true for a development listener on loopback)');
  if (!c.tls && !LOOPBACK.has(c.listen.host))
    out.push(`config.tls: is required when listen.host is ${c.listen.host} (not loopback): tokens would cross the network in clear`);
  if ((c.upstream.password === undefined) === (c.upstream.passwordFile === undefined))
    out.push('config.upstream: give exactly one of password (or AFFIDAVIT_UPSTREAM_PASSWORD) and passwordFile');
  if (c.limits.maxConnectionsPerIdentity > c.limits.maxConnections)
    out.push(`config.limits.maxConnectionsPerIdentity: ${c.limits.maxConnectionsPerIdentity} is more than maxConnections (${c.limits.maxConnections})`);
  return out;
}

/** loadProxyPostgresConfig loads, overrides, validates and cross-checks the proxy's config file. */
export function loadProxyPostgresConfig(opts: { file: string; cwd: string; env: NodeJS.ProcessEnv }): Readonly<ProxyPostgresConfig> & { configFile: string } {
  const c = loadProcessConfig<ProxyPostgresConfig>(PROXY_POSTGRES_SPEC, opts);
  const problems = proxyPostgresProblems(c);
  if (problems.length > 0) throw new ConfigInvalidError(`invalid config ${c.configFile}: ${problems.join('; ')}`);
  return c;
}

/** upstreamPassword reads the upstream password from the config or its file (trailing newline dropped). */
export function upstreamPassword(c: ProxyPostgresConfig): string {
  if (c.upstream.password !== undefined) return c.upstream.password;
  try {
    return readFileSync(c.upstream.passwordFile!, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new ConfigInvalidError(`config.upstream.passwordFile: cannot read ${c.upstream.passwordFile}: ${(e as Error).message}`);
  }
}
