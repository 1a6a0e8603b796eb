import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isAffidavitError } from '@affidavit/common';
import { EXAMPLE_ACTOR, decodeEvent, encodeEvent, exampleEvent, type DataMasked } from '@affidavit/schemas';
import {
  PG_OID,
  compileMaskRules,
  createChunkSealer,
  createMaskedValueCollector,
  dataMaskedEvent,
  maskRow,
  maskedValueOpenedEvent,
  revealMaskedValue,
  sealMaskedCells,
  staticKeyProvider,
  NULL_TEXT,
} from './index.ts';

const key = { keyId: 'k1', key: Buffer.alloc(32, 4) };
const keys = staticKeyProvider([key]);
const clock = { now: () => 1_700_000_000_123 };
const base = exampleEvent('DataMasked');
const envelope = {
  eventId: base.eventId,
  occurredAt: base.occurredAt,
  sessionId: base.sessionId,
  seq: 4,
  actor: base.actor,
  source: base.source,
  target: base.target,
  feeder: base.feeder,
};
const opener = { ...EXAMPLE_ACTOR, subject: 'auditor-1', groups: ['auditors'] };

function maskedEvent(): DataMasked {
  const rules = compileMaskRules([
    { id: 'e', columns: ['email'], style: 'email' },
    { id: 'd', columns: ['born'] },
  ]);
  const cols = [
    { name: 'email', typeOid: PG_OID.text },
    { name: 'born', typeOid: PG_OID.date },
  ];
  const values = [
    ['carol@example.com', '1980-04-01'],
    ['bob@example.org', null],
  ].flatMap((row, i) => sealMaskedCells(maskRow(row, cols, rules).masked, { sessionId: envelope.sessionId, commandId: 'c9', row: i }, key));
  return dataMaskedEvent(envelope, 'c9', values);
}

/** chunkedEvent is maskedEvent's rows written the current way: originals sealed in chunks of 2. */
function chunkedEvent(
  commandId = 'c9',
  rows: (string | null)[][] = [
    ['carol@example.com', '1980-04-01'],
    ['bob@example.org', null],
    ['dan@example.net', '1999-12-31'],
  ],
): DataMasked {
  const rules = compileMaskRules([
    { id: 'e', columns: ['email'], style: 'email' },
    { id: 'd', columns: ['born'] },
  ]);
  const cols = [
    { name: 'email', typeOid: PG_OID.text },
    { name: 'born', typeOid: PG_OID.date },
  ];
  const kept = createMaskedValueCollector({ sealer: createChunkSealer(key), chunkSize: 2 });
  rows.forEach((row, i) => kept.add(maskRow(row, cols, rules).masked, { sessionId: envelope.sessionId, commandId, row: i }));
  kept.flush();
  return dataMaskedEvent(envelope, commandId, kept.masks, { sealedOriginals: kept.sealedOriginals });
}

describe('dataMaskedEvent', () => {
  test('builds a DataMasked event that the Avro codec accepts, with no clear original inside', () => {
    const ev = maskedEvent();
    assert.equal(ev.count, 3);
    assert.equal(ev.truncated, false);
    assert.deepEqual(
      ev.masks.map((m) => [m.column, m.row, m.masked]),
      [
        ['email', 0, 'c***@example.com'],
        ['born', 0, NULL_TEXT],
        ['email', 1, 'b***@example.org'],
      ],
    );
    const bytes = encodeEvent(ev);
    assert.ok(!bytes.includes(Buffer.from('carol@')) && !bytes.includes(Buffer.from('1980-04-01')));
    assert.deepEqual((decodeEvent(bytes) as DataMasked).masks[0].original?.ciphertext, ev.masks[0].original?.ciphertext);
  });
  test('caps the values carried and says so', () => {
    const ev = maskedEvent();
    const capped = dataMaskedEvent(envelope, 'c9', ev.masks, { maxValues: 1, count: 10 });
    assert.equal(capped.masks.length, 1);
    assert.equal(capped.count, 10);
    assert.equal(capped.truncated, true);
  });
});

