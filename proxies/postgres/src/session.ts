// Session: one client connection through the proxy, and the coordinator of its parts:
//   startup.ts          the startup phase (TLS, token login, the upstream login)
//   protocol-state.ts   the model of prepared statements and portals (what a name runs)
//   command-gate.ts     each command decided by policy, recorded, then forwarded or refused
//   upstream-writer.ts  the bytes queued for the server, sent in as few writes as possible
//   response-router.ts  the server's answers: results to their command, confirmations to the model
// The session reads the client, turns each message into what the parts need, and ends the
// connection. How responses are matched to commands, and how a refusal keeps the server's state
// what the client expects, is told in response-router.ts and command-gate.ts.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { isAffidavitError, type Clock, type Logger } from '@affidavit/common';
import type {
  ApprovalGate,
  Classification,
  EventDraft,
  Identity,
  Policy,
  Recorder,
  ResolutionContext,
  SessionRecording,
  SqlClassifier,
} from '@affidavit/access';
import { channelOf, CommandGate, type Pending } from './command-gate.ts';
import type { CommandRun } from './command-run.ts';
import { literalCacheFor, type LiteralCache } from './literal-cache.ts';
import { PgClientTooSlowError, PgIdleTimeoutError, PgProtocolStateError, PgStatementTimeoutError } from './errors.ts';
import type { MaskingPort } from './masking-port.ts';
import type { PostgresProxyOptions } from './options.ts';
import { ProtocolState, WAIT, type PortalDef } from './protocol-state.ts';
import { parameterMismatch, parameterStatusOf } from './parser-agreement.ts';
import { PRELOGIN_LOGIN_TIMEOUT_CODE, PRELOGIN_PROTOCOL_CODE } from './prelogin-rejections.ts';
import { renderParameters } from './render-parameters.ts';
import { ResponseRouter, type Expect } from './response-router.ts';
import { Startup } from './startup.ts';
import { statementFacts } from './statement-facts.ts';
import { sendUpstreamCancel, type UpstreamSession } from './upstream.ts';
import { UpstreamWriter } from './upstream-writer.ts';
import {
  authenticationOk,
  backendKeyData,
  encodeFrontendMessage,
  errorResponse,
  FrontendReader,
  noticeResponse,
  readyForQuery,
  terminate,
  type FrontendMessage,
  type TypedFrontendMessage,
} from './wire/index.ts';

export { REFUSAL_SQL } from './command-gate.ts';

/** SessionDeps are the collaborators every session of a proxy shares. */
export type SessionDeps = {
  readonly options: Readonly<PostgresProxyOptions>;
  readonly recorder: Recorder;
  /** authenticate verifies an access token; it rejects with an AffidavitError (AFF_E_AUTH_*) when refused. */
  readonly authenticate: (token: string) => Promise<Identity>;
  /** policy returns the policy in force (a PolicyWatcher's current one). */
  readonly policy: () => Policy;
  readonly classifier: SqlClassifier;
  readonly approvals?: ApprovalGate;
  readonly masking?: MaskingPort;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly secureContext?: SecureContext;
  readonly logger?: Logger;
};

/** CancelKeys is what the proxy hands the client as BackendKeyData, and how it finds the session back. */
export type SessionRegistry = {
  register(session: Session): { processId: number; secretKey: Buffer };
  unregister(processId: number): void;
  cancel(processId: number, secretKey: Buffer): void;
  /** admitIdentity takes a session slot of a verified identity; undefined past maxConnectionsPerIdentity (connection-limits.ts). */
  admitIdentity(identity: { issuer: string; subject: string }): (() => void) | undefined;
  /** preLoginRejected says whether the session records its pre-login rejection now, or it was counted (prelogin-rejections.ts). */
  preLoginRejected(address: string, code: string, reason: string): 'record' | 'counted';
};

const FLUSH = encodeFrontendMessage({ type: 'Flush' });
const NO_STATEMENTS: Classification['statements'] = Object.freeze([]);
/** NOTIFICATION_COLUMNS name the fields of a NotificationResponse recorded as ResultCaptured. */
export const NOTIFICATION_COLUMNS = Object.freeze(['notification_channel', 'notification_payload', 'notification_sender_pid']);

