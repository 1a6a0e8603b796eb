// The API server's options: named defaults, JSON Schema validation, then frozen (STYLE rule 5).
import { validateOptions } from '@affidavit/common';
import type { RoleGroups } from './auth/roles.ts';
import { DEFAULT_ROLE_GROUPS } from './auth/roles.ts';

/** ApiOptions configure buildServer. */
export type ApiOptions = {
  /** development serves GraphiQL on GET /graphql; never on in production. */
  development: boolean;
  /** roleGroups names the groups that grant each role. */
  roleGroups: RoleGroups;
  /** bodyLimit bounds a request body in bytes (413 beyond it). */
  bodyLimit: number;
  /** rateLimit: at most `max` requests per `windowMs` per identity (per address before authentication). */
  rateLimit: { max: number; windowMs: number };
  /** Query limits (graphql-armor): depth, cost, aliases, directives and tokens of one document. */
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  /** jit compiles queries (graphql-jit) instead of interpreting them: ~25% less CPU per 50-row page (bench/api.ts). */
  jit: boolean;
};

/** DEFAULT_BODY_LIMIT: 64 KiB, far above any query this schema needs. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** DEFAULT_API_OPTIONS are the documented defaults. */
export const DEFAULT_API_OPTIONS: Readonly<ApiOptions> = Object.freeze({
  development: false,
  roleGroups: DEFAULT_ROLE_GROUPS,
  bodyLimit: DEFAULT_BODY_LIMIT,
  rateLimit: Object.freeze({ max: 600, windowMs: 60_000 }),
  maxDepth: 8,
  maxCost: 50_000,
  maxAliases: 15,
  maxDirectives: 20,
  maxTokens: 2000,
  jit: true,
});

const groups = { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 256 } };
const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['development', 'roleGroups', 'bodyLimit', 'rateLimit', 'maxDepth', 'maxCost', 'maxAliases', 'maxDirectives', 'maxTokens', 'jit'],
  properties: {
    development: { type: 'boolean' },
    roleGroups: {
      type: 'object',
      additionalProperties: false,
      required: ['auditor', 'approver', 'admin'],
      properties: { auditor: groups, approver: groups, admin: groups },
    },
    bodyLimit: { type: 'integer', minimum: 1024, maximum: 16 * 1024 * 1024 },
    rateLimit: {
      type: 'object',
      additionalProperties: false,
      required: ['max', 'windowMs'],
      properties: { max: { type: 'integer', minimum: 1, maximum: 1_000_000 }, windowMs: { type: 'integer', minimum: 100, maximum: 86_400_000 } },
    },
    maxDepth: { type: 'integer', minimum: 2, maximum: 64 },
    maxCost: { type: 'integer', minimum: 10, maximum: 1_000_000 },
    maxAliases: { type: 'integer', minimum: 0, maximum: 1000 },
    maxDirectives: { type: 'integer', minimum: 0, maximum: 1000 },
    maxTokens: { type: 'integer', minimum: 50, maximum: 100_000 },
    jit: { type: 'boolean' },
  },
};

/** apiOptions applies defaults, validates and freezes. */
export function apiOptions(input: Partial<ApiOptions> = {}): Readonly<ApiOptions> {
  return validateOptions<ApiOptions>(SCHEMA, { ...structuredClone(DEFAULT_API_OPTIONS), ...structuredClone(input) }, { name: 'api' });
}
