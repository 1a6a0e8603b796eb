// Session: one client connection through the proxy. It answers the startup phase itself (TLS,
// token login), logs in upstream with the proxy's credentials, then relays the protocol while
// deciding each command by policy and recording it.
//
// How responses are matched to commands: PostgreSQL answers messages strictly in order, so the
// session keeps a FIFO of what each forwarded message will produce (`#expect`). A refused
// command is NOT forwarded; instead a statement that fails in the parser (REFUSAL_SQL) is sent
// in its place and the server's ErrorResponse for it is replaced by ours. This keeps the
// upstream's own state exactly what the client expects, without the proxy modelling it:
// inside a transaction block the server marks the transaction failed (ReadyForQuery 'E', as
// psql expects after an error), outside one it stays idle; in an extended-protocol pipeline
// the server discards the rest until Sync, as it would for a real error. The upstream log
// shows a syntax error for each refusal; nothing is executed.
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { isAffidavitError, type Clock, type Logger } from '@affidavit/common';
import {
  ACKNOWLEDGED,
  actorFromIdentity,
  authenticationFailure,
  evaluate,
  PreparedRegistry,
  type ApprovalGate,
  type Classification,
  type EventDraft,
  type Identity,
  type Policy,
  type PolicyDecision,
  type Recorder,
  type SessionRecording,
  type SqlClassifier,
} from '@affidavit/access';
import type { CommandChannel, PolicyAction, Source, Target } from '@affidavit/schemas';
import { BackendFramer, KNOWN_BACKEND_TYPES } from './backend-framer.ts';
import { CommandRun } from './command-run.ts';
import { literalCacheFor, type LiteralCache } from './literal-cache.ts';
import {
  PgApprovalRefusedError,
  PgClientTooSlowError,
  PgCommandDeniedError,
  PgIdleTimeoutError,
  PgMaskBinaryError,
  PgMaskCopyError,
  PgProtocolStateError,
  PgStatementTimeoutError,
  PgTlsRequiredError,
} from './errors.ts';
import type { MaskingPort, ResultMasker } from './masking-port.ts';
import { lineageGate, messageOf } from './lineage-gate.ts';
import type { PostgresProxyOptions } from './options.ts';
import { renderParameters } from './render-parameters.ts';
import { PgTooManyConnectionsError } from './connection-limits.ts';
import { PRELOGIN_LOGIN_TIMEOUT_CODE, PRELOGIN_PROTOCOL_CODE } from './prelogin-rejections.ts';
import { connectUpstream, sendUpstreamCancel, type UpstreamSession } from './upstream.ts';
import {
  authenticationCleartextPassword,
  authenticationOk,
  backendKeyData,
  decodePassword,
  encodeFrontendMessage,
  encryptionResponse,
  errorResponse,
  FrontendReader,
  noticeResponse,
  query as queryMessage,
  readyForQuery,
  terminate,
  type ErrorFields,
  type FrontendMessage,
  type TypedFrontendMessage,
} from './wire/index.ts';

/** REFUSAL_SQL is sent upstream in place of a refused command: it fails in the parser and runs nothing. */
export const REFUSAL_SQL = 'AFFIDAVIT REFUSED THIS STATEMENT';
const REFUSAL_QUERY = queryMessage(REFUSAL_SQL);
const REFUSAL_PARSE = encodeFrontendMessage({ type: 'Parse', name: 'affidavit_refused', query: REFUSAL_SQL, paramTypes: [] });

// Startup parameters passed upstream. `options` (arbitrary -c settings), `search_path` and
// `role` are NOT: they would change what policy-checked names resolve to.
const PASSED_PARAMETERS = new Set(['application_name', 'client_encoding', 'DateStyle', 'TimeZone', 'IntervalStyle', 'extra_float_digits', 'datestyle', 'timezone']);
const MAX_STATEMENTS = 10_000;

const AVRO_ACTION: Readonly<Record<PolicyDecision['action'], PolicyAction>> = {
  allow: 'allow',
  deny: 'deny',
  'require-approval': 'require_approval',
  mask: 'mask',
};

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

type Expect =
  | { kind: 'query'; cmd?: CommandRun; replace?: Buffer }
  | { kind: 'parse' | 'bind' | 'close'; replace?: Buffer }
  | { kind: 'describe'; hidden?: CommandRun }
  | { kind: 'execute'; cmd: CommandRun }
  | { kind: 'sync' };

type Statement = { readonly text: string; readonly cls: Classification };
type Portal = { readonly statement: string; readonly params: readonly (Buffer | null)[]; readonly paramFormats: readonly number[]; readonly resultFormats: readonly number[] };
type Protocol = 'simple' | 'extended';
/** Pending is one command to run: `raw` is its Query, Execute or FunctionCall message; `portal` the Execute's portal. */
type Pending = { text: string; parameters: (string | null)[]; channel: CommandChannel; cls: Classification; protocol: Protocol; raw: Buffer; portal: string; binaryResults: boolean };

const isLoopback = (a: string | undefined) => a === '127.0.0.1' || a === '::1' || a === '::ffff:127.0.0.1' || (a?.startsWith('127.') ?? false);

function classesOf(c: Classification): string[] {
  const out = new Set<string>();
  for (const s of c.statements) for (const o of s.operations) out.add(o.class);
  return [...out];
}

