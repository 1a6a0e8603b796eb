// The demo database's wire server: PGlite served on a Unix socket in a private (0700) folder,
// behind SCRAM-SHA-256 with a random password only the proxy knows, one client session at a
// time on PGlite's single backend, with the backend's session state reset between sessions.
//
// It replaces @electric-sql/pglite-socket's server, which (0.2.17, read in its src/index.ts)
// trusts every client and multiplexes connections message by message onto the one backend, so
// one client's PREPARE'd names, cursors, temp tables and SETs were visible to every other one,
// live and after it left (it only rolls back an open transaction on close).
//
// Startup, as a PostgreSQL server does it: SSLRequest and GSSENCRequest are answered 'N', a
// CancelRequest is dropped (PGlite cannot cancel), a StartupMessage is answered with
// AuthenticationSASL. Only after the proof is the backend leased (BackendLease) and the
// StartupMessage handed to PGlite, which answers AuthenticationOk … ReadyForQuery. A
// PasswordMessage is never handed to PGlite (0.5.14 then loops allocating until the process
// dies of heap exhaustion).
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from '@affidavit/common';
import { BackendLease, LeaseBusyError, type Release } from './backend-lease.ts';
import { createScramServer, SCRAM_SERVER_MECHANISM, ScramRefused, type ScramServer } from './demo-scram-server.ts';

/** MAX_STARTUP_PACKET is PostgreSQL's own cap on a startup packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET = 10_000;
/** MAX_SESSION_MESSAGE caps one message of a logged-in client (the proxy caps far lower). */
export const MAX_SESSION_MESSAGE = 64 * 1024 * 1024;
/** DEMO_AUTH_TIMEOUT_MS bounds the login exchange before the backend is leased. */
export const DEMO_AUTH_TIMEOUT_MS = 10_000;

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

/** DemoSessionServerOptions configure serveDemoSessions. */
export type DemoSessionServerOptions = {
  db: PGlite;
  /** socketPath is DIR/.s.PGSQL.PORT, DIR being private to this process's user. */
  socketPath: string;
  password: string;
  maxConnections: number;
  /** leaseWaitMs is how long a logged-in session waits for the backend before FATAL 53300. */
  leaseWaitMs: number;
  /** scramIterations is the PBKDF2 count of the password check (PostgreSQL's default is 4096). */
  scramIterations: number;
  /**
   * refuseSql returns why a statement must not reach PGlite (see demo-copy-guard.ts), else
   * undefined; checked on every Query and Parse. A refusal ends that connection (FATAL 0A000).
   */
  refuseSql?: (sql: string) => string | undefined;
  logger: Logger;
};

/** DemoSessionServer is a listening server. */
export type DemoSessionServer = {
  /** sessionsServed counts sessions that held the backend (each one was reset after). */
  readonly sessionsServed: number;
  /** stop ends every connection, waits for the last reset and stops listening. */
  stop(): Promise<void>;
};

/** errorResponse builds an ErrorResponse ('E') with severity, SQLSTATE and message. */
export function errorResponse(severity: 'FATAL' | 'ERROR', code: string, message: string): Buffer {
  const fields = Buffer.concat(
    [
      ['S', severity],
      ['V', severity],
      ['C', code],
      ['M', message],
    ].map(([k, v]) => Buffer.concat([Buffer.from(k), Buffer.from(v, 'utf8'), Buffer.alloc(1)])),
  );
  return frame('E', Buffer.concat([fields, Buffer.alloc(1)]));
}

