import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** AVRO_DIR is the folder of .avsc files: the event contract of every producer and consumer. */
export const AVRO_DIR = join(import.meta.dirname, '..', 'avro');

/** SchemaFile is one parsed .avsc file. */
export type SchemaFile = { readonly path: string; readonly schema: AvroRecordSchema };

/** AvroRecordSchema is the subset of Avro's JSON schema form that our files use at top level. */
export type AvroRecordSchema = {
  type: 'record';
  name: string;
  namespace?: string;
  doc?: string;
  fields: { name: string; type: unknown; default?: unknown; doc?: string }[];
};

function readDir(sub: string): SchemaFile[] {
  const dir = join(AVRO_DIR, sub);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.avsc'))
    .sort()
    .map((f) => ({ path: `${sub}/${f}`, schema: JSON.parse(readFileSync(join(dir, f), 'utf8')) as AvroRecordSchema }));
}

/**
 * loadSchemaFiles reads the contract: shared named records first (envelope/), then one
 * record per session event (events/) and the ledger's own entry kinds (ledger/).
 */
export function loadSchemaFiles(): { envelope: SchemaFile[]; events: SchemaFile[]; ledger: SchemaFile[] } {
  return { envelope: readDir('envelope'), events: readDir('events'), ledger: readDir('ledger') };
}
