// The proxy's own connection to the upstream PostgreSQL server: TCP (optionally TLS after an
// SSLRequest), StartupMessage, SCRAM-SHA-256 with the proxy's credentials, then everything up to
// ReadyForQuery. The user's token never goes upstream; the server sees the proxy's login.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { PgUpstreamUnavailableError } from './errors.ts';
import type { UpstreamOptions } from './options.ts';
import {
  BackendReader,
  cancelRequest,
  createScramClient,
  randomScramNonce,
  saslInitialResponse,
  saslResponse,
  SCRAM_MECHANISM,
  sslRequest,
  startupMessage,
  type BackendFrame,
} from './wire/index.ts';

/** UpstreamSession is a logged-in upstream connection, idle at ReadyForQuery. */
export type UpstreamSession = {
  readonly socket: Socket | TLSSocket;
  /** startupFrames are the ParameterStatus and NoticeResponse messages to relay to the client, raw. */
  readonly startupFrames: readonly Buffer[];
  readonly processId: number;
  readonly secretKey: Buffer;
  /**
   * receive sets the one receiver of the server's bytes from now on (undefined: none). Each chunk
   * is the receiver's own: it may keep views of it, and write over it (masking does). Use it,
   * not the socket's 'data' event: a plain TCP connection is read with net's `onread` (see
   * READ_BUFFER), which emits no 'data'.
   * Flow control stays socket.pause() and socket.resume().
   */
  receive(receiver: Receiver | undefined): void;
};

/** Receiver takes one chunk of the server's bytes. */
export type Receiver = (chunk: Buffer) => void;

// READ_BUFFER is where every plain-TCP upstream connection is read (net's `onread` option):
// no Buffer of 64 KiB allocated and shrunk per read, and no Readable stream machinery (push,
// 'data' event, read-more tick) per chunk. The callback runs synchronously for one socket at a
// time, so one buffer serves all of them; each chunk is copied out (a small copy comes from
// Node's buffer pool) because the relay keeps views of it (a split message, a pending write,
// the result digest). TLS connections are read as usual: TLS owns their socket's reads.
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

type ReceiverSlot = { current?: Receiver };

