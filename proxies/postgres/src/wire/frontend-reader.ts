// FrontendReader: an incremental parser for what a PostgreSQL client sends (protocol 3.0).
// SPEC: https://www.postgresql.org/docs/current/protocol-message-formats.html
// "For historical reasons, the very first message sent by the client (the startup message) has
//  no initial message-type byte." — so the reader has a startup phase and a typed phase.
//
// Contracts:
// - It MUST only ever throw the typed errors of ./errors.ts; after one, it stays failed and
//   rethrows that error on every call (a broken stream is never resynchronised).
// - A length field MUST be checked against the limits before any byte of the body is buffered
//   beyond what the peer already sent, so a header claiming 1 GB costs nothing.
// - It never loops without consuming bytes: each iteration returns a message, waits for more
//   input, or fails.
import { isAffidavitError, validateOptions } from '@affidavit/common';
import { BodyCursor } from './body-cursor.ts';
import { ByteQueue } from './byte-queue.ts';
import {
  PgBadLengthError,
  PgBadStartupError,
  PgMalformedMessageError,
  PgMessageTooLargeError,
  PgTruncatedError,
  PgUnknownMessageError,
  type PgProtocolError,
} from './errors.ts';
import { PROTOCOL_CODES, type FrontendMessage, type StartupPhaseMessage, type TypedFrontendMessage } from './frontend-messages.ts';

/** DEFAULT_MAX_MESSAGE_SIZE is the default limit on a typed message's length field (16 MiB). */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/** MAX_STARTUP_PACKET_SIZE mirrors PostgreSQL's MAX_STARTUP_PACKET_LENGTH (10000 bytes). */
export const MAX_STARTUP_PACKET_SIZE = 10_000;
/** SMALL_MESSAGE_LIMIT mirrors PostgreSQL's PQ_SMALL_MESSAGE_LIMIT for messages that are always small. */
export const SMALL_MESSAGE_LIMIT = 10_000;
/** MAX_CANCEL_KEY_LENGTH is the longest cancel secret key protocol 3.2 allows (256 bytes). */
export const MAX_CANCEL_KEY_LENGTH = 256;

/** FrontendReaderOptions bound what a client may make the proxy buffer. */
export type FrontendReaderOptions = {
  /** maxMessageSize limits a typed message's length field (which counts itself, not the type byte). */
  readonly maxMessageSize: number;
};

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { maxMessageSize: { type: 'integer', minimum: 64, maximum: 0x3fffffff, default: DEFAULT_MAX_MESSAGE_SIZE } },
  required: [],
} as const;

/** FrontendReaderPhase: `startup` until a StartupMessage, then `messages`; `closed` after Terminate or CancelRequest. */
export type FrontendReaderPhase = 'startup' | 'messages' | 'closed' | 'failed';

type TypeByteInfo = { readonly empty?: boolean; readonly small?: boolean };
// Type bytes of protocol 3.0 frontend messages. `empty` ones have no body; `small` ones are bounded
// by SMALL_MESSAGE_LIMIT the way the server bounds them.
const TYPE_BYTES: Readonly<Record<string, TypeByteInfo>> = Object.freeze({
  Q: {},
  P: {},
  B: {},
  F: {},
  d: {},
  p: {},
  f: { small: true },
  D: { small: true },
  E: { small: true },
  C: { small: true },
  S: { empty: true },
  H: { empty: true },
  c: { empty: true },
  X: { empty: true },
});

function describeGarbage(q: ByteQueue): string {
  const b0 = q.byteAt(0);
  if (b0 === 0x16) return 'it looks like a TLS ClientHello sent without an SSLRequest (direct TLS is not supported; use sslmode=require)';
  const head: number[] = [];
  for (let i = 0; i < Math.min(4, q.length); i++) head.push(q.byteAt(i));
  if (head.every((c) => c >= 0x20 && c < 0x7f)) return `it starts with text "${String.fromCharCode(...head)}" (not a PostgreSQL client?)`;
  return `it starts with bytes ${Buffer.from(head).toString('hex')}`;
}

/**
 * FrontendReader turns a client's byte stream into FrontendMessages.
 * Use: `push(chunk)` then `next()` until undefined, or `read(chunk)` for both; `end()` at EOF.
 * After an SSLRequest or GSSENCRequest, `buffered` MUST be 0 before the proxy answers 'S': bytes
 * sent before the TLS handshake are unencrypted and must be refused (CVE-2021-23214 class).
 */
export class FrontendReader {
  readonly options: Readonly<FrontendReaderOptions>;
  readonly #queue = new ByteQueue();
  #phase: FrontendReaderPhase = 'startup';
  #error: PgProtocolError | undefined;

  constructor(options: Partial<FrontendReaderOptions> = {}) {
    this.options = validateOptions<FrontendReaderOptions>(optionsSchema, options, { name: 'FrontendReaderOptions' });
  }