describe('dataMaskedEvent with sealedOriginals', () => {
  test('carries the chunks; the codec round-trips them and no clear original is in the bytes', () => {
    const ev = chunkedEvent();
    assert.equal(ev.count, 5);
    assert.ok(ev.masks.every((m) => m.original === null));
    assert.deepEqual(
      ev.sealedOriginals.map((c) => [c.first, c.count, c.keyId]),
      [
        [0, 2, 'k1'],
        [2, 2, 'k1'],
        [4, 1, 'k1'],
      ],
    );
    const bytes = encodeEvent(ev);
    for (const clear of ['carol@', 'bob@example', 'dan@', '1980-04-01', '1999-12-31']) assert.ok(!bytes.includes(Buffer.from(clear)), clear);
    const back = decodeEvent(bytes) as DataMasked;
    assert.deepEqual(
      back.sealedOriginals.map((c) => Buffer.from(c.ciphertext)),
      ev.sealedOriginals.map((c) => Buffer.from(c.ciphertext)),
    );
  });
  test('a cap drops the chunks that reach past the carried values', () => {
    const ev = chunkedEvent();
    const capped = dataMaskedEvent(envelope, 'c9', ev.masks, { maxValues: 3, sealedOriginals: ev.sealedOriginals });
    assert.deepEqual(
      capped.sealedOriginals.map((c) => [c.first, c.count]),
      [[0, 2]],
    );
    assert.equal(capped.truncated, true);
  });
});

