import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigInvalidError, validateOptions } from '@affidavit/common';

/** EmbeddedConfig is everything the one-process embedded mode needs; defaults give a working demo. */
export type EmbeddedConfig = {
  /** dataDir holds the ledger file, keys, the demo database and the policy; relative to the config file's folder. */
  dataDir: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  issuer: {
    /** port of the development token issuer on 127.0.0.1 (fixed, so `affidavit token` mints offline). */
    port: number;
    audience: string;
    tokenTtlSeconds: number;
    users: Record<string, { groups: string[]; email?: string; amr?: string[] }>;
  };
  postgres: {
    host: string;
    port: number;
    /** resource is the target name policies match on. */
    resource: string;
    /** upstream: `demo` for the embedded PGlite database, or a real server. */
    upstream: { kind: 'demo' } | { kind: 'external'; host: string; port: number; user: string; password: string; database: string; caFile?: string };
    approvalTimeoutSeconds: number;
    /** idleTimeoutSeconds closes a session silent that long, idle or idle in a transaction (0 = never). */
    idleTimeoutSeconds: number;
    /** maxConnections caps the proxy's client connections. */
    maxConnections: number;
    /** maxConnectionsPerIdentity caps one user's sessions at once. */
    maxConnectionsPerIdentity: number;
  };
  /** policyFile: when missing, the built-in demo policy is written there on first start (default: <dataDir>/policy.yaml). */
  policyFile: string;
  recording: { mode: 'sync' | 'async' };
  ledger: { origin: string; checkpointEveryEntries: number; checkpointEveryMs: number };
  /** api: the GraphQL API on 127.0.0.1 (port 0 turns it off); roleGroups name the groups granting each role. */
  api: { port: number; roleGroups: { auditor: string[]; approver: string[]; admin: string[] } };
};

/** EMBEDDED_IDLE_TIMEOUT_SECONDS is the embedded proxy's idle timeout (10 minutes). */
export const EMBEDDED_IDLE_TIMEOUT_SECONDS = 600;
/** EMBEDDED_MAX_CONNECTIONS caps the embedded proxy's client connections (one machine, a few people). */
export const EMBEDDED_MAX_CONNECTIONS = 64;
/** EMBEDDED_MAX_CONNECTIONS_PER_IDENTITY caps one user's sessions in embedded mode. */
export const EMBEDDED_MAX_CONNECTIONS_PER_IDENTITY = 4;

/** DEFAULT_CONFIG is the demo: alice reads, bob approves, both through the demo database. */
export const DEFAULT_CONFIG: Omit<EmbeddedConfig, 'policyFile'> & { policyFile?: string } = Object.freeze({
  dataDir: './data',
  logLevel: 'info',
  issuer: {
    port: 9400,
    audience: 'affidavit',
    tokenTtlSeconds: 3600,
    users: {
      alice: { groups: ['analysts'], email: 'alice@example.com', amr: ['pwd', 'otp', 'hwk'] },
      bob: { groups: ['approvers', 'analysts'], email: 'bob@example.com', amr: ['pwd', 'hwk'] },
      carol: { groups: ['dba'], email: 'carol@example.com', amr: ['pwd'] },
      dave: { groups: ['auditors'], email: 'dave@example.com', amr: ['pwd', 'otp'] },
    },
  },
  postgres: {
    host: '127.0.0.1',
    port: 6432,
    resource: 'demo',
    upstream: { kind: 'demo' },
    approvalTimeoutSeconds: 300,
    // The demo database serves one session at a time: a forgotten psql frees it after 10 minutes.
    idleTimeoutSeconds: EMBEDDED_IDLE_TIMEOUT_SECONDS,
    maxConnections: EMBEDDED_MAX_CONNECTIONS,
    maxConnectionsPerIdentity: EMBEDDED_MAX_CONNECTIONS_PER_IDENTITY,
  },
  recording: { mode: 'sync' },
  ledger: { origin: 'affidavit.local/embedded', checkpointEveryEntries: 1000, checkpointEveryMs: 5000 },
  api: { port: 9480, roleGroups: { auditor: ['auditors'], approver: ['approvers'], admin: ['admins'] } },
}) as Omit<EmbeddedConfig, 'policyFile'>;

