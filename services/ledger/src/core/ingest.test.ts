import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from '@affidavit/common';
import { codec, encodeEvent, exampleEvent } from '@affidavit/schemas';
import type { InputRejected } from '@affidavit/schemas';
import { admit, parseBatch, rejectedId } from './ingest.ts';
import type { SourceRecord } from './ingest.ts';

const SESSION = 's-1';
const rec = (offset: number, value: Buffer, key = SESSION): SourceRecord => ({ topic: 'events', partition: 3, offset: BigInt(offset), key, value });
const ev = (id: string, over: Record<string, unknown> = {}) => encodeEvent(exampleEvent('CommandIssued', { eventId: id, sessionId: SESSION, ...over }));
const [A, B, C, OK] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];

test('valid events are admitted with their exact bytes and source position', () => {
  const bytes = ev(A);
  const { admitted, duplicates } = admit(parseBatch([rec(7, bytes)], codec()), codec(), new Set(), 0);
  assert.equal(duplicates, 0);
  assert.equal(admitted.length, 1);
  assert.equal(admitted[0].kind, 'event');
  assert.equal(admitted[0].eventId, A);
  assert.ok(admitted[0].bytes.equals(bytes), 'bytes as received, not re-encoded');
  const { topic, partition, offset } = admitted[0].source;
  assert.deepEqual({ topic, partition, offset }, { topic: 'events', partition: 3, offset: 7n });
  assert.equal(admitted[0].appendedAt, 0, 'appendedAt is the admission time');
});

test('duplicates by eventId are dropped, within the batch and against the log', () => {
  const parsed = parseBatch([rec(1, ev(A, { seq: 1 })), rec(2, ev(B, { seq: 2 })), rec(3, ev(A, { seq: 1 })), rec(4, ev(C, { seq: 3 }))], codec());
  const { admitted, duplicates } = admit(parsed, codec(), new Set([C]), 0);
  assert.deepEqual(
    admitted.map((a) => a.eventId),
    [A, B],
  );
  assert.equal(duplicates, 2);
});

test('malformed input becomes an InputRejected entry with the raw hash and reason, never skipped', () => {
  const garbage = Buffer.from('not avro at all');
  const unknownFp = Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.alloc(8, 0xee), Buffer.from([0])]);
  const { admitted } = admit(parseBatch([rec(10, garbage), rec(11, unknownFp), rec(12, ev(OK))], codec()), codec(), new Set(), 1_700_000_000_000);
  assert.deepEqual(
    admitted.map((a) => a.kind),
    ['rejected', 'rejected', 'event'],
  );
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
  const forged = encodeEvent(exampleEvent('InputRejected', { eventId: uuidv7() }));
  const { admitted } = admit(parseBatch([rec(1, forged)], codec()), codec(), new Set(), 0);
  assert.equal(admitted[0].kind, 'rejected');
});

// Every eventId the store would refuse, and every id of the ledger's own namespaces, is input the
// ledger records as InputRejected (code AFF_E_LEDGER_EVENT_ID_INVALID) instead of failing an append.
for (const [name, id] of [
  ['empty', ''],
  ['401 characters', 'x'.repeat(401)],
  ['the ledger’s rejected: namespace', 'rejected:events:3:9'],
  ['the ledger’s anomaly: namespace', 'anomaly:events:3:9'],
  ['an upper-case spelling of a UUID', A.toUpperCase()],
  ['a UUIDv4', '3b241101-e2bb-4255-8caf-4136c566a962'],
  ['a UUID with a newline after it', `${A}\n`],
] as const) {
  test(`an eventId that is ${name} is rejected as input`, () => {
    const { admitted } = admit(parseBatch([rec(4, ev(id))], codec()), codec(), new Set(), 0);
    assert.equal(admitted.length, 1);
    assert.equal(admitted[0].kind, 'rejected');
    assert.equal(admitted[0].eventId, 'rejected:events:3:4', 'the entry id comes from the source position, never from the record');
    assert.equal((codec().decode(admitted[0].bytes) as InputRejected).code, 'AFF_E_LEDGER_EVENT_ID_INVALID');
  });
}

test('an input eventId of the rejected: form cannot make a later malformed record a duplicate', () => {
  const claim = ev(rejectedId({ topic: 'events', partition: 3, offset: 9n }));
  const parsed = parseBatch([rec(1, claim), rec(9, Buffer.from('junk'))], codec());
  const { admitted, duplicates } = admit(parsed, codec(), new Set(), 0);
  assert.equal(duplicates, 0);
  assert.deepEqual(
    admitted.map((a) => a.eventId),
    ['rejected:events:3:1', 'rejected:events:3:9'],
  );
});

test('a record without a key, or keyed by another session, is rejected as input', () => {
  const { admitted } = admit(parseBatch([rec(1, ev(A), ''), rec(2, ev(B), 'another-session'), rec(3, ev(C))], codec()), codec(), new Set(), 0);
  assert.deepEqual(
    admitted.map((a) => a.kind),
    ['rejected', 'rejected', 'event'],
  );
  const [r0, r1] = admitted.map((a) => codec().decode(a.bytes) as InputRejected);
  assert.equal(r0.code, 'AFF_E_LEDGER_KEY_MISMATCH');
  assert.match(r0.reason, /no key/);
  assert.equal(r1.code, 'AFF_E_LEDGER_KEY_MISMATCH');
  assert.match(r1.reason, /another-session/);
});

test('a seq that repeats or goes backwards is appended and flagged by an anomaly entry after it', () => {
  const ids = [uuidv7(), uuidv7(), uuidv7(), uuidv7(), uuidv7()];
  const seqs = [5, 6, 6, 2, 7];
  const parsed = parseBatch(
    seqs.map((seq, i) => rec(20 + i, ev(ids[i], { seq }))),
    codec(),
  );
  const r = admit(parsed, codec(), new Set(), 0, (s) => (s === SESSION ? 4 : undefined));
  assert.deepEqual(
    r.admitted.map((a) => a.eventId),
    [ids[0], ids[1], ids[2], 'anomaly:events:3:22', ids[3], 'anomaly:events:3:23', ids[4]],
  );
  assert.equal(r.anomalies, 2);
  const flag = codec().decode(r.admitted[3].bytes) as InputRejected;
  assert.equal(flag.code, 'AFF_E_LEDGER_SEQ_ANOMALY');
  assert.equal(flag.offset, 22);
  assert.match(flag.reason, /seq 6, repeating/);
  assert.match((codec().decode(r.admitted[5].bytes) as InputRejected).reason, /seq 2, below the highest seq 6/);
  assert.equal(r.admitted[3].raw, undefined, 'a flag sends nothing to the DLQ');
  assert.equal(r.seqs.get(SESSION), 7);
  const again = admit(parseBatch([rec(30, ev(uuidv7(), { seq: 3 }))], codec()), codec(), new Set(), 0, (s) => r.seqs.get(s));
  assert.equal(again.anomalies, 1, 'judged against the highest seq seen earlier');
});
