// The reveal service: the opening is on the record (published and acknowledged) before the value
// is returned; when publishing fails, no value leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXAMPLE_ACTOR, exampleEvent } from '@affidavit/schemas';
import type { DataMasked, MaskedValueOpened } from '@affidavit/schemas';
import { PG_OID, compileMaskRules, createChunkSealer, createMaskedValueCollector, dataMaskedEvent, maskRow, staticKeyProvider } from './index.ts';
import { maskedValueRevealService } from './reveal-service.ts';

const key = { keyId: 'k1', key: Buffer.alloc(32, 4) };
const keys = staticKeyProvider([key]);
const fixedClock = (ms: number) => ({ now: () => ms });

/** sealedDataMaskedEvent masks one e-mail the way the proxy does, its original sealed in a chunk. */
async function sealedDataMaskedEvent(): Promise<{ event: DataMasked; keys: typeof keys; originals: string[] }> {
  const base = exampleEvent('DataMasked');
  const rules = compileMaskRules([{ id: 'e', columns: ['email'], style: 'email' }]);
  const kept = createMaskedValueCollector({ sealer: createChunkSealer(key), chunkSize: 2 });
  kept.add(maskRow(['carol@example.com'], [{ name: 'email', typeOid: PG_OID.text }], rules).masked, { sessionId: base.sessionId, commandId: 'c9', row: 0 });
  kept.flush();
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
  return { event: dataMaskedEvent(envelope, 'c9', kept.masks, { sealedOriginals: kept.sealedOriginals }), keys, originals: ['carol@example.com'] };
}

test('the value is returned only after its MaskedValueOpened is published', async () => {
  const { event, originals } = await sealedDataMaskedEvent();
  const order: string[] = [];
  const published: MaskedValueOpened[] = [];
  const service = maskedValueRevealService({
    keys,
    publish: async (e) => {
      order.push('published');
      published.push(e);
    },
    newId: () => 'opened-1',
    clock: fixedClock(1_770_000_000_000),
    feeder: { id: 'test', version: '0' },
    source: { address: '127.0.0.1', port: 9480, application: 'affidavit-api' },
  });
  const r = await service.reveal({ event, index: 0, reason: 'incident 7', opener: { ...EXAMPLE_ACTOR, subject: 'bob' } });
  order.push('returned');
  assert.ok(!('error' in r), JSON.stringify(r));
  assert.equal(r.value, originals[0]);
  assert.equal(r.recordedAs, 'opened-1');
  assert.deepEqual(order, ['published', 'returned']);
  assert.deepEqual(
    [published[0].maskedEventId, published[0].index, published[0].reason, published[0].actor?.subject, published[0].target],
    [event.eventId, 0, 'incident 7', 'bob', event.target],
  );
});

test('a refusal (index out of range) is a typed error; a failed publish returns no value', async () => {
  const { event } = await sealedDataMaskedEvent();
  const base = {
    keys,
    newId: () => 'x',
    clock: fixedClock(1_770_000_000_000),
    feeder: { id: 'test', version: '0' },
    source: { address: '127.0.0.1', port: null, application: 'test' },
  };
  const ok = maskedValueRevealService({ ...base, publish: async () => {} });
  const out = await ok.reveal({ event, index: 999, reason: 'x', opener: EXAMPLE_ACTOR });
  assert.equal('error' in out && out.error.code, 'AFF_E_MASK_REVEAL_INVALID');
  const broken = maskedValueRevealService({
    ...base,
    publish: async () => {
      throw new Error('ledger unreachable');
    },
  });
  await assert.rejects(broken.reveal({ event, index: 0, reason: 'x', opener: EXAMPLE_ACTOR }), /ledger unreachable/);
});
