import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globMatch, isCatchAllGlob } from './glob.ts';
import { LruCache } from './lru-cache.ts';

test('name globs: * spans anything, other characters are literal and case-sensitive', () => {
  assert.ok(globMatch('pg_*', 'pg_read_file'));
  assert.ok(!globMatch('pg_*', 'PG_READ_FILE'));
  assert.ok(globMatch('a.b', 'a.b'));
  assert.ok(!globMatch('a.b', 'axb'), 'a dot is not a regex wildcard');
  assert.ok(globMatch('d?link', 'dblink'));
  assert.ok(!globMatch('(x)', 'x'));
});

test('path globs: * stops at /, ** crosses it', () => {
  assert.ok(globMatch('/srv/*', '/srv/a', true));
  assert.ok(!globMatch('/srv/*', '/srv/a/b', true));
  assert.ok(globMatch('/srv/**', '/srv/a/b', true));
  assert.ok(!globMatch('/srv/**', '/srvx/a', true));
  assert.ok(isCatchAllGlob('**') && !isCatchAllGlob('*a'));
});

test('LruCache evicts the least recently used entry', () => {
  const c = new LruCache<string, number>(2);
  c.set('a', 1);
  c.set('b', 2);
  assert.equal(c.get('a'), 1);
  c.set('c', 3);
  assert.equal(c.get('b'), undefined);
  assert.equal(c.get('a'), 1);
  assert.throws(() => new LruCache(0), RangeError);
});
