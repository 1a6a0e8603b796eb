// Writers for frontend messages: what the proxy sends upstream as a client (startup, SCRAM
// login, simple queries, cancel), and, for tests and re-encoding, every other frontend message.
// SPEC: https://www.postgresql.org/docs/current/protocol-message-formats.html
import { PgUnencodableError } from './errors.ts';
import { PROTOCOL_CODES, type TypedFrontendMessage, type StartupPhaseMessage } from './frontend-messages.ts';
import { MessageBuilder } from './message-builder.ts';

type WithoutRaw<T> = T extends unknown ? Omit<T, 'raw'> : never;
/** FrontendMessageInput is any frontend message without its `raw` bytes (what encodeFrontendMessage takes). */
export type FrontendMessageInput = WithoutRaw<StartupPhaseMessage | TypedFrontendMessage>;

/** startupMessage encodes a protocol 3.0 StartupMessage; `user` is required by every server. */
export function startupMessage(parameters: Readonly<Record<string, string>>, version = { major: 3, minor: 0 }): Buffer {
  if (!parameters.user) throw new PgUnencodableError('StartupMessage needs a "user" parameter');
  const b = new MessageBuilder('').int32((version.major << 16) | version.minor);
  for (const [k, v] of Object.entries(parameters)) {
    if (k === '') throw new PgUnencodableError('StartupMessage parameter names must not be empty');
    b.cstring(k).cstring(v);
  }
  return b.int8(0).build();
}

/** sslRequest encodes an SSLRequest (code 80877103). */
export function sslRequest(): Buffer {
  return new MessageBuilder('').int32(PROTOCOL_CODES.sslRequest).build();
}

/** gssencRequest encodes a GSSENCRequest (code 80877104). */
export function gssencRequest(): Buffer {
  return new MessageBuilder('').int32(PROTOCOL_CODES.gssencRequest).build();
}

/** cancelRequest encodes a CancelRequest for the backend `processId` with its secret key (int32 or raw bytes). */
export function cancelRequest(processId: number, secretKey: number | Uint8Array): Buffer {
  const b = new MessageBuilder('').int32(PROTOCOL_CODES.cancelRequest).int32(processId);
  return (typeof secretKey === 'number' ? b.int32(secretKey) : b.bytes(secretKey)).build();
}

/** query encodes a simple-protocol Query. */
export function query(sql: string): Buffer {
  return new MessageBuilder('Q').cstring(sql).build();
}

/** passwordMessage encodes a cleartext PasswordMessage. */
export function passwordMessage(password: string): Buffer {
  return new MessageBuilder('p').cstring(password).build();
}

/** saslInitialResponse encodes SASLInitialResponse: mechanism name and the client-first message (null = none). */
export function saslInitialResponse(mechanism: string, data: Uint8Array | string | null): Buffer {
  return new MessageBuilder('p').cstring(mechanism).value(data).build();
}

/** saslResponse encodes SASLResponse: the raw SASL data (client-final message). */
export function saslResponse(data: Uint8Array | string): Buffer {
  return new MessageBuilder('p').bytes(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).build();
}

const SYNC = new MessageBuilder('S').build();
const TERMINATE = new MessageBuilder('X').build();

/** sync encodes Sync. */
export function sync(): Buffer {
  return Buffer.from(SYNC);
}

/** terminate encodes Terminate. */
export function terminate(): Buffer {
  return Buffer.from(TERMINATE);
}

/** encodeFrontendMessage encodes any frontend message from its fields (the inverse of FrontendReader). */
export function encodeFrontendMessage(m: FrontendMessageInput): Buffer {
  switch (m.type) {
    case 'StartupMessage': {
      const b = new MessageBuilder('').int32((m.protocolVersion.major << 16) | m.protocolVersion.minor);
      for (const [k, v] of Object.entries(m.parameters)) b.cstring(k).cstring(v);
      return b.int8(0).build();
    }
    case 'SSLRequest':
      return sslRequest();
    case 'GSSENCRequest':
      return gssencRequest();
    case 'CancelRequest':
      return cancelRequest(m.processId, m.secretKey);
    case 'Query':
      return query(m.query);
    case 'Parse': {
      const b = new MessageBuilder('P').cstring(m.name).cstring(m.query).int16(m.paramTypes.length);
      for (const oid of m.paramTypes) b.int32(oid);
      return b.build();
    }
    case 'Bind': {
      const b = new MessageBuilder('B').cstring(m.portal).cstring(m.statement).int16(m.paramFormats.length);
      for (const f of m.paramFormats) b.int16(f);
      b.int16(m.params.length);
      for (const p of m.params) b.value(p);
      b.int16(m.resultFormats.length);
      for (const f of m.resultFormats) b.int16(f);
      return b.build();
    }
    case 'Describe':
      return new MessageBuilder('D').int8(m.target.charCodeAt(0)).cstring(m.name).build();
    case 'Execute':
      return new MessageBuilder('E').cstring(m.portal).int32(m.maxRows).build();
    case 'Close':
      return new MessageBuilder('C').int8(m.target.charCodeAt(0)).cstring(m.name).build();
    case 'Sync':
      return sync();
    case 'Flush':
      return new MessageBuilder('H').build();
    case 'CopyData':
      return new MessageBuilder('d').bytes(m.data).build();
    case 'CopyDone':
      return new MessageBuilder('c').build();
    case 'CopyFail':
      return new MessageBuilder('f').cstring(m.message).build();
    case 'PasswordMessage':
      return new MessageBuilder('p').bytes(m.payload).build();
    case 'Terminate':
      return terminate();
    case 'FunctionCall': {
      const b = new MessageBuilder('F').int32(m.functionOid).int16(m.argFormats.length);
      for (const f of m.argFormats) b.int16(f);
      b.int16(m.args.length);
      for (const a of m.args) b.value(a);
      return b.int16(m.resultFormat).build();
    }
    default: {
      const never: never = m;
      throw new PgUnencodableError(`unknown frontend message ${JSON.stringify(never)}`);
    }
  }
}
