import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createDefaultCodec } from './codec.ts';
import { exampleEvent } from './examples.ts';
import type { LedgerRecord } from './generated/events.ts';

const codec = createDefaultCodec();
const TYPES: LedgerRecord['type'][] = [
  'ApprovalDecided',
  'ApprovalRefused',
  'ApprovalRequested',
  'AuthenticationFailed',
  'CommandBlocked',
  'CommandCompleted',
  'CommandIssued',
  'DataMasked',
  'MaskedValueOpened',
  'ResultCaptured',
  'SessionEnded',
  'SessionStarted',
  'TerminalOutput',
  'InputRejected',
];

const envelopeOf = (e: LedgerRecord) => {
  const r = e as unknown as Record<string, unknown>;
  return { actor: r.actor, source: r.source, target: r.target, feeder: r.feeder };
};

test('encodeWith gives the very bytes of encode for an example of every event type', () => {
  for (const type of TYPES) {
    const e = exampleEvent(type);
    const env = codec.encodeEnvelope(envelopeOf(e));
    const withEnv = { ...e, ...(env ? env.values : {}) } as LedgerRecord;
    assert.deepEqual(codec.encodeWith(withEnv, env), codec.encode(withEnv), type);
    const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
    assert.deepEqual(plain(codec.decode(codec.encodeWith(withEnv, env))), plain(withEnv), `${type} round-trips`);
  }
});

// Longs across the whole safe range, with the edges of the native-long fast path (2^52) and of
// avsc's own long (±9007199254740990) weighted in.
const EDGES = [
  0,
  1,
  -1,
  2 ** 30,
  -(2 ** 30) - 1,
  2 ** 52,
  2 ** 52 + 1,
  -(2 ** 52),
  -(2 ** 52) - 1,
  9007199254740990,
  -9007199254740990,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
];
const anyLong = fc.oneof(
  fc.constantFrom(...EDGES),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
);

test('encodeWith equals encode for arbitrary command texts, ids, numbers and envelopes (property)', () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 200 }),
      fc.array(fc.option(fc.string({ maxLength: 20 }), { nil: null }), { maxLength: 5 }),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.option(anyLong, { nil: null }),
      fc.string({ maxLength: 40 }),
      fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }),
      anyLong,
      anyLong,
      (text, parameters, seq, rows, email, groups, occurredAt, durationMicros) => {
        const base = exampleEvent('CommandIssued');
        const env = codec.encodeEnvelope({ actor: { ...base.actor!, email, groups }, source: base.source, target: base.target, feeder: base.feeder })!;
        assert.ok(env, 'a valid envelope encodes');
        const issued = { ...exampleEvent('CommandIssued', { text, parameters, seq, occurredAt }), ...env.values } as LedgerRecord;
        assert.deepEqual(codec.encodeWith(issued, env), codec.encode(issued));
        const completed = { ...exampleEvent('CommandCompleted', { rows, seq, durationMicros }), ...env.values } as LedgerRecord;
        assert.deepEqual(codec.encodeWith(completed, env), codec.encode(completed));
      },
    ),
    { numRuns: 200 },
  );
});

test('encodeWith validates like encode: an invalid or undeclared field is refused with the same error', () => {
  const e = exampleEvent('CommandIssued');
  const env = codec.encodeEnvelope(envelopeOf(e))!;
  const ok = { ...e, ...env.values };
  const bad = [
    { ...ok, decision: 'maybe' },
    { ...ok, seq: 1.5 },
    { ...ok, surprise: 'field' },
    { ...ok, text: undefined },
    { ...ok, type: 'NoSuchEvent' },
  ] as unknown as LedgerRecord[];
  for (const b of bad) {
    let expected: unknown;
    try {
      codec.encode(b);
    } catch (err) {
      expected = err;
    }
    assert.ok(expected, `encode accepted ${JSON.stringify(b).slice(0, 80)}`);
    assert.throws(
      () => codec.encodeWith(b, env),
      (err: Error & { code?: string }) => err.code === (expected as { code?: string }).code && err.message === (expected as Error).message,
    );
  }
});