  /** phase is where in the session the reader is. */
  get phase(): FrontendReaderPhase {
    return this.#phase;
  }

  /** buffered is the number of received bytes not yet returned as messages. */
  get buffered(): number {
    return this.#queue.length;
  }

  /** push buffers a received chunk; it parses nothing (call next()). */
  push(chunk: Buffer): void {
    if (this.#error) throw this.#error;
    this.#queue.push(chunk);
  }

  /** next returns the next complete message, or undefined when more bytes are needed. */
  next(): FrontendMessage | undefined {
    if (this.#error) throw this.#error;
    try {
      return this.#phase === 'startup' ? this.#nextStartup() : this.#nextTyped();
    } catch (e) {
      this.#phase = 'failed';
      // Anything not ours would be a bug in this file; it is still reported as a protocol error
      // so a peer can never crash the proxy through the reader.
      this.#error = (isAffidavitError(e) ? e : new PgMalformedMessageError(`internal reader error: ${(e as Error)?.message}`, { cause: e })) as PgProtocolError;
      throw this.#error;
    }
  }

  /** read pushes a chunk and returns every message it completes. */
  read(chunk: Buffer): FrontendMessage[] {
    this.push(chunk);
    const out: FrontendMessage[] = [];
    for (let m = this.next(); m; m = this.next()) out.push(m);
    return out;
  }

  /** end declares EOF; a partial message left in the buffer is PgTruncatedError. */
  end(): void {
    if (this.#error) throw this.#error;
    if (this.#queue.length > 0) {
      const what = this.#phase === 'startup' ? 'startup packet' : 'message';
      this.#phase = 'failed';
      this.#error = new PgTruncatedError(`connection closed with ${this.#queue.length} bytes of an incomplete ${what}`);
      throw this.#error;
    }
  }

  #nextStartup(): StartupPhaseMessage | undefined {
    const q = this.#queue;
    if (q.length < 4) return undefined;
    const len = q.int32At(0);
    if (len > MAX_STARTUP_PACKET_SIZE || len < 0) {
      throw new PgBadStartupError(`not a PostgreSQL startup packet: length ${len >>> 0} exceeds ${MAX_STARTUP_PACKET_SIZE}; ${describeGarbage(q)}`);
    }
    if (len < 8) throw new PgBadLengthError(`invalid length of startup packet: ${len} (minimum 8)`);
    if (q.length < len) return undefined;
    const raw = q.take(len);
    const code = raw.readInt32BE(4);
    switch (code) {
      case PROTOCOL_CODES.sslRequest:
      case PROTOCOL_CODES.gssencRequest:
        if (len !== 8)
          throw new PgBadLengthError(`invalid length of ${code === PROTOCOL_CODES.sslRequest ? 'SSLRequest' : 'GSSENCRequest'}: ${len} (must be 8)`);
        return { type: code === PROTOCOL_CODES.sslRequest ? 'SSLRequest' : 'GSSENCRequest', raw };
      case PROTOCOL_CODES.cancelRequest: {
        if (len < 16 || len > 12 + MAX_CANCEL_KEY_LENGTH)
          throw new PgBadLengthError(`invalid length of CancelRequest: ${len} (must be 16..${12 + MAX_CANCEL_KEY_LENGTH})`);
        this.#phase = 'closed';
        return { type: 'CancelRequest', processId: raw.readInt32BE(8), secretKey: raw.subarray(12), raw };
      }
    }
    const major = code >>> 16;
    const minor = code & 0xffff;
    if (major !== 3) throw new PgBadStartupError(`unsupported frontend protocol ${major}.${minor}: this proxy speaks 3.0`);
    const c = new BodyCursor(raw, 'StartupMessage', 8);
    const parameters: Record<string, string> = Object.create(null);
    for (;;) {
      const name = c.cstring('parameter name');
      if (name === '') break;
      if (Object.hasOwn(parameters, name)) throw new PgMalformedMessageError(`malformed StartupMessage: parameter "${name}" given twice`);
      parameters[name] = c.cstring(`value of ${name}`);
    }
    c.end();
    this.#phase = 'messages';
    return { type: 'StartupMessage', protocolVersion: { major, minor }, parameters: Object.freeze(parameters), raw };
  }

  #nextTyped(): TypedFrontendMessage | undefined {
    const q = this.#queue;
    if (q.length === 0) return undefined;
    if (this.#phase === 'closed') throw new PgMalformedMessageError(`${q.length} bytes received after the session ended (Terminate or CancelRequest)`);
    const t = String.fromCharCode(q.byteAt(0));
    const info = TYPE_BYTES[t];
    if (!info) throw new PgUnknownMessageError(`unknown frontend message type 0x${q.byteAt(0).toString(16).padStart(2, '0')} (${JSON.stringify(t)})`);
    if (q.length < 5) return undefined;
    const len = q.int32At(1);
    if (len < 4) throw new PgBadLengthError(`invalid length ${len} in message '${t}' (minimum 4)`);
    if (info.empty && len !== 4) throw new PgBadLengthError(`invalid length ${len} in message '${t}' (must be 4: it has no body)`);
    const limit = info.small ? Math.min(SMALL_MESSAGE_LIMIT, this.options.maxMessageSize) : this.options.maxMessageSize;
    if (len > limit) throw new PgMessageTooLargeError(`message '${t}' claims ${len} bytes, over the limit of ${limit}`);
    if (q.length < len + 1) return undefined;
    const msg = parseTyped(t, q.take(len + 1));
    if (msg.type === 'Terminate') this.#phase = 'closed';
    return msg;
  }
}

function target(c: BodyCursor, what: string): 'S' | 'P' {
  const t = c.byte('target');
  if (t !== 'S' && t !== 'P') throw new PgMalformedMessageError(`malformed ${what}: target must be 'S' or 'P', got 0x${t.charCodeAt(0).toString(16)}`);
  return t;
}

// parseTyped decodes one complete typed message (raw = type byte + length + body).
function parseTyped(t: string, raw: Buffer): TypedFrontendMessage {
  switch (t) {
    case 'Q': {
      const c = new BodyCursor(raw, 'Query', 5);
      const query = c.cstring('query');
      c.end();
      return { type: 'Query', query, raw };
    }
    case 'P': {
      const c = new BodyCursor(raw, 'Parse', 5);
      const name = c.cstring('statement name');
      const query = c.cstring('query');
      const n = c.count('parameter type count', 4);
      const paramTypes: number[] = new Array(n);
      for (let i = 0; i < n; i++) paramTypes[i] = c.int32(`parameter type ${i}`) >>> 0;
      c.end();
      return { type: 'Parse', name, query, paramTypes, raw };
    }
    case 'B': {
      const c = new BodyCursor(raw, 'Bind', 5);
      const portal = c.cstring('portal name');
      const statement = c.cstring('statement name');
      const paramFormats = c.formats(c.count('parameter format count', 2), 'parameter format');
      const nParams = c.count('parameter count', 4);
      if (paramFormats.length > 1 && paramFormats.length !== nParams) {
        throw new PgMalformedMessageError(`malformed Bind: ${paramFormats.length} parameter formats for ${nParams} parameters`);
      }
      const params = c.values(nParams, 'parameter');
      const resultFormats = c.formats(c.count('result format count', 2), 'result format');
      c.end();
      return { type: 'Bind', portal, statement, paramFormats, params, resultFormats, raw };
    }
    case 'D': {
      const c = new BodyCursor(raw, 'Describe', 5);
      const tg = target(c, 'Describe');
      const name = c.cstring('name');
      c.end();
      return { type: 'Describe', target: tg, name, raw };
    }
    case 'E': {
      const c = new BodyCursor(raw, 'Execute', 5);
      const portal = c.cstring('portal name');
      const maxRows = c.int32('max rows');
      c.end();
      return { type: 'Execute', portal, maxRows, raw };
    }
    case 'C': {
      const c = new BodyCursor(raw, 'Close', 5);
      const tg = target(c, 'Close');
      const name = c.cstring('name');
      c.end();
      return { type: 'Close', target: tg, name, raw };
    }
    case 'S':
      return { type: 'Sync', raw };
    case 'H':
      return { type: 'Flush', raw };
    case 'c':
      return { type: 'CopyDone', raw };
    case 'X':
      return { type: 'Terminate', raw };
    case 'd':
      return { type: 'CopyData', data: raw.subarray(5), raw };
    case 'f': {
      const c = new BodyCursor(raw, 'CopyFail', 5);
      const message = c.cstring('message');
      c.end();
      return { type: 'CopyFail', message, raw };
    }
    case 'p':
      return { type: 'PasswordMessage', payload: raw.subarray(5), raw };
    case 'F': {
      const c = new BodyCursor(raw, 'FunctionCall', 5);
      const functionOid = c.int32('function oid') >>> 0;
      const argFormats = c.formats(c.count('argument format count', 2), 'argument format');
      const args = c.values(c.count('argument count', 4), 'argument');
      const resultFormat = c.int16('result format');
      if (resultFormat !== 0 && resultFormat !== 1) throw new PgMalformedMessageError(`malformed FunctionCall: unsupported result format ${resultFormat}`);
      c.end();
      return { type: 'FunctionCall', functionOid, argFormats, args, resultFormat, raw };
    }
  }
  throw new PgUnknownMessageError(`unknown frontend message type ${JSON.stringify(t)}`);
}
