// buildServer: the API as a fastify instance, built not started (STYLE rule 6). Tests drive it
// with app.inject(); only the CLI (or startApi) listens.
import Fastify, { type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Identity } from '@affidavit/access';
import type { LedgerStore } from '@affidavit/ledger';
import { systemClock, type Clock, type Logger } from '@affidavit/common';
import { authPlugin } from './auth/auth-plugin.ts';
import { ApiRateLimitedError } from './errors.ts';
import { createApiYoga, graphqlPlugin, type ApiYoga } from './graphql/graphql-plugin.ts';
import type { ResolverDeps } from './graphql/resolvers.ts';
import { apiOptions, type ApiOptions } from './options.ts';
import type { AuthFailureRecorder } from './ports.ts';
import { replayPlugin } from './replay/replay-plugin.ts';

/** ServerDeps are the server's injected collaborators. */
export type ServerDeps = Omit<ResolverDeps, 'clock'> & {
  /** verify is the access core's TokenVerifier.verify (created WITHOUT onRejected: the API records failures itself). */
  readonly verify: (token: string) => Promise<Identity>;
  readonly recorder?: AuthFailureRecorder;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** ledger is read (never written) by the session replay route; without it that route answers 503. */
  readonly ledger?: LedgerStore;
};

declare module 'fastify' {
  interface FastifyInstance {
    /** yoga is the GraphQL server behind /graphql (tests call yoga.fetch for subscriptions). */
    yoga: ApiYoga;
  }
}

/**
 * buildServer returns the API server, ready for inject() or listen(). Every route except
 * GET /healthz needs a bearer token; requests are rate-limited per identity and bodies are
 * bounded by `bodyLimit` (413).
 */
export async function buildServer(input: Partial<ApiOptions>, deps: ServerDeps): Promise<FastifyInstance> {
  const o = apiOptions(input);
  const app = Fastify({ bodyLimit: o.bodyLimit, logger: false, trustProxy: false });
  const yoga = createApiYoga(o, { ...deps, clock: deps.clock ?? systemClock }, deps.logger);
  app.decorate('yoga', yoga);
  app.get('/healthz', { config: { public: true } }, async () => ({ ok: true }));
  await app.register(authPlugin, {
    verify: deps.verify,
    roleGroups: o.roleGroups,
    clock: deps.clock ?? systemClock,
    graphiql: o.development,
    ...(deps.recorder ? { recorder: deps.recorder } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
  // preHandler: after authentication, so the key is the verified identity, not a spoofable header.
  await app.register(rateLimit, {
    max: o.rateLimit.max,
    timeWindow: o.rateLimit.windowMs,
    hook: 'preHandler',
    keyGenerator: (req) => (req.identity ? `id:${req.identity.issuer} ${req.identity.subject}` : `ip:${req.ip}`),
    allowList: (req) => req.routeOptions.config?.public === true,
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      errors: [{ message: `rate limit exceeded: at most ${ctx.max} requests per ${ctx.after}`, extensions: { code: ApiRateLimitedError.code } }],
    }),
  });
  await app.register(graphqlPlugin, { yoga });
  await app.register(replayPlugin, { ...(deps.ledger ? { ledger: deps.ledger } : {}), ...(deps.proofs ? { proofs: deps.proofs } : {}) });
  return app;
}
