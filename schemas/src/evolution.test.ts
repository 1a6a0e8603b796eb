import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventCodec, exampleEvent, loadSchemaFiles } from './index.ts';
import type { AvroRecordSchema, LedgerRecord } from './index.ts';
import { toPlain } from '../test/support.ts';

// Schema evolution through Avro schema resolution (avsc createResolver), as the contract
// promises: a consumer reads any registered writer version into its own reader schema.
// SPEC: https://avro.apache.org/docs/1.11.1/specification/#schema-resolution
// "if the reader's record schema has a field that contains a default value, and writer's
// schema does not have a field with the same name, then the reader should use the default
// value from its field" / "if the writer's record contains a field with a name not present in
// the reader's record, the writer's value for that field is ignored."

const files = loadSchemaFiles();
const shared = files.envelope.map((f) => f.schema);
const current = [...files.events, ...files.ledger].map((f) => f.schema);

const schemaOf = (name: string): AvroRecordSchema => structuredClone(current.find((s) => s.name === name)!);
const withoutField = (name: string, field: string): AvroRecordSchema => {
  const s = schemaOf(name);
  assert.ok(
    s.fields.some((f) => f.name === field),
    `${name} has ${field}`,
  );
  s.fields = s.fields.filter((f) => f.name !== field);
  return s;
};
const withField = (name: string, field: AvroRecordSchema['fields'][number]): AvroRecordSchema => {
  const s = schemaOf(name);
  s.fields.push(field);
  return s;
};
/** codecWith builds a codec whose reader set is the current contract with some records swapped. */
const codecWith = (...swapped: AvroRecordSchema[]) => new EventCodec({ shared, records: current.map((s) => swapped.find((x) => x.name === s.name) ?? s) });

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

test('new reader, old writer: CommandCompleted without resultDigest decodes with the default null', () => {
  const oldSchema = withoutField('CommandCompleted', 'resultDigest');
  const oldProducer = codecWith(oldSchema);
  const reader = codecWith();
  const { resultDigest: _, ...oldEvent } = exampleEvent('CommandCompleted', { tag: 'SELECT 3', rows: 3 });
  const bytes = oldProducer.encode(oldEvent as unknown as LedgerRecord);

  assert.notDeepEqual(bytes.subarray(2, 10), reader.writerFor('CommandCompleted').fingerprint, 'old schema has another fingerprint');
  assert.equal(
    code(() => reader.decode(bytes)),
    'AFF_E_AVRO_UNKNOWN_FINGERPRINT',
    'unknown until registered',
  );

  const w = reader.registerWriterSchema(oldSchema);
  assert.deepEqual(w.fingerprint, bytes.subarray(2, 10));
  assert.equal(w.name, 'CommandCompleted');
  const got = reader.decodeDetailed(bytes);
  assert.equal(got.writer, w, 'decodeDetailed names the old writer');
  assert.deepEqual(toPlain(got.record), { ...oldEvent, resultDigest: null }, 'missing field takes its default');
  assert.deepEqual(reader.validate(got.record), [], 'the resolved record is valid for the current schema');

  // The current writer keeps working beside the registered old one.
  const now = exampleEvent('CommandCompleted', { resultDigest: 'ab'.repeat(32) });
  assert.deepEqual(toPlain(reader.decode(reader.encode(now))), now);
  assert.deepEqual(reader.encode(now).subarray(2, 10), reader.writerFor('CommandCompleted').fingerprint, 'encode uses the current schema');
});

test('new reader, old writer: non-null defaults and int-to-long promotion', () => {
  const reader = codecWith();
  // SessionEnded before `commands` (default 0) existed.
  const oldEnded = withoutField('SessionEnded', 'commands');
  const { commands: _, ...ended } = exampleEvent('SessionEnded', { commands: 9 });
  const endedBytes = codecWith(oldEnded).encode(ended as unknown as LedgerRecord);
  reader.registerWriterSchema(oldEnded);
  assert.equal((reader.decode(endedBytes) as Extract<LedgerRecord, { type: 'SessionEnded' }>).commands, 0);

  // CommandCompleted whose `rows` was once ["null","int"]; the reader's long takes it.
  const intRows = schemaOf('CommandCompleted');
  intRows.fields.find((f) => f.name === 'rows')!.type = ['null', 'int'];
  const e = exampleEvent('CommandCompleted', { rows: 2_000_000_000 });
  const bytes = codecWith(intRows).encode(e);
  reader.registerWriterSchema(intRows);
  assert.deepEqual(toPlain(reader.decode(bytes)), e);
});

test('old reader, new writer: a field added with a default is ignored by the old reader', () => {
  const oldSchema = withoutField('CommandCompleted', 'resultDigest');
  const oldReader = codecWith(oldSchema);
  const writer = codecWith();
  const e = exampleEvent('CommandCompleted', { resultDigest: 'f'.repeat(64), errorCode: '42P01', errorMessage: 'no such table' });
  const bytes = writer.encode(e);

  assert.equal(
    code(() => oldReader.decode(bytes)),
    'AFF_E_AVRO_UNKNOWN_FINGERPRINT',
  );
  oldReader.registerWriterSchema(schemaOf('CommandCompleted'));
  const got = toPlain(oldReader.decode(bytes)) as Record<string, unknown>;
  const { resultDigest: _, ...expected } = e;
  assert.deepEqual(got, expected, 'every old field read, the new one dropped');
  assert.equal('resultDigest' in got, false);
});

