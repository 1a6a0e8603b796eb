// BackendReader adapts pg-protocol's Parser (node-postgres's backend message parser) to the proxy:
// it frames the server's byte stream itself, so each message comes with its exact raw bytes for
// forwarding, a size limit is enforced before buffering, DataRows are checked strictly, and every
// failure is one of our typed errors instead of whatever the library throws.
import { isAffidavitError, validateOptions } from '@affidavit/common';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import { ByteQueue } from './byte-queue.ts';
import { decodeDataRow } from './data-row.ts';
import { PgBadLengthError, PgMalformedMessageError, PgMessageTooLargeError, PgTruncatedError, PgUnknownMessageError, type PgProtocolError } from './errors.ts';
import { DEFAULT_MAX_MESSAGE_SIZE } from './frontend-reader.ts';

/** BackendFrame is one server message: its type byte, exact bytes and pg-protocol's parse of it. */
export type BackendFrame = { readonly type: string; readonly raw: Buffer; readonly message: BackendMessage };

/** BackendReaderOptions bound what the upstream server can make the proxy buffer. */
export type BackendReaderOptions = { readonly maxMessageSize: number };

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { maxMessageSize: { type: 'integer', minimum: 64, maximum: 0x3fffffff, default: DEFAULT_MAX_MESSAGE_SIZE } },
  required: [],
} as const;

// Backend type bytes of protocol 3.0 that pg-protocol decodes.
const KNOWN = new Set('RSKZENTDCI123nstGHWdcA'.split(''));

/** BackendReader turns an upstream server's byte stream into BackendFrames; same contracts as FrontendReader. */
export class BackendReader {
  readonly options: Readonly<BackendReaderOptions>;
  readonly #queue = new ByteQueue();
  readonly #parser = new Parser();
  #error: PgProtocolError | undefined;

  constructor(options: Partial<BackendReaderOptions> = {}) {
    this.options = validateOptions<BackendReaderOptions>(optionsSchema, options, { name: 'BackendReaderOptions' });
  }

  /** read pushes a chunk and returns every complete message in it. */
  read(chunk: Buffer): BackendFrame[] {
    if (this.#error) throw this.#error;
    this.#queue.push(chunk);
    const out: BackendFrame[] = [];
    try {
      for (let f = this.#next(); f; f = this.#next()) out.push(f);
    } catch (e) {
      this.#error = (
        isAffidavitError(e) ? e : new PgMalformedMessageError(`malformed server message: ${(e as Error)?.message}`, { cause: e })
      ) as PgProtocolError;
      throw this.#error;
    }
    return out;
  }

  /** end declares EOF; a partial message left over is PgTruncatedError. */
  end(): void {
    if (this.#error) throw this.#error;
    if (this.#queue.length > 0) throw (this.#error = new PgTruncatedError(`server connection closed inside a message (${this.#queue.length} bytes)`));
  }

  #next(): BackendFrame | undefined {
    const q = this.#queue;
    if (q.length === 0) return undefined;
    const type = String.fromCharCode(q.byteAt(0));
    if (!KNOWN.has(type)) throw new PgUnknownMessageError(`unknown backend message type 0x${q.byteAt(0).toString(16).padStart(2, '0')}`);
    if (q.length < 5) return undefined;
    const len = q.int32At(1);
    if (len < 4) throw new PgBadLengthError(`invalid length ${len} in server message '${type}'`);
    if (len > this.options.maxMessageSize)
      throw new PgMessageTooLargeError(`server message '${type}' claims ${len} bytes, over the limit of ${this.options.maxMessageSize}`);
    if (q.length < len + 1) return undefined;
    const raw = q.take(len + 1);
    if (type === 'D') decodeDataRow(raw); // strict check; pg-protocol clamps overruns silently
    let message: BackendMessage | undefined;
    let count = 0;
    this.#parser.parse(raw, (m) => {
      message = m;
      count++;
    });
    if (count !== 1 || !message) throw new PgMalformedMessageError(`server message '${type}' did not parse as one message`);
    return { type, raw, message };
  }
}