const port = { type: 'integer', minimum: 1, maximum: 65535 };
const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['dataDir', 'logLevel', 'issuer', 'postgres', 'recording', 'ledger', 'api'],
  properties: {
    dataDir: { type: 'string', minLength: 1 },
    logLevel: { type: 'string', enum: ['trace', 'debug', 'info', 'warn', 'error'] },
    issuer: {
      type: 'object',
      additionalProperties: false,
      required: ['port', 'audience', 'tokenTtlSeconds', 'users'],
      properties: {
        port,
        audience: { type: 'string', minLength: 1 },
        tokenTtlSeconds: { type: 'integer', minimum: 60, maximum: 86_400 },
        users: {
          type: 'object',
          minProperties: 1,
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['groups'],
            properties: {
              groups: { type: 'array', items: { type: 'string', minLength: 1 } },
              email: { type: 'string' },
              amr: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    postgres: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port', 'resource', 'upstream', 'approvalTimeoutSeconds', 'idleTimeoutSeconds', 'maxConnections', 'maxConnectionsPerIdentity'],
      properties: {
        host: { type: 'string', enum: ['127.0.0.1', 'localhost', '::1', '0.0.0.0'] },
        port,
        resource: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9._-]+$' },
        approvalTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 86_400 },
        idleTimeoutSeconds: { type: 'integer', minimum: 0, maximum: 86_400 },
        maxConnections: { type: 'integer', minimum: 1, maximum: 100_000 },
        maxConnectionsPerIdentity: { type: 'integer', minimum: 1, maximum: 100_000 },
        upstream: {
          oneOf: [
            { type: 'object', additionalProperties: false, required: ['kind'], properties: { kind: { const: 'demo' } } },
            {
              type: 'object',
              additionalProperties: false,
              required: ['kind', 'host', 'port', 'user', 'password', 'database'],
              properties: {
                kind: { const: 'external' },
                host: { type: 'string', minLength: 1 },
                port,
                user: { type: 'string', minLength: 1 },
                password: { type: 'string' },
                database: { type: 'string', minLength: 1 },
                caFile: { type: 'string' },
              },
            },
          ],
        },
      },
    },
    policyFile: { type: 'string', minLength: 1 },
    recording: { type: 'object', additionalProperties: false, required: ['mode'], properties: { mode: { type: 'string', enum: ['sync', 'async'] } } },
    ledger: {
      type: 'object',
      additionalProperties: false,
      required: ['origin', 'checkpointEveryEntries', 'checkpointEveryMs'],
      properties: {
        origin: { type: 'string', minLength: 1, pattern: '^[^\\s+]+$' },
        checkpointEveryEntries: { type: 'integer', minimum: 1 },
        checkpointEveryMs: { type: 'integer', minimum: 10 },
      },
    },
    api: {
      type: 'object',
      additionalProperties: false,
      required: ['port', 'roleGroups'],
      properties: {
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        roleGroups: {
          type: 'object',
          additionalProperties: false,
          required: ['auditor', 'approver', 'admin'],
          properties: Object.fromEntries(
            ['auditor', 'approver', 'admin'].map((r) => [r, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }]),
          ),
        },
      },
    },
  },
};