/** Session runs one client connection; create it with the accepted socket and call start(). */
export class Session {
  readonly #deps: SessionDeps;
  readonly #o: Readonly<PostgresProxyOptions>;
  readonly #registry: SessionRegistry;
  readonly #raw: Socket;
  #client: Socket | TLSSocket;
  #tls = false;
  #state: 'startup' | 'auth' | 'ready' | 'closed' = 'startup';
  readonly #reader: FrontendReader;
  #params: Record<string, string> = {};
  #awaitingPassword = false;
  #recording?: SessionRecording;
  #identity?: Identity;
  #started = false;
  #up?: UpstreamSession;
  #framer: BackendFramer;
  readonly #expect: Expect[] = [];
  readonly #inbox: TypedFrontendMessage[] = [];
  #pumping = false;
  #corked = false;
  /** #outgoing is what #forward queued for the server and #flushUpstream has not sent yet. */
  #outgoing?: Buffer;
  /** #outgoingAnswers: something queued since the last flush makes the server answer the client (see #run). */
  #outgoingAnswers = false;
  #discardUntilSync = false;
  readonly #statements = new Map<string, Statement>();
  readonly #portals = new Map<string, Portal>();
  readonly #prepared = new PreparedRegistry();
  readonly #decisions = new WeakMap<object, { policy: Policy; decision: PolicyDecision }>();
  readonly #sql: LiteralCache;
  #keys?: { processId: number; secretKey: Buffer };
  #commands = 0;
  readonly #openedAt = performance.now();
  #clientPaused = { inbox: false, upstream: false };
  #upstreamPaused = false;
  #slowTimer?: NodeJS.Timeout;
  #idleTimer?: NodeJS.Timeout;
  #authTimer?: NodeJS.Timeout;
  #statementTimer?: NodeJS.Timeout;
  #hold?: { abort: AbortController; cancelled: boolean };
  #target: Target;
  #source: Source;
  #identitySlot?: () => void;
  #rejectionNoted = false;

