import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  postgresProxyOptions,
  DEFAULT_PG_PROXY_PORT,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_IDENTITY,
} from './options.ts';

const upstream = { user: 'proxy', password: 'pw', database: 'app' };

test('defaults are applied, resource defaults to the upstream database, result is frozen', () => {
  const o = postgresProxyOptions({ allowCleartextOnLoopback: true, upstream });
  assert.equal(o.listen.port, DEFAULT_PG_PROXY_PORT);
  assert.equal(o.listen.host, '127.0.0.1');
  assert.equal(o.resource, 'app');
  assert.equal(o.recordingMode, 'sync');
  assert.equal(o.upstream.port, 5432);
  assert.equal(o.upstream.tls, undefined);
  assert.ok(Object.isFrozen(o) && Object.isFrozen(o.upstream));
});

test('TLS is required unless cleartext on loopback is allowed explicitly', () => {
  assert.throws(() => postgresProxyOptions({ upstream }), /AFF_E_CONFIG_INVALID|tls: is required/);
  const o = postgresProxyOptions({ tls: { cert: 'C', key: 'K' }, upstream: { ...upstream, tls: { ca: 'CA' } } });
  assert.equal(o.upstream.tls?.rejectUnauthorized, true);
});

test('bad fields are named', () => {
  assert.throws(
    () => postgresProxyOptions({ allowCleartextOnLoopback: true, upstream, maxMessageSize: 10, recordingMode: 'later' as 'sync', bogus: 1 } as never),
    (e: Error) => /maxMessageSize/.test(e.message) && /recordingMode/.test(e.message) && /bogus/.test(e.message),
  );
});

test('connection limits and the idle timeout have named defaults a deployment keeps safe', () => {
  const o = postgresProxyOptions({ allowCleartextOnLoopback: true, upstream });
  assert.equal(o.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS);
  assert.ok(DEFAULT_IDLE_TIMEOUT_MS > 0, 'sessions do not stay open forever by default');
  assert.equal(o.maxConnections, DEFAULT_MAX_CONNECTIONS);
  assert.equal(o.maxConnectionsPerIdentity, DEFAULT_MAX_CONNECTIONS_PER_IDENTITY);
  assert.ok(DEFAULT_MAX_CONNECTIONS_PER_IDENTITY < DEFAULT_MAX_CONNECTIONS);
  assert.deepEqual(o.preLogin, { windowMs: 60_000, recordsPerSource: 10 });
  assert.ok(Object.isFrozen(o.preLogin));
  assert.throws(() => postgresProxyOptions({ allowCleartextOnLoopback: true, upstream, preLogin: { recordsPerSource: 0 } }), /preLogin\.recordsPerSource/);
  assert.throws(() => postgresProxyOptions({ allowCleartextOnLoopback: true, upstream, maxConnectionsPerIdentity: 0 }), /maxConnectionsPerIdentity/);
  assert.throws(
    () => postgresProxyOptions({ allowCleartextOnLoopback: true, upstream, maxConnections: 5, maxConnectionsPerIdentity: 6 }),
    /maxConnectionsPerIdentity: 6 is more than maxConnections \(5\)/,
  );
});

test('an upstream Unix socket: path length checked, TLS refused with it', () => {
  const o = postgresProxyOptions({ allowCleartextOnLoopback: true, upstream: { ...upstream, socketPath: '/tmp/x/.s.PGSQL.5432' } });
  assert.equal(o.upstream.socketPath, '/tmp/x/.s.PGSQL.5432');
  assert.throws(() => postgresProxyOptions({ allowCleartextOnLoopback: true, upstream: { ...upstream, socketPath: `/${'x'.repeat(107)}` } }), /socketPath/);
  assert.throws(
    () => postgresProxyOptions({ allowCleartextOnLoopback: true, upstream: { ...upstream, socketPath: '/tmp/s', tls: { ca: 'CA' } } }),
    /no TLS on a Unix socket/,
  );
});