/** ENV_OVERRIDES maps environment variables onto config fields (the only place env is read). */
export const ENV_OVERRIDES: ReadonlyArray<{ env: string; path: string[]; type: 'string' | 'integer' }> = [
  { env: 'AFFIDAVIT_DATA_DIR', path: ['dataDir'], type: 'string' },
  { env: 'AFFIDAVIT_LOG_LEVEL', path: ['logLevel'], type: 'string' },
  { env: 'AFFIDAVIT_ISSUER_PORT', path: ['issuer', 'port'], type: 'integer' },
  { env: 'AFFIDAVIT_PG_PORT', path: ['postgres', 'port'], type: 'integer' },
  { env: 'AFFIDAVIT_API_PORT', path: ['api', 'port'], type: 'integer' },
  { env: 'AFFIDAVIT_POLICY_FILE', path: ['policyFile'], type: 'string' },
  { env: 'AFFIDAVIT_RECORDING_MODE', path: ['recording', 'mode'], type: 'string' },
];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  // `users` and `upstream` replace rather than merge: a config naming its own users means only those.
  for (const [k, v] of Object.entries(over)) out[k] = k === 'users' || k === 'upstream' ? v : merge(base[k], v);
  return out;
}

/** ResolvedConfig is a validated, frozen config with every path made absolute. */
export type ResolvedConfig = Readonly<EmbeddedConfig> & { readonly configFile?: string; readonly baseDir: string };

/**
 * loadConfig reads an optional YAML/JSON config file, lays it over the defaults, applies the
 * environment overrides, validates the result (errors name the bad field, e.g.
 * `config.postgres.port: must be <= 65535`), resolves paths against the file's folder (or
 * `cwd`), and freezes it.
 */
export function loadConfig(opts: { file?: string; cwd: string; env: NodeJS.ProcessEnv }): ResolvedConfig {
  let fromFile: unknown = {};
  let baseDir = opts.cwd;
  let configFile: string | undefined;
  if (opts.file) {
    configFile = resolve(opts.cwd, opts.file);
    if (!existsSync(configFile)) throw new ConfigInvalidError(`config file ${configFile} does not exist`);
    try {
      fromFile = parseYaml(readFileSync(configFile, 'utf8')) ?? {};
    } catch (e) {
      throw new ConfigInvalidError(`config file ${configFile} is not valid YAML: ${(e as Error).message}`);
    }
    if (!isObject(fromFile)) throw new ConfigInvalidError(`config file ${configFile} must hold a mapping at top level`);
    baseDir = resolve(configFile, '..');
  }
  const merged = merge(structuredClone(DEFAULT_CONFIG), fromFile) as Record<string, unknown>;
  for (const o of ENV_OVERRIDES) {
    const raw = opts.env[o.env];
    if (raw === undefined || raw === '') continue;
    const value = o.type === 'integer' ? Number(raw) : raw;
    if (o.type === 'integer' && !Number.isInteger(value)) throw new ConfigInvalidError(`${o.env}=${raw}: must be an integer`);
    let node = merged;
    for (const p of o.path.slice(0, -1)) node = node[p] as Record<string, unknown>;
    node[o.path.at(-1)!] = value;
  }
  const valid = validateOptions<EmbeddedConfig>(CONFIG_SCHEMA, merged, {
    name: 'config',
    rules: [
      (c) =>
        c.postgres.maxConnectionsPerIdentity > c.postgres.maxConnections
          ? `config.postgres.maxConnectionsPerIdentity: ${c.postgres.maxConnectionsPerIdentity} is more than maxConnections (${c.postgres.maxConnections})`
          : undefined,
    ],
  });
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const out = structuredClone(valid) as EmbeddedConfig;
  out.dataDir = abs(out.dataDir);
  out.policyFile = out.policyFile ? abs(out.policyFile) : resolve(out.dataDir, 'policy.yaml');
  if (out.postgres.upstream.kind === 'external' && out.postgres.upstream.caFile) out.postgres.upstream.caFile = abs(out.postgres.upstream.caFile);
  return Object.freeze({ ...out, baseDir, ...(configFile ? { configFile } : {}) }) as ResolvedConfig;
}

/** issuerUrl is the `iss` of every development token: the issuer listens on loopback only. */
export const issuerUrl = (c: EmbeddedConfig) => `http://127.0.0.1:${c.issuer.port}`;