function frame(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

// sqlOf reads the SQL text of a Query (body: text NUL) or a Parse (body: name NUL text NUL ...).
function sqlOf(m: Buffer): string {
  let at = 5;
  if (m[0] === 0x50) at = m.indexOf(0, at) + 1;
  const end = m.indexOf(0, at);
  return m.toString('utf8', at, end < 0 ? m.length : end);
}

function auth(code: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const c = Buffer.alloc(4);
  c.writeInt32BE(code);
  return frame('R', Buffer.concat([c, data]));
}

// The backend reset between sessions, in protocol order: CopyFail ends a COPY FROM STDIN the
// client left open (outside COPY the server ignores it, by the protocol), Sync ends an
// extended-query batch or its error state, then ROLLBACK and DISCARD ALL (what PgBouncer's
// server_reset_query does: CLOSE ALL, SET SESSION AUTHORIZATION DEFAULT, RESET ALL,
// DEALLOCATE ALL, UNLISTEN *, pg_advisory_unlock_all(), DISCARD PLANS/TEMP/SEQUENCES).
const COPY_FAIL = frame('f', Buffer.from('client left\0'));
const SYNC = frame('S', Buffer.alloc(0));

/** resetBackend MUST leave PGlite's one backend as a fresh login finds it, or throw. */
export async function resetBackend(db: PGlite): Promise<void> {
  for (const m of [COPY_FAIL, SYNC]) await db.runExclusive(() => db.execProtocolRawStream(m, { onRawData: () => undefined }));
  if (db.isInTransaction()) await db.exec('ROLLBACK');
  await db.exec('DISCARD ALL');
  if (db.isInTransaction()) throw new Error('the backend is still in a transaction after ROLLBACK');
}

/** serveDemoSessions starts listening on options.socketPath; it resolves once the socket accepts connections. */
export async function serveDemoSessions(o: DemoSessionServerOptions): Promise<DemoSessionServer> {
  const lease = new BackendLease(() => resetBackend(o.db));
  const open = new Set<DemoConnection>();
  let served = 0;
  const server: Server = createServer((socket) => {
    const c = new DemoConnection(socket, o, lease, () => served++);
    open.add(c);
    socket.once('close', () => open.delete(c));
  });
  server.maxConnections = o.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The folder is what keeps others out (0700); the socket's own mode is a second fence.
  chmodSync(o.socketPath, 0o600);
  server.on('error', (err) => o.logger.warn({ err }, 'demo database socket error'));
  return {
    get sessionsServed() {
      return served;
    },
    async stop() {
      lease.refuseAll(new Error('the demo database is stopping'));
      const closed = new Promise<void>((r) => server.close(() => r()));
      await Promise.all([...open].map((c) => c.close()));
      await closed;
    },
  };
}

type Phase = 'startup' | 'sasl-initial' | 'sasl-final' | 'leasing' | 'session' | 'closed';

class DemoConnection {
  readonly #s: Socket;
  readonly #o: DemoSessionServerOptions;
  readonly #lease: BackendLease;
  readonly #onServed: () => void;
  readonly #id = randomUUID().slice(0, 8);
  #buf: Buffer = Buffer.alloc(0);
  #phase: Phase = 'startup';
  #startup?: Buffer;
  #scram?: ScramServer;
  #release?: Release;
  /** #work is the chain of messages handed to PGlite, in order; the reset waits for its end. */
  #work: Promise<void> = Promise.resolve();
  #authTimer: NodeJS.Timeout;
  #ended?: Promise<void>;

  constructor(s: Socket, o: DemoSessionServerOptions, lease: BackendLease, onServed: () => void) {
    this.#s = s;
    this.#o = o;
    this.#lease = lease;
    this.#onServed = onServed;
    this.#authTimer = setTimeout(() => this.#fatal('08006', 'authentication timeout'), DEMO_AUTH_TIMEOUT_MS);
    s.on('data', (d: Buffer) => this.#onData(d));
    s.on('error', () => void this.close());
    s.on('close', () => void this.close());
  }

  /** close ends the connection; once the backend was leased, the lease is released (reset) after the last message ran. */
  close(): Promise<void> {
    this.#phase = 'closed';
    clearTimeout(this.#authTimer);
    this.#s.destroy();
    return (this.#ended ??= (async () => {
      await this.#work.catch(() => undefined);
      const release = this.#release;
      this.#release = undefined;
      if (release) {
        try {
          await release();
        } catch (err) {
          this.#o.logger.error({ err, connection: this.#id }, 'demo database backend reset failed; it refuses every later session');
        }
      }
    })());
  }

  // A method, not a field read: TypeScript would narrow #phase across the calls that close.
  #closed(): boolean {
    return this.#phase === 'closed';
  }

  #fatal(code: string, message: string): void {
    if (this.#phase === 'closed') return;
    if (this.#s.writable) this.#s.write(errorResponse('FATAL', code, message));
    this.#s.end();
    void this.close();
  }

  #onData(d: Buffer): void {
    if (this.#closed()) return;
    this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
    while (!this.#closed() && this.#phase !== 'leasing') {
      const m = this.#phase === 'startup' ? this.#nextStartup() : this.#nextTyped();
      if (!m) return;
      if (this.#phase === 'startup') this.#onStartupPacket(m);
      else if (this.#phase === 'session') this.#onSessionMessage(m);
      else this.#onSasl(m);
    }
  }

  #nextStartup(): Buffer | undefined {
    if (this.#buf.length < 4) return undefined;
    const len = this.#buf.readInt32BE(0);
    if (len < 8 || len > MAX_STARTUP_PACKET) {
      this.#fatal('08P01', 'invalid length of startup packet');
      return undefined;
    }
    if (this.#buf.length < len) return undefined;
    const m = this.#buf.subarray(0, len);
    this.#buf = this.#buf.subarray(len);
    return m;
  }

  #nextTyped(): Buffer | undefined {
    if (this.#buf.length < 5) return undefined;
    const len = this.#buf.readInt32BE(1);
    const max = this.#phase === 'session' ? MAX_SESSION_MESSAGE : MAX_STARTUP_PACKET;
    if (len < 4 || len > max) {
      this.#fatal('08P01', 'invalid message length');
      return undefined;
    }
    if (this.#buf.length < len + 1) return undefined;
    const m = this.#buf.subarray(0, len + 1);
    this.#buf = this.#buf.subarray(len + 1);
    return m;
  }

  #onStartupPacket(m: Buffer): void {
    const code = m.readInt32BE(4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      this.#s.write('N');
      return;
    }
    if (code === CANCEL_REQUEST) {
      // PGlite has no backend process to signal; PostgreSQL answers a cancel with nothing either.
      void this.close();
      return;
    }
    if (code !== PROTOCOL_3) return this.#fatal('0A000', `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}`);
    this.#startup = Buffer.from(m);
    this.#phase = 'sasl-initial';
    this.#s.write(auth(10, Buffer.from(`${SCRAM_SERVER_MECHANISM}\0\0`)));
  }

  #onSasl(m: Buffer): void {
    if (m[0] !== 0x70 /* p */) return this.#fatal('08P01', `expected a SASL response, got message type ${JSON.stringify(String.fromCharCode(m[0]))}`);
    try {
      if (this.#phase === 'sasl-initial') {
        const nul = m.indexOf(0, 5);
        if (nul < 0 || m.toString('utf8', 5, nul) !== SCRAM_SERVER_MECHANISM)
          throw new ScramRefused('client selected an invalid SASL authentication mechanism');
        const n = m.readInt32BE(nul + 1);
        const data = m.toString('utf8', nul + 5, nul + 5 + Math.max(0, n));
        this.#scram = createScramServer({
          password: this.#o.password,
          salt: randomBytes(16),
          iterations: this.#o.scramIterations,
          serverNonce: randomBytes(18).toString('base64'),
        });
        this.#s.write(auth(11, Buffer.from(this.#scram.serverFirst(data))));
        this.#phase = 'sasl-final';
        return;
      }
      const final = this.#scram!.serverFinal(m.toString('utf8', 5));
      this.#s.write(auth(12, Buffer.from(final)));
    } catch (e) {
      const why = e instanceof ScramRefused ? e.message : 'malformed SASL message';
      this.#o.logger.warn({ connection: this.#id, why }, 'demo database login refused');
      return this.#fatal('28P01', `password authentication failed (${why})`);
    }
    this.#phase = 'leasing';
    // Logged in: from here the lease wait bounds how long it waits, not the login timeout.
    clearTimeout(this.#authTimer);
    void this.#lease.acquire(this.#o.leaseWaitMs).then(
      (release) => {
        if (this.#phase === 'closed') return void release().catch(() => undefined);
        this.#release = release;
        this.#onServed();
        this.#phase = 'session';
        this.#run(this.#startup!);
        this.#onData(Buffer.alloc(0));
      },
      (e: unknown) => {
        const msg =
          e instanceof LeaseBusyError
            ? `the demo database serves one session at a time and another session kept it for the whole ${this.#o.leaseWaitMs} ms wait; try again when that session ends`
            : (e as Error).message;
        this.#fatal('53300', msg);
      },
    );
  }

  #onSessionMessage(m: Buffer): void {
    switch (m[0]) {
      case 0x58 /* X Terminate */:
        void this.close();
        return;
      case 0x70 /* p */:
        return this.#fatal('08P01', 'unexpected password message after login');
      case 0x51 /* Q Query */:
      case 0x50 /* P Parse */:
        {
          const why = this.#o.refuseSql?.(sqlOf(m));
          if (why) return this.#fatal('0A000', why);
          this.#run(Buffer.from(m));
          return;
        }
      default:
        this.#run(Buffer.from(m));
    }
  }

  #run(m: Buffer): void {
    const s = this.#s;
    this.#work = this.#work.then(async () => {
      if (this.#phase === 'closed') return;
      await this.#o.db.runExclusive(() =>
        this.#o.db.execProtocolRawStream(m, {
          onRawData: (out) => {
            if (s.writable && this.#phase !== 'closed') s.write(Buffer.from(out));
          },
        }),
      );
    });
    this.#work.catch((err: unknown) => {
      this.#o.logger.warn({ err, connection: this.#id }, 'demo database message failed');
      this.#fatal('XX000', `the demo database failed: ${(err as Error).message}`);
    });
  }
}
