import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { SealedOriginals } from '@affidavit/schemas';
import {
  createChunkSealer,
  createMaskedValueCollector,
  openSealedOriginals,
  staticKeyProvider,
  NULL_TEXT,
  type ChunkSealer,
  type MaskedCell,
} from './index.ts';

const key = { keyId: 'k1', key: Buffer.alloc(32, 6) };
const keys = staticKeyProvider([key]);
const at = (row: number) => ({ sessionId: 's1', commandId: 'c1', row });
const cell = (columnName: string, original: string, masked: string | null = '****'): MaskedCell => ({
  column: 0,
  columnName,
  ruleId: 'r',
  detector: null,
  original,
  masked,
});

/** spy wraps a sealer and records how many originals each seal call got. */
function spy(inner: ChunkSealer): { sealer: ChunkSealer; calls: number[] } {
  const calls: number[] = [];
  return { calls, sealer: { keyId: inner.keyId, seal: (o, c) => (calls.push(o.length), inner.seal(o, c)) } };
}

/** openAll opens every chunk of a collector against its masks and returns the originals in masks order. */
async function openAll(masks: readonly { column: string; row: number }[], chunks: readonly SealedOriginals[]): Promise<string[]> {
  const out: string[] = [];
  for (const c of chunks) {
    assert.equal(c.first, out.length, 'chunks are consecutive and in order');
    const positions = masks.slice(c.first, c.first + c.count).map((m) => ({ column: m.column, row: m.row }));
    out.push(...(await openSealedOriginals(c, keys, { sessionId: 's1', commandId: 'c1', first: c.first, positions })));
  }
  return out;
}

describe('createMaskedValueCollector', () => {
  test('seals each chunk as it fills, the partial one on flush; masks carry no original', async () => {
    const { sealer, calls } = spy(createChunkSealer(key));
    const kept = createMaskedValueCollector({ sealer, chunkSize: 4 });
    const want: string[] = [];
    for (let row = 0; row < 5; row++) {
      const cells = [cell('email', `u${row}@example.com`), cell('card', row === 3 ? '' : `41${row}`, row === 2 ? null : '****')];
      want.push(...cells.map((c) => c.original));
      kept.add(cells, at(row));
      // Never more than chunkSize - 1 clear originals wait between rows.
      assert.equal(want.length - calls.reduce((a, b) => a + b, 0) < 4, true);
    }
    assert.deepEqual(calls, [4, 4]);
    kept.flush();
    assert.deepEqual(calls, [4, 4, 2]);
    kept.flush();
    assert.deepEqual(calls, [4, 4, 2], 'flush with nothing open seals nothing');
    assert.equal(kept.masks.length, 10);
    assert.ok(kept.masks.every((m) => m.original === null));
    assert.deepEqual([kept.masks[5].column, kept.masks[5].row, kept.masks[5].masked], ['card', 2, NULL_TEXT]);
    assert.deepEqual(
      kept.sealedOriginals.map((c) => [c.first, c.count]),
      [
        [0, 4],
        [4, 4],
        [8, 2],
      ],
    );
    assert.deepEqual(await openAll(kept.masks, kept.sealedOriginals), want);
  });

  test('keeps only maxValues values and seals the last chunk as soon as the cap is reached', async () => {
    const { sealer, calls } = spy(createChunkSealer(key));
    const kept = createMaskedValueCollector({ sealer, maxValues: 5, chunkSize: 3 });
    for (let row = 0; row < 4; row++) kept.add([cell('a', `a${row}`), cell('b', `b${row}`)], at(row));
    assert.equal(kept.full, true);
    assert.equal(kept.masks.length, 5);
    assert.deepEqual(calls, [3, 2], 'the capped chunk is sealed without waiting for flush');
    assert.deepEqual(await openAll(kept.masks, kept.sealedOriginals), ['a0', 'b0', 'a1', 'b1', 'a2']);
  });

  test('refuses cells of another command, and bad sizes', () => {
    const kept = createMaskedValueCollector({ sealer: createChunkSealer(key) });
    kept.add([cell('a', 'x')], at(0));
    assert.throws(() => kept.add([cell('a', 'y')], { ...at(1), commandId: 'c2' }), TypeError);
    assert.throws(() => createMaskedValueCollector({ sealer: createChunkSealer(key), chunkSize: 0 }), RangeError);
    assert.throws(() => createMaskedValueCollector({ sealer: createChunkSealer(key), maxValues: -1 }), RangeError);
  });

  test('a sealer that throws leaves no clear original held and the collector usable', async () => {
    let fail = true;
    const inner = createChunkSealer(key);
    const held: (readonly string[])[] = [];
    const sealer: ChunkSealer = {
      keyId: 'k1',
      seal(o, c) {
        held.push(o);
        if (fail) throw new Error('boom');
        return inner.seal(o, c);
      },
    };
    const kept = createMaskedValueCollector({ sealer, chunkSize: 2 });
    assert.throws(() => kept.add([cell('a', 'x'), cell('a', 'y')], at(0)), /boom/);
    assert.equal(held[0].length, 0, 'the failed chunk was dropped');
    fail = false;
    kept.add([cell('a', 'z')], at(1));
    kept.flush();
    assert.deepEqual(
      kept.sealedOriginals.map((c) => [c.first, c.count]),
      [[2, 1]],
    );
  });
});
