import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codec, encodeEvent, exampleEvent } from '@affidavit/schemas';
import type { InputRejected } from '@affidavit/schemas';
import { admit, parseBatch } from './ingest.ts';
import type { SourceRecord } from './ingest.ts';

const rec = (offset: number, value: Buffer): SourceRecord => ({ topic: 'events', partition: 3, offset: BigInt(offset), value });
const ev = (id: string) => encodeEvent(exampleEvent('CommandIssued', { eventId: id }));

test('valid events are admitted with their exact bytes and source position', () => {
  const bytes = ev('e1');
  const { admitted, duplicates } = admit(parseBatch([rec(7, bytes)], codec()), codec(), new Set(), 0);
  assert.equal(duplicates, 0);
  assert.equal(admitted.length, 1);
  assert.equal(admitted[0].kind, 'event');
  assert.equal(admitted[0].eventId, 'e1');
  assert.ok(admitted[0].bytes.equals(bytes), 'bytes as received, not re-encoded');
  const { topic, partition, offset } = admitted[0].source;
  assert.deepEqual({ topic, partition, offset }, { topic: 'events', partition: 3, offset: 7n });
  assert.equal(admitted[0].appendedAt, 0, 'appendedAt is the admission time');
});

test('duplicates by eventId are dropped, within the batch and against the log', () => {
  const parsed = parseBatch([rec(1, ev('a')), rec(2, ev('b')), rec(3, ev('a')), rec(4, ev('c'))], codec());
  const { admitted, duplicates } = admit(parsed, codec(), new Set(['c']), 0);
  assert.deepEqual(admitted.map((a) => a.eventId), ['a', 'b']);
  assert.equal(duplicates, 2);
});

test('malformed input becomes an InputRejected entry with the raw hash and reason, never skipped', () => {
  const garbage = Buffer.from('not avro at all');
  const unknownFp = Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.alloc(8, 0xee), Buffer.from([0])]);
  const { admitted } = admit(parseBatch([rec(10, garbage), rec(11, unknownFp), rec(12, ev('ok'))], codec()), codec(), new Set(), 1_700_000_000_000);
  assert.deepEqual(admitted.map((a) => a.kind), ['rejected', 'rejected', 'event']);
  const r0 = codec().decode(admitted[0].bytes) as InputRejected;
  assert.equal(r0.type, 'InputRejected');
  assert.equal(r0.code, 'AFF_E_AVRO_BAD_MAGIC');
  assert.equal(r0.rawSize, garbage.length);
  assert.equal(r0.offset, 10);
  assert.match(r0.rawSha256, /^[0-9a-f]{64}$/);
  assert.ok(admitted[0].raw!.equals(garbage), 'raw bytes kept for the dead-letter topic');
  assert.equal((codec().decode(admitted[1].bytes) as InputRejected).code, 'AFF_E_AVRO_UNKNOWN_FINGERPRINT');
});

test('a replayed malformed record at the same offset is a duplicate', () => {
  const garbage = Buffer.from([1, 2, 3]);
  const first = admit(parseBatch([rec(5, garbage)], codec()), codec(), new Set(), 0);
  const again = admit(parseBatch([rec(5, garbage)], codec()), codec(), new Set([first.admitted[0].eventId]), 0);
  assert.equal(again.admitted.length, 0);
  assert.equal(again.duplicates, 1);
});

test('a feeder cannot forge the ledger’s own InputRejected kind', () => {
  const forged = encodeEvent(exampleEvent('InputRejected', { eventId: 'forged' }));
  const { admitted } = admit(parseBatch([rec(1, forged)], codec()), codec(), new Set(), 0);
  assert.equal(admitted[0].kind, 'rejected');
});
