// The compiled OCSF 1.5.0 schema, vendored gzip-compressed beside this workspace (ocsf/), so tests
// and tools validate against the same bytes on every machine. Its SHA-256 is pinned: a changed
// file is refused rather than silently validated against.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { OcsfSchemaChangedError } from './errors.ts';
import type { OcsfSchema } from './ocsf/validate-ocsf.ts';

/** OCSF_SCHEMA_FILE is the vendored compiled schema (gzip). */
export const OCSF_SCHEMA_FILE = join(import.meta.dirname, '..', 'ocsf', 'schema-1.5.0.json.gz');

/** OCSF_SCHEMA_SHA256 is the SHA-256 of the uncompressed compiled schema as published for OCSF 1.5.0. */
export const OCSF_SCHEMA_SHA256 = 'fcf4b4f51d9ba3cbcb2fab9a90e56fddf60afea09d396f3581ada9e00b93bf39';

/** loadOcsfSchema reads, checks and parses the vendored compiled schema. */
export function loadOcsfSchema(file = OCSF_SCHEMA_FILE): OcsfSchema {
  const json = gunzipSync(readFileSync(file));
  const sha = createHash('sha256').update(json).digest('hex');
  if (sha !== OCSF_SCHEMA_SHA256) throw new OcsfSchemaChangedError(`${file}: SHA-256 ${sha} is not the pinned OCSF 1.5.0 schema ${OCSF_SCHEMA_SHA256}`);
  return JSON.parse(json.toString('utf8')) as OcsfSchema;
}
