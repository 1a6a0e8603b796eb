// Backend writers are checked against an independent parser (pg-protocol, through BackendReader),
// so a framing mistake on our side cannot hide behind a matching mistake in our own reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAffidavitError } from '@affidavit/common';
import * as w from './backend-writer.ts';
import { BackendReader } from './backend-reader.ts';
import { decodeDataRow, rewriteDataRow } from './data-row.ts';

const one = (b: Buffer) => {
  const frames = new BackendReader().read(b);
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0].raw, b);
  return frames[0].message as unknown as Record<string, unknown>;
};

function expectCode(fn: () => unknown, code: string, msg?: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAffidavitError(e, code), `expected ${code}, got ${String(e)}`);
    if (msg) assert.match((e as Error).message, msg);
    return true;
  });
}

test('authentication, status and key messages parse as what was written', () => {
  assert.equal(one(w.authenticationOk()).name, 'authenticationOk');
  assert.equal(one(w.authenticationCleartextPassword()).name, 'authenticationCleartextPassword');
  assert.deepEqual(w.authenticationCleartextPassword(), Buffer.from('520000000800000003', 'hex'));
  const ps = one(w.parameterStatus('server_version', '16.4 (affidavit)'));
  assert.equal(ps.parameterName, 'server_version');
  assert.equal(ps.parameterValue, '16.4 (affidavit)');
  const k = one(w.backendKeyData(1234, 0x7eadbeef));
  assert.equal(k.processID, 1234);
  assert.equal(k.secretKey, 0x7eadbeef);
  for (const s of ['I', 'T', 'E'] as const) assert.equal(one(w.readyForQuery(s)).status, s);
});

test('ErrorResponse and NoticeResponse carry severity, SQLSTATE, message, detail and hint', () => {
  const e = one(
    w.errorResponse({
      severity: 'ERROR',
      code: '42501',
      message: 'blocked by policy',
      detail: 'rule no-drop',
      hint: 'ask an approver',
      extra: { W: 'affidavit' },
    }),
  );
  assert.equal(e.name, 'error');
  assert.equal(e.severity, 'ERROR');
  assert.equal(e.code, '42501');
  assert.equal(e.message, 'blocked by policy');
  assert.equal(e.detail, 'rule no-drop');
  assert.equal(e.hint, 'ask an approver');
  assert.equal(e.where, 'affidavit');
  const n = one(w.noticeResponse({ severity: 'NOTICE', code: '01000', message: 'values masked' }));
  assert.equal(n.name, 'notice');
  assert.equal(n.message, 'values masked');
  assert.equal(n.detail, undefined);
  expectCode(() => w.errorResponse({ severity: 'ERROR', code: '425', message: 'x' }), 'AFF_E_PG_PROTOCOL_UNENCODABLE', /SQLSTATE/);
  expectCode(() => w.errorResponse({ severity: 'ERROR', code: '42501', message: 'a\0b' }), 'AFF_E_PG_PROTOCOL_UNENCODABLE', /NUL/);
});

test('RowDescription, DataRow, CommandComplete and the extended-protocol acknowledgements', () => {
  const rd = one(
    w.rowDescription([
      { name: 'id', typeOid: 23, typeSize: 4, tableOid: 16384, columnAttr: 1 },
      { name: 'email', typeOid: 25 },
    ]),
  );
  const fields = rd.fields as { name: string; dataTypeID: number; tableID: number; columnID: number; dataTypeSize: number; format: string }[];
  assert.deepEqual(
    fields.map((f) => [f.name, f.dataTypeID, f.tableID, f.columnID, f.dataTypeSize, f.format]),
    [
      ['id', 23, 16384, 1, 4, 'text'],
      ['email', 25, 0, 0, -1, 'text'],
    ],
  );
  const dr = one(w.dataRow(['1', null, 'ü', Buffer.from('')]));
  assert.deepEqual(dr.fields, ['1', null, 'ü', '']);
  assert.equal(one(w.commandComplete('SELECT 2')).text, 'SELECT 2');
  const names = [w.emptyQueryResponse(), w.parseComplete(), w.bindComplete(), w.closeComplete(), w.noData()].map((b) => one(b).name);
  assert.deepEqual(names, ['emptyQuery', 'parseComplete', 'bindComplete', 'closeComplete', 'noData']);
  assert.deepEqual([w.encryptionResponse(true), w.encryptionResponse(false)].map(String), ['S', 'N']);
});

