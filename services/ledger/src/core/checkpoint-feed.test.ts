import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCheckpointFeed } from './checkpoint-feed.ts';

const note = (origin: string, size: number) => `${origin}\n${size}\nAAAA\n\n\u2014 key abc=\n`;
const malformed = (m: string) => new Error(m);
const parse = (text: string) => parseCheckpointFeed(text.split('\n'), malformed);

test('notes printed one after another (kcat -f "%s\\n") split back into the exact notes', () => {
  const a = note('o/a', 1);
  const b = `o/b\n2\nBBBB\next\n\n\u2014 key abc=\n\u2014 witness def=\n`;
  const got = parse(`${a}\n${b}\n\n`);
  assert.deepEqual(
    got.map((n) => n.note),
    [a, b],
  );
  assert.deepEqual(
    got.map((n) => n.line),
    [1, 7],
  );
  assert.deepEqual(
    parse(`${a}${a}`).map((n) => n.note),
    [a, a],
    'without a blank line between them',
  );
});

test('a note without signatures is an error naming its line', () => {
  assert.throws(() => parse('o/a\n1\nAAAA\n'), /line 1: a checkpoint without signature lines/);
  assert.throws(() => parse(`${note('o/a', 1)}o/b\n2\nBBBB\n\nnot a signature\n`), /line 10: expected a signature line/);
  assert.deepEqual(parse('\n\n'), []);
});
