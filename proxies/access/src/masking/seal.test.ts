import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { isAffidavitError } from '@affidavit/common';
import {
  aadFor,
  chunkAadFor,
  createChunkSealer,
  createSealer,
  openOriginal,
  openSealedOriginals,
  sealMaskedCells,
  sealOriginal,
  staticKeyProvider,
  CHUNK_AAD_VERSION,
  MAX_CHUNK_VALUES,
  NONCE_BYTES,
  TAG_BYTES,
  type ChunkContext,
  type SealContext,
} from './index.ts';
import type { SealedOriginals } from '@affidavit/schemas';

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
    for (const other of [
      { ...ctx, row: 4 },
      { ...ctx, column: 'name' },
      { ...ctx, commandId: 'c-2' },
      { ...ctx, sessionId: 's-2' },
    ]) {
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
    assert.throws(
      () => sealOriginal('v', ctx, { keyId: 'k', key: Buffer.alloc(16) }),
      (e) => isAffidavitError(e, 'AFF_E_MASK_KEY_INVALID'),
    );
    assert.throws(
      () => staticKeyProvider([{ keyId: 'a b', key: Buffer.alloc(32) }]),
      (e) => isAffidavitError(e, 'AFF_E_MASK_KEY_INVALID'),
    );
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
    assert.throws(
      () => createSealer({ keyId: 'k', key: Buffer.alloc(31) }),
      (e) => isAffidavitError(e, 'AFF_E_MASK_KEY_INVALID'),
    );
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

describe('createChunkSealer / openSealedOriginals', () => {
  const originals = ['alice@example.com', '', 'zoë ✓ 𝄞', '4111111111111111'];
  const chunkCtx: ChunkContext = {
    sessionId: 's-1',
    commandId: 'c-1',
    first: 4,
    positions: [
      { column: 'email', row: 2 },
      { column: 'card', row: 2 },
      { column: 'email', row: 3 },
      { column: 'card', row: 3 },
    ],
  };
  const tampered = (e: unknown) => isAffidavitError(e, 'AFF_E_MASK_TAMPERED');
  const mismatch = (e: unknown) => isAffidavitError(e, 'AFF_E_MASK_CONTEXT_MISMATCH');
  const flip = (b: Buffer, at: number) => {
    const c = Buffer.from(b);
    c[at] ^= 0x01;
    return c;
  };

  test('round trip: one record for the chunk, 96-bit nonce, tag appended, no clear text inside', async () => {
    const rec = createChunkSealer(k2).seal(originals, chunkCtx);
    assert.deepEqual([rec.first, rec.count, rec.keyId], [4, 4, 'k2']);
    assert.equal(rec.nonce.length, NONCE_BYTES);
    assert.equal(rec.ciphertext.length, Buffer.byteLength(JSON.stringify(originals)) + TAG_BYTES);
    assert.equal(rec.aad, chunkAadFor(chunkCtx));
    assert.equal(JSON.parse(rec.aad)[0], CHUNK_AAD_VERSION);
    assert.ok(!rec.ciphertext.includes(Buffer.from('alice')) && !rec.aad.includes('email'));
    assert.deepEqual(await openSealedOriginals(rec, keys, chunkCtx), originals);
  });
  test('each chunk gets a fresh nonce; a chunk sealed under an older key still opens', async () => {
    const sealer = createChunkSealer(k1);
    const a = sealer.seal(originals, chunkCtx);
    const b = sealer.seal(originals, chunkCtx);
    assert.notDeepEqual(a.nonce, b.nonce);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
    assert.deepEqual(await openSealedOriginals(b, keys, chunkCtx), originals);
  });
  test('a flipped bit in the nonce, the ciphertext or the tag fails with AFF_E_MASK_TAMPERED', async () => {
    const rec = createChunkSealer(k2).seal(originals, chunkCtx);
    await assert.rejects(openSealedOriginals({ ...rec, nonce: flip(rec.nonce, 5) }, keys, chunkCtx), tampered);
    await assert.rejects(openSealedOriginals({ ...rec, ciphertext: flip(rec.ciphertext, 0) }, keys, chunkCtx), tampered);
    await assert.rejects(openSealedOriginals({ ...rec, ciphertext: flip(rec.ciphertext, rec.ciphertext.length - 1) }, keys, chunkCtx), tampered);
    await assert.rejects(openSealedOriginals({ ...rec, ciphertext: rec.ciphertext.subarray(0, TAG_BYTES - 1) }, keys, chunkCtx), tampered);
    await assert.rejects(openSealedOriginals({ ...rec, nonce: rec.nonce.subarray(1) }, keys, chunkCtx), tampered);
  });
  test('a wrong key under a known id fails with AFF_E_MASK_TAMPERED; an unknown id with AFF_E_MASK_KEY_UNKNOWN', async () => {
    const wrong = createChunkSealer({ keyId: 'k1', key: Buffer.alloc(32, 7) }).seal(originals, chunkCtx);
    await assert.rejects(openSealedOriginals(wrong, keys, chunkCtx), tampered);
    const unknown = createChunkSealer({ keyId: 'k9', key: Buffer.alloc(32, 9) }).seal(originals, chunkCtx);
    await assert.rejects(openSealedOriginals(unknown, keys, chunkCtx), (e) => isAffidavitError(e, 'AFF_E_MASK_KEY_UNKNOWN'));
  });
  test('another session, command, first, count or position list fails with AFF_E_MASK_CONTEXT_MISMATCH, checked before the key', async () => {
    const rec = createChunkSealer(k2).seal(originals, chunkCtx);
    const others: ChunkContext[] = [
      { ...chunkCtx, sessionId: 's-2' },
      { ...chunkCtx, commandId: 'c-2' },
      { ...chunkCtx, first: 0 },
      { ...chunkCtx, positions: chunkCtx.positions.slice(0, 3) },
      { ...chunkCtx, positions: [chunkCtx.positions[1], chunkCtx.positions[0], ...chunkCtx.positions.slice(2)] },
      { ...chunkCtx, positions: chunkCtx.positions.map((p, i) => (i === 2 ? { ...p, row: 9 } : p)) },
      { ...chunkCtx, positions: chunkCtx.positions.map((p, i) => (i === 3 ? { ...p, column: 'name' } : p)) },
    ];
    for (const other of others) await assert.rejects(openSealedOriginals(rec, keys, other), mismatch);
    await assert.rejects(openSealedOriginals(rec, staticKeyProvider([{ keyId: 'x', key: Buffer.alloc(32) }]), { ...chunkCtx, commandId: 'c-2' }), mismatch);
  });
  test('a record whose first, count or aad was rewritten to fit another place does not open', async () => {
    const rec = createChunkSealer(k2).seal(originals, chunkCtx);
    const moved: ChunkContext = { ...chunkCtx, first: 0 };
    // first changed but aad kept: the aad no longer matches the place.
    await assert.rejects(openSealedOriginals({ ...rec, first: 0 }, keys, moved), mismatch);
    // first and aad rewritten together: GCM authentication fails.
    await assert.rejects(openSealedOriginals({ ...rec, first: 0, aad: chunkAadFor(moved) }, keys, moved), tampered);
    // count changed (a shorter chunk claimed): mismatch, then tampered with a rewritten aad.
    const shorter: ChunkContext = { ...chunkCtx, positions: chunkCtx.positions.slice(0, 2) };
    await assert.rejects(openSealedOriginals({ ...rec, count: 2 }, keys, shorter), mismatch);
    await assert.rejects(openSealedOriginals({ ...rec, count: 2, aad: chunkAadFor(shorter) }, keys, shorter), tampered);
  });
  test('chunks swapped between two commands do not open in either', async () => {
    const sealer = createChunkSealer(k2);
    const ctxA = chunkCtx;
    const ctxB: ChunkContext = { ...chunkCtx, commandId: 'c-2' };
    const a = sealer.seal(originals, ctxA);
    const b = sealer.seal(['w', 'x', 'y', 'z'], ctxB);
    await assert.rejects(openSealedOriginals(b, keys, ctxA), mismatch);
    await assert.rejects(openSealedOriginals({ ...b, aad: a.aad }, keys, ctxA), tampered);
    await assert.rejects(openSealedOriginals({ ...a, aad: b.aad }, keys, ctxB), tampered);
  });
  test('an authenticated plaintext that is not exactly count strings fails with AFF_E_MASK_SEALED_MALFORMED', async () => {
    // Only a key holder can write such a record: seal crafted plaintexts with the real key.
    const craft = (plain: string, count: number): SealedOriginals => {
      const ctx2: ChunkContext = { ...chunkCtx, positions: chunkCtx.positions.slice(0, count) };
      const aad = chunkAadFor(ctx2);
      const nonce = Buffer.alloc(NONCE_BYTES, 3);
      const c = createCipheriv('aes-256-gcm', k2.key, nonce, { authTagLength: TAG_BYTES });
      c.setAAD(Buffer.from(aad));
      return { first: ctx2.first, count, keyId: 'k2', nonce, ciphertext: Buffer.concat([c.update(plain, 'utf8'), c.final(), c.getAuthTag()]), aad };
    };
    const malformed = (e: unknown) => isAffidavitError(e, 'AFF_E_MASK_SEALED_MALFORMED');
    const ctxOf = (count: number): ChunkContext => ({ ...chunkCtx, positions: chunkCtx.positions.slice(0, count) });
    await assert.rejects(openSealedOriginals(craft('["a","b","c"]', 4), keys, ctxOf(4)), malformed);
    await assert.rejects(openSealedOriginals(craft('["a","b","c","d","e"]', 4), keys, ctxOf(4)), malformed);
    await assert.rejects(openSealedOriginals(craft('["a",1]', 2), keys, ctxOf(2)), malformed);
    await assert.rejects(openSealedOriginals(craft('{"0":"a"}', 1), keys, ctxOf(1)), malformed);
    await assert.rejects(openSealedOriginals(craft('["a"', 1), keys, ctxOf(1)), malformed);
    assert.deepEqual(await openSealedOriginals(craft('["a","b"]', 2), keys, ctxOf(2)), ['a', 'b'], 'the crafting itself is sound');
  });
  test('seal refuses an empty or oversized chunk, originals and positions of different lengths, a bad nonce', () => {
    const sealer = createChunkSealer(k1);
    assert.throws(() => sealer.seal([], { ...chunkCtx, positions: [] }), RangeError);
    assert.throws(() => sealer.seal(['a'], chunkCtx), RangeError);
    assert.throws(() => sealer.seal(['a'], { ...chunkCtx, first: -1, positions: chunkCtx.positions.slice(0, 1) }), RangeError);
    const many = Array.from({ length: MAX_CHUNK_VALUES + 1 }, (_, row) => ({ column: 'c', row }));
    assert.throws(
      () =>
        sealer.seal(
          many.map(() => 'v'),
          { ...chunkCtx, positions: many },
        ),
      RangeError,
    );
    assert.throws(() => createChunkSealer(k1, () => new Uint8Array(8)).seal(['a'], { ...chunkCtx, positions: chunkCtx.positions.slice(0, 1) }), /nonce/);
    assert.throws(
      () => createChunkSealer({ keyId: 'k', key: Buffer.alloc(31) }),
      (e) => isAffidavitError(e, 'AFF_E_MASK_KEY_INVALID'),
    );
  });
  test('chunkAadFor binds every position and cannot be confused by separators or a single value aad', () => {
    const one = (column: string, row: number): ChunkContext => ({ sessionId: 's', commandId: 'c', first: 0, positions: [{ column, row }] });
    assert.notEqual(chunkAadFor(one('a","b', 1)), chunkAadFor({ ...one('a', 1), positions: [{ column: 'a', row: 1 }] }));
    assert.notEqual(
      chunkAadFor({
        ...one('a', 1),
        positions: [
          { column: 'a', row: 1 },
          { column: 'b', row: 2 },
        ],
      }),
      chunkAadFor({ ...one('a', 1), positions: [{ column: 'a', row: 12 }] }),
    );
    assert.notEqual(chunkAadFor(one('email', 3)), aadFor({ sessionId: 's', commandId: 'c', column: 'email', row: 3 }));
    // The position digest is SHA-256 over the canonical JSON of the [column, row] pairs.
    const digest = createHash('sha256')
      .update(JSON.stringify([['email', 3]]))
      .digest('hex');
    assert.deepEqual(JSON.parse(chunkAadFor(one('email', 3))), [CHUNK_AAD_VERSION, 's', 'c', 0, 1, digest]);
  });
});
