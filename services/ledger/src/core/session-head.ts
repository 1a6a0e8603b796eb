import type { EventCodec, WriterSchema } from '@affidavit/schemas';
import { HEADER_SIZE } from '@affidavit/schemas';

/** SessionHead is what the ledger checks of every event besides its id: its session and per-session seq. */
export type SessionHead = { readonly sessionId: string; readonly seq: number };

type Field = { name: string; type: { typeName: string } };
const headShape = new WeakMap<object, boolean>();

/**
 * hasEnvelopeHead tells whether a writer schema starts with the envelope's head fields in
 * their contract order: eventId, type (strings), occurredAt (long), sessionId (string), seq
 * (long). Every event schema of the contract does; anything else is read by decoding.
 */
function hasEnvelopeHead(w: WriterSchema): boolean {
  let ok = headShape.get(w.type);
  if (ok === undefined) {
    const f = ((w.type as unknown as { fields?: Field[] }).fields ?? []).slice(0, 5);
    const want: Array<[string, string]> = [
      ['eventId', 'string'],
      ['type', 'string'],
      ['occurredAt', 'long'],
      ['sessionId', 'string'],
      ['seq', 'long'],
    ];
    // The codec reads longs through an abstract long type (exact beyond 2^53), named
    // 'abstract:long'; its bytes are a plain zig-zag varint all the same.
    ok = f.length === 5 && want.every(([n, t], i) => f[i].name === n && f[i].type.typeName.replace(/^abstract:/, '') === t);
    headShape.set(w.type, ok);
  }
  return ok;
}

/** readVarint reads a zig-zag Avro long at `pos` as a double (exact up to 2^53; arithmetic, not 32-bit bit operators). */
function readLong(buf: Uint8Array, pos: number): { value: number; end: number } {
  let n = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const b = buf[pos++];
    n += (b % 128) * mul;
    if (b < 128) break;
    mul *= 128;
  }
  return { value: n % 2 === 0 ? n / 2 : -(n + 1) / 2, end: pos };
}

/**
 * readSessionHead returns an event's sessionId and seq. `bytes` MUST already have passed
 * `codec.inspect` (so every field lies within the buffer). Reads the head in place when the
 * writer schema has the contract's head layout, else decodes. Returns undefined for a
 * record without these fields (none in the contract today).
 */
export function readSessionHead(bytes: Uint8Array, writer: WriterSchema, codec: EventCodec): SessionHead | undefined {
  if (!hasEnvelopeHead(writer)) {
    const r = codec.decode(bytes) as unknown as { sessionId?: unknown; seq?: unknown };
    return typeof r.sessionId === 'string' && (typeof r.seq === 'number' || typeof r.seq === 'bigint')
      ? { sessionId: r.sessionId, seq: Number(r.seq) }
      : undefined;
  }
  let pos = HEADER_SIZE;
  for (let i = 0; i < 2; i++) {
    const len = readLong(bytes, pos);
    pos = len.end + len.value;
  }
  pos = readLong(bytes, pos).end;
  const len = readLong(bytes, pos);
  const sessionId = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8', len.end, len.end + len.value);
  const seq = readLong(bytes, len.end + len.value).value;
  return { sessionId, seq };
}
