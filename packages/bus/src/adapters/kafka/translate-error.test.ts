import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAffidavitError } from '@affidavit/common';
import { translateKafkaError, withDeadline } from './translate-error.ts';

// Fakes shaped like kafkajs errors (name, type, retriable, originalError): unit tier, no driver.
const err = (fields: Record<string, unknown>) => Object.assign(new Error(String(fields.message ?? 'x')), fields);

test('unknown topic anywhere in the cause chain → AFF_E_BUS_TOPIC_UNKNOWN, not retriable', () => {
  const e = err({
    name: 'KafkaJSNumberOfRetriesExceeded',
    retriable: false,
    originalError: err({ name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true }),
  });
  const t = translateKafkaError(e, 'publishing');
  assert.equal(t.code, 'AFF_E_BUS_TOPIC_UNKNOWN');
  assert.equal(t.retriable, false);
  assert.equal(t.cause, e);
});

test('connection and retriable errors → AFF_E_BUS_UNAVAILABLE, retriable', () => {
  for (const e of [
    err({ name: 'KafkaJSConnectionError' }),
    err({ name: 'KafkaJSError', retriable: true }),
    err({ name: 'KafkaJSNonRetriableError', originalError: err({ name: 'KafkaJSRequestTimeoutError' }) }),
  ]) {
    const t = translateKafkaError(e, 'x');
    assert.equal(t.code, 'AFF_E_BUS_UNAVAILABLE', e.name);
    assert.equal(t.retriable, true);
  }
});

test('other driver errors → AFF_E_BUS_REJECTED; our own errors pass through', () => {
  assert.equal(
    translateKafkaError(err({ name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false }), 'x').code,
    'AFF_E_BUS_REJECTED',
  );
  const own = translateKafkaError(err({ name: 'KafkaJSConnectionError' }), 'x');
  assert.equal(translateKafkaError(own, 'y'), own);
});

test('a cause cycle does not loop forever', () => {
  const a = err({ name: 'A' }) as Error & { originalError?: unknown };
  a.originalError = a;
  assert.equal(translateKafkaError(a, 'x').code, 'AFF_E_BUS_REJECTED');
});

test('withDeadline rejects a hanging promise with AFF_E_BUS_UNAVAILABLE at the bound', async () => {
  const t0 = Date.now();
  await assert.rejects(withDeadline(new Promise(() => {}), 50, 'hang'), (e) => isAffidavitError(e, 'AFF_E_BUS_UNAVAILABLE') && /50 ms/.test(e.message));
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(await withDeadline(Promise.resolve(7), 50, 'ok'), 7);
});
