// The messages a PostgreSQL client sends, protocol 3.0, as a discriminated union on `type`.
// SPEC: https://www.postgresql.org/docs/current/protocol-message-formats.html
// Every message keeps `raw`: its exact bytes (type byte and length included) so the proxy can
// forward what it inspected unchanged. Buffers are views into the received chunks (zero-copy):
// callers MUST NOT mutate them and MUST NOT hand the reader a chunk they later overwrite.

/** ProtocolVersion is the version a StartupMessage asks for. */
export type ProtocolVersion = { readonly major: number; readonly minor: number };

/** StartupMessage opens a session: the protocol version and the client's parameters (user, database, ...). */
export type StartupMessage = {
  readonly type: 'StartupMessage';
  readonly protocolVersion: ProtocolVersion;
  readonly parameters: Readonly<Record<string, string>>;
  readonly raw: Buffer;
};
/** SSLRequest asks the server to switch to TLS; the answer is one byte, 'S' or 'N'. */
export type SSLRequest = { readonly type: 'SSLRequest'; readonly raw: Buffer };
/** GSSENCRequest asks for GSSAPI encryption; the proxy answers 'N'. */
export type GSSENCRequest = { readonly type: 'GSSENCRequest'; readonly raw: Buffer };
/** CancelRequest asks to cancel the query of the backend with this process id and secret key. */
export type CancelRequest = {
  readonly type: 'CancelRequest';
  readonly processId: number;
  /** secretKey is 4 bytes in protocol 3.0 (longer keys exist from 3.2 on). */
  readonly secretKey: Buffer;
  readonly raw: Buffer;
};
/** Query is a simple-protocol query string (may hold several statements). */
export type Query = { readonly type: 'Query'; readonly query: string; readonly raw: Buffer };
/** Parse creates a prepared statement ('' = unnamed). */
export type Parse = {
  readonly type: 'Parse';
  readonly name: string;
  readonly query: string;
  readonly paramTypes: readonly number[];
  readonly raw: Buffer;
};
/** Bind creates a portal from a prepared statement and parameter values (null = SQL NULL). */
export type Bind = {
  readonly type: 'Bind';
  readonly portal: string;
  readonly statement: string;
  readonly paramFormats: readonly number[];
  readonly params: readonly (Buffer | null)[];
  readonly resultFormats: readonly number[];
  readonly raw: Buffer;
};
/** Describe asks for a statement's ('S') or portal's ('P') description. */
export type Describe = { readonly type: 'Describe'; readonly target: 'S' | 'P'; readonly name: string; readonly raw: Buffer };
/** Execute runs a portal; maxRows 0 means no limit. */
export type Execute = { readonly type: 'Execute'; readonly portal: string; readonly maxRows: number; readonly raw: Buffer };
/** Close closes a statement ('S') or portal ('P'). */
export type Close = { readonly type: 'Close'; readonly target: 'S' | 'P'; readonly name: string; readonly raw: Buffer };
/** Sync ends an extended-protocol batch. */
export type Sync = { readonly type: 'Sync'; readonly raw: Buffer };
/** Flush asks the server to send pending output. */
export type Flush = { readonly type: 'Flush'; readonly raw: Buffer };
/** CopyData carries COPY FROM STDIN data. */
export type CopyData = { readonly type: 'CopyData'; readonly data: Buffer; readonly raw: Buffer };
/** CopyDone ends COPY FROM STDIN data. */
export type CopyDone = { readonly type: 'CopyDone'; readonly raw: Buffer };
/** CopyFail aborts a COPY FROM STDIN with a reason. */
export type CopyFail = { readonly type: 'CopyFail'; readonly message: string; readonly raw: Buffer };
/**
 * PasswordMessage is any 'p' message: a password, SASLInitialResponse, SASLResponse or GSSResponse.
 * Which one depends on the authentication request the server sent, so the payload stays raw;
 * decode it with decodePassword / decodeSaslInitialResponse in that context.
 */
export type PasswordMessage = { readonly type: 'PasswordMessage'; readonly payload: Buffer; readonly raw: Buffer };
/** Terminate closes the session. */
export type Terminate = { readonly type: 'Terminate'; readonly raw: Buffer };
/** FunctionCall is the legacy fast-path call; parsed so policy can name and refuse it. */
export type FunctionCall = {
  readonly type: 'FunctionCall';
  readonly functionOid: number;
  readonly argFormats: readonly number[];
  readonly args: readonly (Buffer | null)[];
  readonly resultFormat: number;
  readonly raw: Buffer;
};

/** StartupPhaseMessage is what a client may send before its StartupMessage is accepted. */
export type StartupPhaseMessage = StartupMessage | SSLRequest | GSSENCRequest | CancelRequest;

/** TypedFrontendMessage is a message with a type byte, sent after the StartupMessage. */
export type TypedFrontendMessage =
  | Query
  | Parse
  | Bind
  | Describe
  | Execute
  | Close
  | Sync
  | Flush
  | CopyData
  | CopyDone
  | CopyFail
  | PasswordMessage
  | Terminate
  | FunctionCall;

/** FrontendMessage is any message a client sends. */
export type FrontendMessage = StartupPhaseMessage | TypedFrontendMessage;

/** FRONTEND_TYPE_BYTES maps each typed message to its type byte (protocol 3.0). */
export const FRONTEND_TYPE_BYTES = Object.freeze({
  Query: 'Q',
  Parse: 'P',
  Bind: 'B',
  Describe: 'D',
  Execute: 'E',
  Close: 'C',
  Sync: 'S',
  Flush: 'H',
  CopyData: 'd',
  CopyDone: 'c',
  CopyFail: 'f',
  PasswordMessage: 'p',
  Terminate: 'X',
  FunctionCall: 'F',
} as const satisfies Record<TypedFrontendMessage['type'], string>);

/** PROTOCOL_CODES are the 32-bit codes that open a startup-phase packet. */
export const PROTOCOL_CODES = Object.freeze({
  /** v3.0 = 3 << 16 */
  startupV3: 196608,
  sslRequest: 80877103,
  gssencRequest: 80877104,
  cancelRequest: 80877102,
} as const);