test('old reader, new writer: the current codec reads a future SessionStarted with an extra field', () => {
  const future = withField('SessionStarted', { name: 'clientCertificate', type: ['null', 'string'], default: null });
  const e = { ...exampleEvent('SessionStarted'), clientCertificate: 'CN=alice' };
  const bytes = codecWith(future).encode(e as unknown as LedgerRecord);
  const reader = codecWith();
  reader.registerWriterSchema(future);
  const { clientCertificate: _, ...expected } = e;
  assert.deepEqual(toPlain(reader.decode(bytes)), expected);
});

test('a registered writer the reader cannot resolve gives a typed error, not a crash', () => {
  const reader = codecWith();
  // durationMicros has no default, so bytes without it cannot be read into the current schema.
  const broken = withoutField('CommandCompleted', 'durationMicros');
  const { durationMicros: _, ...e } = exampleEvent('CommandCompleted');
  const bytes = codecWith(broken).encode(e as unknown as LedgerRecord);
  reader.registerWriterSchema(broken);
  assert.equal(
    code(() => reader.decode(bytes)),
    'AFF_E_AVRO_MALFORMED',
  );

  // A writer for a record the reader has no type for.
  const stranger = { ...schemaOf('SessionEnded'), name: 'SessionPaused' };
  const strangerBytes = new EventCodec({ shared, records: [stranger] }).encode({
    ...exampleEvent('SessionEnded'),
    type: 'SessionPaused',
  } as unknown as LedgerRecord);
  reader.registerWriterSchema(stranger);
  assert.equal(
    code(() => reader.decode(strangerBytes)),
    'AFF_E_AVRO_UNKNOWN_FINGERPRINT',
  );
});

test('registered writers are listed, and resolution is reused across decodes', () => {
  const reader = codecWith();
  const before = reader.writerSchemas().length;
  const oldSchema = withoutField('CommandCompleted', 'resultDigest');
  reader.registerWriterSchema(oldSchema);
  assert.equal(reader.writerSchemas().length, before + 1);
  const producer = codecWith(oldSchema);
  for (let i = 0; i < 3; i++) {
    const { resultDigest: _, ...e } = exampleEvent('CommandCompleted', { seq: i });
    assert.equal((reader.decode(producer.encode(e as unknown as LedgerRecord)) as { seq: number }).seq, i);
  }
});

test('DataMasked: a per-value event from before sealedOriginals reads with [] and its originals; an old reader drops the chunks', () => {
  const sealed = { keyId: 'k1', nonce: Buffer.alloc(12, 1), ciphertext: Buffer.alloc(20, 2), aad: '["affidavit.masked-original.v1","s","c4","email",0]' };
  const mask = { column: 'email', row: 0, ruleId: 'r', detector: null, masked: '********' };
  // New reader, old writer: the old schema has no sealedOriginals; each value carries its original.
  const oldSchema = withoutField('DataMasked', 'sealedOriginals');
  const { sealedOriginals: _, ...oldEvent } = exampleEvent('DataMasked', { masks: [{ ...mask, original: sealed }] });
  const oldBytes = codecWith(oldSchema).encode(oldEvent as unknown as LedgerRecord);
  const reader = codecWith();
  reader.registerWriterSchema(oldSchema);
  assert.deepEqual(toPlain(reader.decode(oldBytes)), toPlain({ ...oldEvent, sealedOriginals: [] }));

  // Old reader, new writer: the chunks are ignored, every old field is read.
  const chunk = {
    first: 0,
    count: 1,
    keyId: 'k1',
    nonce: Buffer.alloc(12, 3),
    ciphertext: Buffer.alloc(30, 4),
    aad: '["affidavit.masked-originals.v2","s","c4",0,1,"00"]',
  };
  const e = exampleEvent('DataMasked', { masks: [{ ...mask, original: null }], sealedOriginals: [chunk] });
  const newBytes = codecWith().encode(e);
  const oldReader = codecWith(oldSchema);
  oldReader.registerWriterSchema(schemaOf('DataMasked'));
  const { sealedOriginals: __, ...expected } = e;
  assert.deepEqual(toPlain(oldReader.decode(newBytes)), toPlain(expected));
  // And the current codec round-trips the chunk exactly.
  assert.deepEqual(toPlain(reader.decode(newBytes)), toPlain(e));
});

test('ApprovalDecided from before commandDigest reads with null; an old reader drops the digest', () => {
  const oldSchema = withoutField('ApprovalDecided', 'commandDigest');
  const reader = codecWith();
  const { commandDigest: _, ...old } = exampleEvent('ApprovalDecided', { signature: Buffer.alloc(68, 1) });
  const oldBytes = codecWith(oldSchema).encode(old as unknown as LedgerRecord);
  reader.registerWriterSchema(oldSchema);
  assert.deepEqual(toPlain(reader.decode(oldBytes)), toPlain({ ...old, commandDigest: null }));

  const e = exampleEvent('ApprovalDecided', { commandDigest: 'ab'.repeat(32), signature: Buffer.alloc(68, 2) });
  const oldReader = codecWith(oldSchema);
  oldReader.registerWriterSchema(schemaOf('ApprovalDecided'));
  const { commandDigest: __, ...expected } = e;
  assert.deepEqual(toPlain(oldReader.decode(reader.encode(e))), toPlain(expected));
});

test('ApprovalRefused is unknown to a reader from before it: a typed error, not a crash', () => {
  const before = new EventCodec({ shared, records: current.filter((s) => s.name !== 'ApprovalRefused') });
  const bytes = codecWith().encode(exampleEvent('ApprovalRefused'));
  assert.equal(
    code(() => before.decode(bytes)),
    'AFF_E_AVRO_UNKNOWN_FINGERPRINT',
  );
});
