export * from './generated/events.ts';
export {
  EventCodec,
  codec,
  createDefaultCodec,
  decodeEvent,
  encodeEvent,
  fingerprintOf,
  parseSchemas,
  SINGLE_OBJECT_MARKER,
  HEADER_SIZE,
  DEFAULT_MAX_EVENT_BYTES,
} from './codec.ts';
export type { WriterSchema, DecodedRecord } from './codec.ts';
export { crc64Avro } from './crc64-avro.ts';
export { loadSchemaFiles, AVRO_DIR } from './schema-files.ts';
export type { SchemaFile, AvroRecordSchema } from './schema-files.ts';
export { exampleEvent, EXAMPLE_ACTOR } from './examples.ts';
export {
  AvroBadMagicError,
  AvroUnknownFingerprintError,
  AvroTruncatedError,
  AvroMalformedError,
  AvroTooLargeError,
  EventInvalidError,
  EventUnknownTypeError,
} from './errors.ts';
export { TOPICS } from './topics.ts';
