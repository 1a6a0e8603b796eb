import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PartitionLog, RECORD_OVERHEAD_BYTES, recordBytes, SEGMENT_BYTES, SEGMENT_RECORDS } from './partition-log.ts';

const put = (l: PartitionLog, n: number, size = 1) => {
  for (let i = 0; i < n; i++) {
    const value = Buffer.alloc(size, i & 0xff);
    l.append('k', value, {}, 0, recordBytes({ key: 'k', value, headers: {} }));
  }
};

test('recordBytes counts key, value, header names and bytes plus the fixed overhead', () => {
  assert.equal(recordBytes({ key: 'abc', value: Buffer.alloc(10), headers: { type: Buffer.from('xy') } }), RECORD_OVERHEAD_BYTES + 3 + 10 + 4 + 2);
});

test('releaseBefore drops only whole sealed segments below the offset; offsets stay absolute', () => {
  const l = new PartitionLog();
  put(l, SEGMENT_RECORDS * 3 + 5);
  assert.equal(l.segments, 4);
  // One record short of the first segment's end: nothing can go.
  assert.equal(l.releaseBefore(SEGMENT_RECORDS - 1), 0);
  assert.equal(l.start, 0);
  assert.equal(l.releaseBefore(SEGMENT_RECORDS * 2 + 7), SEGMENT_RECORDS * 2);
  assert.equal(l.start, SEGMENT_RECORDS * 2);
  assert.equal(l.records, SEGMENT_RECORDS + 5);
  // The active (last) segment is never released, even when everything is past it.
  assert.equal(l.releaseBefore(Number.MAX_SAFE_INTEGER), SEGMENT_RECORDS);
  assert.equal(l.segments, 1);
  assert.equal(l.start, SEGMENT_RECORDS * 3);
  assert.equal(l.end, SEGMENT_RECORDS * 3 + 5);
  // A read below the start begins at the start, with the original offsets.
  const got = l.read(0, 3);
  assert.deepEqual(
    got.map((r) => r.offset),
    [BigInt(SEGMENT_RECORDS * 3), BigInt(SEGMENT_RECORDS * 3 + 1), BigInt(SEGMENT_RECORDS * 3 + 2)],
  );
  put(l, 1);
  assert.equal(l.read(l.end - 1, 10)[0].offset, BigInt(SEGMENT_RECORDS * 3 + 5));
});

test('a segment is sealed by bytes too, so large records are released in small units', () => {
  const l = new PartitionLog();
  put(l, 4, SEGMENT_BYTES / 2);
  // 2 records reach SEGMENT_BYTES (with overhead): each segment holds 2.
  assert.equal(l.segments, 2);
  assert.equal(l.dropOldestSealed(), 2);
  assert.equal(l.dropOldestSealed(), 0, 'the active segment is never dropped');
  assert.equal(l.bytes, 2 * (RECORD_OVERHEAD_BYTES + 1 + SEGMENT_BYTES / 2));
});

test('PartitionLog behaves like a plain array with a moving start (model-based)', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 0, max: 3 * SEGMENT_RECORDS }) }),
    fc.record({
      kind: fc.constant('read' as const),
      from: fc.integer({ min: -10, max: 20 * SEGMENT_RECORDS }),
      max: fc.integer({ min: 0, max: 2 * SEGMENT_RECORDS + 3 }),
    }),
    fc.record({ kind: fc.constant('release' as const), before: fc.integer({ min: 0, max: 20 * SEGMENT_RECORDS }) }),
    fc.record({ kind: fc.constant('drop' as const) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
      const l = new PartitionLog();
      let end = 0;
      let bytes = 0;
      for (const o of ops) {
        const startBefore = l.start;
        if (o.kind === 'append') {
          for (let i = 0; i < o.n; i++) {
            const value = Buffer.from(String(end));
            const b = recordBytes({ key: 'k', value, headers: {} });
            l.append('k', value, {}, end, b);
            bytes += b;
            end++;
          }
        } else if (o.kind === 'read') {
          const got = l.read(Math.max(0, o.from), o.max);
          const from = Math.max(0, o.from, l.start);
          const want = Math.max(0, Math.min(o.max, end - from));
          assert.equal(got.length, want);
          got.forEach((r, i) => {
            assert.equal(r.offset, BigInt(from + i));
            assert.equal(r.value.toString(), String(from + i), 'the record at an offset never changes');
          });
        } else {
          const dropped = o.kind === 'release' ? l.releaseBefore(o.before) : l.dropOldestSealed();
          assert.equal(l.start - startBefore, dropped);
          if (o.kind === 'release') assert.ok(l.start <= Math.max(startBefore, o.before), 'nothing at or past the offset is released');
        }
        assert.ok(l.start >= startBefore, 'start never moves back');
        assert.equal(l.end, end);
        assert.ok(l.start <= l.end);
      }
      // bytes is the sum over exactly the retained records.
      let retained = 0;
      for (const r of l.read(l.start, l.records)) retained += recordBytes(r);
      assert.equal(l.bytes, retained);
      assert.ok(l.bytes <= bytes);
    }),
    { numRuns: 60 },
  );
});
