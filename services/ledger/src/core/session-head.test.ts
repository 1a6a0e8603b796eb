import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codec as defaultCodec, encodeEvent, exampleEvent, SESSION_EVENT_TYPES } from '@affidavit/schemas';
import type { EventCodec } from '@affidavit/schemas';
import { readSessionHead } from './session-head.ts';

// A codec whose decode fails: readSessionHead must read every contract event's head in place.
// Decoding each record a second time halved the ledger's append rate once, unnoticed, when
// the codec's long type was renamed.
const codec = defaultCodec();
const noDecode = new Proxy(codec, {
  get(target, prop, receiver) {
    if (prop === 'decode') return () => assert.fail('readSessionHead decoded the record instead of reading its head in place');
    return Reflect.get(target, prop, receiver);
  },
}) as EventCodec;

for (const type of SESSION_EVENT_TYPES) {
  test(`${type}: sessionId and seq are read in place, as the decoder reads them`, () => {
    const sessionId = '01890a5d-ac96-774b-bcce-b302099a8abc';
    for (const seq of [0, 1, 63, 64, 2 ** 31, 2 ** 53 - 1]) {
      const bytes = encodeEvent(exampleEvent(type, { sessionId, seq } as never));
      const { writer } = codec.inspect(bytes);
      assert.deepEqual(readSessionHead(bytes, writer, noDecode), { sessionId, seq });
      const decoded = codec.decode(bytes) as { sessionId: string; seq: number | bigint };
      assert.equal(Number(decoded.seq), seq);
    }
  });
}