test('rewriteDataRow replaces values with correct lengths and keeps untouched rows byte-identical', () => {
  const row = w.dataRow(['4111111111111111', 'alice@example.com', null, '7']);
  assert.equal(
    rewriteDataRow(row, () => undefined),
    row,
    'no change must return the same buffer',
  );
  const masked = rewriteDataRow(row, (i, _v) => (i === 0 ? '************1111' : i === 1 ? Buffer.from('a***@example.com') : i === 2 ? 'was-null' : undefined));
  assert.deepEqual(
    decodeDataRow(masked).map((v) => v?.toString() ?? null),
    ['************1111', 'a***@example.com', 'was-null', '7'],
  );
  assert.deepEqual(one(masked).fields, ['************1111', 'a***@example.com', 'was-null', '7']);
  const toNull = rewriteDataRow(row, (i) => (i === 1 ? null : undefined));
  assert.equal(decodeDataRow(toNull)[1], null);
  assert.equal(toNull.length, row.length - 'alice@example.com'.length);
});

test('malformed DataRows and server streams give typed errors', () => {
  const M = 'AFF_E_PG_PROTOCOL_MALFORMED';
  // one column claiming 100 bytes where there are 2
  const bad = Buffer.from('440000000c' + '0001' + '00000064' + '6162', 'hex');
  expectCode(() => decodeDataRow(bad), M, /column\[0\]/);
  expectCode(() => new BackendReader().read(bad), M, /column\[0\]/);
  expectCode(() => decodeDataRow(w.commandComplete('x')), M, /not a DataRow/);
  expectCode(() => new BackendReader().read(Buffer.from('7a00000004', 'hex')), 'AFF_E_PG_PROTOCOL_UNKNOWN_MESSAGE');
  expectCode(() => new BackendReader().read(Buffer.from('5a00000003', 'hex')), 'AFF_E_PG_PROTOCOL_BAD_LENGTH');
  expectCode(() => new BackendReader({ maxMessageSize: 1024 }).read(Buffer.from('4440000000', 'hex')), 'AFF_E_PG_PROTOCOL_TOO_LARGE');
  const r = new BackendReader();
  r.read(w.readyForQuery('I').subarray(0, 3));
  expectCode(() => r.end(), 'AFF_E_PG_PROTOCOL_TRUNCATED');
});

test('fast-check: DataRows survive any chunking and rewriting keeps lengths right', () => {
  const value = fc.option(fc.string({ maxLength: 30 }), { nil: null });
  fc.assert(
    fc.property(
      fc.array(fc.array(value, { maxLength: 6 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 17 }), { maxLength: 30 }),
      (rows, cuts) => {
        const stream = Buffer.concat(rows.map((r) => w.dataRow(r)));
        const reader = new BackendReader();
        const frames = [];
        let at = 0;
        for (const c of [...cuts, stream.length]) {
          frames.push(...reader.read(stream.subarray(at, at + c)));
          at += c;
        }
        reader.end();
        assert.deepEqual(
          frames.map((f) => (f.message as unknown as { fields: unknown[] }).fields),
          rows,
        );
        for (const f of frames) {
          const up = rewriteDataRow(f.raw, (_i, v) => (v === null ? null : v.toString().toUpperCase()));
          assert.deepEqual(
            decodeDataRow(up).map((v) => v?.toString() ?? null),
            decodeDataRow(f.raw).map((v) => v?.toString().toUpperCase() ?? null),
          );
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('fast-check: random server bytes only raise our typed errors', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        const r = new BackendReader({ maxMessageSize: 4096 });
        r.read(Buffer.from(bytes));
        r.end();
      } catch (e) {
        assert.ok(isAffidavitError(e) && /^AFF_E_PG_PROTOCOL_/.test(e.code), `unexpected ${String(e)}`);
      }
    }),
    { numRuns: 2000 },
  );
});
