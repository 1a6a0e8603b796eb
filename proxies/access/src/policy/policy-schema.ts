import { SHELL_CLASSES, SQL_CLASSES } from './types.ts';

/*
 * Policy file format (YAML), see test/fixtures/policies/*.policy.yaml:
 *
 *   version: 1
 *   defaults: { action: deny, onUnparsable: deny, defaultSchema: public }
 *   lists: { NAME: [pattern, ...] }           # reused in any match list as '@NAME'
 *   functions:                                # optional; default mode: any
 *     mode: allow-list | any                  # allow-list: ONLY the listed functions may be called
 *     allow: [fn glob | schema.fn glob | '@NAME']   # required for (only for) allow-list
 *     target: { kind: postgres, resource: glob }    # optional: the targets the list governs
 *   rules:
 *     - id: unique-id                         # named in refusals and in the ledger
 *       reason: human sentence
 *       target: { kind: postgres|ssh, resource: glob }   # optional
 *       groups: [glob, ...]                   # optional, any-of the identity's groups
 *       match:                                # optional; every field given must match
 *         classes: [select, insert, ..., exec, shell, sftp-read, ...]
 *         relations | reads | writes: [schema.table glob | table glob]
 *         functions: [schema.fn glob | fn glob]
 *         columns | settings | programs: [glob]
 *         paths: [path glob, * within a segment, ** across]
 *       action: allow | deny | require-approval | mask
 *       approvers: [group]                    # required for require-approval
 *       mask: { columns: [...], detectors: [...] }   # required for (only for) mask
 *       capture: true                         # also record the result rows
 *
 * Semantics: per operation the FIRST matching rule decides, else defaults.action; across
 * the operations of a command the strictest wins (deny > require-approval > mask > allow).
 * Within a list a restricting rule matches when ANY item matches; an allow rule only when
 * EVERY item matches. Relation names resolve as the server resolves them: the session's
 * search_path (defaults.defaultSchema when the session gives none) with pg_catalog first; a
 * name that may resolve to several relations takes the strictest outcome among them; a
 * database qualifier other than the session's database is refused. Unparsable input, EXECUTE
 * of an unknown name, a relation named by a computed expression and run-time program names
 * get defaults.onUnparsable. With `functions.mode: allow-list`, a call of any function the
 * list does not name is refused before any rule is looked at; an unqualified entry (`lower`)
 * allows the built-in (an unqualified or pg_catalog-qualified call), a qualified one
 * (`app.f`) exactly that schema. Only function calls count, not operators or casts.
 */

// A non-empty list of glob patterns.
const patternList = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 } as const;

/**
 * POLICY_SCHEMA is the JSON Schema (draft-07, as ajv compiles it) of a policy file.
 * Unknown fields are errors everywhere (`additionalProperties: false`) so a typo such as
 * `grups:` cannot silently widen a rule.
 */
export const POLICY_SCHEMA = {
  $id: 'https://affidavit.dev/schemas/policy-v1.json',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'rules'],
  properties: {
    version: { const: 1 },
    description: { type: 'string' },
    defaults: {
      type: 'object',
      additionalProperties: false,
      properties: {
        action: { enum: ['allow', 'deny'] },
        onUnparsable: { enum: ['allow', 'deny'] },
        defaultSchema: { type: 'string', minLength: 1 },
      },
    },
    functions: {
      type: 'object',
      additionalProperties: false,
      required: ['mode'],
      properties: {
        mode: { enum: ['allow-list', 'any'] },
        allow: { type: 'array', items: { type: 'string', minLength: 1 } },
        target: {
          type: 'object',
          additionalProperties: false,
          properties: {
            kind: { enum: ['postgres', 'ssh'] },
            resource: { type: 'string', minLength: 1 },
          },
        },
      },
      if: { properties: { mode: { const: 'allow-list' } } },
      then: { required: ['allow'] },
      else: { not: { required: ['allow'] } },
    },
    lists: {
      type: 'object',
      propertyNames: { pattern: '^[a-z0-9][a-z0-9_-]*$' },
      additionalProperties: { type: 'array', items: { type: 'string', minLength: 1 } },
    },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'reason', 'action'],
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$' },
          reason: { type: 'string', minLength: 1 },
          target: {
            type: 'object',
            additionalProperties: false,
            properties: {
              kind: { enum: ['postgres', 'ssh'] },
              resource: { type: 'string', minLength: 1 },
            },
          },
          groups: patternList,
          match: {
            type: 'object',
            additionalProperties: false,
            properties: {
              classes: { type: 'array', minItems: 1, items: { enum: [...SQL_CLASSES, ...SHELL_CLASSES] } },
              relations: patternList,
              reads: patternList,
              writes: patternList,
              functions: patternList,
              columns: patternList,
              settings: patternList,
              programs: patternList,
              paths: patternList,
            },
          },
          action: { enum: ['allow', 'deny', 'require-approval', 'mask'] },
          approvers: patternList,
          mask: {
            type: 'object',
            additionalProperties: false,
            properties: {
              columns: { type: 'array', items: { type: 'string', minLength: 1 } },
              detectors: { type: 'array', items: { type: 'string', minLength: 1 } },
            },
          },
          capture: { type: 'boolean' },
        },
        allOf: [
          {
            if: { properties: { action: { const: 'require-approval' } } },
            then: { required: ['approvers'] },
          },
          {
            if: { properties: { action: { const: 'mask' } } },
            then: { required: ['mask'] },
            else: { not: { required: ['mask'] } },
          },
        ],
      },
    },
  },
} as const;