test('an envelope that is not the one encoded falls back to the full encoder (never stale bytes)', () => {
  const e = exampleEvent('CommandIssued');
  const env = codec.encodeEnvelope(envelopeOf(e))!;
  // Same shape, different objects and a different email: the fast path must not use env's bytes.
  const other = { ...e, ...env.values, actor: { ...e.actor!, email: 'someone.else@example.com' } } as LedgerRecord;
  assert.deepEqual(codec.encodeWith(other, env), codec.encode(other));
  assert.equal((codec.decode(codec.encodeWith(other, env)) as typeof e).actor!.email, 'someone.else@example.com');
  assert.equal(codec.encodeEnvelope({ ...envelopeOf(e), feeder: { id: 1 } }), undefined, 'an invalid envelope is not pre-encoded');
});

test('the fast path really applies to the command events (a plan, and bytes written without the fallback)', async () => {
  const { EnvelopeSplicer } = await import('./envelope-splice.ts');
  const { loadSchemaFiles } = await import('./schema-files.ts');
  const files = loadSchemaFiles();
  const splicer = new EnvelopeSplicer(
    files.envelope.map((f) => f.schema),
    [...files.events, ...files.ledger].map((f) => f.schema),
  );
  for (const t of ['CommandIssued', 'CommandCompleted', 'SessionStarted', 'SessionEnded', 'CommandBlocked']) assert.ok(splicer.hasPlan(t), t);
  assert.equal(splicer.hasPlan('InputRejected'), false, 'a record without the envelope has no plan');
  const e = exampleEvent('CommandCompleted');
  const env = splicer.envelope(envelopeOf(e))!;
  const out = Buffer.alloc(4096);
  const end = splicer.encode({ ...e, ...env.values } as unknown as Record<string, unknown>, env, out, 10);
  assert.ok(end > 10);
  assert.deepEqual(out.subarray(10, end), codec.encode(e).subarray(10));
});

