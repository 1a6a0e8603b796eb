// Startup: the session's messages before login completes. The proxy answers the startup phase
// itself (TLS, token login as the password), checks that the startup user is the token's, then
// logs in upstream with the proxy's own credentials and hands the session over (established).
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { isAffidavitError } from '@affidavit/common';
import {
  actorFromIdentity,
  authenticationFailure,
  RESOLUTION_QUERY,
  resolutionFromRow,
  type Identity,
  type ResolutionContext,
  type SessionRecording,
} from '@affidavit/access';
import type { Source, Target } from '@affidavit/schemas';
import { PgProtocolStateError, PgStartupUserMismatchError, PgTlsRequiredError } from './errors.ts';
import { PgTooManyConnectionsError } from './connection-limits.ts';
import { refusalReason } from './refusals.ts';
import type { SessionDeps } from './session.ts';
import { connectUpstream, type UpstreamSession } from './upstream.ts';
import { queryUpstream } from './upstream-query.ts';
import { authenticationCleartextPassword, decodePassword, encryptionResponse, type FrontendMessage } from './wire/index.ts';

// Startup parameters passed upstream. `options` (arbitrary -c settings), `search_path` and
// `role` are NOT: they would change what policy-checked names resolve to.
const PASSED_PARAMETERS = new Set([
  'application_name',
  'client_encoding',
  'DateStyle',
  'TimeZone',
  'IntervalStyle',
  'extra_float_digits',
  'datestyle',
  'timezone',
]);

const isLoopback = (a: string | undefined) => a === '127.0.0.1' || a === '::1' || a === '::ffff:127.0.0.1' || (a?.startsWith('127.') ?? false);

/** StartupHost is the session as the startup phase sees it. */
export type StartupHost = {
  readonly deps: SessionDeps;
  readonly raw: Socket;
  client(): Socket | TLSSocket;
  /** useTls replaces the client socket by the TLS one. */
  useTls(tls: TLSSocket): void;
  /** buffered is the number of client bytes read but not yet handled. */
  buffered(): number;
  isClosed(): boolean;
  fatal(sqlstate: string, message: string, errorCode?: string): void;
  end(reason: string): void;
  cancelOther(processId: number, secretKey: Buffer): void;
  /** established: login succeeded and SessionStarted is recorded; the session takes over. */
  established(identity: Identity, up: UpstreamSession, resolution: ResolutionContext): void;
  /** started: SessionStarted is recorded (SessionEnded will be too). */
  started(): void;
  /** admitIdentity takes a session slot of a verified identity; undefined past maxConnectionsPerIdentity (connection-limits.ts). */
  admitIdentity(identity: Identity): boolean;
  /** preLoginRejected notes a refusal before login; 'counted' means a per-source summary records it (prelogin-rejections.ts). */
  preLoginRejected(code: string, reason: string): 'record' | 'counted';
};

/** Startup runs one session's startup phase. */
export class Startup {
  readonly #h: StartupHost;
  #params: Record<string, string> = {};
  #phase: 'startup' | 'auth' | 'done' = 'startup';
  #awaitingPassword = false;
  #tls = false;
  #recording?: SessionRecording;
  #source: Source;
  readonly #target: Target;

  constructor(host: StartupHost) {
    this.#h = host;
    const o = host.deps.options;
    const u = o.upstream;
    this.#target = { kind: 'postgres', resource: o.resource, host: u.host, port: u.port, database: u.database, login: u.user };
    this.#source = { address: host.raw.remoteAddress ?? 'unknown', port: host.raw.remotePort ?? null, application: null };
  }

  /** authenticating: the startup packet arrived; messages other than startup ones are queued. */
  get authenticating(): boolean {
    return this.#phase === 'auth';
  }

  /** recording is the session's recording, once opened. */
  get recording(): SessionRecording | undefined {
    return this.#recording;
  }

