// e2e: events published through the bus's Kafka adapter are read back by a different
// client (kcat, librdkafka) and decoded by fingerprint alone, as a SIEM or a consumer in
// another language would: no schema registry, no kafkajs on the reading side.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createKafkaBus, partitionForKey, type Bus } from '@affidavit/bus';
import { codec, decodeEvent, encodeEvent, exampleEvent, SINGLE_OBJECT_MARKER, type LedgerRecord, type SessionEvent } from '@affidavit/schemas';
import { ensureKafka, uniqueTopic } from '../services/kafka.ts';
import { findKcat, kcatConsume } from '../services/kcat.ts';

let bus: Bus;
let bootstrap: string;

before(async () => {
  assert.ok(findKcat(), 'kcat must be installed (Debian package kcat)');
  ({ bootstrap } = await ensureKafka());
  bus = createKafkaBus({ brokers: [bootstrap] });
});
after(async () => {
  await bus?.close();
});

const SESSION_TYPES = [
  'SessionStarted',
  'CommandIssued',
  'CommandCompleted',
  'CommandBlocked',
  'ApprovalRequested',
  'ApprovalDecided',
  'ApprovalRefused',
  'DataMasked',
  'ResultCaptured',
  'TerminalOutput',
  'MaskedValueOpened',
  'SessionEnded',
] as const satisfies readonly SessionEvent['type'][];

function sessionId(n: number): string {
  return `01890a5d-ac96-774b-bcce-${n.toString(16).padStart(12, '0')}`;
}

test('kcat reads back every event the Kafka adapter published, byte for byte, decodable by fingerprint', async () => {
  const topic = uniqueTopic('e2e-kcat');
  const partitions = 3;
  await bus.ensureTopic(topic, partitions);

  // Three sessions, each running through every session event type in seq order. The
  // terminal output carries newlines, NUL and 0xFF so a non-binary-safe reader would fail.
  const events: SessionEvent[] = [];
  for (let s = 0; s < 3; s++) {
    SESSION_TYPES.forEach((type, seq) => {
      const overrides: Record<string, unknown> = {
        sessionId: sessionId(s + 1),
        seq,
        eventId: `01890a5d-ac96-7${s}${seq.toString(16).padStart(2, '0')}-bcce-b302099a8057`,
      };
      if (type === 'TerminalOutput') overrides.data = Buffer.from([0x0a, 0x00, 0xff, 0x20, 0x0a, 0x0d, s]);
      events.push(exampleEvent(type, overrides as never));
    });
  }
  const encoded = events.map((e) => ({ key: e.sessionId, value: encodeEvent(e) }));
  // Publish in two calls to show order holds across calls too.
  await bus.publish(topic, encoded.slice(0, 17));
  await bus.publish(topic, encoded.slice(17));

  const read = await kcatConsume({ bootstrap, topic, count: events.length, timeoutMs: 30_000 });
  assert.equal(read.length, events.length);

  const decoded = new Map<string, { record: LedgerRecord; partition: number; offset: bigint }>();
  const sent = new Set(encoded.map((e) => e.value.toString('hex')));
  for (const r of read) {
    assert.ok(r.value && r.key, 'key and value present');
    assert.ok(sent.has(r.value.toString('hex')), 'kcat saw exactly the bytes that were published');
    assert.deepEqual(r.value.subarray(0, 2), SINGLE_OBJECT_MARKER, 'single-object marker C3 01');
    // The writer schema is found from the 8-byte fingerprint alone.
    const writer = codec().writerOf(r.value);
    assert.deepEqual(r.value.subarray(2, 10), writer.fingerprint);
    const record = decodeEvent(r.value);
    assert.equal(writer.name.endsWith(record.type), true, `${writer.name} wrote a ${record.type}`);
    assert.equal(r.key.toString('utf8'), (record as SessionEvent).sessionId, 'key = sessionId');
    assert.equal(r.partition, partitionForKey(r.key.toString('utf8'), partitions), 'Kafka default partitioner');
    decoded.set(record.eventId, { record, partition: r.partition, offset: r.offset });
  }

  for (const e of events) {
    const got = decoded.get(e.eventId);
    assert.ok(got, `event ${e.eventId} (${e.type}) read back`);
    // avsc decodes into record classes (Source, Target…): compare as plain data.
    assert.deepEqual(structuredClone(got.record), structuredClone(e), `${e.type} round trip`);
  }
  // Per-session order: offsets within a session's partition follow seq.
  for (let s = 1; s <= 3; s++) {
    const mine = [...decoded.values()].filter((d) => (d.record as SessionEvent).sessionId === sessionId(s));
    const bySeq = [...mine].sort((a, b) => (a.record as SessionEvent).seq - (b.record as SessionEvent).seq);
    const byOffset = [...mine].sort((a, b) => (a.offset < b.offset ? -1 : 1));
    assert.deepEqual(
      byOffset.map((d) => d.record.eventId),
      bySeq.map((d) => d.record.eventId),
      `session ${s} order`,
    );
  }
});