describe('revealMaskedValue', () => {
  test('opens every value of a chunked event, after an Avro round trip, with the same audit', async () => {
    const ev = decodeEvent(encodeEvent(chunkedEvent())) as DataMasked;
    const want = ['carol@example.com', '1980-04-01', 'bob@example.org', 'dan@example.net', '1999-12-31'];
    for (let i = 0; i < want.length; i++) assert.equal((await revealMaskedValue({ event: ev, index: i, opener, reason: 'r', keys, clock })).value, want[i]);
    const r = await revealMaskedValue({ event: ev, index: 3, opener, reason: ' INC-9 ', keys, clock });
    assert.deepEqual(
      { ...r.audit, opener: r.audit.opener.subject },
      {
        maskedEventId: ev.eventId,
        index: 3,
        sessionId: ev.sessionId,
        commandId: 'c9',
        column: 'email',
        row: 2,
        ruleId: 'e',
        keyId: 'k1',
        reason: 'INC-9',
        opener: 'auditor-1',
        openedAt: 1_700_000_000_123,
      },
    );
  });
  test("a chunk moved into another command's event, or to another place, does not open", async () => {
    const a = chunkedEvent('c9');
    const b = chunkedEvent('c10');
    const swapped = { ...a, sealedOriginals: b.sealedOriginals };
    await assert.rejects(revealMaskedValue({ event: swapped, index: 0, opener, reason: 'r', keys, clock }), (e) =>
      isAffidavitError(e, 'AFF_E_MASK_CONTEXT_MISMATCH'),
    );
    const shifted = { ...a, sealedOriginals: [{ ...a.sealedOriginals[1], first: 0 }] };
    await assert.rejects(revealMaskedValue({ event: shifted, index: 0, opener, reason: 'r', keys, clock }), (e) =>
      isAffidavitError(e, 'AFF_E_MASK_CONTEXT_MISMATCH'),
    );
    const reordered = { ...a, masks: [a.masks[1], a.masks[0], ...a.masks.slice(2)] };
    await assert.rejects(revealMaskedValue({ event: reordered, index: 0, opener, reason: 'r', keys, clock }), (e) =>
      isAffidavitError(e, 'AFF_E_MASK_CONTEXT_MISMATCH'),
    );
    const flipped = structuredClone(a);
    flipped.sealedOriginals[2].ciphertext[0] ^= 0x80;
    await assert.rejects(revealMaskedValue({ event: flipped, index: 4, opener, reason: 'r', keys, clock }), (e) => isAffidavitError(e, 'AFF_E_MASK_TAMPERED'));
    assert.equal(
      (await revealMaskedValue({ event: flipped, index: 0, opener, reason: 'r', keys, clock })).value,
      'carol@example.com',
      'other chunks still open',
    );
  });
  test('a value no chunk covers, or a chunk reaching past the masks, is refused', async () => {
    const ev = chunkedEvent();
    const uncovered = { ...ev, sealedOriginals: ev.sealedOriginals.slice(0, 2) };
    await assert.rejects(revealMaskedValue({ event: uncovered, index: 4, opener, reason: 'r', keys, clock }), (e) =>
      isAffidavitError(e, 'AFF_E_MASK_REVEAL_INVALID'),
    );
    const past = { ...ev, sealedOriginals: [...ev.sealedOriginals.slice(0, 2), { ...ev.sealedOriginals[2], count: 2 }] };
    await assert.rejects(revealMaskedValue({ event: past, index: 4, opener, reason: 'r', keys, clock }), (e) =>
      isAffidavitError(e, 'AFF_E_MASK_SEALED_MALFORMED'),
    );
  });
  test('an event without the sealedOriginals field (built by older code) still reveals its per-value originals', async () => {
    const { sealedOriginals: _, ...old } = maskedEvent();
    assert.equal((await revealMaskedValue({ event: old as DataMasked, index: 2, opener, reason: 'r', keys, clock })).value, 'bob@example.org');
  });

  test('opens a value of a decoded event and returns the audit record; the MaskedValueOpened event encodes', async () => {
    const ev = decodeEvent(encodeEvent(maskedEvent())) as DataMasked;
    const r = await revealMaskedValue({ event: ev, index: 2, opener, reason: ' incident 7 ', keys, clock });
    assert.equal(r.value, 'bob@example.org');
    assert.deepEqual(
      { ...r.audit, opener: r.audit.opener.subject },
      {
        maskedEventId: ev.eventId,
        index: 2,
        sessionId: ev.sessionId,
        commandId: 'c9',
        column: 'email',
        row: 1,
        ruleId: 'e',
        keyId: 'k1',
        reason: 'incident 7',
        opener: 'auditor-1',
        openedAt: 1_700_000_000_123,
      },
    );
    const opened = maskedValueOpenedEvent(r.audit, { ...envelope, eventId: '01890a5d-ac96-774b-bcce-b302099a8099', seq: 0 });
    assert.equal(opened.occurredAt, 1_700_000_000_123_000);
    assert.equal(opened.actor?.subject, 'auditor-1');
    assert.deepEqual(JSON.parse(JSON.stringify(decodeEvent(encodeEvent(opened)))), JSON.parse(JSON.stringify(opened)));
  });
  test('refuses a missing reason, a bad index, an anonymous opener', async () => {
    const ev = maskedEvent();
    const bad = (e: unknown) => isAffidavitError(e, 'AFF_E_MASK_REVEAL_INVALID');
    await assert.rejects(revealMaskedValue({ event: ev, index: 0, opener, reason: '  ', keys, clock }), bad);
    await assert.rejects(revealMaskedValue({ event: ev, index: 3, opener, reason: 'r', keys, clock }), bad);
    await assert.rejects(revealMaskedValue({ event: ev, index: 0, opener: { ...opener, subject: '' }, reason: 'r', keys, clock }), bad);
    const noOriginal = { ...ev, masks: [{ ...ev.masks[0], original: null }] };
    await assert.rejects(revealMaskedValue({ event: noOriginal, index: 0, opener, reason: 'r', keys, clock }), bad);
  });
  test('a ciphertext moved to another slot does not open', async () => {
    const ev = maskedEvent();
    const swapped = { ...ev, masks: [ev.masks[0], ev.masks[1], { ...ev.masks[2], original: ev.masks[0].original }] };
    await assert.rejects(revealMaskedValue({ event: swapped, index: 2, opener, reason: 'r', keys, clock }), (e) =>
      isAffidavitError(e, 'AFF_E_MASK_CONTEXT_MISMATCH'),
    );
  });
  test('a key holder without the key gets AFF_E_MASK_KEY_UNKNOWN', async () => {
    const other = staticKeyProvider([{ keyId: 'k2', key: Buffer.alloc(32, 8) }]);
    await assert.rejects(revealMaskedValue({ event: maskedEvent(), index: 0, opener, reason: 'r', keys: other, clock }), (e) =>
      isAffidavitError(e, 'AFF_E_MASK_KEY_UNKNOWN'),
    );
  });
});
