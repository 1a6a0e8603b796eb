import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionLimits } from './connection-limits.ts';

const alice = { issuer: 'https://idp', subject: 'alice' };
const bob = { issuer: 'https://idp', subject: 'bob' };

test('given maxConnectionsPerIdentity 2, the third login of one identity is refused while others still get in', () => {
  const l = new ConnectionLimits({ maxConnections: 100, maxConnectionsPerIdentity: 2 });
  const a1 = l.admitIdentity(alice);
  const a2 = l.admitIdentity(alice);
  assert.ok(a1 && a2);
  assert.equal(l.admitIdentity(alice), undefined);
  assert.ok(l.admitIdentity(bob), 'bob is counted apart');
  assert.equal(l.sessionsOf(alice), 2);
  a1();
  a1(); // a second release frees nothing more
  assert.equal(l.sessionsOf(alice), 1);
  assert.ok(l.admitIdentity(alice));
  assert.equal(l.admitIdentity(alice), undefined);
});

test('identities are keyed by issuer and subject together, with no separator to forge', () => {
  const l = new ConnectionLimits({ maxConnections: 100, maxConnectionsPerIdentity: 1 });
  assert.ok(l.admitIdentity({ issuer: 'a', subject: 'b|c' }));
  assert.ok(l.admitIdentity({ issuer: 'a|b', subject: 'c' }));
  assert.ok(l.admitIdentity({ issuer: 'https://other', subject: 'alice' }));
  assert.ok(l.admitIdentity(alice));
  assert.equal(l.admitIdentity(alice), undefined);
});

test('given maxConnections 2, a third connection gets no slot until one is released', () => {
  const l = new ConnectionLimits({ maxConnections: 2, maxConnectionsPerIdentity: 10 });
  const c1 = l.openConnection();
  assert.ok(c1 && l.openConnection());
  assert.equal(l.openConnection(), undefined);
  c1();
  c1();
  assert.equal(l.total, 1);
  assert.ok(l.openConnection());
  assert.equal(l.openConnection(), undefined);
});