  constructor(socket: Socket, deps: SessionDeps, registry: SessionRegistry) {
    this.#deps = deps;
    this.#o = deps.options;
    this.#registry = registry;
    this.#raw = socket;
    this.#client = socket;
    this.#reader = new FrontendReader({ maxMessageSize: this.#o.maxMessageSize });
    this.#framer = new BackendFramer(this.#o.maxMessageSize);
    this.#sql = literalCacheFor(deps.classifier);
    const u = this.#o.upstream;
    this.#target = { kind: 'postgres', resource: this.#o.resource, host: u.host, port: u.port, database: u.database, login: u.user };
    this.#source = { address: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? null, application: null };
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
    this.#authTimer = setTimeout(() => this.#fatal('08P01', `authentication did not complete within ${this.#o.authTimeoutMs} ms`, PRELOGIN_LOGIN_TIMEOUT_CODE), this.#o.authTimeoutMs);
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
    if (this.#up && this.#expect.length > 0) void sendUpstreamCancel(this.#o.upstream, this.#up.processId, this.#up.secretKey);
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
    switch (m.type) {
      case 'SSLRequest':
        if (this.#tls) return this.#fatal('08P01', 'SSLRequest received twice');
        // SPEC: CVE-2021-23214 — bytes sent before the TLS handshake are unencrypted and could be
        // injected by a man in the middle; refuse rather than treat them as the client's.
        if (this.#reader.buffered !== 0) return this.#fatal('08P01', 'received unencrypted data after SSLRequest');
        if (!this.#deps.secureContext) {
          this.#raw.write(encryptionResponse(false));
          return;
        }
        return this.#upgradeTls();
      case 'GSSENCRequest':
        // No GSSAPI encryption: 'N' makes libpq fall back to SSLRequest or plain.
        if (this.#reader.buffered !== 0) return this.#fatal('08P01', 'received unencrypted data after GSSENCRequest');
        this.#client.write(encryptionResponse(false));
        return;
      case 'CancelRequest':
        this.#registry.cancel(m.processId, m.secretKey);
        this.#end('cancel request');
        return;
      case 'StartupMessage':
        return this.#onStartup(m.parameters);
      case 'PasswordMessage':
        if (this.#state !== 'auth' || !this.#awaitingPassword) {
          return this.#fatal('08P01', `unexpected password message (${new PgProtocolStateError().code})`);
        }
        this.#awaitingPassword = false;
        void this.#login(decodePassword(m));
        return;
      default:
        if (this.#state !== 'ready' && this.#state !== 'auth') return this.#fatal('08P01', `unexpected ${m.type} before login`);
        this.#inbox.push(m);
        if (this.#inbox.length >= this.#o.maxPendingMessages && !this.#clientPaused.inbox) {
          this.#clientPaused.inbox = true;
          this.#client.pause();
        }
    }
  }

  #upgradeTls(): void {
    const raw = this.#raw;
    raw.off('data', this.#onClientData);
    raw.write(encryptionResponse(true));
    const tls = new TLSSocket(raw, { isServer: true, secureContext: this.#deps.secureContext });
    tls.on('data', this.#onClientData);
    tls.on('error', (e) => this.#end(`TLS error: ${e.message}`));
    this.#client = tls;
    this.#tls = true;
  }

  #onStartup(params: Readonly<Record<string, string>>): void {
    this.#params = { ...params };
    this.#source = { ...this.#source, application: params.application_name?.slice(0, 256) ?? null };
    this.#state = 'auth';
    if (!this.#tls && !(this.#o.allowCleartextOnLoopback && isLoopback(this.#raw.remoteAddress))) {
      const e = new PgTlsRequiredError();
      void this.#refuseLogin(e.code, `${e.message} (${e.code})`, undefined, '28000');
      return;
    }
    this.#awaitingPassword = true;
    this.#client.write(authenticationCleartextPassword());
  }

  #openRecording(): SessionRecording {
    this.#recording ??= this.#deps.recorder.openSession({
      sessionId: this.#deps.newId(),
      actor: null,
      source: this.#source,
      target: this.#target,
      feeder: { ...this.#o.feeder },
    });
    return this.#recording;
  }

  async #refuseLogin(code: string, reason: string, token: string | undefined, sqlstate: '28000' | '28P01' | '53300'): Promise<void> {
    const f = authenticationFailure(code, reason, this.#deps.clock.now(), token ? unverifiedClaims(token) : undefined);
    this.#rejectionNoted = true;
    if (this.#registry.preLoginRejected(this.#source.address, f.code, f.reason) === 'counted') return this.#fatal(sqlstate, `Affidavit: login refused: ${reason}`);
    try {
      await this.#openRecording().record(
        { type: 'AuthenticationFailed', code: f.code, reason: f.reason.slice(0, 1024), claimedIssuer: f.claimedIssuer ?? null, claimedSubject: f.claimedSubject ?? null, tokenId: f.tokenId ?? null },
        { wait: this.#o.recordingMode === 'sync' },
      );
    } catch (e) {
      this.#deps.logger?.error({ err: e }, 'could not record AuthenticationFailed');
    }
    this.#fatal(sqlstate, `Affidavit: login refused: ${reason}`);
  }

  async #login(token: string): Promise<void> {
    let identity: Identity;
    try {
      identity = await this.#deps.authenticate(token);
    } catch (e) {
      const code = isAffidavitError(e) ? e.code : 'AFF_E_AUTH_FAILED';
      const msg = e instanceof Error ? e.message : String(e);
      return this.#refuseLogin(code, `${msg} (${code})`, token, '28P01');
    }
    if (this.#isClosed()) return;
    const slot = this.#registry.admitIdentity(identity);
    if (!slot) {
      const e = new PgTooManyConnectionsError();
      return this.#refuseLogin(e.code, `too_many_connections: ${identity.subject} already has ${this.#o.maxConnectionsPerIdentity} sessions open through this proxy; close one and retry (${e.code})`, token, '53300');
    }
    this.#identitySlot = slot;
    this.#identity = identity;
    const rec = this.#openRecording();
    rec.setActor(actorFromIdentity(identity));
    const passed: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.#params)) if (PASSED_PARAMETERS.has(k)) passed[k] = v;
    let up: UpstreamSession | undefined;
    let upError: unknown;
    try {
      up = await connectUpstream(this.#o.upstream, passed);
    } catch (e) {
      upError = e;
    }
    if (this.#isClosed()) {
      up?.socket.destroy();
      return;
    }
    const clientParameters: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.#params)) clientParameters[k.slice(0, 64)] = v.slice(0, 1024);
    try {
      await rec.record({ type: 'SessionStarted', protocol: 'postgresql/3.0', tls: this.#tls, recordingMode: this.#o.recordingMode, clientParameters }, { wait: this.#o.recordingMode === 'sync' });
      this.#started = true;
    } catch (e) {
      up?.socket.destroy();
      return this.#fatal('58000', `Affidavit cannot record this session, so it is refused: ${(e as Error).message} (AFF_E_RECORDING_UNAVAILABLE)`);
    }
    if (!up) {
      const code = isAffidavitError(upError) ? upError.code : 'AFF_E_PG_UPSTREAM_UNAVAILABLE';
      return this.#fatal('08001', `${(upError as Error).message} (${code})`, code);
    }
    if (this.#isClosed()) {
      up.socket.destroy();
      return;
    }
    this.#up = up;
    this.#keys = this.#registry.register(this);
    clearTimeout(this.#authTimer);
    const s = up.socket;
    up.receive(this.#onUpstreamData);
    s.on('error', (e) => this.#upstreamLost(e.message));
    s.on('close', () => this.#upstreamLost('connection closed'));
    s.on('drain', () => {
      if (this.#clientPaused.upstream) {
        this.#clientPaused.upstream = false;
        if (!this.#clientPaused.inbox) this.#client.resume();
      }
    });
    s.setNoDelay?.(true);
    s.resume();
    this.#client.write(Buffer.concat([authenticationOk(), ...up.startupFrames, backendKeyData(this.#keys.processId, this.#keys.secretKey), readyForQuery('I')]));
    this.#state = 'ready';
    if (this.#o.idleTimeoutMs > 0) this.#idleTimer = setTimeout(this.#onIdle, this.#o.idleTimeoutMs);
    this.#pump();
  }

  #onIdle = (): void => {
    if (this.#state !== 'ready') return;
    if (this.#expect.length > 0 || this.#hold || this.#inbox.length > 0) {
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
        const r = this.#handle(this.#inbox.shift()!);
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
        const r = this.#handle(this.#inbox.shift()!);
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
    if (this.#clientPaused.inbox && this.#state === 'ready') {
      this.#clientPaused.inbox = false;
      if (!this.#clientPaused.upstream) this.#client.resume();
    }
  }

  #handle(m: TypedFrontendMessage): Promise<void> | void {
    switch (m.type) {
      case 'Query': {
        const cls = this.#prepared.apply(this.#sql.classify(m.query));
        return this.#run({ text: m.query, parameters: [], channel: this.#channelOf(cls, 'simple'), cls, protocol: 'simple', raw: m.raw, portal: '', binaryResults: false });
      }
      case 'Parse': {
        if (this.#discardUntilSync) return;
        const cls = this.#sql.classify(m.query);
        if (!this.#statements.has(m.name) && this.#statements.size >= MAX_STATEMENTS) this.#statements.delete(this.#statements.keys().next().value as string);
        this.#statements.set(m.name, { text: m.query, cls });
        if (m.name !== '') this.#prepared.registerPrepared(m.name, cls);
        return this.#forward(m.raw, { kind: 'parse' });
      }
      case 'Bind':
        if (this.#discardUntilSync) return;
        if (!this.#portals.has(m.portal) && this.#portals.size >= MAX_STATEMENTS) this.#portals.delete(this.#portals.keys().next().value as string);
        this.#portals.set(m.portal, { statement: m.statement, params: m.params, paramFormats: m.paramFormats, resultFormats: m.resultFormats });
        return this.#forward(m.raw, { kind: 'bind' });
      case 'Describe':
        if (this.#discardUntilSync) return;
        return this.#forward(m.raw, { kind: 'describe' });
      case 'Close':
        if (this.#discardUntilSync) return;
        if (m.target === 'S') {
          this.#statements.delete(m.name);
          if (m.name !== '') this.#prepared.forgetPrepared(m.name);
        } else this.#portals.delete(m.name);
        return this.#forward(m.raw, { kind: 'close' });
      case 'Execute': {
        if (this.#discardUntilSync) return;
        const p = this.#portals.get(m.portal);
        const st = p ? this.#statements.get(p.statement) : undefined;
        const cls = st ? this.#prepared.apply(st.cls) : this.#prepared.lookupPrepared(p?.statement ?? m.portal);
        const text = st?.text ?? cls.text;
        return this.#run({
          text,
          parameters: p ? renderParameters(p.params, p.paramFormats) : [],
          channel: this.#channelOf(cls, 'extended'),
          cls,
          protocol: 'extended',
          raw: m.raw,
          portal: m.portal,
          binaryResults: p !== undefined && p.resultFormats.some((f) => f === 1),
        });
      }
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
        return this.#run({ text, parameters: renderParameters(m.args, m.argFormats), channel: 'function_call', cls, protocol: 'simple', raw: m.raw, portal: '', binaryResults: m.resultFormat === 1 });
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

  #channelOf(cls: Classification, dflt: CommandChannel): CommandChannel {
    for (const s of cls.statements) for (const o of s.operations) if (o.class === 'copy-from' || o.class === 'copy-to') return 'copy';
    return dflt;
  }

  // #run decides and records one command, then forwards or refuses it. An allowed command in
  // async mode, or in sync mode over an in-process bus (acknowledged within the call), takes a
  // synchronous path (no promise, no microtask): the pump then goes straight on to the next
  // message. Everything else (sync recording over Kafka, deny, approval, mask) is async.
  #run(p: Pending): Promise<void> | void {
    const rec = this.#recording!;
    const decision = this.#decisionFor(p.cls);
    const id = this.#deps.newId();
    this.#commands++;
    const issued: EventDraft = { type: 'CommandIssued', commandId: id, channel: p.channel, text: p.text, parameters: p.parameters, classes: classesOf(p.cls), decision: AVRO_ACTION[decision.action], ruleId: decision.ruleId };
    if (this.#o.recordingMode === 'sync') {
      // Fail closed: the command is forwarded only after its CommandIssued is acknowledged. Earlier
      // pipelined commands are sent now, so their results flow while this one waits. Only
      // those: a Parse or Bind queued just before (this command's own, as every -M prepared
      // pgbench transaction sends) gets no answer the client sees before the next Sync, and
      // sending it alone cost a write here and a wake-up of the server per command.
      if (this.#outgoingAnswers) this.#flushUpstream();
      let acked: Promise<void>;
      try {
        acked = rec.appendAcknowledged(issued);
      } catch (e) {
        return this.#recordingRefused(p, e);
      }
      // An in-process broker acknowledged already: go on without a promise, as async mode does.
      if (acked !== ACKNOWLEDGED) return this.#runAcknowledged(p, id, decision, acked);
    } else {
      try {
        rec.append(issued);
      } catch (e) {
        return this.#recordingRefused(p, e);
      }
    }
    return this.#carryOut(p, id, decision);
  }

  async #runAcknowledged(p: Pending, id: string, decision: PolicyDecision, acked: Promise<void>): Promise<void> {
    try {
      await acked;
    } catch (e) {
      return this.#recordingRefused(p, e);
    }
    if (this.#state !== 'ready') return;
    return this.#carryOut(p, id, decision);
  }

  /** #carryOut acts on a recorded decision: a plain allow is dispatched at once (no promise), anything else goes through #decide. */
  #carryOut(p: Pending, id: string, decision: PolicyDecision): Promise<void> | void {
    if (decision.action === 'allow') return this.#dispatch(p, id, decision, undefined);
    return this.#decide(p, id, decision);
  }

  // #decisionFor evaluates policy, remembering the decision per operations list: evaluate() reads
  // only the operations of a classification (never its texts), the session's groups and the
  // target, and the last two are fixed for the session. Classifications of one statement shape
  // (LiteralCache) or one prepared statement share their frozen operations list, so a repeated
  // statement is decided once per policy version; a policy reload (a new Policy object) misses.
  #decisionFor(cls: Classification): PolicyDecision {
    const policy = this.#deps.policy();
    const key = cls.unparsable === undefined && cls.statements.length === 1 && Object.isFrozen(cls.statements[0].operations) ? cls.statements[0].operations : undefined;
    if (key) {
      const hit = this.#decisions.get(key);
      if (hit && hit.policy === policy) return hit.decision;
    }
    const decision = Object.freeze(evaluate(policy, { target: { kind: 'postgres', resource: this.#o.resource }, groups: this.#identity!.groups, classification: cls }));
    if (key) this.#decisions.set(key, { policy, decision });
    return decision;
  }

  #recordingRefused(p: Pending, e: unknown): void {
    const code = isAffidavitError(e) ? e.code : 'AFF_E_RECORDING_UNAVAILABLE';
    return this.#refuse(p.protocol, { severity: 'ERROR', code: '58000', message: `Affidavit could not record this statement, so it was not run: ${(e as Error).message} (${code})`, hint: 'retry when the audit bus is reachable again' });
  }

  /** #decide carries out a decision other than a plain allow (deny, approval, mask), then dispatches. */
  async #decide(p: Pending, id: string, decision: PolicyDecision): Promise<void> {
    let masker: ResultMasker | undefined;
    switch (decision.action) {
      case 'deny': {
        const err = new PgCommandDeniedError();
        await this.#blocked(id, p, decision.ruleId, decision.reason);
        return this.#refuse(p.protocol, {
          severity: 'ERROR',
          code: '42501',
          message: `Affidavit policy rule "${decision.ruleId}" refused this statement: ${decision.reason} (${err.code})`,
        });
      }
      case 'require-approval': {
        const ok = await this.#awaitApproval(id, p, decision);
        if (!ok || this.#state !== 'ready') return;
        break;
      }
      case 'mask': {
        if (p.binaryResults) {
          const err = new PgMaskBinaryError();
          await this.#blocked(id, p, decision.ruleId, 'masked results were requested in binary format');
          return this.#refuse(p.protocol, { severity: 'ERROR', code: '0A000', message: `Affidavit policy rule "${decision.ruleId}" masks these results, and masked values can only be sent in text format; request text results (${err.code})` });
        }
        if (p.channel === 'copy') {
          // COPY TO streams rows as CopyData the proxy does not rewrite: refuse rather than leak.
          const err = new PgMaskCopyError();
          await this.#blocked(id, p, decision.ruleId, 'masked data requested through COPY');
          return this.#refuse(p.protocol, { severity: 'ERROR', code: '0A000', message: `Affidavit policy rule "${decision.ruleId}" masks this data, and COPY output is not masked; use SELECT instead (${err.code})` });
        }
        if (!this.#deps.masking) {
          await this.#blocked(id, p, decision.ruleId, 'masking is required but not configured');
          return this.#refuse(p.protocol, { severity: 'ERROR', code: '42501', message: `Affidavit policy rule "${decision.ruleId}" requires masking, which this proxy is not configured for (${new PgCommandDeniedError().code})` });
        }
        // Lineage (lineage-gate.ts): refuse what masking cannot hide, force derived columns.
        const spec = decision.masks ?? { columns: [], detectors: [] };
        const gate = lineageGate(p.text, p.cls, decision.ruleId, spec);
        if (gate.kind === 'refuse') {
          await this.#blocked(id, p, decision.ruleId, gate.reason);
          return this.#refuse(p.protocol, gate.error);
        }
        masker = await this.#deps.masking.prepare(decision.ruleId, spec, gate.lineage);
        if (this.#state !== 'ready') return;
        break;
      }
      case 'allow':
        break;
    }
    this.#dispatch(p, id, decision, masker);
  }

  /** #dispatch forwards an admitted command and follows its results (CommandRun). */
  #dispatch(p: Pending, id: string, decision: PolicyDecision, masker: ResultMasker | undefined): void {
    const cmd = new CommandRun({
      id,
      sessionId: this.#recording!.sessionId,
      text: p.text,
      channel: p.channel,
      masker,
      captureBytes: decision.capture ? this.#o.maxCaptureBytes : 0,
      startedAt: performance.now(),
    });
    if (this.#o.statementTimeoutMs > 0) this.#armStatementTimer();
    if (p.protocol === 'simple') return this.#forward(p.raw, { kind: 'query', cmd });
    // Extended: the hidden Describe gives the portal's row shape for masking or capture; the
    // client never sees its answer. Built only then: most Executes need none.
    if (masker || decision.capture) this.#forward(encodeFrontendMessage({ type: 'Describe', target: 'P', name: p.portal }), { kind: 'describe', hidden: cmd });
    this.#forward(p.raw, { kind: 'execute', cmd });
  }

  async #blocked(commandId: string, p: Pending, ruleId: string | null, reason: string): Promise<void> {
    try {
      await this.#recording!.record({ type: 'CommandBlocked', commandId, text: p.text, ruleId, reason: reason.slice(0, 2048) }, { wait: false });
    } catch (e) {
      this.#deps.logger?.error({ err: e }, 'could not record CommandBlocked');
    }
  }

  async #awaitApproval(id: string, p: Pending, decision: PolicyDecision): Promise<boolean> {
    const gate = this.#deps.approvals;
    const err = new PgApprovalRefusedError();
    if (!gate) {
      await this.#blocked(id, p, decision.ruleId, 'approval required but no approval channel is configured');
      this.#refuse(p.protocol, { severity: 'ERROR', code: '42501', message: `Affidavit policy rule "${decision.ruleId}" requires an approval, but this proxy has no approval channel (${err.code})` });
      return false;
    }
    this.#flushUpstream();
    const hold = { abort: new AbortController(), cancelled: false };
    this.#hold = hold;
    const groups = decision.approvers ?? [];
    let outcome: Awaited<ReturnType<ApprovalGate['hold']>>;
    try {
      outcome = await gate.hold(
        this.#recording!,
        { commandId: id, text: p.text, ruleId: decision.ruleId, reason: decision.reason, approverGroups: [...groups] },
        {
          timeoutMs: this.#o.approvalTimeoutMs,
          signal: hold.abort.signal,
          onPending: (requestId) => {
            this.#writeClient(
              noticeResponse({
                severity: 'NOTICE',
                code: '00000',
                message: `Affidavit: this statement needs approval (policy rule "${decision.ruleId}": ${decision.reason}); approval request ${requestId} is waiting for a member of ${groups.join(', ') || 'the approvers'} (up to ${Math.round(this.#o.approvalTimeoutMs / 1000)} s)`,
              }),
            );
          },
        },
      );
    } catch (e) {
      this.#hold = undefined;
      const code = isAffidavitError(e) ? e.code : 'AFF_E_RECORDING_UNAVAILABLE';
      this.#refuse(p.protocol, { severity: 'ERROR', code: '58000', message: `Affidavit could not record the approval request, so the statement was not run: ${(e as Error).message} (${code})` });
      return false;
    } finally {
      if (this.#hold === hold) this.#hold = undefined;
    }
    if (outcome.decision === 'approved') return true;
    if (hold.cancelled) {
      await this.#blocked(id, p, decision.ruleId, `approval request ${outcome.requestId} cancelled by the client`);
      this.#refuse(p.protocol, { severity: 'ERROR', code: '57014', message: `canceling statement due to user request (approval request ${outcome.requestId} withdrawn)` });
      return false;
    }
    const by = outcome.approver ? ` by ${outcome.approver.email ?? outcome.approver.subject}` : '';
    const why = outcome.justification ? `: ${outcome.justification}` : '';
    await this.#blocked(id, p, decision.ruleId, `approval request ${outcome.requestId} ${outcome.decision}${by}${why}`);
    const verdict = outcome.decision === 'expired' ? 'expired' : `was ${outcome.decision}${by}`;
    this.#refuse(p.protocol, { severity: 'ERROR', code: '42501', message: `Affidavit approval request ${outcome.requestId} ${verdict}${why} (policy rule "${decision.ruleId}", ${err.code})` });
    return false;
  }

  /** #refuse answers a command that is not forwarded: see the file comment for why a failing statement goes upstream. */
  #refuse(protocol: Protocol, fields: ErrorFields): void {
    if (this.#state !== 'ready') return;
    const replace = errorResponse(fields);
    if (protocol === 'simple') return this.#forward(REFUSAL_QUERY, { kind: 'query', replace });
    this.#forward(REFUSAL_PARSE, { kind: 'parse', replace });
    // Like the server after an error: skip everything up to the next Sync.
    this.#discardUntilSync = true;
  }

  #armStatementTimer(): void {
    clearTimeout(this.#statementTimer);
    this.#statementTimer = setTimeout(() => {
      if (this.#state !== 'ready' || !this.#up) return;
      const e = new PgStatementTimeoutError();
      this.#writeClient(noticeResponse({ severity: 'WARNING', code: '57014', message: `Affidavit: statement ran past ${this.#o.statementTimeoutMs} ms; cancelling it (${e.code})` }));
      void sendUpstreamCancel(this.#o.upstream, this.#up.processId, this.#up.secretKey);
    }, this.#o.statementTimeoutMs);
  }

  // #forward queues a message for the server; #flushUpstream sends what is queued. Messages
  // forwarded unchanged are views of the client's chunk, so consecutive ones are usually
  // adjacent in memory: they are merged into one view and the chunk goes out as it came, in
  // one write (no cork/writev of N small buffers). Merging needs only adjacency: the bytes of
  // the merged view are exactly the messages in order, wherever they came from.
  #forward(buf: Buffer, expect?: Expect): void {
    const s = this.#up?.socket;
    if (!s || this.#state !== 'ready') return;
    if (expect) this.#expect.push(expect);
    // A Query, Execute or Sync is answered; Flush and COPY data go through unexpected.
    if (expect === undefined || expect.kind === 'query' || expect.kind === 'execute' || expect.kind === 'sync') this.#outgoingAnswers = true;
    const held = this.#outgoing;
    if (held === undefined) {
      this.#outgoing = buf;
      return;
    }
    if (held.buffer === buf.buffer && held.byteOffset + held.length === buf.byteOffset) {
      this.#outgoing = Buffer.from(held.buffer, held.byteOffset, held.length + buf.length);
      return;
    }
    if (!this.#corked) {
      s.cork();
      this.#corked = true;
    }
    this.#outgoing = buf;
    this.#writeUpstream(s, held);
  }

  #writeUpstream(s: Socket, buf: Buffer): void {
    if (!s.write(buf) && !this.#clientPaused.upstream) {
      // The server is not reading: stop reading the client until it drains.
      this.#clientPaused.upstream = true;
      this.#client.pause();
    }
  }

  #flushUpstream(): void {
    const held = this.#outgoing;
    this.#outgoing = undefined;
    this.#outgoingAnswers = false;
    const s = this.#up?.socket;
    if (held && s && this.#state === 'ready') this.#writeUpstream(s, held);
    if (this.#corked) {
      this.#corked = false;
      s?.uncork();
    }
  }

  // ---- upstream output ----------------------------------------------------------------

  #onUpstreamData = (chunk: Buffer): void => {
    if (this.#state !== 'ready') return;
    let out: Buffer | Buffer[] | undefined;
    try {
      out = this.#relay(chunk);
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

  // #relay frames one upstream chunk in place and returns what the client gets for it. Messages
  // are located by offset; no object or view is made for a message the relay only looks at
  // (ReadyForQuery, CommandComplete's tag, ParseComplete...), and a run of DataRows that go out
  // unchanged is digested as one slice. Bytes forwarded unchanged stay as they came: when
  // nothing is dropped or replaced, the chunk itself is written, once. Only a message split
  // across reads goes through the framer's queue (its completion, then the rest in place);
  // the framer also makes the header checks (type, length, size limit) for any leftover.
  // Otherwise it returns the pieces in order (adjacent rewritten rows merged into one view),
  // written corked rather than copied into one buffer.
  #relay(chunk: Buffer): Buffer | Buffer[] | undefined {
    const framer = this.#framer;
    let at = 0;
    let parts: Buffer[] | undefined;
    if (framer.buffered > 0) {
      at = framer.complete(chunk);
      const f = framer.next();
      if (!f) return undefined;
      const r = this.#route(f.type, f.raw, 0, f.raw.length);
      parts = r === undefined ? [f.raw] : r === null ? [] : [r];
    }
    const n = chunk.length;
    const max = this.#o.maxMessageSize;
    let run = at; // start of the bytes forwarded unchanged and not yet in parts
    let rows = -1; // start of a run of unchanged DataRows not yet digested
    let rowCount = 0;
    let rowsCmd: CommandRun | undefined;
    // A run of adjacent replacements not yet in parts: tail's memory from its start to tailEnd.
    let tail: Buffer | undefined;
    let tailEnd = 0;
    // replace sends r (null: nothing) instead of chunk[from, to).
    const replace = (from: number, to: number, r: Buffer | null): void => {
      if (from > run) {
        if (tail !== undefined) {
          (parts ??= []).push(runView(tail, tailEnd));
          tail = undefined;
        }
        (parts ??= []).push(chunk.subarray(run, from));
      }
      if (r !== null) {
        // Consecutive rewritten rows usually sit back to back in one slab: they only extend
        // the run, which becomes one view when something else comes.
        if (tail !== undefined && tail.buffer === r.buffer && tailEnd === r.byteOffset) tailEnd += r.length;
        else {
          if (tail !== undefined) (parts ??= []).push(runView(tail, tailEnd));
          tail = r;
          tailEnd = r.byteOffset + r.length;
        }
      }
      run = to;
    };
    // endRows digests (or masks) the run of DataRows chunk[rows, at). The chunk is this read's
    // own copy (upstream.ts) and nothing else holds its rows: they are masked in place.
    const endRows = (): void => {
      const raw = chunk.subarray(rows, at);
      if (rowsCmd!.rewrites) {
        const out = rowsCmd!.maskedRows(raw, rowCount, true);
        if (out !== raw) replace(rows, at, out);
      } else rowsCmd!.dataRows(raw, rowCount);
      rows = -1;
      rowCount = 0;
    };
    while (n - at >= 5) {
      const type = chunk[at];
      const len = chunk.readInt32BE(at + 1);
      // A bad header stops the scan; the framer, given the rest below, reports it.
      if (KNOWN_BACKEND_TYPES[type] === 0 || len < 4 || len > max) break;
      const end = at + 1 + len;
      if (end > n) break;
      if (type === 0x44) {
        const h = this.#expect[0];
        const cmd = h !== undefined && (h.kind === 'query' || h.kind === 'execute') ? h.cmd : undefined;
        // Rows forwarded unchanged, or masked a run at a time, are taken as a run.
        if (cmd === undefined || !cmd.rewrites || cmd.masksRuns) {
          if (cmd !== undefined) {
            if (rows < 0) {
              rows = at;
              rowsCmd = cmd;
            }
            rowCount++;
          }
          at = end;
          continue;
        }
      }
      if (rows >= 0) endRows();
      const r = this.#route(type, chunk, at, end);
      if (r !== undefined) replace(at, end, r);
      at = end;
    }
    if (rows >= 0) endRows();
    if (tail !== undefined) (parts ??= []).push(runView(tail, tailEnd));
    if (at < n) {
      framer.push(chunk.subarray(at));
      if (framer.next() !== undefined) throw new PgProtocolStateError('upstream framing out of step'); // unreachable: the scan stops only before an incomplete or invalid message
    }
    if (parts === undefined) return run === 0 && at === n ? chunk : at > run ? chunk.subarray(run, at) : undefined;
    if (at > run) parts.push(chunk.subarray(run, at));
    return parts.length === 1 ? parts[0] : parts.length === 0 ? undefined : parts;
  }

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

  // #route follows one server message at buf[at, end): undefined forwards it unchanged, null
  // drops it, a Buffer replaces it. A view of the message is made only where one is needed.
  #route(type: number, buf: Buffer, at: number, end: number): Buffer | null | undefined {
    const h = this.#expect[0];
    switch (type) {
      case 0x44: // D DataRow
        if ((h?.kind === 'query' || h?.kind === 'execute') && h.cmd) {
          const raw = buf.subarray(at, end);
          const out = h.cmd.dataRow(raw);
          return out === raw ? undefined : out;
        }
        return undefined;
      case 0x43: // C CommandComplete
        if (h?.kind === 'execute') {
          this.#expect.shift();
          h.cmd.commandComplete(buf, at, end);
          this.#complete(h.cmd);
        } else if (h?.kind === 'query') h.cmd?.commandComplete(buf, at, end);
        return undefined;
      case 0x5a: // Z ReadyForQuery
        if (h?.kind === 'query' || h?.kind === 'sync') {
          this.#expect.shift();
          if (h.kind === 'query' && h.cmd) this.#complete(h.cmd);
        }
        return undefined;
      case 0x31: // 1 ParseComplete
      case 0x32: // 2 BindComplete
      case 0x33: // 3 CloseComplete
        if (h && (h.kind === 'parse' || h.kind === 'bind' || h.kind === 'close')) this.#expect.shift();
        return undefined;
      case 0x54: // T RowDescription
        if (h?.kind === 'describe') {
          this.#expect.shift();
          if (h.hidden) {
            h.hidden.rowDescription(buf.subarray(at, end));
            return null;
          }
        } else if (h?.kind === 'query' && h.cmd?.rewrites) h.cmd.rowDescription(buf.subarray(at, end));
        return undefined;
      case 0x6e: // n NoData
        if (h?.kind === 'describe') {
          this.#expect.shift();
          if (h.hidden) return null;
        }
        return undefined;
      case 0x49: // I EmptyQueryResponse
      case 0x73: // s PortalSuspended
        if (h?.kind === 'execute') {
          this.#expect.shift();
          this.#complete(h.cmd);
        }
        return undefined;
      case 0x45: {
        // E ErrorResponse
        const raw = buf.subarray(at, end);
        const out = this.#routeError(messageOf(h, raw), h);
        return out === raw ? undefined : out;
      }
      case 0x4e: {
        // N NoticeResponse: withheld like errors while a statement reading masked columns runs.
        const raw = buf.subarray(at, end);
        const out = messageOf(h, raw);
        return out === raw ? undefined : out;
      }
      case 0x64: // d CopyData (COPY TO STDOUT)
        if ((h?.kind === 'query' || h?.kind === 'execute') && h.cmd) h.cmd.copyData(buf.subarray(at, end));
        return undefined;
      case 0x52: // R, K: only valid during login
      case 0x4b:
        throw new PgProtocolStateError(`upstream sent '${String.fromCharCode(type)}' after login`);
      default: // N A S t G H W c V: passed through (notices, notifications, parameter changes, COPY)
        return undefined;
    }
  }

  #routeError(raw: Buffer, h: Expect | undefined): Buffer {
    if (!h) return raw; // FATAL from the server (shutdown, termination): it closes next
    if (h.kind === 'query') {
      h.cmd?.error(raw);
      return h.replace ?? raw;
    }
    // Extended protocol: the server skips everything up to Sync; so do the expectations.
    const replace = h.kind === 'parse' || h.kind === 'bind' || h.kind === 'close' ? h.replace : undefined;
    while (this.#expect.length > 0 && this.#expect[0].kind !== 'sync') {
      const e = this.#expect.shift()!;
      const cmd = e.kind === 'execute' ? e.cmd : undefined;
      if (cmd) {
        cmd.error(raw);
        this.#complete(cmd);
      }
    }
    return replace ?? raw;
  }

  #complete(cmd: CommandRun): void {
    if (this.#statementTimer && !this.#expect.some((e) => (e.kind === 'query' || e.kind === 'execute') && e.cmd)) {
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
    const code = errorCode ?? (message.match(/\((AFF_E_[A-Z0-9_]+)\)/)?.[1] ?? null) ?? undefined;
    if (!this.#started && !this.#rejectionNoted) this.#notePreLoginRejection(code ?? PRELOGIN_PROTOCOL_CODE, message);
    this.#end(message, code);
  }

  // A refusal before the session started: recorded now or counted into a per-source summary.
  #notePreLoginRejection(code: string, reason: string): void {
    this.#rejectionNoted = true;
    if (this.#registry.preLoginRejected(this.#source.address, code, reason) !== 'record') return;
    this.#openRecording()
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
    // Commands still running when the connection ends get their outcome recorded too.
    for (const e of this.#expect.splice(0)) {
      const cmd = e.kind === 'query' || e.kind === 'execute' ? e.cmd : undefined;
      if (cmd) this.#complete(cmd);
    }
    if (this.#started && this.#recording) {
      this.#recording
        .record({ type: 'SessionEnded', reason: reason.slice(0, 1024), durationMicros: Math.round((performance.now() - this.#openedAt) * 1000), commands: this.#commands, errorCode: errorCode ?? null }, { wait: false })
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

// unverifiedClaims decodes a JWT payload WITHOUT verifying it, only to name the claimed issuer,
// subject and token id in AuthenticationFailed (bounded: tokens are capped by the verifier too).
function unverifiedClaims(token: string): Record<string, unknown> | undefined {
  if (token.length > 16384) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// runView returns the bytes of `first`'s memory from its start to `end` (first itself when
// nothing was appended): the caller checked that what lies there is exactly the run's pieces.
function runView(first: Buffer, end: number): Buffer {
  return end === first.byteOffset + first.length ? first : Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}
