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
  let interleaved = 0;
  for (let round = 0; round < 5; round++) {
    // One word of cursor, one word of start flag: both sides start together, each doing a little
    // work per chunk, so they meet somewhere in the middle (how far each gets is up to the scheduler).
    const shared = ChunkCursor.create(count);
    const go = new SharedArrayBuffer(4);
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const w = new Int32Array(workerData.shared, 0, 1); const go = new Int32Array(workerData.go); const got = [];
       parentPort.postMessage('ready');
       Atomics.wait(go, 0, 0);
       let spin = 0;
       for (;;) { const v = Atomics.load(w, 0); const lo = v & 0xffff; const hi = v >>> 16; if (lo >= hi) break;
         if (Atomics.compareExchange(w, 0, v, ((hi - 1) << 16) | lo) === v) got.push(hi - 1);
         for (let i = 0; i < 500; i++) spin += i; }
       parentPort.postMessage({ got, spin });`,
      { eval: true, workerData: { shared, go } },
    );
    const done = new Promise<{ got: number[] }>((resolve) => worker.on('message', (m) => m !== 'ready' && resolve(m)));
    await new Promise((resolve) => worker.once('message', resolve));
    Atomics.store(new Int32Array(go), 0, 1);
    Atomics.notify(new Int32Array(go), 0);
    const c = new ChunkCursor(shared);
    const mine: number[] = [];
    let spin = 0;
    for (let k = c.front(); k >= 0; k = c.front()) {
      mine.push(k);
      for (let i = 0; i < 500; i++) spin += i;
    }
    const theirs = (await done).got;
    if (mine.length > 0 && theirs.length > 0 && spin > 0) interleaved++;
    const all = [...mine, ...theirs].sort((a, b) => a - b);
    assert.equal(all.length, count, `round ${round}: ${mine.length} here, ${theirs.length} there`);
    assert.ok(
      all.every((k, i) => k === i),
      'every chunk exactly once',
    );
  }
  assert.ok(interleaved > 0, 'in some round both threads took chunks');
});
