// Decoders for the few server messages the relay must read (errors, tags, row descriptions).
// SPEC: https://www.postgresql.org/docs/current/protocol-message-formats.html
import type { ColumnDescription } from '@affidavit/access';
import { PgMalformedMessageError } from './wire/index.ts';

/** ErrorSummary is what an ErrorResponse says: severity, SQLSTATE and message. */
export type ErrorSummary = { readonly severity: string; readonly code: string; readonly message: string };

function cstringAt(raw: Buffer, at: number, what: string): [string, number] {
  const end = raw.indexOf(0, at);
  if (end < 0) throw new PgMalformedMessageError(`malformed ${what}: missing NUL terminator`);
  return [raw.toString('utf8', at, end), end + 1];
}

/** parseErrorFields reads an ErrorResponse or NoticeResponse (type byte and length included). */
export function parseErrorFields(raw: Buffer): ErrorSummary {
  let at = 5;
  let severity = '';
  let code = '';
  let message = '';
  while (at < raw.length && raw[at] !== 0) {
    const field = raw[at];
    let v: string;
    [v, at] = cstringAt(raw, at + 1, 'ErrorResponse');
    if (field === 0x56 || (field === 0x53 && severity === ''))
      severity = v; // V (non-localised) wins over S
    else if (field === 0x43) code = v;
    else if (field === 0x4d) message = v;
  }
  return { severity, code, message };
}

/** parseCommandTag reads a CommandComplete's tag, e.g. "INSERT 0 1". */
export function parseCommandTag(raw: Buffer): string {
  return parseCommandTagAt(raw, 0, raw.length);
}

/** parseCommandTagAt reads the tag of the CommandComplete at buf[at, end) without slicing it out. */
export function parseCommandTagAt(buf: Buffer, at: number, end: number): string {
  const nul = buf.indexOf(0, at + 5);
  if (nul < 0 || nul >= end) throw new PgMalformedMessageError('malformed CommandComplete: missing NUL terminator');
  return buf.toString('utf8', at + 5, nul);
}

/** tagRows returns the row count at the end of a command tag, or undefined when it has none. */
export function tagRows(tag: string): number | undefined {
  const sp = tag.lastIndexOf(' ');
  if (sp < 0) return undefined;
  const n = Number(tag.slice(sp + 1));
  return Number.isSafeInteger(n) && n >= 0 && /^[0-9]+$/.test(tag.slice(sp + 1)) ? n : undefined;
}

/** RowShape is a RowDescription: its columns (for masking) and each column's format code. */
export type RowShape = { readonly columns: readonly ColumnDescription[]; readonly formats: readonly number[] };

/** parseRowDescription reads a RowDescription ('T'). */
export function parseRowDescription(raw: Buffer): RowShape {
  if (raw.length < 7) throw new PgMalformedMessageError('malformed RowDescription: too short');
  const n = raw.readInt16BE(5);
  if (n < 0) throw new PgMalformedMessageError('malformed RowDescription: negative column count');
  const columns: ColumnDescription[] = [];
  const formats: number[] = [];
  let at = 7;
  for (let i = 0; i < n; i++) {
    let name: string;
    [name, at] = cstringAt(raw, at, 'RowDescription');
    if (at + 18 > raw.length) throw new PgMalformedMessageError('malformed RowDescription: field overruns the message');
    const typeOid = raw.readUInt32BE(at + 6);
    formats.push(raw.readInt16BE(at + 16));
    columns.push({ name, typeOid });
    at += 18;
  }
  return { columns, formats };
}
