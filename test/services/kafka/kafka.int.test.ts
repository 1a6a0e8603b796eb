// The Kafka harness itself: idempotent start, env reuse, clean stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ensureKafka, KAFKA_ENV, KAFKA_VERSION, launchKafka, startKafka } from '../kafka.ts';
import { tcpOpen } from '../process.ts';

test('startKafka is idempotent and ensureKafka reuses the shared broker', async () => {
  const saved = process.env[KAFKA_ENV];
  delete process.env[KAFKA_ENV];
  try {
    const [a, b] = await Promise.all([startKafka(), startKafka()]);
    assert.equal(a, b, 'concurrent starts share one broker');
    assert.equal(await startKafka(), a, 'a later start returns the running broker');
    assert.equal(a.version, KAFKA_VERSION);
    assert.match(a.bootstrap, /^127\.0\.0\.1:\d+$/);
    assert.ok(await tcpOpen('127.0.0.1', a.port));
    assert.deepEqual(await ensureKafka(), { bootstrap: a.bootstrap, external: false });
  } finally {
    if (saved !== undefined) process.env[KAFKA_ENV] = saved;
  }
});

test('ensureKafka uses AFFIDAVIT_TEST_KAFKA when set, without starting anything', async () => {
  const saved = process.env[KAFKA_ENV];
  process.env[KAFKA_ENV] = '127.0.0.1:1';
  try {
    assert.deepEqual(await ensureKafka(), { bootstrap: '127.0.0.1:1', external: true });
  } finally {
    if (saved === undefined) delete process.env[KAFKA_ENV];
    else process.env[KAFKA_ENV] = saved;
  }
});

test('a launched broker stops: port closed, temp dir removed, stop() twice is harmless', async () => {
  const b = await launchKafka();
  assert.ok(existsSync(b.dir));
  assert.ok(await tcpOpen('127.0.0.1', b.port));
  await b.stop();
  await b.stop();
  assert.equal(existsSync(b.dir), false);
  assert.equal(await tcpOpen('127.0.0.1', b.port, 500), false);
});
