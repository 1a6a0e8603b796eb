import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ErrorObject, JSONSchemaType } from 'ajv';
import { ConfigInvalidError } from './errors/common-errors.ts';

// ajv-formats ships CommonJS with a default export object; under nodenext the callable
// sits on `.default` at type level but is the module itself at run time.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv) => Ajv;

const ajv = addFormats(new Ajv({ allErrors: true, useDefaults: true, coerceTypes: false, strict: true }));

/** formatAjvErrors renders schema errors as "field: problem" lines naming the bad field. */
export function formatAjvErrors(errors: ErrorObject[] | null | undefined, root = 'config'): string {
  return (errors ?? [])
    .map((e) => {
      const path = `${root}${e.instancePath.replaceAll('/', '.')}`;
      if (e.keyword === 'additionalProperties') return `${path}: unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
      if (e.keyword === 'required') return `${path}.${(e.params as { missingProperty: string }).missingProperty}: is required`;
      return `${path}: ${e.message}`;
    })
    .join('; ');
}

/** deepFreeze freezes an options object and everything it holds (fastify: validated once, then frozen). */
export function deepFreeze<T>(o: T): Readonly<T> {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

/**
 * validateOptions applies defaults, validates against a JSON Schema, runs cross-field
 * rules (each returns an error text or undefined), then freezes the result.
 * It MUST throw ConfigInvalidError naming every bad field rather than return a partly valid object.
 */
export function validateOptions<T>(
  schema: JSONSchemaType<T> | Record<string, unknown>,
  input: unknown,
  opts: { name: string; rules?: ReadonlyArray<(o: T) => string | undefined> } = { name: 'config' },
): Readonly<T> {
  const copy = structuredClone(input ?? {}) as T;
  const validate = ajv.compile<T>(schema as JSONSchemaType<T>);
  if (!validate(copy)) {
    throw new ConfigInvalidError(`invalid ${opts.name}: ${formatAjvErrors(validate.errors, opts.name)}`);
  }
  const problems = (opts.rules ?? []).map((r) => r(copy)).filter((p): p is string => p !== undefined);
  if (problems.length > 0) throw new ConfigInvalidError(`invalid ${opts.name}: ${problems.join('; ')}`);
  return deepFreeze(copy);
}