// needsModel: a statement that names a prepared statement or cursor, or defines one.
function needsModel(cls: Classification): boolean {
  for (const s of cls.statements) if (s.refers !== undefined || s.defines !== undefined) return true;
  return false;
}

/** Session runs one client connection; create it with the accepted socket and call start(). */
export class Session {
  readonly #deps: SessionDeps;
  readonly #o: Readonly<PostgresProxyOptions>;
  readonly #registry: SessionRegistry;
  readonly #raw: Socket;
  #client: Socket | TLSSocket;
  #state: 'startup' | 'ready' | 'closed' = 'startup';
  readonly #reader: FrontendReader;
  readonly #startup: Startup;
  #recording?: SessionRecording;
  #identity?: Identity;
  #started = false;
  #up?: UpstreamSession;
  readonly #model = new ProtocolState(statementFacts);
  readonly #router: ResponseRouter;
  readonly #writer: UpstreamWriter;
  readonly #gate: CommandGate;
  readonly #inbox: TypedFrontendMessage[] = [];
  #pumping = false;
  #discardUntilSync = false;
  readonly #sql: LiteralCache;
  #keys?: { processId: number; secretKey: Buffer };
  #commands = 0;
  #lastCommandId?: string;
  readonly #openedAt = performance.now();
  #inboxPaused = false;
  #upstreamPaused = false;
  #slowTimer?: NodeJS.Timeout;
  #idleTimer?: NodeJS.Timeout;
  #authTimer?: NodeJS.Timeout;
  #statementTimer?: NodeJS.Timeout;
  #hold?: { abort: AbortController; cancelled: boolean };
  /** #resolution is how the server resolves names for this session (asked at login). */
  #resolution?: ResolutionContext;
  /** #identitySlot releases this session's per-identity connection slot (taken at login). */
  #identitySlot?: () => void;
  /** #rejectionNoted: a refusal before login was already recorded or counted. */
  #rejectionNoted = false;

