import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postgresProxyOptions, DEFAULT_PG_PROXY_PORT } from './options.ts';

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
