import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isAffidavitError } from '@affidavit/common';
import { EXAMPLE_ACTOR, decodeEvent, encodeEvent, exampleEvent, type DataMasked } from '@affidavit/schemas';
import { PG_OID, compileMaskRules, dataMaskedEvent, maskRow, maskedValueOpenedEvent, revealMaskedValue, sealMaskedCells, staticKeyProvider, NULL_TEXT } from './index.ts';

const key = { keyId: 'k1', key: Buffer.alloc(32, 4) };
const keys = staticKeyProvider([key]);
const clock = { now: () => 1_700_000_000_123 };
const base = exampleEvent('DataMasked');
const envelope = { eventId: base.eventId, occurredAt: base.occurredAt, sessionId: base.sessionId, seq: 4, actor: base.actor, source: base.source, target: base.target, feeder: base.feeder };
const opener = { ...EXAMPLE_ACTOR, subject: 'auditor-1', groups: ['auditors'] };

function maskedEvent(): DataMasked {
  const rules = compileMaskRules([{ id: 'e', columns: ['email'], style: 'email' }, { id: 'd', columns: ['born'] }]);
  const cols = [{ name: 'email', typeOid: PG_OID.text }, { name: 'born', typeOid: PG_OID.date }];
  const values = [
    ['carol@example.com', '1980-04-01'],
    ['bob@example.org', null],
  ].flatMap((row, i) => sealMaskedCells(maskRow(row, cols, rules).masked, { sessionId: envelope.sessionId, commandId: 'c9', row: i }, key));
  return dataMaskedEvent(envelope, 'c9', values);
}

describe('dataMaskedEvent', () => {
  test('builds a DataMasked event that the Avro codec accepts, with no clear original inside', () => {
    const ev = maskedEvent();
    assert.equal(ev.count, 3);
    assert.equal(ev.truncated, false);
    assert.deepEqual(ev.masks.map((m) => [m.column, m.row, m.masked]), [['email', 0, 'c***@example.com'], ['born', 0, NULL_TEXT], ['email', 1, 'b***@example.org']]);
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

describe('revealMaskedValue', () => {
  test('opens a value of a decoded event and returns the audit record; the MaskedValueOpened event encodes', async () => {
    const ev = decodeEvent(encodeEvent(maskedEvent())) as DataMasked;
    const r = await revealMaskedValue({ event: ev, index: 2, opener, reason: ' incident 7 ', keys, clock });
    assert.equal(r.value, 'bob@example.org');
    assert.deepEqual(
      { ...r.audit, opener: r.audit.opener.subject },
      { maskedEventId: ev.eventId, index: 2, sessionId: ev.sessionId, commandId: 'c9', column: 'email', row: 1, ruleId: 'e', keyId: 'k1', reason: 'incident 7', opener: 'auditor-1', openedAt: 1_700_000_000_123 },
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
    await assert.rejects(revealMaskedValue({ event: swapped, index: 2, opener, reason: 'r', keys, clock }), (e) => isAffidavitError(e, 'AFF_E_MASK_CONTEXT_MISMATCH'));
  });
  test('a key holder without the key gets AFF_E_MASK_KEY_UNKNOWN', async () => {
    const other = staticKeyProvider([{ keyId: 'k2', key: Buffer.alloc(32, 8) }]);
    await assert.rejects(revealMaskedValue({ event: maskedEvent(), index: 0, opener, reason: 'r', keys: other, clock }), (e) => isAffidavitError(e, 'AFF_E_MASK_KEY_UNKNOWN'));
  });
});
