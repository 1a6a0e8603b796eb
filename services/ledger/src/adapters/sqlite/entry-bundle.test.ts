import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAffidavitError } from '@affidavit/common';
import type { NewEntry } from '../../ports/ledger-store.ts';
import { BUNDLE_WIDTH, eventIdKey, formatUuid, frameEntries, isCanonicalUuid, parseBundle } from './entry-bundle.ts';

const TOPICS = ['affidavit.session-events.v1', 'other.topic'];
const ref = (t: string) => TOPICS.indexOf(t) + 1;
const name = (r: number) => TOPICS[r - 1];
const WHERE = 'log p0 entry bundle 7';
const UUID = '01900000-0000-7000-8000-00000000002a';
/** alias replaces character `at` of a canonical UUID with `c`. */
const alias = (at: number, c: string) => UUID.slice(0, at) + c + UUID.slice(at + 1);

const entry = (over: Partial<NewEntry> = {}): NewEntry => ({
  eventId: '01900000-0000-7000-8000-00000000002a',
  kind: 'event',
  bytes: Buffer.from([0xc3, 0x01, 1, 2, 3]),
  source: { topic: TOPICS[0], partition: 3, offset: 42n },
  appendedAt: 1_700_000_000_000,
  ...over,
});
// Plain objects (fast-check records have a null prototype), bytes as a Buffer.
const plain = (e: NewEntry) => ({ ...e, bytes: Buffer.from(e.bytes), source: e.source && { ...e.source } });
const parse = (data: Uint8Array, count: number) => parseBundle(data, count, WHERE, name).map(plain);

