import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAffidavitError } from '@affidavit/common';
import { FrontendReader } from './frontend-reader.ts';
import { encodeFrontendMessage, startupMessage, type FrontendMessageInput } from './frontend-writer.ts';
import { decodePassword, decodeSaslInitialResponse } from './password.ts';
import { saslInitialResponse, passwordMessage } from './frontend-writer.ts';
import type { FrontendMessage, PasswordMessage } from './frontend-messages.ts';

const strip = (m: FrontendMessage) => {
  const { raw: _raw, ...rest } = m as FrontendMessage & { raw: Buffer };
  return JSON.parse(JSON.stringify(rest, (_k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v)));
};
const normalize = (m: FrontendMessageInput) => JSON.parse(JSON.stringify(m, (_k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v)));

const startup: FrontendMessageInput = {
  type: 'StartupMessage',
  protocolVersion: { major: 3, minor: 0 },
  parameters: { user: 'alice', database: 'app', application_name: 'psql ✓' },
};
const typed: FrontendMessageInput[] = [
  { type: 'Query', query: "SELECT 'héllo'; SELECT 2" },
  { type: 'Parse', name: 's1', query: 'SELECT $1::int, $2', paramTypes: [23, 4294967295] },
  { type: 'Bind', portal: 'p1', statement: 's1', paramFormats: [0, 1], params: [Buffer.from('42'), null], resultFormats: [1] },
  { type: 'Bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] },
  { type: 'Describe', target: 'S', name: 's1' },
  { type: 'Describe', target: 'P', name: '' },
  { type: 'Execute', portal: 'p1', maxRows: 100 },
  { type: 'Close', target: 'P', name: 'p1' },
  { type: 'Sync' },
  { type: 'Flush' },
  { type: 'CopyData', data: Buffer.from('1\tone\n') },
  { type: 'CopyDone' },
  { type: 'CopyFail', message: 'client gave up' },
  { type: 'PasswordMessage', payload: Buffer.from('token\0') },
  { type: 'FunctionCall', functionOid: 1598, argFormats: [1], args: [Buffer.from([0, 0, 0, 1]), null], resultFormat: 1 },
  { type: 'Terminate' },
];

function readAll(bytes: Buffer, chunks: number[] = []): FrontendMessage[] {
  const r = new FrontendReader();
  const out: FrontendMessage[] = [];
  let at = 0;
  for (const c of chunks) {
    out.push(...r.read(bytes.subarray(at, Math.min(at + c, bytes.length))));
    at = Math.min(at + c, bytes.length);
  }
  out.push(...r.read(bytes.subarray(at)));
  r.end();
  return out;
}

function expectCode(fn: () => unknown, code: string, msg?: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAffidavitError(e, code), `expected ${code}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    if (msg) assert.match((e as Error).message, msg);
    return true;
  });
}

test('every frontend message round-trips through writer and reader, with raw bytes kept', () => {
  const msgs = [startup, ...typed];
  const encoded = msgs.map(encodeFrontendMessage);
  const got = readAll(Buffer.concat(encoded));
  assert.equal(got.length, msgs.length);
  got.forEach((m, i) => {
    assert.deepEqual(strip(m), normalize(msgs[i]), `message ${i} (${msgs[i].type})`);
    assert.deepEqual(m.raw, encoded[i], `raw bytes of ${msgs[i].type}`);
  });
});

test('startup-phase requests: SSLRequest, GSSENCRequest, CancelRequest with pid and secret', () => {
  for (const type of ['SSLRequest', 'GSSENCRequest'] as const) {
    const r = new FrontendReader();
    const [m] = r.read(encodeFrontendMessage({ type }));
    assert.equal(m.type, type);
    assert.equal(r.phase, 'startup', 'a StartupMessage must still follow');
  }
  const r = new FrontendReader();
  const bytes = encodeFrontendMessage({ type: 'CancelRequest', processId: 4242, secretKey: Buffer.from('deadbeef', 'hex') });
  assert.deepEqual(bytes, Buffer.from('00000010' + '04d2162e' + '00001092' + 'deadbeef', 'hex'));
  const [m] = r.read(bytes);
  assert.ok(m.type === 'CancelRequest');
  assert.equal(m.processId, 4242);
  assert.equal(m.secretKey.toString('hex'), 'deadbeef');
  expectCode(() => r.read(Buffer.from('Q')), 'AFF_E_PG_PROTOCOL_MALFORMED', /after the session ended/);
});

test('SSLRequest then StartupMessage: buffered shows bytes sent before the TLS answer', () => {
  const r = new FrontendReader();
  r.push(Buffer.concat([encodeFrontendMessage({ type: 'SSLRequest' }), startupMessage({ user: 'u' })]));
  assert.equal(r.next()?.type, 'SSLRequest');
  assert.ok(r.buffered > 0, 'the proxy must see the early bytes and refuse');
  assert.equal(r.next()?.type, 'StartupMessage');
  assert.equal(r.phase, 'messages');
});

test('message views are zero-copy when a message lies inside one chunk', () => {
  const chunk = Buffer.concat([startupMessage({ user: 'u' }), encodeFrontendMessage({ type: 'Query', query: 'SELECT 1' })]);
  const [, q] = new FrontendReader().read(chunk);
  assert.equal(q.raw.buffer, chunk.buffer);
});

test('password payload decoders: cleartext and SASLInitialResponse', () => {
  const r = new FrontendReader();
  r.read(startupMessage({ user: 'u' }));
  const [p1, p2, p3] = r.read(
    Buffer.concat([passwordMessage('eyJ.token'), saslInitialResponse('SCRAM-SHA-256', 'n,,n=,r=abc'), saslInitialResponse('X', null)]),
  );
  assert.equal(decodePassword(p1 as PasswordMessage), 'eyJ.token');
  const s = decodeSaslInitialResponse(p2 as PasswordMessage);
  assert.equal(s.mechanism, 'SCRAM-SHA-256');
  assert.equal(s.data?.toString(), 'n,,n=,r=abc');
  assert.equal(decodeSaslInitialResponse(p3 as PasswordMessage).data, null);
  expectCode(() => decodePassword({ type: 'PasswordMessage', payload: Buffer.from('no-nul'), raw: Buffer.alloc(0) }), 'AFF_E_PG_PROTOCOL_MALFORMED', /NUL/);
  expectCode(
    () => decodeSaslInitialResponse({ type: 'PasswordMessage', payload: Buffer.from('M\0\0\0\0\x09ab'), raw: Buffer.alloc(0) }),
    'AFF_E_PG_PROTOCOL_MALFORMED',
    /overrun|needs/,
  );
});

const afterStartup = (bytes: Buffer | string) => () => {
  const r = new FrontendReader({ maxMessageSize: 1024 });
  r.read(startupMessage({ user: 'u' }));
  return r.read(typeof bytes === 'string' ? Buffer.from(bytes, 'hex') : bytes);
};

test('a length claiming 1 GB is refused from the 5-byte header, before buffering', () => {
  const r = new FrontendReader();
  r.read(startupMessage({ user: 'u' }));
  const before = process.memoryUsage().arrayBuffers;
  expectCode(() => r.read(Buffer.from('5140000000', 'hex')), 'AFF_E_PG_PROTOCOL_TOO_LARGE', /1073741824 bytes, over the limit of 16777216/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
  // The reader stays failed: the same error again, no resynchronisation.
  expectCode(() => r.read(Buffer.from('5300000004', 'hex')), 'AFF_E_PG_PROTOCOL_TOO_LARGE');
});

test('configured maximum and the small-message limit are enforced', () => {
  expectCode(afterStartup('5100000401'), 'AFF_E_PG_PROTOCOL_TOO_LARGE', /over the limit of 1024/);
  const r = new FrontendReader();
  r.read(startupMessage({ user: 'u' }));
  expectCode(() => r.read(Buffer.from('4500010000', 'hex')), 'AFF_E_PG_PROTOCOL_TOO_LARGE', /limit of 10000/);
  expectCode(() => new FrontendReader({ maxMessageSize: 1 }), 'AFF_E_CONFIG_INVALID');
});

test('lengths smaller than 4, and bodies on body-less messages, are refused', () => {
  expectCode(afterStartup('5100000003'), 'AFF_E_PG_PROTOCOL_BAD_LENGTH', /minimum 4/);
  expectCode(afterStartup('51ffffffff'), 'AFF_E_PG_PROTOCOL_BAD_LENGTH');
  expectCode(afterStartup('530000000500'), 'AFF_E_PG_PROTOCOL_BAD_LENGTH', /must be 4/);
  expectCode(() => new FrontendReader().read(Buffer.from('0000000400', 'hex')), 'AFF_E_PG_PROTOCOL_BAD_LENGTH', /startup packet/);
});

test('unknown message types are refused at the type byte', () => {
  expectCode(afterStartup('7a'), 'AFF_E_PG_PROTOCOL_UNKNOWN_MESSAGE', /0x7a/);
  expectCode(afterStartup('00'), 'AFF_E_PG_PROTOCOL_UNKNOWN_MESSAGE');
});

test('garbage before the startup packet is named for what it looks like', () => {
  expectCode(() => new FrontendReader().read(Buffer.from('GET / HTTP/1.1\r\n')), 'AFF_E_PG_PROTOCOL_BAD_STARTUP', /text "GET "/);
  expectCode(() => new FrontendReader().read(Buffer.from('160301020001', 'hex')), 'AFF_E_PG_PROTOCOL_BAD_STARTUP', /TLS ClientHello/);
  expectCode(() => new FrontendReader().read(Buffer.from('0000000800020000', 'hex')), 'AFF_E_PG_PROTOCOL_BAD_STARTUP', /protocol 2\.0/);
  expectCode(() => new FrontendReader().read(Buffer.from('0000000c04d2162f00000000', 'hex')), 'AFF_E_PG_PROTOCOL_BAD_LENGTH', /SSLRequest/);
  expectCode(() => new FrontendReader().read(Buffer.from('0000000c04d2162e00000001', 'hex')), 'AFF_E_PG_PROTOCOL_BAD_LENGTH', /CancelRequest/);
});

test('truncated streams are reported at end()', () => {
  const r = new FrontendReader();
  assert.deepEqual(r.read(startupMessage({ user: 'u' }).subarray(0, 10)), []);
  expectCode(() => r.end(), 'AFF_E_PG_PROTOCOL_TRUNCATED', /startup packet/);
  const r2 = new FrontendReader();
  r2.read(startupMessage({ user: 'u' }));
  r2.read(Buffer.from('5100000010', 'hex'));
  expectCode(() => r2.end(), 'AFF_E_PG_PROTOCOL_TRUNCATED', /incomplete message/);
});

test('malformed contents: missing NULs, overrunning counts, trailing bytes, bad codes', () => {
  const M = 'AFF_E_PG_PROTOCOL_MALFORMED';
  // Startup packet whose parameter list lacks its final NUL: "user\0u\0" then the packet ends.
  const startupNoFinalNul = Buffer.concat([Buffer.from('0000000f00030000', 'hex'), Buffer.from('user\0u\0')]);
  expectCode(() => new FrontendReader().read(startupNoFinalNul), M, /missing NUL/);
  // A parameter name with no terminator at all.
  expectCode(() => new FrontendReader().read(Buffer.concat([Buffer.from('0000000c00030000', 'hex'), Buffer.from('user')])), M, /parameter name: missing NUL/);
  expectCode(() => new FrontendReader().read(Buffer.concat([Buffer.from('0000001100030000', 'hex'), Buffer.from('u\0a\0u\0b\0\0')])), M, /given twice/);
  expectCode(() => new FrontendReader().read(Buffer.concat([Buffer.from('0000000d00030000', 'hex'), Buffer.from('\0\0\0\0\0')])), M, /trailing/);
  expectCode(afterStartup('510000000561'), M, /query: missing NUL/); // Query "a" without NUL
  expectCode(afterStartup('5100000007610000'), M, /1 unexpected trailing/); // "a\0" + an extra byte
  expectCode(afterStartup('5000000008' + '00' + '00' + '7fff'), M, /count 32767 overruns/); // Parse with huge param count
  expectCode(afterStartup('5000000009' + '00' + '00' + 'ffff' + '00'), M, /negative count/);
  // Bind: one param claiming 100 bytes.
  expectCode(afterStartup('420000000e' + '00' + '00' + '0000' + '0001' + '00000064'), M, /parameter\[0\]/);
  expectCode(afterStartup('420000000e' + '00' + '00' + '0000' + '0001' + 'fffffffe'), M, /invalid length -2/);
  expectCode(afterStartup('420000000e' + '00' + '00' + '0001' + '0002' + '0000' + '0000'), M, /format code 2/);
  expectCode(afterStartup('4400000006' + '58' + '00'), M, /target must be/);
  expectCode(afterStartup('5100000007' + 'c3' + '28' + '00'), M, /UTF-8/);
  expectCode(afterStartup('460000000e' + '00000001' + '0000' + '0000' + '0007'), M, /result format 7/);
});

test('fast-check: any chunking of a message stream yields the same messages', () => {
  const all = Buffer.concat([startup, ...typed.filter((m) => m.type !== 'Terminate')].map(encodeFrontendMessage));
  const expected = readAll(all).map(strip);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 80 }), (cuts) => {
      assert.deepEqual(readAll(all, cuts).map(strip), expected);
    }),
    { numRuns: 300 },
  );
});

test('fast-check: random bytes only ever raise our typed errors, and terminate', () => {
  const prefixes = [Buffer.alloc(0), startupMessage({ user: 'u' })];
  fc.assert(
    fc.property(
      fc.constantFrom(...prefixes),
      fc.uint8Array({ maxLength: 300 }),
      fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 10 }),
      (prefix, bytes, cuts) => {
        const r = new FrontendReader({ maxMessageSize: 4096 });
        const data = Buffer.concat([prefix, bytes]);
        try {
          let at = 0;
          for (const c of [...cuts, data.length]) {
            r.read(data.subarray(at, at + c));
            at += c;
            if (at >= data.length) break;
          }
          r.end();
        } catch (e) {
          assert.ok(isAffidavitError(e) && /^AFF_E_PG_PROTOCOL_/.test(e.code), `unexpected ${String(e)}`);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('fast-check: random typed messages round-trip', () => {
  const text = fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0'));
  const bytes = fc.uint8Array({ maxLength: 20 }).map((u) => Buffer.from(u));
  const msg: fc.Arbitrary<FrontendMessageInput> = fc.oneof(
    text.map((query) => ({ type: 'Query' as const, query })),
    fc.record({ type: fc.constant('Parse' as const), name: text, query: text, paramTypes: fc.array(fc.nat(), { maxLength: 5 }) }),
    fc.record({
      type: fc.constant('Bind' as const),
      portal: text,
      statement: text,
      paramFormats: fc.array(fc.constantFrom(0, 1), { maxLength: 1 }),
      params: fc.array(fc.option(bytes, { nil: null }), { maxLength: 5 }),
      resultFormats: fc.array(fc.constantFrom(0, 1), { maxLength: 5 }),
    }),
    fc.record({ type: fc.constant('Execute' as const), portal: text, maxRows: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
    fc.record({ type: fc.constant('Close' as const), target: fc.constantFrom('S' as const, 'P' as const), name: text }),
    bytes.map((data) => ({ type: 'CopyData' as const, data })),
  );
  fc.assert(
    fc.property(fc.array(msg, { maxLength: 10 }), (msgs) => {
      const got = readAll(Buffer.concat([encodeFrontendMessage(startup), ...msgs.map(encodeFrontendMessage)]));
      assert.deepEqual(got.slice(1).map(strip), msgs.map(normalize));
    }),
    { numRuns: 300 },
  );
});
