// The chunk cursor hands every chunk out exactly once, from either end, also when two threads
// take chunks at the same time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { ChunkCursor } from './chunk-cursor.ts';

test('property: fronts and back runs cover the chunks once, the reserve excepted', () => {
  fc.assert(
    fc.property(fc.nat(300), fc.nat(300), fc.array(fc.integer({ min: -1, max: 40 }), { maxLength: 400 }), (count, r, moves) => {
      const reserved = r % (count + 1);
      const c = new ChunkCursor(ChunkCursor.create(count, reserved));
      assert.equal(c.end(), count - reserved);
      const seen: number[] = [];
      for (const m of moves) {
        if (m < 0) {
          const k = c.front();
          if (k >= 0) seen.push(k);
        } else {
          const run = c.back(m);
          if (run) for (let k = run[0]; k < run[1]; k++) seen.push(k);
        }
      }
      for (let k = c.front(); k >= 0; k = c.front()) seen.push(k);
      assert.equal(c.left(), 0);
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        Array.from({ length: count - reserved }, (_, i) => i),
      );
    }),
  );
  assert.throws(() => ChunkCursor.create(0x10000), RangeError);
  assert.throws(() => ChunkCursor.create(3, 4), RangeError);
});

test('two threads taking from both ends at once never take a chunk twice', async () => {
  const count = 60_000;
  for (let round = 0; round < 5; round++) {
    const shared = ChunkCursor.create(count);
    // The worker takes single chunks from the back as fast as it can, and posts them.
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const w = new Int32Array(workerData, 0, 1); const got = [];
       parentPort.postMessage('ready');
       for (;;) { const v = Atomics.load(w, 0); const lo = v & 0xffff; const hi = v >>> 16; if (lo >= hi) break;
         if (Atomics.compareExchange(w, 0, v, ((hi - 1) << 16) | lo) === v) got.push(hi - 1); }
       parentPort.postMessage(got);`,
      { eval: true, workerData: shared },
    );
    const got = new Promise<number[]>((resolve) => worker.on('message', (m) => m !== 'ready' && resolve(m)));
    await new Promise((resolve) => worker.once('message', resolve)); // it is taking chunks now
    const c = new ChunkCursor(shared);
    const mine: number[] = [];
    let spin = 0;
    for (let k = c.front(); k >= 0; k = c.front()) {
      mine.push(k);
      for (let i = 0; i < 200; i++) spin += i; // slower than the worker, so both sides take many
    }
    const theirs = await got;
    assert.ok(mine.length > 0 && theirs.length > 0 && spin > 0, `both took chunks: ${mine.length} here, ${theirs.length} there`);
    const all = [...mine, ...theirs].sort((a, b) => a - b);
    assert.equal(all.length, count, `round ${round}: ${mine.length} here`);
    assert.ok(
      all.every((k, i) => k === i),
      'every chunk exactly once',
    );
  }
});