  /** message handles a startup-phase message; false when it is not one (the session queues it). */
  message(m: FrontendMessage): boolean {
    const h = this.#h;
    switch (m.type) {
      case 'SSLRequest':
        if (this.#tls) {
          h.fatal('08P01', 'SSLRequest received twice');
          return true;
        }
        // SPEC: CVE-2021-23214 — bytes sent before the TLS handshake are unencrypted and could be
        // injected by a man in the middle; refuse rather than treat them as the client's.
        if (h.buffered() !== 0) {
          h.fatal('08P01', 'received unencrypted data after SSLRequest');
          return true;
        }
        if (!h.deps.secureContext) h.raw.write(encryptionResponse(false));
        else this.#upgradeTls();
        return true;
      case 'GSSENCRequest':
        // No GSSAPI encryption: 'N' makes libpq fall back to SSLRequest or plain.
        if (h.buffered() !== 0) h.fatal('08P01', 'received unencrypted data after GSSENCRequest');
        else h.client().write(encryptionResponse(false));
        return true;
      case 'CancelRequest':
        h.cancelOther(m.processId, m.secretKey);
        h.end('cancel request');
        return true;
      case 'StartupMessage':
        this.#onStartup(m.parameters);
        return true;
      case 'PasswordMessage':
        if (this.#phase !== 'auth' || !this.#awaitingPassword) {
          h.fatal('08P01', `unexpected password message (${new PgProtocolStateError().code})`);
          return true;
        }
        this.#awaitingPassword = false;
        void this.#login(decodePassword(m));
        return true;
      default:
        return false;
    }
  }

