// Writers for the backend messages the proxy itself sends to a client: its own login exchange
// (cleartext password request for the OIDC token), refusals (ErrorResponse), notices, and the
// results it synthesises or rewrites (masked DataRows).
// SPEC: https://www.postgresql.org/docs/current/protocol-message-formats.html
// SPEC: https://www.postgresql.org/docs/current/protocol-error-fields.html
import { PgUnencodableError } from './errors.ts';
import { MessageBuilder } from './message-builder.ts';

/** ErrorSeverity is the non-localised severity of an ErrorResponse or NoticeResponse. */
export type ErrorSeverity = 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

/** ErrorFields are the fields of an ErrorResponse / NoticeResponse; `code` is a 5-character SQLSTATE. */
export type ErrorFields = {
  readonly severity: ErrorSeverity;
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
  /** extra holds further fields by their one-letter code (e.g. `{ W: 'where' }`). */
  readonly extra?: Readonly<Record<string, string>>;
};

/** FieldDescription is one column of a RowDescription. */
export type FieldDescription = {
  readonly name: string;
  readonly tableOid?: number;
  readonly columnAttr?: number;
  readonly typeOid: number;
  readonly typeSize?: number;
  readonly typeModifier?: number;
  /** format 0 = text, 1 = binary. */
  readonly format?: 0 | 1;
};

/** TransactionStatus is ReadyForQuery's status: idle, in a transaction, or in a failed transaction. */
export type TransactionStatus = 'I' | 'T' | 'E';

const fixed = (type: string, int?: number): Buffer => {
  const b = new MessageBuilder(type);
  if (int !== undefined) b.int32(int);
  return b.build();
};

/** authenticationOk encodes AuthenticationOk (R, 0). */
export function authenticationOk(): Buffer {
  return fixed('R', 0);
}

/** authenticationCleartextPassword encodes AuthenticationCleartextPassword (R, 3): the client sends its token as password. */
export function authenticationCleartextPassword(): Buffer {
  return fixed('R', 3);
}

/** parameterStatus encodes ParameterStatus (S). */
export function parameterStatus(name: string, value: string): Buffer {
  return new MessageBuilder('S').cstring(name).cstring(value).build();
}

/** backendKeyData encodes BackendKeyData (K): process id and cancel secret (int32, or raw bytes for 3.2). */
export function backendKeyData(processId: number, secretKey: number | Uint8Array): Buffer {
  const b = new MessageBuilder('K').int32(processId);
  return (typeof secretKey === 'number' ? b.int32(secretKey) : b.bytes(secretKey)).build();
}

/** readyForQuery encodes ReadyForQuery (Z) with the transaction status. */
export function readyForQuery(status: TransactionStatus): Buffer {
  return new MessageBuilder('Z').int8(status.charCodeAt(0)).build();
}

function noticeOrError(type: 'E' | 'N', f: ErrorFields): Buffer {
  if (!/^[0-9A-Z]{5}$/.test(f.code)) throw new PgUnencodableError(`SQLSTATE must be 5 characters [0-9A-Z], got ${JSON.stringify(f.code)}`);
  // S is the localisable severity, V the fixed English one (always present since 9.6); we send both equal.
  const b = new MessageBuilder(type).int8(0x53).cstring(f.severity).int8(0x56).cstring(f.severity);
  b.int8(0x43).cstring(f.code).int8(0x4d).cstring(f.message);
  if (f.detail !== undefined) b.int8(0x44).cstring(f.detail);
  if (f.hint !== undefined) b.int8(0x48).cstring(f.hint);
  for (const [k, v] of Object.entries(f.extra ?? {})) {
    if (k.length !== 1 || 'SVCMDH'.includes(k) || k === '\0') throw new PgUnencodableError(`bad extra error field code ${JSON.stringify(k)}`);
    b.int8(k.charCodeAt(0) & 0xff).cstring(v);
  }
  return b.int8(0).build();
}

/** errorResponse encodes ErrorResponse (E). */
export function errorResponse(f: ErrorFields): Buffer {
  return noticeOrError('E', f);
}

/** noticeResponse encodes NoticeResponse (N). */
export function noticeResponse(f: ErrorFields): Buffer {
  return noticeOrError('N', f);
}

/** rowDescription encodes RowDescription (T). */
export function rowDescription(fields: readonly FieldDescription[]): Buffer {
  const b = new MessageBuilder('T').int16(fields.length);
  for (const f of fields) {
    b.cstring(f.name)
      .int32(f.tableOid ?? 0)
      .int16(f.columnAttr ?? 0)
      .int32(f.typeOid)
      .int16(f.typeSize ?? -1)
      .int32(f.typeModifier ?? -1)
      .int16(f.format ?? 0);
  }
  return b.build();
}

/** dataRow encodes DataRow (D): each value as text (string), raw bytes, or null for SQL NULL. */
export function dataRow(values: readonly (Uint8Array | string | null)[]): Buffer {
  const b = new MessageBuilder('D').int16(values.length);
  for (const v of values) b.value(v);
  return b.build();
}

/** commandComplete encodes CommandComplete (C) with its tag, e.g. "SELECT 3". */
export function commandComplete(tag: string): Buffer {
  return new MessageBuilder('C').cstring(tag).build();
}

/** emptyQueryResponse encodes EmptyQueryResponse (I). */
export function emptyQueryResponse(): Buffer {
  return fixed('I');
}

/** parseComplete encodes ParseComplete (1). */
export function parseComplete(): Buffer {
  return fixed('1');
}

/** bindComplete encodes BindComplete (2). */
export function bindComplete(): Buffer {
  return fixed('2');
}

/** closeComplete encodes CloseComplete (3). */
export function closeComplete(): Buffer {
  return fixed('3');
}

/** noData encodes NoData (n). */
export function noData(): Buffer {
  return fixed('n');
}

/** encryptionResponse is the one-byte answer to SSLRequest / GSSENCRequest: 'S' = go ahead, 'N' = no. */
export function encryptionResponse(accept: boolean): Buffer {
  return Buffer.from(accept ? 'S' : 'N', 'latin1');
}
