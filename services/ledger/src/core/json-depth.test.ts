import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonDepthExceeds } from './json-depth.ts';

const b = (s: string) => Buffer.from(s);

test('a bundle line is shallow; deep nesting is found before any parse', () => {
  assert.equal(jsonDepthExceeds(b('{"i":1,"b":"AAAA","l":"BBBB"}')), false);
  assert.equal(jsonDepthExceeds(b(`${'['.repeat(9)}${']'.repeat(9)}`)), true);
  assert.equal(jsonDepthExceeds(b(`${'['.repeat(8)}${']'.repeat(8)}`)), false);
  assert.equal(jsonDepthExceeds(b('['.repeat(10_000_000))), true, 'ten million brackets, no stack, no allocation');
});

test('brackets inside strings (escaped quotes included) do not count', () => {
  assert.equal(jsonDepthExceeds(b(JSON.stringify({ s: '[[[[[[[[[[[[[[[["\\\\' }))), false);
  assert.equal(jsonDepthExceeds(b(`{"s":"\\\\"}${'['.repeat(9)}`)), true, 'an escaped backslash ends before the quote');
  assert.equal(jsonDepthExceeds(b('{"s":"\\"[[[[[[[[[["}')), false, 'an escaped quote does not end the string');
  assert.equal(jsonDepthExceeds(b('"unterminated [[[[[[[[[[[[')), false);
});
