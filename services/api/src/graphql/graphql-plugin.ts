// graphql-yoga's typings pull in @whatwg-node/fetch, which adds `lib="dom"` to the whole program;
// DOM's ReadableStream then lacks the async iterator Node's has, breaking `for await` over fetch
// bodies elsewhere (proxies/access fetch-json.ts). This adds it back, for the program, from here.
/// <reference lib="dom.asynciterable" />
// GraphQL in an encapsulated fastify plugin (STYLE rule 6): graphql-yoga at /graphql with
// graphql-armor's limits, GraphiQL and introspection only in development, and errors masked unless they are
// AffidavitErrors (whose code goes to extensions.code).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import { createSchema, createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { isAffidavitError, type Logger } from '@affidavit/common';
import type { ApiOptions } from '../options.ts';
import { buildResolvers, type ApiContext, type ResolverDeps } from './resolvers.ts';
import { typeDefs } from './type-defs.ts';

/** ServerContext is what fastify hands yoga per request (tests using yoga.fetch pass `req` alone). */
export type ServerContext = { req: Pick<FastifyRequest, 'identity' | 'roles'> & Partial<Pick<FastifyRequest, 'bearerToken'>>; reply?: FastifyReply };

/** ApiYoga is the yoga instance the plugin serves, exposed for tests of subscriptions. */
export type ApiYoga = YogaServerInstance<ServerContext, ApiContext>;

/** GRAPHQL_PATH is where the API answers. */
export const GRAPHQL_PATH = '/graphql';

const isRefusal = (x: unknown) => x instanceof GraphQLError && isAffidavitError(x.originalError);

/** createApiYoga builds the yoga instance: schema, armor limits, masked errors. */
export function createApiYoga(o: Readonly<ApiOptions>, deps: ResolverDeps, logger?: Logger): ApiYoga {
  return createYoga<ServerContext, ApiContext>({
    schema: createSchema<ServerContext & ApiContext>({ typeDefs, resolvers: buildResolvers(deps) as never }),
    graphqlEndpoint: GRAPHQL_PATH,
    graphiql: o.development,
    landingPage: false,
    // Bearer tokens, no cookies: browsers of other origins have no reason to call this API.
    cors: false,
    logging: logger
      ? {
          debug: () => {},
          info: () => {},
          warn: (...a) => logger.warn({ yoga: a }, 'graphql'),
          // A refusal with its code (a rule, a role, an unknown id) is an answer, logged where it is
          // decided; only what was masked as unexpected is an error here.
          error: (...a) => (a.length > 0 && a.every(isRefusal) ? logger.debug({ yoga: a }, 'graphql refusal') : logger.error({ yoga: a }, 'graphql')),
        }
      : false,
    context: ({ req }) => {
      if (!req.identity) throw new Error('GraphQL reached without an authenticated identity');
      return { identity: req.identity, roles: req.roles, token: req.bearerToken ?? null };
    },
    maskedErrors: {
      maskError(error, message, isDev) {
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (isAffidavitError(original)) {
          const g = error instanceof GraphQLError ? error : undefined;
          return new GraphQLError(original.message, { nodes: g?.nodes, path: g?.path, extensions: { code: original.code } });
        }
        return maskError(error, message, isDev);
      },
    },
    plugins: [
      // Outside development the schema is not handed out (__schema, __type): a caller learns only
      // the fields it was told about. GraphiQL, which needs it, is off then too.
      ...(o.development
        ? []
        : [
            {
              onValidate: ({ addValidationRule }: { addValidationRule: (r: typeof NoSchemaIntrospectionCustomRule) => void }) =>
                addValidationRule(NoSchemaIntrospectionCustomRule),
            },
          ]),
      // Compiles each validated document once (cached): execution of a 50-row page was most of a
      // request's CPU with graphql-js's interpreter. Subscriptions keep the standard executor.
      ...(o.jit ? [useGraphQlJit()] : []),
      EnvelopArmorPlugin({
        maxDepth: { n: o.maxDepth },
        costLimit: { maxCost: o.maxCost },
        maxAliases: { n: o.maxAliases },
        maxDirectives: { n: o.maxDirectives },
        maxTokens: { n: o.maxTokens },
        blockFieldSuggestion: { enabled: !o.development },
      }),
    ],
  });
}

/** graphqlPlugin serves `yoga` on GET/POST/OPTIONS /graphql. Register it after the auth plugin. */
export async function graphqlPlugin(app: FastifyInstance, opts: { yoga: ApiYoga }): Promise<void> {
  const { yoga } = opts;
  app.route({
    url: GRAPHQL_PATH,
    method: ['GET', 'POST', 'OPTIONS'],
    handler: async (req, reply) => {
      const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply });
      response.headers.forEach((value, key) => {
        reply.header(key, value);
      });
      reply.status(response.status);
      // Streams only for subscriptions (SSE, multipart). A query's answer is sent whole, with its
      // length: piping it as a stream cost a write per chunk and most of a request's time in writev.
      const type = response.headers.get('content-type') ?? '';
      if (response.body === null || type.includes('text/event-stream') || type.includes('multipart/')) return reply.send(response.body);
      return reply.send(Buffer.from(await response.arrayBuffer()));
    },
  });
}