function openSocket(o: Readonly<UpstreamOptions>, slot?: ReceiverSlot): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const onread = slot
      ? {
          buffer: READ_BUFFER,
          callback: (n: number): boolean => {
            const chunk = Buffer.allocUnsafe(n);
            READ_BUFFER.copy(chunk, 0, 0, n);
            slot.current?.(chunk);
            return true;
          },
        }
      : undefined;
    const where = o.socketPath !== undefined ? { path: o.socketPath } : { host: o.host, port: o.port, noDelay: true };
    const s = netConnect({ ...where, ...(onread ? { onread } : {}) });
    const t = setTimeout(() => s.destroy(new Error(`connect timeout after ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

function readOneByte(s: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      cleanup();
      // Anything after the one-byte answer would be plaintext injected before the handshake.
      if (d.length !== 1) reject(new Error('upstream sent unexpected bytes after its SSL answer'));
      else resolve(d[0]);
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('upstream closed the connection during SSL negotiation'));
    };
    const cleanup = () => {
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', onEnd);
      s.pause();
    };
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('error', onEnd);
  });
}

async function secure(s: Socket, o: Readonly<UpstreamOptions>): Promise<TLSSocket> {
  s.write(sslRequest());
  const answer = await readOneByte(s);
  if (answer !== 0x53) throw new Error('upstream refused TLS (answered N to SSLRequest) but the proxy is configured to require it');
  const t = o.tls!;
  return new Promise((resolve, reject) => {
    const servername = t.servername ?? (isIP(o.host) ? undefined : o.host);
    const tls = tlsConnect({
      socket: s,
      host: o.host,
      ...(servername ? { servername } : {}),
      ...(t.ca ? { ca: t.ca } : {}),
      rejectUnauthorized: t.rejectUnauthorized,
    });
    tls.once('secureConnect', () => {
      tls.off('error', reject);
      resolve(tls);
    });
    tls.once('error', reject);
  });
}

/** upstreamAddress names where the upstream is reached, for messages. */
export function upstreamAddress(o: Readonly<UpstreamOptions>): string {
  return o.socketPath !== undefined ? `unix:${o.socketPath}` : `${o.host}:${o.port}`;
}

/**
 * connectUpstream opens and logs in an upstream connection. It MUST reject with
 * PgUpstreamUnavailableError (never hang past connectTimeoutMs for the whole login) and
 * MUST NOT resolve unless the server proved it knows the SCRAM password (or needs none).
 */
export async function connectUpstream(o: Readonly<UpstreamOptions>, clientParams: Readonly<Record<string, string>>): Promise<UpstreamSession> {
  let sock: Socket | TLSSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      const slot: ReceiverSlot | undefined = o.tls ? undefined : {};
      const raw = await openSocket(o, slot);
      sock = raw;
      const s: Socket | TLSSocket = o.tls ? await secure(raw, o) : raw;
      sock = s;
      return login(s, o, clientParams, slot ? (r) => (slot.current = r) : dataEventReceiver(s));
    })();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`login did not finish within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
    });
    return await Promise.race([work, deadline]);
  } catch (e) {
    sock?.destroy();
    const why = e instanceof Error ? e.message : String(e);
    throw new PgUpstreamUnavailableError(`cannot reach the upstream PostgreSQL server ${upstreamAddress(o)}: ${why}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

// dataEventReceiver is UpstreamSession.receive for a socket read through 'data' events (TLS).
function dataEventReceiver(s: Socket | TLSSocket): (r: Receiver | undefined) => void {
  let current: Receiver | undefined;
  return (r) => {
    if (current) s.off('data', current);
    current = r;
    if (r) s.on('data', r);
  };
}

async function login(
  s: Socket | TLSSocket,
  o: Readonly<UpstreamOptions>,
  clientParams: Readonly<Record<string, string>>,
  receive: (r: Receiver | undefined) => void,
): Promise<UpstreamSession> {
  const reader = new BackendReader();
  const queue: BackendFrame[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const onData = (d: Buffer) => {
    try {
      queue.push(...reader.read(d));
    } catch (e) {
      failure = e as Error;
    }
    wake?.();
  };
  const onClose = () => {
    failure ??= new Error('upstream closed the connection during login');
    wake?.();
  };
  receive(onData);
  s.once('close', onClose);
  s.once('error', onClose);
  s.resume();
  const next = async (): Promise<BackendFrame> => {
    while (queue.length === 0) {
      if (failure) throw failure;
      await new Promise<void>((r) => (wake = r));
    }
    return queue.shift()!;
  };
  try {
    s.write(startupMessage({ ...clientParams, user: o.user, database: o.database }));
    const startupFrames: Buffer[] = [];
    let processId = 0;
    let secretKey = Buffer.alloc(4);
    let scram: ReturnType<typeof createScramClient> | undefined;
    for (;;) {
      const f = await next();
      const m = f.message as unknown as Record<string, unknown> & { name: string };
      switch (m.name) {
        case 'authenticationSASL': {
          const mechs = m.mechanisms as string[];
          if (!mechs.includes(SCRAM_MECHANISM)) throw new Error(`upstream offers SASL ${mechs.join(', ')} but not ${SCRAM_MECHANISM}`);
          scram = createScramClient({ password: o.password, nonce: randomScramNonce() });
          s.write(saslInitialResponse(SCRAM_MECHANISM, scram.clientFirst()));
          break;
        }
        case 'authenticationSASLContinue':
          if (!scram) throw new Error('upstream sent SASLContinue before SASL');
          s.write(saslResponse(scram.clientFinal(m.data as string)));
          break;
        case 'authenticationSASLFinal':
          if (!scram) throw new Error('upstream sent SASLFinal before SASL');
          scram.verifyServerFinal(m.data as string);
          scram = undefined;
          break;
        case 'authenticationOk':
          if (scram) throw new Error('upstream skipped the SCRAM server proof');
          break;
        case 'authenticationCleartextPassword':
        case 'authenticationMD5Password':
          throw new Error(
            `upstream asks for ${m.name === 'authenticationMD5Password' ? 'MD5' : 'a cleartext'} password; the proxy only logs in with SCRAM-SHA-256`,
          );
        case 'parameterStatus':
        case 'notice':
          startupFrames.push(Buffer.from(f.raw));
          break;
        case 'backendKeyData':
          processId = m.processID as number;
          secretKey = Buffer.from(f.raw.subarray(9));
          break;
        case 'error':
          throw new Error(`upstream refused the login: ${String(m.code)} ${String(m.message)}`);
        case 'readyForQuery':
          receive(undefined);
          s.off('close', onClose);
          s.off('error', onClose);
          s.pause();
          return { socket: s, startupFrames, processId, secretKey, receive };
        default:
          throw new Error(`unexpected upstream message during login: ${m.name}`);
      }
    }
  } catch (e) {
    receive(undefined);
    throw e;
  }
}

/** sendUpstreamCancel opens a fresh connection and sends a CancelRequest for the upstream backend (best effort). */
export function sendUpstreamCancel(o: Readonly<UpstreamOptions>, processId: number, secretKey: Buffer): Promise<void> {
  return new Promise((resolve) => {
    // PostgreSQL reads a CancelRequest before any authentication, on plain TCP as well.
    const s = o.socketPath !== undefined ? netConnect({ path: o.socketPath }) : netConnect({ host: o.host, port: o.port });
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve();
    };
    const t = setTimeout(done, o.connectTimeoutMs);
    s.once('connect', () => s.end(cancelRequest(processId, secretKey)));
    s.once('close', done);
    s.once('error', done);
  });
}
