// Test support for the masking tests: a DataRow encoder and decoder written from the spec, so
// the masking tests do not depend on the proxy's wire module. Not exported from index.ts.
// SPEC: https://www.postgresql.org/docs/current/protocol-message-formats.html
// "DataRow (B) Byte1('D') ... Int32 Length of message contents in bytes, including self. Int16
//  The number of column values that follow ... Int32 The length of the column value ... -1
//  indicates a NULL column value."

/** encodeDataRow encodes values (text as UTF-8, Buffers as they are, null as SQL NULL) as a DataRow. */
export function encodeDataRow(values: readonly (string | Buffer | null)[]): Buffer {
  const parts = values.map((v) => (v === null ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : v));
  const size = 7 + parts.reduce((n, p) => n + 4 + (p?.length ?? 0), 0);
  const out = Buffer.alloc(size);
  out[0] = 0x44;
  out.writeInt32BE(size - 1, 1);
  out.writeInt16BE(values.length, 5);
  let o = 7;
  for (const p of parts) {
    o = out.writeInt32BE(p === null ? -1 : p.length, o);
    if (p) o += p.copy(out, o);
  }
  return out;
}

/**
 * decodeDataRow decodes a DataRow's values as UTF-8 (null for SQL NULL) and throws unless
 * every length field is consistent with the message.
 */
export function decodeDataRow(raw: Buffer): (string | null)[] {
  if (raw[0] !== 0x44) throw new Error('not a DataRow');
  if (raw.readInt32BE(1) !== raw.length - 1) throw new Error('message length field is wrong');
  const n = raw.readInt16BE(5);
  const out: (string | null)[] = [];
  let o = 7;
  for (let i = 0; i < n; i++) {
    const len = raw.readInt32BE(o);
    o += 4;
    if (len === -1) out.push(null);
    else {
      if (len < 0 || o + len > raw.length) throw new Error(`value ${i} has a bad length`);
      out.push(raw.toString('utf8', o, o + len));
      o += len;
    }
  }
  if (o !== raw.length) throw new Error('bytes after the last value');
  return out;
}