  #upgradeTls(): void {
    const h = this.#h;
    h.raw.write(encryptionResponse(true));
    const tls = new TLSSocket(h.raw, { isServer: true, secureContext: h.deps.secureContext });
    h.useTls(tls);
    this.#tls = true;
  }

  /** tls tells whether the client connection is TLS. */
  get tls(): boolean {
    return this.#tls;
  }

  #onStartup(params: Readonly<Record<string, string>>): void {
    this.#params = { ...params };
    this.#source = { ...this.#source, application: params.application_name?.slice(0, 256) ?? null };
    this.#phase = 'auth';
    const h = this.#h;
    if (!this.#tls && !(h.deps.options.allowCleartextOnLoopback && isLoopback(h.raw.remoteAddress))) {
      void this.#refuseLogin(new PgTlsRequiredError().code, refusalReason('tls-required'), undefined, '28000');
      return;
    }
    this.#awaitingPassword = true;
    h.client().write(authenticationCleartextPassword());
  }

  /** openRecording opens (once) the session's recording. */
  openRecording(): SessionRecording {
    const d = this.#h.deps;
    this.#recording ??= d.recorder.openSession({
      sessionId: d.newId(),
      actor: null,
      source: this.#source,
      target: this.#target,
      feeder: { ...d.options.feeder },
    });
    return this.#recording;
  }

  async #refuseLogin(code: string, reason: string, token: string | undefined, sqlstate: '28000' | '28P01' | '53300'): Promise<void> {
    const d = this.#h.deps;
    const f = authenticationFailure(code, reason, d.clock.now(), token ? unverifiedClaims(token) : undefined);
    // A flood of refusals from one address is counted into one summary event, not recorded one by one.
    if (this.#h.preLoginRejected(f.code, f.reason) === 'counted') return this.#h.fatal(sqlstate, `Affidavit: login refused: ${reason}`);
    try {
      await this.openRecording().record(
        {
          type: 'AuthenticationFailed',
          code: f.code,
          reason: f.reason.slice(0, 1024),
          claimedIssuer: f.claimedIssuer ?? null,
          claimedSubject: f.claimedSubject ?? null,
          tokenId: f.tokenId ?? null,
        },
        { wait: d.options.recordingMode === 'sync' },
      );
    } catch (e) {
      d.logger?.error({ err: e }, 'could not record AuthenticationFailed');
    }
    this.#h.fatal(sqlstate, `Affidavit: login refused: ${reason}`);
  }

  async #login(token: string): Promise<void> {
    const h = this.#h;
    const d = h.deps;
    const o = d.options;
    let identity: Identity;
    try {
      identity = await d.authenticate(token);
    } catch (e) {
      const code = isAffidavitError(e) ? e.code : 'AFF_E_AUTH_FAILED';
      const msg = e instanceof Error ? e.message : String(e);
      return this.#refuseLogin(code, `${msg} (${code})`, token, '28P01');
    }
    if (h.isClosed()) return;
    // The startup user names who logs in: it must be the token's (its subject, or its e-mail),
    // or the session would run as one person while the client and its logs name another.
    const user = this.#params.user ?? '';
    if (user !== identity.subject && (identity.email === undefined || user !== identity.email)) {
      return this.#refuseLogin(
        new PgStartupUserMismatchError().code,
        refusalReason('startup-user-mismatch', { user: user.slice(0, 256), subject: identity.subject }),
        token,
        '28000',
      );
    }
    if (!h.admitIdentity(identity)) {
      const e = new PgTooManyConnectionsError();
      return this.#refuseLogin(
        e.code,
        `too_many_connections: ${identity.subject} already has ${o.maxConnectionsPerIdentity} sessions open through this proxy; close one and retry (${e.code})`,
        token,
        '53300',
      );
    }
    const rec = this.openRecording();
    rec.setActor(actorFromIdentity(identity));
    const passed: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.#params)) if (PASSED_PARAMETERS.has(k)) passed[k] = v;
    let up: UpstreamSession | undefined;
    let upError: unknown;
    try {
      up = await connectUpstream(o.upstream, passed);
    } catch (e) {
      upError = e;
    }
    if (h.isClosed()) {
      up?.socket.destroy();
      return;
    }
    const clientParameters: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.#params)) clientParameters[k.slice(0, 64)] = v.slice(0, 1024);
    try {
      await rec.record(
        { type: 'SessionStarted', protocol: 'postgresql/3.0', tls: this.#tls, recordingMode: o.recordingMode, clientParameters },
        { wait: o.recordingMode === 'sync' },
      );
      h.started();
    } catch (e) {
      up?.socket.destroy();
      return h.fatal('58000', `Affidavit cannot record this session, so it is refused: ${(e as Error).message} (AFF_E_RECORDING_UNAVAILABLE)`);
    }
    if (!up) {
      const code = isAffidavitError(upError) ? upError.code : 'AFF_E_PG_UPSTREAM_UNAVAILABLE';
      return h.fatal('08001', `${(upError as Error).message} (${code})`, code);
    }
    if (h.isClosed()) {
      up.socket.destroy();
      return;
    }
    // How the server will resolve unqualified names for this session (its real search_path, the
    // login's database and user), asked before the client's first statement: policy resolves
    // names the same way. No answer, no session: guessing the path could unmask a table.
    let resolution: ResolutionContext;
    try {
      const row = await queryUpstream(up, RESOLUTION_QUERY, o.upstream.connectTimeoutMs);
      if (!row || row.search_path === null || row.user_name === null || row.database === null) throw new Error('the server returned no search_path');
      resolution = resolutionFromRow({ search_path: row.search_path, user_name: row.user_name, database: row.database });
    } catch (e) {
      up.socket.destroy();
      return h.fatal(
        '08001',
        `Affidavit could not learn how the upstream server resolves names, so the session is refused: ${(e as Error).message} (AFF_E_PG_UPSTREAM_UNAVAILABLE)`,
        'AFF_E_PG_UPSTREAM_UNAVAILABLE',
      );
    }
    if (h.isClosed()) {
      up.socket.destroy();
      return;
    }
    this.#phase = 'done';
    h.established(identity, up, resolution);
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
