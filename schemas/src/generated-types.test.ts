import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import avro from 'avsc';
import { renderTypes } from './render-types.ts';
import { AVRO_DIR, LEDGER_RECORD_TYPES, SESSION_EVENT_TYPES, loadSchemaFiles } from './index.ts';

const GENERATED = join(import.meta.dirname, 'generated', 'events.ts');

test('src/generated/events.ts is exactly what renderTypes() produces from the .avsc files', () => {
  assert.equal(readFileSync(GENERATED, 'utf8'), renderTypes(), 'out of date: run `npm run gen` in schemas');
});

test('gen-types --check agrees', () => {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'scripts', 'gen-types.ts'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /up to date/);
});

const files = loadSchemaFiles();
const kebab = (name: string) => name.replace(/[A-Z]/g, (m, i) => (i ? '-' : '') + m.toLowerCase());

test('every .avsc file on disk is loaded, parses with avsc, and is named after its record', () => {
  const onDisk = ['envelope', 'events', 'ledger'].flatMap((d) =>
    readdirSync(join(AVRO_DIR, d))
      .filter((f) => f.endsWith('.avsc'))
      .map((f) => `${d}/${f}`),
  );
  const loaded = [...files.envelope, ...files.events, ...files.ledger];
  assert.deepEqual(loaded.map((f) => f.path).sort(), onDisk.sort());
  const registry = {};
  for (const f of loaded) {
    const t = avro.Type.forSchema(f.schema as avro.Schema, { registry });
    assert.equal(t.typeName, 'record', f.path);
    assert.equal(f.path.split('/')[1], `${kebab(f.schema.name)}.avsc`, `${f.path} holds ${f.schema.name}`);
    assert.ok(f.schema.doc && f.schema.doc.length > 10, `${f.path} has a doc`);
  }
  for (const f of files.envelope) assert.equal(f.schema.namespace, 'dev.affidavit', f.path);
  for (const f of files.events) assert.equal(f.schema.namespace, 'dev.affidavit.events', f.path);
  for (const f of files.ledger) assert.equal(f.schema.namespace, 'dev.affidavit.ledger', f.path);
});

test('the type lists match the files', () => {
  assert.deepEqual(
    [...SESSION_EVENT_TYPES],
    files.events.map((f) => f.schema.name),
  );
  assert.deepEqual(
    [...LEDGER_RECORD_TYPES],
    [...files.events, ...files.ledger].map((f) => f.schema.name),
  );
  assert.equal(new Set(LEDGER_RECORD_TYPES).size, LEDGER_RECORD_TYPES.length);
});

// The envelope every ledger record starts with, and the session envelope every feeder event adds.
const RECORD_ENVELOPE = [
  { name: 'eventId', type: 'string' },
  { name: 'type', type: 'string' },
  { name: 'occurredAt', type: { type: 'long', logicalType: 'timestamp-micros' } },
];
const SESSION_ENVELOPE = [
  { name: 'sessionId', type: 'string' },
  { name: 'seq', type: 'long' },
  { name: 'actor', type: ['null', 'dev.affidavit.Actor'], default: null },
  { name: 'source', type: 'dev.affidavit.Source' },
  { name: 'target', type: 'dev.affidavit.Target' },
  { name: 'feeder', type: 'dev.affidavit.Feeder' },
];
const shape = (f: { name: string; type: unknown; default?: unknown }) => ({ name: f.name, type: f.type, ...('default' in f ? { default: f.default } : {}) });

test('every event has the envelope fields first, in order, with the same types', () => {
  for (const f of files.events) {
    const head = f.schema.fields.slice(0, RECORD_ENVELOPE.length + SESSION_ENVELOPE.length).map(shape);
    assert.deepEqual(head, [...RECORD_ENVELOPE, ...SESSION_ENVELOPE], f.path);
  }
  for (const f of files.ledger) {
    assert.deepEqual(f.schema.fields.slice(0, RECORD_ENVELOPE.length).map(shape), RECORD_ENVELOPE, f.path);
  }
});

test('field names are unique within each record', () => {
  for (const f of [...files.events, ...files.ledger]) {
    const names = f.schema.fields.map((x) => x.name);
    assert.equal(new Set(names).size, names.length, `${f.path} has duplicate fields`);
  }
});
