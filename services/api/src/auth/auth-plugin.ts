// Bearer-token authentication for the API (STYLE rule 6: a fastify-plugin that decorates
// `request.identity`). Every route needs a verified OIDC access token except those marked
// `config: { public: true }`; a refusal is HTTP 401 and, for a token that failed verification,
// an AuthenticationFailed record through the injected recorder.
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticationFailure, type Identity } from '@affidavit/access';
import { isAffidavitError, type Clock, type Logger } from '@affidavit/common';
import { ApiUnauthenticatedError } from '../errors.ts';
import type { AuthFailureRecorder } from '../ports.ts';
import { rolesOf, type Role, type RoleGroups } from './roles.ts';
import { perMinuteBudget } from '../per-minute-budget.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** identity is the verified caller; null only on public routes. */
    identity: Identity | null;
    /** roles are what the caller's groups grant. */
    roles: ReadonlySet<Role>;
    /** bearerToken is the verified token itself (passed on to a decision service that checks it again). */
    bearerToken: string | null;
  }
  interface FastifyContextConfig {
    /** public routes need no token (health checks). */
    public?: boolean;
  }
}

/** AuthPluginOptions: the token verifier (the access core's TokenVerifier.verify), role groups, recorder. */
export type AuthPluginOptions = {
  /** verify MUST reject with an AffidavitError (AFF_E_AUTH_*) for every token it does not accept. */
  readonly verify: (token: string) => Promise<Identity>;
  readonly roleGroups: RoleGroups;
  readonly clock: Clock;
  readonly recorder?: AuthFailureRecorder;
  /** recordPerMinute bounds recorded failures per source address, so a flood of bad tokens cannot flood the ledger. */
  readonly recordPerMinute?: number;
  /** graphiql lets a browser GET the GraphiQL page (HTML only, no query) without a token: development mode only. */
  readonly graphiql?: boolean;
  readonly logger?: Logger;
};

/** DEFAULT_RECORD_PER_MINUTE is how many refused tokens per source address are recorded each minute; the rest are counted in the log. */
export const DEFAULT_RECORD_PER_MINUTE = 30;
// The budget map is bounded: beyond this many addresses in one minute, failures are only logged.
const MAX_TRACKED_ADDRESSES = 10_000;

// Only the GraphiQL page itself (GET /graphql without a query) is let through: any other route
// that answers HTML (the replay page's data, anything added later) still needs a token.
const isGraphiQLPage = (r: FastifyRequest) =>
  r.method === 'GET' && r.url.split('?')[0] === '/graphql' && (r.headers.accept ?? '').includes('text/html') && !/[?&]query=/.test(r.url);

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
// Claims of a refused token are decoded only to say who it CLAIMED to be; bounded like the verifier's input.
const MAX_DECODE = 8192;

function unverifiedClaims(token: string): Record<string, unknown> | undefined {
  if (token.length > MAX_DECODE) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function refuse(reply: FastifyReply, code: string, message: string): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', 'Bearer realm="affidavit", error="invalid_token"')
    .header('cache-control', 'no-store')
    .send({ errors: [{ message, extensions: { code } }] });
}

/** authPlugin authenticates every non-public request before any handler runs. */
export const authPlugin = fp<AuthPluginOptions>(
  async (app, o) => {
    app.decorateRequest('identity', null);
    app.decorateRequest('roles', null as unknown as ReadonlySet<Role>);
    app.decorateRequest('bearerToken', null);
    const mayRecord = perMinuteBudget(o.recordPerMinute ?? DEFAULT_RECORD_PER_MINUTE, o.clock, MAX_TRACKED_ADDRESSES);
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.routeOptions.config?.public) return;
      // The page itself is static; every query it then sends carries the token typed into its headers.
      if (o.graphiql && isGraphiQLPage(request)) return;
      const header = request.headers.authorization;
      const m = typeof header === 'string' ? BEARER.exec(header) : null;
      // No token at all is not an attack on a token: answered 401, not recorded (a scanner
      // hitting the port would otherwise write to the ledger at its own rate).
      if (!m) return refuse(reply, ApiUnauthenticatedError.code, new ApiUnauthenticatedError().message);
      const token = m[1];
      try {
        const identity = await o.verify(token);
        request.identity = identity;
        request.roles = rolesOf(identity, o.roleGroups);
        request.bearerToken = token;
      } catch (e) {
        const code = isAffidavitError(e) ? e.code : ApiUnauthenticatedError.code;
        const message = isAffidavitError(e) ? e.message : new ApiUnauthenticatedError().message;
        if (!isAffidavitError(e)) o.logger?.error({ err: e }, 'token verifier failed unexpectedly');
        if (o.recorder && !mayRecord(request.ip)) {
          o.logger?.warn({ address: request.ip, code }, 'API authentication failure not recorded: over the per-address budget');
        } else if (o.recorder) {
          const failure = authenticationFailure(code, message, o.clock.now(), unverifiedClaims(token));
          try {
            await o.recorder(failure, {
              address: request.ip,
              port: request.socket?.remotePort ?? null,
              userAgent: request.headers['user-agent']?.slice(0, 200) ?? null,
            });
          } catch (err) {
            o.logger?.error({ err }, 'recording an API authentication failure failed');
          }
        }
        return refuse(reply, code, message);
      }
    });
  },
  { name: 'affidavit-auth', fastify: '5.x' },
);