/** unreadable asserts that parsing fails with StoreUnreadableError naming the bundle and matching `re`. */
function unreadable(data: Uint8Array, count: number, re: RegExp): void {
  assert.throws(
    () => parseBundle(data, count, WHERE, name),
    (e: unknown) => {
      assert.ok(isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE'), String(e));
      assert.match((e as Error).message, /log p0 entry bundle 7/);
      assert.match((e as Error).message, re);
      return true;
    },
  );
}

describe('entry bundle framing', () => {
  test('round trip: UUID and text ids, null source, rejected kind, empty and binary bytes, extreme values', () => {
    const entries: NewEntry[] = [
      entry(),
      entry({
        eventId: 'rejected:affidavit.session-events.v1:3:42',
        kind: 'rejected',
        source: { topic: TOPICS[1], partition: 2 ** 31 - 1, offset: 2n ** 63n - 1n },
      }),
      entry({ eventId: 'x', source: null, bytes: new Uint8Array(0), appendedAt: 0 }),
      entry({ eventId: '01900000-0000-7000-8000-00000000002A', appendedAt: Number.MAX_SAFE_INTEGER }), // upper case: not canonical, kept as text
      entry({ eventId: 'é☃𝄞', bytes: Buffer.alloc(70_000, 0xff) }),
      // 36 characters that a byte-wise reader could mistake for a UUID: U+0130 and U+0F30 have
      // '0' (0x30) as their low byte, U+012D has '-' (0x2d). They are text, not 16 bytes.
      entry({ eventId: alias(0, '\u0130') }),
      entry({ eventId: alias(35, '\u0f30') }),
      entry({ eventId: alias(8, '\u012d') }),
    ];
    const framed = frameEntries(entries, ref);
    assert.deepEqual(parse(framed.data, entries.length), entries.map(plain));
    assert.equal(framed.ends.length, entries.length);
    assert.equal(framed.ends[entries.length - 1], framed.data.length);
    // The UUID key is the id's 16 bytes (also in the contiguous uuids buffer); any other id keys as its text.
    const key = (i: number) => eventIdKey(framed, entries, i);
    assert.deepEqual(Buffer.from(key(0) as Uint8Array), Buffer.from('01900000000070008000' + '00000000002a', 'hex'));
    assert.deepEqual(framed.uuids.subarray(0, 16), Buffer.from(key(0) as Uint8Array));
    assert.deepEqual([...framed.isUuid], [1, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(key(1), entries[1].eventId);
    assert.equal(key(3), entries[3].eventId);
    for (const i of [5, 6, 7]) {
      assert.equal(entries[i].eventId.length, 36);
      assert.equal(key(i), entries[i].eventId, `${JSON.stringify(entries[i].eventId)} is keyed as text`);
    }
  });

  test('the framing of a batch is the concatenation of its records: a wider bundle has the narrower one as a prefix', () => {
    const a = [entry(), entry({ eventId: 'b', source: null })];
    const b = [entry({ eventId: 'c', kind: 'rejected' })];
    const whole = frameEntries([...a, ...b], ref);
    assert.deepEqual(whole.data, Buffer.concat([frameEntries(a, ref).data, frameEntries(b, ref).data]));
    // Framed after a prefix (the stored partial bundle) into a caller's buffer: same bytes, offsets past the prefix.
    const scratch = Buffer.alloc(4096, 0xee); // records, then 16 bytes of UUID key per entry
    const grown = frameEntries(b, ref, frameEntries(a, ref).data, (n) => scratch.subarray(0, n));
    assert.deepEqual(grown.data, whole.data);
    assert.equal(grown.data.buffer, scratch.buffer, 'written into the given buffer');
    assert.deepEqual([...grown.ends], [whole.ends[2]]);
  });

  test('an eventId with a lone surrogate is refused: it could not be read back unchanged', () => {
    assert.throws(
      () => frameEntries([entry({ eventId: 'a\ud800b' })], ref),
      (e: unknown) => isAffidavitError(e, 'AFF_E_LEDGER_INPUT_INVALID'),
    );
  });

  test('isCanonicalUuid and formatUuid', () => {
    assert.ok(isCanonicalUuid('01900000-0000-7000-8000-00000000002a'));
    for (const no of [
      '01900000-0000-7000-8000-00000000002A',
      alias(0, '\u0130'),
      alias(8, '\u012d'),
      alias(35, '\u0161'),
      '01900000000070008000000000000002a',
      '01900000-0000-7000-8000-00000000002',
      '{01900000-0000-7000-8000-00000000002a}',
      '01900000-0000-7000-8000_00000000002a',
    ]) {
      assert.equal(isCanonicalUuid(no), false, no);
    }
    assert.equal(formatUuid(Buffer.from('00ff00000000700080000000000000ab', 'hex')), '00ff0000-0000-7000-8000-0000000000ab');
    // The table-driven formatter against the plain hex form, at any offset; and no read past the end.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 40 }), fc.nat(24), (b, at0) => {
        const at = at0 % (b.length - 15);
        const h = Buffer.from(b.subarray(at, at + 16)).toString('hex');
        assert.equal(formatUuid(b, at), `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
      }),
    );
    assert.throws(() => formatUuid(new Uint8Array(16), 1), RangeError);
  });

  describe('a malformed bundle is StoreUnreadableError naming the log and bundle, never a crash or a huge allocation', () => {
    const one = frameEntries([entry()], ref).data; // flags, appendedAt, uuid, source, len, bytes
    const text = frameEntries([entry({ eventId: 'abc', source: null })], ref).data;
    const LEN_AT = 1 + 8 + 16 + 16; // the bytes length of `one`
    const patch = (b: Buffer, at: number, write: (c: Buffer) => void) => {
      const c = Buffer.from(b);
      write(c.subarray(at));
      return c;
    };

    test('count outside 1..256, or not matching the records', () => {
      unreadable(one, 0, /claims 0 entries/);
      unreadable(one, 257, /claims 257 entries/);
      unreadable(one, 1.5, /claims 1.5 entries/);
      unreadable(one, 2, /record 1 of 2: the header needs 9 bytes, 0 left/);
      unreadable(Buffer.concat([one, one]), 1, /bytes follow its 1 records/);
      unreadable(Buffer.concat([one, Buffer.from([0])]), 1, /1 bytes follow/);
    });

    test('lengths that lie', () => {
      unreadable(
        patch(one, LEN_AT, (c) => c.writeUInt32BE(0xffffffff)),
        1,
        /bytes length 4294967295 is over/,
      );
      unreadable(
        patch(one, LEN_AT, (c) => c.writeUInt32BE(6)),
        1,
        /the entry bytes needs 6 bytes, 5 left/,
      );
      unreadable(
        patch(one, LEN_AT, (c) => c.writeUInt32BE(4)),
        1,
        /1 bytes follow/,
      );
      unreadable(
        patch(text, 9, (c) => c.writeUInt16BE(0xffff)),
        1,
        /eventId length 65535 is outside/,
      );
      unreadable(
        patch(text, 9, (c) => c.writeUInt16BE(0)),
        1,
        /eventId length 0 is outside/,
      );
      unreadable(
        patch(text, 9, (c) => c.writeUInt16BE(200)),
        1,
        /the eventId needs 200 bytes/,
      );
      for (let cut = 0; cut < one.length; cut++) unreadable(one.subarray(0, cut), 1, /needs \d+ bytes/);
    });

    test('values out of range, unknown flags, bad text', () => {
      unreadable(
        patch(one, 0, (c) => (c[0] |= 8)),
        1,
        /unknown flag bits 0xe/,
      );
      unreadable(
        patch(one, 1, (c) => c.writeUInt32BE(2 ** 21)),
        1,
        /appendedAt is past 2\^53-1/,
      );
      unreadable(
        patch(one, 1 + 8 + 16 + 4, (c) => c.writeUInt32BE(2 ** 31)),
        1,
        /partition 2147483648 is past/,
      );
      unreadable(
        patch(one, 1 + 8 + 16 + 8, (c) => c.writeBigUInt64BE(2n ** 63n)),
        1,
        /offset is past 2\^63-1/,
      );
      unreadable(
        patch(one, 1 + 8 + 16, (c) => c.writeUInt32BE(99)),
        1,
        /topic ref 99 is not in the topics table/,
      );
      unreadable(
        patch(text, 11, (c) => (c[0] = 0xff)),
        1,
        /not valid UTF-8/,
      );
      const uuidAsText = frameEntries([entry({ eventId: 'z'.repeat(36), source: null })], ref).data;
      uuidAsText.write('01900000-0000-7000-8000-00000000002a', 11, 'latin1');
      unreadable(uuidAsText, 1, /canonical UUID eventId is stored as text/);
    });

    test('random corruption of a valid bundle never escapes as anything but StoreUnreadableError', () => {
      const good = frameEntries(
        [entry(), entry({ eventId: 'rejected:t:0:1', kind: 'rejected', source: null }), entry({ eventId: 'q', bytes: Buffer.alloc(300, 7) })],
        ref,
      ).data;
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
          fc.nat(good.length),
          (edits, cut) => {
            const bad = Buffer.from(good.subarray(0, cut));
            for (const [at, v] of edits) if (at < bad.length) bad[at] = v;
            try {
              const got = parseBundle(bad, 3, WHERE, name);
              assert.equal(got.length, 3); // a corruption that still parses (e.g. inside the entry bytes) is the Merkle tree's to catch
            } catch (e) {
              assert.ok(isAffidavitError(e, 'AFF_E_LEDGER_STORE_UNREADABLE'), String(e));
            }
          },
        ),
        { numRuns: 2000 },
      );
    });
  });

  test('property: random entries, framed in random batch splits and concatenated, read back exactly', () => {
    const eventId = fc
      .oneof(
        fc.uuid().map((u) => u.toLowerCase()),
        fc.uuid(),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        fc
          .tuple(
            fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes(':')),
            fc.nat(),
            fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
          )
          .map(([t, p, o]) => `rejected:${t}:${p}:${o}`),
      )
      .filter((id) => id.length <= 400 && id.isWellFormed());
    const arbEntry = fc.record({
      eventId,
      kind: fc.constantFrom('event' as const, 'rejected' as const),
      bytes: fc.uint8Array({ maxLength: 600 }),
      source: fc.option(
        fc.record({
          topic: fc.constantFrom(...TOPICS),
          partition: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          offset: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
        }),
        { nil: null },
      ),
      appendedAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    });
    fc.assert(
      fc.property(
        fc.array(arbEntry, { minLength: 1, maxLength: BUNDLE_WIDTH }),
        fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 10 }),
        (entries, cuts) => {
          const parts: Buffer[] = [];
          let at = 0;
          for (const c of cuts) {
            if (at >= entries.length) break;
            parts.push(frameEntries(entries.slice(at, at + c), ref).data);
            at += c;
          }
          if (at < entries.length) parts.push(frameEntries(entries.slice(at), ref).data);
          const data = Buffer.concat(parts);
          assert.deepEqual(data, frameEntries(entries, ref).data, 'framing is per record: split batches concatenate to the same bytes');
          assert.deepEqual(parse(data, entries.length), entries.map(plain));
        },
      ),
      { numRuns: 300 },
    );
  });
});
