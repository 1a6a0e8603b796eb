// Times are shown as ISO 8601 with microseconds: the fast renderer must agree with Date's own
// rendering (plus three digits) everywhere, and parse back to the same microseconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoFromMicros, microsFromIso } from './time.ts';

const reference = (us: number) => {
  const ms = Math.floor(us / 1000);
  return `${new Date(ms).toISOString().slice(0, -1)}${String(us - ms * 1000).padStart(3, '0')}Z`;
};

test('isoFromMicros agrees with Date#toISOString, before and after 1970, at day edges and at random', () => {
  const edges = [
    0,
    1,
    999,
    1000,
    -1,
    -1000,
    -1001,
    86_400_000_000 - 1,
    86_400_000_000,
    1_760_000_000_000_000,
    Number.MAX_SAFE_INTEGER,
    -(Number.MAX_SAFE_INTEGER - 1),
  ];
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const samples = [...edges, ...Array.from({ length: 20_000 }, () => Math.floor((random() - 0.3) * 4_000_000_000_000_000))];
  for (const us of samples) assert.equal(isoFromMicros(us), reference(us), String(us));
});

test('microsFromIso reads back what isoFromMicros wrote', () => {
  for (const us of [0, 1, 1_760_000_000_123_456, 1_700_000_000_000_001]) assert.equal(microsFromIso(isoFromMicros(us), 't'), us);
});
