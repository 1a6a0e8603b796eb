// Configuration of `affidavit api`: the GraphQL API as its own process. It reads the ledger's
// SQLite store (the one `affidavit ledger run` writes), keeps its read models in a file of its
// own, and publishes signed approval decisions and authentication failures to Kafka.
import { ConfigInvalidError } from '@affidavit/common';
import { loadProcessConfig } from './process-config.ts';
import type { EnvOverride, ProcessConfigSpec } from './process-config.ts';
import { KAFKA_SCHEMA } from './proxy-postgres-config.ts';

/** ApiConfig is the validated configuration of the API process. */
export type ApiConfig = {
  id: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  kafka: { brokers: string[]; topic: string; publishTimeoutMs: number; connectionTimeoutMs: number; requestTimeoutMs: number };
  listen: { host: string; port: number };
  ledgerFile: string;
  readModelFile: string;
  oidc: { issuer: string; audience: string; jwksUri?: string };
  roleGroups: { auditor: string[]; approver: string[]; admin: string[] };
  /** decisions: the key approve/deny are signed with; absent, the API is read-only (AFF_E_API_UNAVAILABLE). */
  decisions?: { signingKeyFile: string; publicKeyFile: string };
  /** ledgerKeyFile: the ledger's verifier key; with it the API answers `report` (evidence is checked against it). */
  ledgerKeyFile?: string;
  /** masking.keyFile: the proxies' masking key file (shared by every proxy of the resource); with it the API answers `revealMaskedValue`. */
  masking?: { keyFile: string };
  development: boolean;
};

const groups = { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } } as const;

/** API_SCHEMA validates the API's YAML after the environment overrides. */
export const API_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'kafka', 'ledgerFile', 'readModelFile', 'oidc'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9._-]+$' },
    logLevel: { type: 'string', enum: ['trace', 'debug', 'info', 'warn', 'error'], default: 'info' },
    kafka: KAFKA_SCHEMA,
    listen: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { host: { type: 'string', minLength: 1, default: '127.0.0.1' }, port: { type: 'integer', minimum: 1, maximum: 65535, default: 9480 } },
    },
    ledgerFile: { type: 'string', minLength: 1 },
    readModelFile: { type: 'string', minLength: 1 },
    oidc: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer', 'audience'],
      properties: { issuer: { type: 'string', minLength: 1 }, audience: { type: 'string', minLength: 1 }, jwksUri: { type: 'string', minLength: 1 } },
    },
    roleGroups: {
      type: 'object',
      additionalProperties: false,
      default: { auditor: ['auditors'], approver: ['approvers'], admin: ['admins'] },
      required: ['auditor', 'approver', 'admin'],
      properties: { auditor: groups, approver: groups, admin: groups },
    },
    decisions: {
      type: 'object',
      additionalProperties: false,
      required: ['signingKeyFile', 'publicKeyFile'],
      properties: { signingKeyFile: { type: 'string', minLength: 1 }, publicKeyFile: { type: 'string', minLength: 1 } },
    },
    ledgerKeyFile: { type: 'string', minLength: 1 },
    masking: { type: 'object', additionalProperties: false, required: ['keyFile'], properties: { keyFile: { type: 'string', minLength: 1 } } },
    development: { type: 'boolean', default: false },
  },
} as const;

/** API_ENV are the environment overrides of the API process. */
export const API_ENV: readonly EnvOverride[] = [
  { env: 'AFFIDAVIT_ID', path: ['id'], type: 'string' },
  { env: 'AFFIDAVIT_LOG_LEVEL', path: ['logLevel'], type: 'string' },
  { env: 'AFFIDAVIT_KAFKA_BROKERS', path: ['kafka', 'brokers'], type: 'list' },
  { env: 'AFFIDAVIT_KAFKA_TOPIC', path: ['kafka', 'topic'], type: 'string' },
  { env: 'AFFIDAVIT_API_HOST', path: ['listen', 'host'], type: 'string' },
  { env: 'AFFIDAVIT_API_PORT', path: ['listen', 'port'], type: 'integer' },
  { env: 'AFFIDAVIT_LEDGER_FILE', path: ['ledgerFile'], type: 'string' },
  { env: 'AFFIDAVIT_OIDC_ISSUER', path: ['oidc', 'issuer'], type: 'string' },
  { env: 'AFFIDAVIT_OIDC_AUDIENCE', path: ['oidc', 'audience'], type: 'string' },
  { env: 'AFFIDAVIT_OIDC_JWKS_URI', path: ['oidc', 'jwksUri'], type: 'string' },
];

/** API_SPEC ties the schema, the overrides and the path fields together. */
export const API_SPEC: ProcessConfigSpec = {
  name: 'config',
  schema: API_SCHEMA,
  env: API_ENV,
  paths: [['ledgerFile'], ['readModelFile'], ['decisions', 'signingKeyFile'], ['decisions', 'publicKeyFile'], ['ledgerKeyFile'], ['masking', 'keyFile']],
};

/** loadApiConfig loads, overrides and validates the API's config file. */
export function loadApiConfig(opts: { file: string; cwd: string; env: NodeJS.ProcessEnv }): Readonly<ApiConfig> & { configFile: string } {
  const c = loadProcessConfig<ApiConfig>(API_SPEC, opts);
  if (c.readModelFile === c.ledgerFile) throw new ConfigInvalidError(`invalid config ${c.configFile}: config.readModelFile: must not be the ledger file`);
  return c;
}