  constructor(socket: Socket, deps: SessionDeps, registry: SessionRegistry) {
    this.#deps = deps;
    this.#o = deps.options;
    this.#registry = registry;
    this.#raw = socket;
    this.#client = socket;
    this.#reader = new FrontendReader({ maxMessageSize: this.#o.maxMessageSize });
    this.#sql = literalCacheFor(deps.classifier);
    this.#writer = new UpstreamWriter({
      pause: () => this.#client.pause(),
      resume: () => {
        if (!this.#inboxPaused) this.#client.resume();
      },
    });
    this.#router = new ResponseRouter(this.#o.maxMessageSize, this.#model, {
      completed: (cmd) => this.#complete(cmd),
      notification: (buf, at, end) => this.#notification(buf, at, end),
      parameterStatus: (buf, at, end) => {
        const { name, value } = parameterStatusOf(buf, at, end);
        const why = parameterMismatch(name, value);
        // Fail closed: statements already in flight were judged under the old reading.
        if (why !== undefined)
          queueMicrotask(() => this.#fatal('08P01', `Affidavit ended the session: ${why} (AFF_E_PG_PARSER_DISAGREES)`, 'AFF_E_PG_PARSER_DISAGREES'));
      },
    });
    this.#startup = new Startup({
      deps,
      raw: socket,
      client: () => this.#client,
      useTls: (tls) => {
        this.#raw.off('data', this.#onClientData);
        tls.on('data', this.#onClientData);
        tls.on('error', (e) => this.#end(`TLS error: ${e.message}`));
        this.#client = tls;
      },
      buffered: () => this.#reader.buffered,
      isClosed: () => this.#isClosed(),
      fatal: (s, m, c) => this.#fatal(s, m, c),
      end: (r) => this.#end(r),
      cancelOther: (pid, key) => this.#registry.cancel(pid, key),
      started: () => {
        this.#started = true;
      },
      established: (identity, up, resolution) => this.#established(identity, up, resolution),
      admitIdentity: (identity) => {
        this.#identitySlot = this.#registry.admitIdentity(identity);
        return this.#identitySlot !== undefined;
      },
      preLoginRejected: (code, reason) => {
        this.#rejectionNoted = true;
        return this.#registry.preLoginRejected(socket.remoteAddress ?? 'unknown', code, reason);
      },
    });
    this.#gate = new CommandGate({
      options: this.#o,
      ...(deps.approvals ? { approvals: deps.approvals } : {}),
      ...(deps.masking ? { masking: deps.masking } : {}),
      ...(deps.logger ? { logger: deps.logger } : {}),
      newId: deps.newId,
      policy: deps.policy,
      ready: () => this.#state === 'ready',
      recording: () => this.#recording!,
      identity: () => this.#identity!,
      resolution: () => this.#resolution,
      forward: (buf, e) => this.#forward(buf, e),
      flush: () => this.#flushUpstream(),
      answersQueued: () => this.#writer.answers,
      writeClient: (b) => this.#writeClient(b),
      hold: (h) => {
        this.#hold = h;
      },
      armStatementTimer: () => this.#armStatementTimer(),
      discardUntilSync: () => {
        this.#discardUntilSync = true;
      },
      commandIssued: (id) => {
        this.#commands++;
        this.#lastCommandId = id;
      },
    });
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** start begins reading the client; the session ends itself on any error. */
  start(): void {
    const s = this.#raw;
    s.setNoDelay(true);
    s.on('data', this.#onClientData);
    s.on('error', (e) => this.#end(`client connection error: ${e.message}`));
    s.on('close', () => this.#end('client disconnected'));
    this.#authTimer = setTimeout(
      () => this.#fatal('08P01', `authentication did not complete within ${this.#o.authTimeoutMs} ms`, PRELOGIN_LOGIN_TIMEOUT_CODE),
      this.#o.authTimeoutMs,
    );
  }

  /** secretKeyMatches compares a CancelRequest's key in constant time. */
  secretKeyMatches(key: Buffer): boolean {
    const k = this.#keys?.secretKey;
    return k !== undefined && k.length === key.length && timingSafeEqual(k, key);
  }

  /** cancel handles a CancelRequest for this session: a held statement is refused, a running one cancelled upstream. */
  cancel(): void {
    if (this.#hold) {
      this.#hold.cancelled = true;
      this.#hold.abort.abort();
      return;
    }
    if (this.#up && this.#router.pending > 0) void sendUpstreamCancel(this.#o.upstream, this.#up.processId, this.#up.secretKey);
  }

  /** close ends the session (proxy shutdown). */
  close(reason = 'proxy shutting down'): void {
    if (this.#state === 'ready') this.#fatal('57P01', `terminating connection: ${reason}`);
    else this.#end(reason);
  }

  // ---- client input -------------------------------------------------------------------

  #onClientData = (chunk: Buffer): void => {
    if (this.#isClosed()) return;
    this.#idleTimer?.refresh();
    try {
      this.#reader.push(chunk);
      for (let m = this.#reader.next(); m; m = this.#reader.next()) {
        this.#onMessage(m);
        if (this.#isClosed()) return;
      }
      // The whole chunk is queued first, then handled: its forwarded messages leave together.
      if (this.#state === 'ready' && this.#inbox.length > 0) this.#pump();
    } catch (e) {
      const msg = isAffidavitError(e) ? `${e.message} (${e.code})` : `internal error: ${(e as Error).message}`;
      this.#fatal('08P01', msg);
    }
  };

  #onMessage(m: FrontendMessage): void {
    if (this.#state === 'startup' && this.#startup.message(m)) return;
    switch (m.type) {
      case 'SSLRequest':
      case 'GSSENCRequest':
      case 'CancelRequest':
      case 'StartupMessage':
        return this.#fatal('08P01', `unexpected ${m.type} after login (${new PgProtocolStateError().code})`);
      default:
        if (this.#state !== 'ready' && !this.#startup.authenticating) return this.#fatal('08P01', `unexpected ${m.type} before login`);
        this.#inbox.push(m);
        if (this.#inbox.length >= this.#o.maxPendingMessages && !this.#inboxPaused) {
          this.#inboxPaused = true;
          this.#client.pause();
        }
    }
  }

  #established(identity: Identity, up: UpstreamSession, resolution: ResolutionContext): void {
    // A login whose settings the proxy's parser would read differently (client_encoding=GBK
    // from the startup packet, a role default of standard_conforming_strings=off) is refused.
    for (const f of up.startupFrames) {
      if (f[0] !== 0x53) continue;
      const { name, value } = parameterStatusOf(f, 0, f.length);
      const why = parameterMismatch(name, value);
      if (why !== undefined) {
        up.socket.destroy();
        return this.#fatal('08P01', `Affidavit refused the session: ${why} (AFF_E_PG_PARSER_DISAGREES)`, 'AFF_E_PG_PARSER_DISAGREES');
      }
    }
    this.#resolution = resolution;
    this.#identity = identity;
    this.#recording = this.#startup.recording;
    this.#up = up;
    this.#keys = this.#registry.register(this);
    clearTimeout(this.#authTimer);
    const s = up.socket;
    up.receive(this.#onUpstreamData);
    s.on('error', (e) => this.#upstreamLost(e.message));
    s.on('close', () => this.#upstreamLost('connection closed'));
    this.#writer.attach(s);
    s.setNoDelay?.(true);
    s.resume();
    this.#client.write(
      Buffer.concat([authenticationOk(), ...up.startupFrames, backendKeyData(this.#keys.processId, this.#keys.secretKey), readyForQuery('I')]),
    );
    this.#state = 'ready';
    if (this.#o.idleTimeoutMs > 0) this.#idleTimer = setTimeout(this.#onIdle, this.#o.idleTimeoutMs);
    this.#pump();
  }

  #onIdle = (): void => {
    if (this.#state !== 'ready') return;
    if (this.#router.pending > 0 || this.#hold || this.#inbox.length > 0) {
      this.#idleTimer?.refresh();
      return;
    }
    const e = new PgIdleTimeoutError();
    this.#fatal('57P05', `terminating connection due to idle-session timeout of ${this.#o.idleTimeoutMs} ms (${e.code})`, e.code);
  };

  // ---- command handling ---------------------------------------------------------------

  // #pump handles queued client messages in order. It runs synchronously while every message
  // is handled synchronously (the common case: allowed commands in async mode), so a chunk of
  // pipelined messages costs no promise; at the first message whose handling is asynchronous
  // it continues in #pumpAsync, which keeps the same order. Either way, what was forwarded is
  // sent when the inbox is empty (#pumpDone), so one chunk in gives one write out.
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#inbox.length > 0 && this.#state === 'ready') {
        const r = this.#handle(this.#inbox.shift()!, false);
        if (r) {
          void this.#pumpAsync(r);
          return;
        }
      }
    } catch (e) {
      this.#pumpFailed(e);
    }
    this.#pumpDone();
  }

  async #pumpAsync(pending: Promise<void>): Promise<void> {
    try {
      await pending;
      while (this.#inbox.length > 0 && this.#state === 'ready') {
        const r = this.#handle(this.#inbox.shift()!, false);
        if (r) await r;
      }
    } catch (e) {
      this.#pumpFailed(e);
    } finally {
      this.#pumpDone();
    }
  }

  #pumpFailed(e: unknown): void {
    this.#deps.logger?.error({ err: e }, 'postgres session failed');
    this.#fatal('XX000', `internal proxy error: ${(e as Error).message}`);
  }

  #pumpDone(): void {
    this.#pumping = false;
    this.#flushUpstream();
    if (this.#inboxPaused && this.#state === 'ready') {
      this.#inboxPaused = false;
      if (!this.#writer.paused) this.#client.resume();
    }
  }

  // #awaitModel waits until the server has answered everything sent (a Flush makes it send what
  // it holds), then handles `m` again: the model is exact then. Only when a name's meaning
  // depends on messages in flight in an earlier segment (see protocol-state.ts).
  async #awaitModel(m: TypedFrontendMessage): Promise<void> {
    this.#forward(FLUSH);
    this.#flushUpstream();
    await this.#router.whenQuiet();
    if (this.#state !== 'ready') return;
    return this.#handle(m, true);
  }

  // #handle turns one client message into what the parts need. `waited`: the model was waited
  // for already, so a name it still cannot tell is refused (never waited for twice).
  #handle(m: TypedFrontendMessage, waited: boolean): Promise<void> | void {
    switch (m.type) {
      case 'Query':
        return this.#query(m, waited);
      case 'Parse':
        if (this.#discardUntilSync) return;
        return this.#forward(m.raw, { kind: 'parse', name: m.name, def: { text: m.query, cls: this.#sql.classify(m.query) } });
      case 'Bind': {
        if (this.#discardUntilSync) return;
        const st = this.#model.statement(m.statement);
        if (st === WAIT && !waited) return this.#awaitModel(m);
        const binary = m.resultFormats.some((f) => f === 1);
        // An unknown statement makes an unknown portal: its Execute is refused.
        const def: PortalDef | undefined =
          st === undefined || st === WAIT
            ? undefined
            : { kind: 'bind', text: st.text, cls: st.cls, params: m.params, paramFormats: m.paramFormats, binary, holdable: false, tx: 0, at: 0 };
        return this.#forward(m.raw, { kind: 'bind', name: m.portal, def });
      }
      case 'Describe':
        if (this.#discardUntilSync) return;
        return this.#forward(m.raw, { kind: 'describe' });
      case 'Close':
        if (this.#discardUntilSync) return;
        return this.#forward(m.raw, { kind: 'close', target: m.target, name: m.name });
      case 'Execute':
        if (this.#discardUntilSync) return;
        return this.#execute(m, waited);
      case 'Sync':
        this.#discardUntilSync = false;
        return this.#forward(m.raw, { kind: 'sync' });
      case 'Flush':
      case 'CopyData':
      case 'CopyDone':
      case 'CopyFail':
        return this.#forward(m.raw);
      case 'FunctionCall': {
        const text = `fast-path function call (oid ${m.functionOid})`;
        const cls: Classification = { kind: 'sql', text, statements: [], unparsable: { message: 'a fast-path function call cannot be classified' } };
        return this.#gate.run({
          text,
          parameters: renderParameters(m.args, m.argFormats),
          channel: 'function_call',
          cls,
          protocol: 'simple',
          raw: m.raw,
          portal: '',
          binaryResults: m.resultFormat === 1,
          statements: NO_STATEMENTS,
          defs: undefined,
          opaque: false,
        });
      }
      case 'Terminate':
        this.#flushUpstream();
        this.#up?.socket.end(terminate());
        this.#end('client terminated the session');
        return;
      case 'PasswordMessage':
        return this.#fatal('08P01', `unexpected password message after login (${new PgProtocolStateError().code})`);
      default: {
        const never: never = m;
        throw new Error(`unhandled message ${JSON.stringify(never)}`);
      }
    }
  }

  // #query runs a simple Query: what its EXECUTE / FETCH / MOVE run is resolved through the model
  // and recorded with it (the text gets a note naming what each name is).
  #query(m: TypedFrontendMessage & { type: 'Query' }, waited: boolean): Promise<void> | void {
    const text = m.query;
    const raw = m.raw;
    const cls = this.#sql.classify(text);
    const p: Pending = {
      text,
      parameters: [],
      channel: channelOf(cls, 'simple'),
      cls,
      protocol: 'simple',
      raw,
      portal: '',
      binaryResults: false,
      statements: cls.statements,
      defs: undefined,
      opaque: cls.unparsable !== undefined,
    };
    if (!needsModel(cls)) return this.#gate.run(p);
    const r = this.#model.resolve(cls);
    if (r === WAIT) return waited ? this.#gate.run({ ...p, unknown: { unknown: 'cursor', name: '(in flight)' } }) : this.#awaitModel(m);
    if ('unknown' in r) return this.#gate.run({ ...p, unknown: r });
    return this.#gate.run({ ...p, text: text + r.note, cls: r.cls, channel: channelOf(r.cls, 'simple'), binaryResults: r.binary, defs: r.defs });
  }

  // #execute runs a portal: the statement the server will run is the one the portal was bound
  // to (the Parse text, with the Bind's parameters) or the cursor it is.
  #execute(m: TypedFrontendMessage & { type: 'Execute' }, waited: boolean): Promise<void> | void {
    const portal = m.portal;
    const raw = m.raw;
    const d = this.#model.portal(portal);
    if (d === WAIT && !waited) return this.#awaitModel(m);
    if (d === undefined || d === WAIT) {
      const text = `Execute of portal ${JSON.stringify(portal)}`;
      const cls: Classification = { kind: 'sql', text, statements: [] };
      return this.#gate.run({
        text,
        parameters: [],
        channel: 'extended',
        cls,
        protocol: 'extended',
        raw,
        portal,
        binaryResults: false,
        statements: NO_STATEMENTS,
        defs: undefined,
        opaque: false,
        unknown: { unknown: 'cursor', name: portal },
      });
    }
    const statements = d.kind === 'bind' ? d.cls.statements : NO_STATEMENTS;
    const p: Pending = {
      text: d.text,
      parameters: d.params.length === 0 ? [] : renderParameters(d.params, d.paramFormats),
      channel: channelOf(d.cls, 'extended'),
      cls: d.cls,
      protocol: 'extended',
      raw,
      portal,
      binaryResults: d.binary,
      statements,
      defs: undefined,
      opaque: d.kind === 'bind' && d.cls.unparsable !== undefined,
    };
    if (d.kind !== 'bind' || !needsModel(d.cls)) return this.#gate.run(p);
    const r = this.#model.resolve(d.cls, d.binary);
    if (r === WAIT) return waited ? this.#gate.run({ ...p, unknown: { unknown: 'cursor', name: '(in flight)' } }) : this.#awaitModel(m);
    if ('unknown' in r) return this.#gate.run({ ...p, unknown: r });
    return this.#gate.run({ ...p, text: d.text + r.note, cls: r.cls, channel: channelOf(r.cls, 'extended'), binaryResults: r.binary, defs: r.defs });
  }

  #armStatementTimer(): void {
    clearTimeout(this.#statementTimer);
    this.#statementTimer = setTimeout(() => {
      if (this.#state !== 'ready' || !this.#up) return;
      const e = new PgStatementTimeoutError();
      this.#writeClient(
        noticeResponse({
          severity: 'WARNING',
          code: '57014',
          message: `Affidavit: statement ran past ${this.#o.statementTimeoutMs} ms; cancelling it (${e.code})`,
        }),
      );
      void sendUpstreamCancel(this.#o.upstream, this.#up.processId, this.#up.secretKey);
    }, this.#o.statementTimeoutMs);
  }

  /** #forward queues a message for the server (with what it will be answered with). */
  #forward(buf: Buffer, expect?: Expect): void {
    if (this.#state !== 'ready') return;
    if (expect) this.#router.expect(expect);
    // A Query, Execute or Sync is answered; Flush and COPY data go through unexpected.
    this.#writer.queue(buf, expect === undefined || expect.kind === 'query' || expect.kind === 'execute' || expect.kind === 'sync');
  }

  #flushUpstream(): void {
    if (this.#state === 'ready') this.#writer.flush();
  }

  // ---- upstream output ----------------------------------------------------------------

  #onUpstreamData = (chunk: Buffer): void => {
    if (this.#state !== 'ready') return;
    let out: Buffer | Buffer[] | undefined;
    try {
      out = this.#router.relay(chunk);
    } catch (e) {
      const msg = isAffidavitError(e) ? `${e.message} (${e.code})` : (e as Error).message;
      this.#deps.logger?.error({ err: e }, 'upstream protocol error');
      return this.#fatal('08P01', `Affidavit: the upstream server sent an invalid message: ${msg}`);
    }
    if (out === undefined || out.length === 0) return;
    if (!Array.isArray(out)) return this.#writeClient(out);
    // Several pieces (unchanged bytes, rewritten rows): one corked writev, not a copy into one buffer.
    this.#client.cork();
    for (const piece of out) this.#writeClient(piece);
    this.#client.uncork();
  };

  #writeClient(data: Buffer): void {
    if (this.#isClosed()) return;
    if (this.#client.write(data) || this.#upstreamPaused) return;
    // The client is not reading: stop reading the server (bounded buffering), and give up on
    // the client if it stays stuck.
    this.#upstreamPaused = true;
    this.#up?.socket.pause();
    this.#slowTimer = setTimeout(() => {
      const e = new PgClientTooSlowError();
      this.#deps.logger?.warn({ sessionId: this.#recording?.sessionId }, 'closing a session whose client stopped reading');
      this.#end(`${e.message} for ${this.#o.slowClientTimeoutMs} ms (${e.code})`, e.code);
    }, this.#o.slowClientTimeoutMs);
    this.#client.once('drain', () => {
      clearTimeout(this.#slowTimer);
      this.#upstreamPaused = false;
      if (this.#state === 'ready') this.#up?.socket.resume();
    });
  }

  #complete(cmd: CommandRun): void {
    if (this.#statementTimer && !this.#router.running) {
      clearTimeout(this.#statementTimer);
      this.#statementTimer = undefined;
    }
    const drafts: EventDraft[] = cmd.finish(performance.now());
    const rec = this.#recording!;
    for (const d of drafts) {
      try {
        rec.append(d);
      } catch (e) {
        this.#deps.logger?.error({ err: e }, `could not record ${d.type}`);
      }
    }
  }

  // #notification records a NotificationResponse the client receives (LISTEN/NOTIFY): what a
  // client was sent is in the record, as a ResultCaptured of the command it arrived after.
  #notification(buf: Buffer, at: number, end: number): void {
    const rec = this.#recording;
    if (!rec || this.#lastCommandId === undefined) return;
    try {
      const pid = buf.readInt32BE(at + 5);
      const c0 = at + 9;
      const c1 = buf.indexOf(0, c0);
      const p1 = c1 < 0 || c1 >= end ? -1 : buf.indexOf(0, c1 + 1);
      if (c1 < 0 || p1 < 0 || p1 >= end) return;
      const channel = buf.toString('utf8', c0, c1);
      const payload = buf.toString('utf8', c1 + 1, p1);
      const digest = createHash('sha256').update(buf.subarray(at, end)).digest('hex');
      rec.append({
        type: 'ResultCaptured',
        commandId: this.#lastCommandId,
        columns: [...NOTIFICATION_COLUMNS],
        rows: [[channel, payload, String(pid)]],
        truncated: false,
        resultDigest: digest,
      });
    } catch (e) {
      this.#deps.logger?.error({ err: e }, 'could not record a notification');
    }
  }

  #upstreamLost(why: string): void {
    if (this.#isClosed()) return;
    this.#fatal('57P01', `Affidavit: the upstream server connection ended (${why})`, 'AFF_E_PG_UPSTREAM_UNAVAILABLE');
  }

  // ---- ending -------------------------------------------------------------------------

  #fatal(sqlstate: string, message: string, errorCode?: string): void {
    if (this.#isClosed()) return;
    try {
      this.#client.write(errorResponse({ severity: 'FATAL', code: sqlstate, message }));
    } catch {
      // the socket may already be gone
    }
    this.#client.end();
    const code = errorCode ?? message.match(/\((AFF_E_[A-Z0-9_]+)\)/)?.[1];
    if (!this.#started && !this.#rejectionNoted) this.#notePreLoginRejection(code ?? PRELOGIN_PROTOCOL_CODE, message);
    this.#end(message, code);
  }

  // A refusal before the session started: recorded now or counted into a per-source summary.
  #notePreLoginRejection(code: string, reason: string): void {
    this.#rejectionNoted = true;
    if (this.#registry.preLoginRejected(this.#raw.remoteAddress ?? 'unknown', code, reason) !== 'record') return;
    this.#startup
      .openRecording()
      .record({ type: 'AuthenticationFailed', code, reason: reason.slice(0, 1024), claimedIssuer: null, claimedSubject: null, tokenId: null }, { wait: false })
      .catch((e: unknown) => this.#deps.logger?.error({ err: e }, 'could not record a pre-login rejection'));
  }

  #end(reason: string, errorCode?: string): void {
    if (this.#isClosed()) return;
    this.#state = 'closed';
    this.#identitySlot?.();
    for (const t of [this.#authTimer, this.#idleTimer, this.#slowTimer, this.#statementTimer]) clearTimeout(t);
    this.#hold?.abort.abort();
    if (this.#keys) this.#registry.unregister(this.#keys.processId);
    this.#writer.detach();
    // Commands still running when the connection ends get their outcome recorded too.
    this.#router.abandon();
    const recording = this.#recording ?? this.#startup.recording;
    if (this.#started && recording) {
      recording
        .record(
          {
            type: 'SessionEnded',
            reason: reason.slice(0, 1024),
            durationMicros: Math.round((performance.now() - this.#openedAt) * 1000),
            commands: this.#commands,
            errorCode: errorCode ?? null,
          },
          { wait: false },
        )
        .catch((e: unknown) => this.#deps.logger?.error({ err: e }, 'could not record SessionEnded'));
    }
    const up = this.#up?.socket;
    if (up && !up.destroyed) {
      up.end(terminate());
      setTimeout(() => up.destroy(), 1000).unref();
    }
    if (!this.#client.destroyed) {
      this.#client.end();
      setTimeout(() => this.#client.destroy(), 1000).unref();
    }
  }
}
