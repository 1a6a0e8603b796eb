import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isAffidavitError } from '@affidavit/common';
import { aadFor, createSealer, openOriginal, sealMaskedCells, sealOriginal, staticKeyProvider, NONCE_BYTES, TAG_BYTES, type SealContext } from './index.ts';

const k1 = { keyId: 'k1', key: Buffer.alloc(32, 1) };
const k2 = { keyId: 'k2', key: Buffer.alloc(32, 2) };
const keys = staticKeyProvider([k1, k2], 'k2');
const ctx: SealContext = { sessionId: 's-1', commandId: 'c-1', column: 'email', row: 3 };

describe('sealOriginal / openOriginal', () => {
  test('round trip; nonce is 96 bits; ciphertext carries the 16-byte tag; aad describes the context', async () => {
    const rec = sealOriginal('alice@example.com', ctx, await keys.current());
    assert.equal(rec.keyId, 'k2');
    assert.equal(rec.nonce.length, NONCE_BYTES);
    assert.equal(rec.ciphertext.length, Buffer.byteLength('alice@example.com') + TAG_BYTES);
    assert.equal(rec.aad, aadFor(ctx));
    assert.ok(!rec.ciphertext.includes(Buffer.from('alice')));
    assert.equal(await openOriginal(rec, keys, ctx), 'alice@example.com');
  });
  test('a value sealed with an older key still opens', async () => {
    const rec = sealOriginal('x', ctx, k1);
    assert.equal(await openOriginal(rec, keys, ctx), 'x');
  });
  test('two seals of one value differ (fresh nonce each time)', () => {
    const a = sealOriginal('same', ctx, k1);
    const b = sealOriginal('same', ctx, k1);
    assert.notDeepEqual(a.nonce, b.nonce);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
  });
  test('another context fails with AFF_E_MASK_CONTEXT_MISMATCH', async () => {
    const rec = sealOriginal('v', ctx, k1);
    for (const other of [{ ...ctx, row: 4 }, { ...ctx, column: 'name' }, { ...ctx, commandId: 'c-2' }, { ...ctx, sessionId: 's-2' }]) {
      await assert.rejects(openOriginal(rec, keys, other), (e) => isAffidavitError(e, 'AFF_E_MASK_CONTEXT_MISMATCH'));
    }
  });
  test('a rewritten aad (record moved to another slot) fails authentication', async () => {
    const rec = sealOriginal('v', ctx, k1);
    const moved = { ...ctx, row: 9 };
    await assert.rejects(openOriginal({ ...rec, aad: aadFor(moved) }, keys, moved), (e) => isAffidavitError(e, 'AFF_E_MASK_TAMPERED'));
  });
  test('an unknown key id fails with AFF_E_MASK_KEY_UNKNOWN', async () => {
    const rec = sealOriginal('v', ctx, { keyId: 'k9', key: Buffer.alloc(32, 9) });
    await assert.rejects(openOriginal(rec, keys, ctx), (e) => isAffidavitError(e, 'AFF_E_MASK_KEY_UNKNOWN'));
  });
  test('a wrong key under a known id, a bad nonce or a cut tag fail with AFF_E_MASK_TAMPERED', async () => {
    const rec = sealOriginal('v', ctx, { keyId: 'k1', key: Buffer.alloc(32, 5) });
    await assert.rejects(openOriginal(rec, keys, ctx), (e) => isAffidavitError(e, 'AFF_E_MASK_TAMPERED'));
    const good = sealOriginal('v', ctx, k1);
    await assert.rejects(openOriginal({ ...good, nonce: good.nonce.subarray(1) }, keys, ctx), (e) => isAffidavitError(e, 'AFF_E_MASK_TAMPERED'));
    await assert.rejects(openOriginal({ ...good, ciphertext: good.ciphertext.subarray(0, 10) }, keys, ctx), (e) => isAffidavitError(e, 'AFF_E_MASK_TAMPERED'));
  });
  test('keys must be 32 bytes with a sane id', () => {
    assert.throws(() => sealOriginal('v', ctx, { keyId: 'k', key: Buffer.alloc(16) }), (e) => isAffidavitError(e, 'AFF_E_MASK_KEY_INVALID'));
    assert.throws(() => staticKeyProvider([{ keyId: 'a b', key: Buffer.alloc(32) }]), (e) => isAffidavitError(e, 'AFF_E_MASK_KEY_INVALID'));
    assert.throws(() => staticKeyProvider([k1, k1]), /twice/);
    assert.throws(() => staticKeyProvider([k1], 'k7'), /not among/);
  });
  test('aadFor cannot be confused by separators inside fields', () => {
    assert.notEqual(aadFor({ sessionId: 'a","b', commandId: 'c', column: 'd', row: 1 }), aadFor({ sessionId: 'a', commandId: 'b","c', column: 'd', row: 1 }));
  });
});

describe('createSealer', () => {
  test('seals that open with openOriginal, each bound to its own context', async () => {
    const sealer = createSealer(k2);
    assert.equal(sealer.keyId, 'k2');
    const recs = Array.from({ length: 5 }, (_, row) => sealer.seal(`value ${row}`, { ...ctx, row }));
    for (let row = 0; row < 5; row++) assert.equal(await openOriginal(recs[row], keys, { ...ctx, row }), `value ${row}`);
    await assert.rejects(openOriginal(recs[1], keys, { ...ctx, row: 2 }), (e) => isAffidavitError(e, 'AFF_E_MASK_CONTEXT_MISMATCH'));
  });
  test('every seal gets its own nonce, across the CSPRNG draws, and records never share nonce memory', () => {
    const sealer = createSealer(k1);
    const recs = Array.from({ length: 300 }, (_, row) => sealer.seal('same', { ...ctx, row }));
    assert.equal(new Set(recs.map((r) => Buffer.from(r.nonce).toString('hex'))).size, 300);
    const before = Buffer.from(recs[1].nonce);
    recs[0].nonce.fill(0);
    assert.deepEqual(Buffer.from(recs[1].nonce), before);
  });
  test('checks the key once, up front', () => {
    assert.throws(() => createSealer({ keyId: 'k', key: Buffer.alloc(31) }), (e) => isAffidavitError(e, 'AFF_E_MASK_KEY_INVALID'));
  });
  test('sealMaskedCells takes a Sealer or a key and binds each cell to its column and row', async () => {
    const cells = [{ column: 1, columnName: 'email', ruleId: 'r', detector: null, original: 'ada@example.com', masked: '********' }];
    for (const by of [createSealer(k2), k2]) {
      const [mv] = sealMaskedCells(cells, { sessionId: 's-1', commandId: 'c-1', row: 7 }, by);
      assert.equal(mv.row, 7);
      assert.equal(mv.masked, '********');
      assert.ok(mv.original);
      assert.equal(await openOriginal(mv.original, keys, { sessionId: 's-1', commandId: 'c-1', column: 'email', row: 7 }), 'ada@example.com');
    }
  });
});
