// DataRow decoding and rewriting for masking. The decoder is strict (every length checked against
// the message) because a masking proxy that mis-splits a row could pass an unmasked value on.
// SPEC: https://www.postgresql.org/docs/current/protocol-message-formats.html
// "DataRow (B) Byte1('D') ... Int16 The number of column values that follow (possibly zero).
//  Next, the following pair of fields appear for each column: Int32 The length of the column
//  value, in bytes (this count does not include itself). Can be zero. As a special case, -1
//  indicates a NULL column value. No value bytes follow in the NULL case."
import { BodyCursor } from './body-cursor.ts';
import { PgMalformedMessageError } from './errors.ts';
import { dataRow } from './backend-writer.ts';

/** decodeDataRow returns the column values of a raw DataRow (views into `raw`; null = SQL NULL). */
export function decodeDataRow(raw: Buffer): (Buffer | null)[] {
  if (raw.length < 7 || raw[0] !== 0x44) throw new PgMalformedMessageError('malformed DataRow: not a DataRow message');
  if (raw.readInt32BE(1) !== raw.length - 1) throw new PgMalformedMessageError('malformed DataRow: length field does not match the message');
  const c = new BodyCursor(raw, 'DataRow', 5);
  const values = c.values(c.count('column count', 4), 'column');
  c.end();
  return values;
}

/**
 * DataRowReplacer returns a column's new value: a string (text format), bytes, null (SQL NULL),
 * or undefined to keep the value as sent.
 */
export type DataRowReplacer = (index: number, value: Buffer | null) => Uint8Array | string | null | undefined;

/**
 * rewriteDataRow re-encodes a DataRow with some values replaced, recomputing every length.
 * When nothing is replaced it MUST return `raw` itself (no copy), so unmasked rows stay byte-identical.
 */
export function rewriteDataRow(raw: Buffer, replace: DataRowReplacer): Buffer {
  const values = decodeDataRow(raw);
  let changed = false;
  const out: (Uint8Array | string | null)[] = values.map((v, i) => {
    const r = replace(i, v);
    if (r === undefined) return v;
    changed = true;
    return r;
  });
  return changed ? dataRow(out) : raw;
}
