import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BackendFramer } from './backend-framer.ts';
import { commandComplete, dataRow, readyForQuery } from './wire/index.ts';
import { PgMessageTooLargeError, PgUnknownMessageError } from './wire/index.ts';

const MESSAGES = [dataRow(['1', 'abc']), dataRow([null, 'x'.repeat(300)]), commandComplete('SELECT 2'), readyForQuery('I')];
const STREAM = Buffer.concat(MESSAGES);

// The relay's use of the framer: complete() a split message, then frame the rest of the chunk
// in place (here: by pushing it and calling next(), which the relay does with offsets).
function frameAll(chunks: readonly Buffer[]): Buffer[] {
  const f = new BackendFramer(1 << 20);
  const out: Buffer[] = [];
  for (const c of chunks) {
    let rest = c;
    if (f.buffered > 0) {
      const used = f.complete(c);
      assert.ok(used <= c.length);
      const m = f.next();
      if (!m) {
        assert.equal(used, c.length, 'an incomplete message takes the whole chunk');
        continue;
      }
      out.push(Buffer.from(m.raw));
      rest = c.subarray(used);
    }
    f.push(rest);
    for (let m = f.next(); m; m = f.next()) out.push(Buffer.from(m.raw));
  }
  f.end();
  return out;
}

test('complete() takes only what the split message needs, at every split point', () => {
  for (let cut = 1; cut < STREAM.length; cut++) {
    assert.deepEqual(frameAll([STREAM.subarray(0, cut), STREAM.subarray(cut)]), MESSAGES, `cut at ${cut}`);
  }
});

test('property: any chunking yields exactly the messages', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: STREAM.length - 1 }), { maxLength: 12 }), (cuts) => {
      const at = [0, ...[...new Set(cuts)].sort((a, b) => a - b), STREAM.length];
      const chunks = at.slice(1).map((end, i) => STREAM.subarray(at[i], end));
      assert.deepEqual(frameAll(chunks), MESSAGES);
    }),
  );
});

test('complete() checks the header before buffering the body', () => {
  const f = new BackendFramer(100);
  f.push(Buffer.from([0x44]));
  const big = Buffer.alloc(4);
  big.writeInt32BE(1000);
  assert.throws(() => f.complete(Buffer.concat([big, Buffer.alloc(50)])), PgMessageTooLargeError);
  const g = new BackendFramer(100);
  g.push(Buffer.from([0x44, 0]));
  assert.equal(g.complete(Buffer.from([0, 0])), 2);
  const h = new BackendFramer(100);
  h.push(Buffer.from([0x01]));
  assert.throws(() => h.complete(Buffer.from([0, 0, 0, 4])), PgUnknownMessageError);
});