test('encodeDraft writes the very bytes of encode({ ...draft, ...head, ...envelope }), or declines (property)', () => {
  const base = exampleEvent('CommandIssued');
  const envelope = { actor: base.actor, source: base.source, target: base.target, feeder: base.feeder };
  const env = codec.encodeEnvelope(envelope)!;
  fc.assert(
    fc.property(
      fc.string({ maxLength: 120 }),
      fc.array(fc.option(fc.string({ maxLength: 20 }), { nil: null }), { maxLength: 4 }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.option(anyLong, { nil: null }),
      anyLong,
      (text, parameters, seq, rows, occurredAt) => {
        for (const e of [exampleEvent('CommandIssued', { text, parameters }), exampleEvent('CommandCompleted', { rows })]) {
          const r = e as unknown as Record<string, unknown>;
          const draft: Record<string, unknown> = {};
          for (const k of Object.keys(r))
            if (!['eventId', 'occurredAt', 'sessionId', 'seq', 'actor', 'source', 'target', 'feeder'].includes(k)) draft[k] = r[k];
          const head = { eventId: String(r.eventId), type: String(r.type), occurredAt, sessionId: String(r.sessionId), seq };
          const full = codec.encode({ ...draft, ...head, ...envelope } as unknown as LedgerRecord);
          const fast = codec.encodeDraft(head, draft, envelope, env);
          if (Math.abs(occurredAt) > 2 ** 52 || (rows !== null && Math.abs(rows) > 2 ** 52)) assert.ok(fast === undefined || fast.equals(full));
          else assert.deepEqual(fast, full, `${head.type} takes the fast path and writes the same bytes`);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('encodeDraft declines a draft it cannot write exactly: extra, head or envelope fields, another type, another envelope', () => {
  const base = exampleEvent('CommandCompleted');
  const envelope = { actor: base.actor, source: base.source, target: base.target, feeder: base.feeder };
  const env = codec.encodeEnvelope(envelope)!;
  const r = base as unknown as Record<string, unknown>;
  const draft: Record<string, unknown> = {};
  for (const k of ['type', 'commandId', 'outcome', 'tag', 'rows', 'durationMicros', 'errorCode', 'errorMessage', 'resultDigest']) draft[k] = r[k];
  const head = { eventId: base.eventId, type: 'CommandCompleted', occurredAt: base.occurredAt, sessionId: base.sessionId, seq: base.seq };
  assert.ok(codec.encodeDraft(head, draft, envelope, env), 'the plain draft is written');
  assert.equal(codec.encodeDraft(head, { ...draft, extra: 1 }, envelope, env), undefined);
  assert.equal(codec.encodeDraft(head, { ...draft, seq: 5 }, envelope, env), undefined);
  assert.equal(codec.encodeDraft(head, { ...draft, actor: null }, envelope, env), undefined);
  assert.equal(codec.encodeDraft({ ...head, type: 'CommandIssued' }, draft, envelope, env), undefined);
  assert.equal(codec.encodeDraft(head, { ...draft, rows: 'many' }, envelope, env), undefined);
  assert.equal(codec.encodeDraft(head, draft, { ...envelope, actor: structuredClone(envelope.actor) }, env), undefined, 'env must encode this very envelope');
});

test('encodeDraft hands out views of a shared slab that later events never overwrite, big events included', () => {
  const base = exampleEvent('CommandIssued');
  const envelope = { actor: base.actor, source: base.source, target: base.target, feeder: base.feeder };
  const env = codec.encodeEnvelope(envelope)!;
  const made: { got: Buffer; want: Buffer }[] = [];
  // Enough events to fill several 64 KiB slabs, with some of 20-30 KiB that do not fit the room left.
  for (let i = 0; i < 1500; i++) {
    const text = i % 97 === 0 ? `select '${'x'.repeat(20_000 + i)}'` : `select ${i}`;
    const draft: Record<string, unknown> = {
      type: 'CommandIssued',
      commandId: `c${i}`,
      channel: 'simple',
      text,
      parameters: [],
      classes: ['select'],
      decision: 'allow',
      ruleId: null,
    };
    const head = { eventId: `e${i}`, type: 'CommandIssued', occurredAt: 1_700_000_000_000_000 + i, sessionId: base.sessionId, seq: i };
    const got = codec.encodeDraft(head, draft, envelope, env);
    assert.ok(got, `event ${i} takes the fast path`);
    made.push({ got, want: codec.encode({ ...draft, ...head, ...envelope } as unknown as LedgerRecord) });
  }
  for (const [i, m] of made.entries()) assert.ok(m.got.equals(m.want), `event ${i} still holds its own bytes`);
});

test("a DataMasked event larger than a slab, with longs below the top level, takes the fast path and writes encode()'s bytes", () => {
  const base = exampleEvent('DataMasked');
  const envelope = { actor: base.actor, source: base.source, target: base.target, feeder: base.feeder };
  const env = codec.encodeEnvelope(envelope)!;
  const masks = Array.from({ length: 1000 }, (_, i) => ({
    column: i % 2 ? 'card_number' : 'email',
    row: 40_000 + (i >> 1),
    ruleId: 'mask-customers#columns',
    detector: i % 7 ? null : 'email',
    masked: '********',
    original: null,
  }));
  const chunk = (first: number, count: number) => ({
    first,
    count,
    keyId: 'k1',
    nonce: Buffer.alloc(12, first),
    ciphertext: Buffer.alloc(count * 24, 0x5a),
    aad: `v1|session|command|${first}|${count}|${'ab'.repeat(32)}`,
  });
  const draft: Record<string, unknown> = {
    type: 'DataMasked',
    commandId: base.commandId,
    count: 1000,
    masks,
    truncated: false,
    sealedOriginals: [chunk(0, 256), chunk(256, 256), chunk(512, 256), chunk(768, 232)],
  };
  const head = { eventId: base.eventId, type: 'DataMasked', occurredAt: base.occurredAt, sessionId: base.sessionId, seq: 9 };
  const want = codec.encode({ ...draft, ...head, ...envelope } as unknown as LedgerRecord);
  assert.ok(want.length > 64 * 1024, `the event (${want.length} bytes) is larger than a slab`);
  const got = codec.encodeDraft(head, draft, envelope, env);
  assert.ok(got, 'written by the compiled writers');
  assert.ok(got.equals(want));
  // A nested long past 2^52 is not written natively: declined here, exact through encode.
  const far = { ...draft, masks: masks.map((m, i) => (i === 500 ? { ...m, row: 2 ** 53 - 1 } : m)) };
  assert.equal(codec.encodeDraft(head, far, envelope, env), undefined);
  const exact = codec.decode(codec.encodeWith({ ...far, ...head, ...envelope } as unknown as LedgerRecord, env)) as unknown as { masks: { row: number }[] };
  assert.equal(exact.masks[500].row, 2 ** 53 - 1);
  // A Uint8Array that is not a Buffer is what avsc refuses: declined, and encode reports it.
  const notBuffer = { ...draft, sealedOriginals: [{ ...chunk(0, 1000), nonce: new Uint8Array(12) }] };
  assert.equal(codec.encodeDraft(head, notBuffer, envelope, env), undefined);
  assert.throws(() => codec.encode({ ...notBuffer, ...head, ...envelope } as unknown as LedgerRecord), /invalid/);
});
