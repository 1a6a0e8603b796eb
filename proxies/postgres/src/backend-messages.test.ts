import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BackendFramer } from './backend-framer.ts';
import { parseCommandTag, parseErrorFields, parseRowDescription, tagRows } from './backend-messages.ts';
import { commandComplete, dataRow, errorResponse, readyForQuery, rowDescription } from './wire/index.ts';

test('ErrorResponse fields: severity, SQLSTATE, message', () => {
  const raw = errorResponse({ severity: 'ERROR', code: '42501', message: 'permission denied', detail: 'd' });
  assert.deepEqual(parseErrorFields(raw), { severity: 'ERROR', code: '42501', message: 'permission denied' });
});

test('command tags and their row counts', () => {
  assert.equal(parseCommandTag(commandComplete('INSERT 0 5')), 'INSERT 0 5');
  assert.equal(tagRows('INSERT 0 5'), 5);
  assert.equal(tagRows('SELECT 12'), 12);
  assert.equal(tagRows('BEGIN'), undefined);
  assert.equal(tagRows('CREATE TABLE'), undefined);
});

test('RowDescription: names, type OIDs and formats', () => {
  const raw = rowDescription([
    { name: 'id', typeOid: 23 },
    { name: 'email', typeOid: 25, format: 1 },
  ]);
  assert.deepEqual(parseRowDescription(raw), {
    columns: [
      { name: 'id', typeOid: 23 },
      { name: 'email', typeOid: 25 },
    ],
    formats: [0, 1],
  });
});

test('BackendFramer returns the exact bytes of each message however the stream is cut', () => {
  const msgs = [rowDescription([{ name: 'a', typeOid: 25 }]), dataRow(['x', null]), commandComplete('SELECT 1'), readyForQuery('I')];
  const all = Buffer.concat(msgs);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: all.length }), { maxLength: 6 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const f = new BackendFramer(1024);
      const got: Buffer[] = [];
      let prev = 0;
      for (const p of [...points, all.length]) {
        f.push(all.subarray(prev, p));
        prev = p;
        for (let m = f.next(); m; m = f.next()) got.push(Buffer.from(m.raw));
      }
      assert.deepEqual(got, msgs);
      assert.equal(f.buffered, 0);
    }),
  );
});

test('BackendFramer refuses unknown types and oversized lengths before buffering', () => {
  const f = new BackendFramer(1024);
  f.push(Buffer.from([0x44, 0x40, 0, 0, 0]));
  assert.throws(() => f.next(), /AFF_E_PG_PROTOCOL_TOO_LARGE|over the limit/);
  const g = new BackendFramer(1024);
  g.push(Buffer.from([0x01, 0, 0, 0, 4]));
  assert.throws(() => g.next(), /unknown backend message type/);
  const h = new BackendFramer(1024);
  h.push(Buffer.from([0x5a, 0, 0]));
  assert.equal(h.next(), undefined);
  assert.throws(() => h.end(), /closed inside a message/);
});
