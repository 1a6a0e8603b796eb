import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OTHER_SOURCES, PreloginAggregator, summaryReason } from './prelogin-rejections.ts';

const opts = { windowMs: 60_000, recordsPerSource: 1, maxSources: 100, maxRecordsPerWindow: 1000 };

test('given a flood from one source, then the first is recorded, the rest counted into one summary when the window ends', () => {
  const a = new PreloginAggregator(opts);
  assert.equal(a.note('10.0.0.5', 'AFF_E_PG_PROTOCOL', 'garbage', 1000), 'record');
  for (let i = 1; i <= 500; i++) assert.equal(a.note('10.0.0.5', i % 5 ? 'AFF_E_PG_PROTOCOL' : 'AFF_E_AUTH_INVALID_TOKEN', `r${i}`, 1000 + i), 'counted');
  assert.deepEqual(a.flush(60_999), [], 'no summary before the window ended');
  const [s, ...rest] = a.flush(61_000);
  assert.deepEqual(rest, []);
  assert.equal(s.address, '10.0.0.5');
  assert.equal(s.count, 500);
  assert.deepEqual(s.byCode, { AFF_E_PG_PROTOCOL: 400, AFF_E_AUTH_INVALID_TOKEN: 100 });
  assert.equal(s.firstAt, 1001);
  assert.equal(s.lastAt, 1500);
  assert.equal(s.lastReason, 'r500');
  assert.match(summaryReason(s), /^500 more pre-login rejection\(s\) from 10\.0\.0\.5 .*400 × AFF_E_PG_PROTOCOL, 100 × AFF_E_AUTH_INVALID_TOKEN; last: r500$/);
  assert.deepEqual(a.flush(200_000), [], 'a summary is returned once');
});

test('given two sources, then each gets its own first record; a new window records again', () => {
  const a = new PreloginAggregator(opts);
  assert.equal(a.note('a', 'X', '', 0), 'record');
  assert.equal(a.note('b', 'X', '', 1), 'record');
  assert.equal(a.note('a', 'X', '', 2), 'counted');
  // The next rejection after the window: its window's count is summarised, it is recorded itself.
  assert.equal(a.note('a', 'X', '', 60_000), 'record');
  assert.deepEqual(
    a.flush(60_000).map((s) => [s.address, s.count]),
    [['a', 1]],
  );
  assert.deepEqual(a.flush(120_000), [], 'b had nothing counted, a nothing since');
  assert.equal(a.tracked, 0);
});

test('given more sources than maxSources, then the oldest are folded into one other-sources summary, no count lost', () => {
  const a = new PreloginAggregator({ ...opts, maxSources: 3 });
  let counted = 0;
  for (let i = 0; i < 50; i++) {
    const addr = `10.0.${i}.1`;
    a.note(addr, 'X', 'x', i);
    if (a.note(addr, 'X', 'x', i) === 'counted') counted++;
  }
  assert.equal(a.tracked, 3);
  const all = a.drain();
  assert.equal(
    all.reduce((n, s) => n + s.count, 0),
    counted,
  );
  assert.ok(all.some((s) => s.address === OTHER_SOURCES && s.count === 47));
  assert.ok(all.length <= 4, `${all.length} summaries for 50 sources`);
});

test('given maxRecordsPerWindow, then new sources past it are counted, and the cap resets with the window', () => {
  const a = new PreloginAggregator({ ...opts, maxRecordsPerWindow: 2 });
  assert.deepEqual(
    ['a', 'b', 'c', 'd'].map((s) => a.note(s, 'X', '', 10)),
    ['record', 'record', 'counted', 'counted'],
  );
  assert.equal(a.note('e', 'X', '', 60_010), 'record');
  const s = a.flush(60_010);
  assert.deepEqual(s.map((x) => x.address).sort(), ['c', 'd']);
});

test('given recordsPerSource 3, then the first three from a source are recorded one by one, the rest counted', () => {
  const a = new PreloginAggregator({ ...opts, recordsPerSource: 3 });
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => a.note('a', 'AFF_E_AUTH_TOKEN_EXPIRED', `try ${i}`, i)),
    ['record', 'record', 'record', 'counted', 'counted'],
  );
  assert.deepEqual(
    a.flush(60_000).map((s) => [s.address, s.count, s.lastReason]),
    [['a', 2, 'try 4']],
  );
});
