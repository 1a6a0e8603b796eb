// The CLI as a client of the GraphQL API (`affidavit approvals list`, `approve`, `deny`,
// `reveal`): where the API is, which bearer token to act with, and how its answers and refusals
// become output and exit codes. Authorisation is the API's: the CLI only carries a token.
import type { ParseArgsConfig } from 'node:util';
import { EXIT, UsageError } from '../command.ts';
import type { Io } from '../command.ts';
import { mintDevToken } from '../embedded/dev-token.ts';
import type { ResolvedConfig } from '../embedded/config.ts';
import { visible } from './visible.ts';

/** API_OPTIONS are the options of every API client command. */
export const API_OPTIONS = {
  api: { type: 'string' },
  token: { type: 'string' },
  as: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** API_HELP documents them. */
export const API_HELP = `  --api URL       the GraphQL endpoint (default http://127.0.0.1:<api.port>/graphql of the config)
  --token TOKEN   act with this OIDC access token (default: $AFFIDAVIT_TOKEN)
  --as USER       act as USER with a token minted by the embedded development issuer (its key
                  in the data directory); the API accepts it only because it trusts that issuer`;

/** API_EXIT documents the exit codes every API client command shares. */
export const API_EXIT = `1 refused by the API, its code printed (AFF_E_AUTH_* for a token it
does not accept, AFF_E_API_FORBIDDEN for a caller without the role, AFF_E_API_RATE_LIMITED, and
AFF_E_APPROVAL_* / AFF_E_MASK_* / AFF_E_API_NOT_FOUND for the rules), 2 usage error,
3 API unreachable or answering unexpectedly`;

/** ApiTarget is where to send a document and with which token. */
export type ApiTarget = { readonly url: string; readonly token: string };

/** apiTarget resolves --api and the token (--as, --token, then AFFIDAVIT_TOKEN). */
export async function apiTarget(values: { api?: string; token?: string; as?: string }, config: ResolvedConfig, io: Io): Promise<ApiTarget> {
  let url = values.api;
  if (url === undefined) {
    if (config.api.port === 0) throw new UsageError('the API is turned off in this config (api.port: 0); pass --api URL');
    url = `http://127.0.0.1:${config.api.port}/graphql`;
  }
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new UsageError(`--api must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  if (values.as !== undefined && values.token !== undefined) throw new UsageError('give --as USER or --token TOKEN, not both');
  if (values.as !== undefined) {
    try {
      return { url, token: await mintDevToken(config, values.as, 300) };
    } catch (e) {
      if ((e as { code?: string }).code === 'AFF_E_AUTH_DEV_UNKNOWN_USER') throw new UsageError((e as Error).message);
      throw e;
    }
  }
  const token = values.token ?? io.env.AFFIDAVIT_TOKEN;
  if (!token) throw new UsageError('no token: pass --token TOKEN, set AFFIDAVIT_TOKEN, or --as USER (development issuer)');
  return { url, token };
}

/** ApiRefusal is an answer of the API that refuses the request; `code` is its AFF_E_ code. */
export class ApiRefusal extends Error {
  readonly code: string | null;
  constructor(message: string, code: string | null) {
    super(message);
    this.code = code;
  }
}

/** ApiUnreachable: no usable answer (network, not JSON, an error without a code). */
export class ApiUnreachable extends Error {}

type GraphqlBody = { data?: Record<string, unknown> | null; errors?: Array<{ message?: string; extensions?: { code?: unknown } }> };

/** graphql posts one document and returns its data, or throws ApiRefusal / ApiUnreachable. */
export async function graphql<T>(target: ApiTarget, query: string, variables: Record<string, unknown>): Promise<T> {
  let res: Response;
  try {
    res = await fetch(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${target.token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new ApiUnreachable(`cannot reach the API at ${target.url} (is 'affidavit start' running?): ${(e as Error).message}`);
  }
  let body: GraphqlBody;
  try {
    body = (await res.json()) as GraphqlBody;
  } catch {
    throw new ApiUnreachable(`the API at ${target.url} answered HTTP ${res.status} without JSON`);
  }
  const first = body.errors?.[0];
  if (first) {
    const code = typeof first.extensions?.code === 'string' ? first.extensions.code : null;
    const message = String(first.message ?? 'error');
    // Only errors the API names with one of its codes are refusals; anything else is unexpected.
    if (code?.startsWith('AFF_E_')) throw new ApiRefusal(message, code);
    throw new ApiUnreachable(`the API at ${target.url} answered HTTP ${res.status}: ${message}${code ? ` [${code}]` : ''}`);
  }
  if (res.status !== 200 || !body.data) throw new ApiUnreachable(`the API at ${target.url} answered HTTP ${res.status} without data`);
  return body.data as T;
}

/** runApi runs `fn` and turns the API's refusals into output and exit codes. */
export async function runApi(command: string, io: Io, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiRefusal) {
      // The message may quote what the caller sent (a request id): shown, never obeyed by the terminal.
      io.stderr.write(`affidavit ${command}: refused: ${visible(e.message)}${e.code ? ` [${visible(e.code)}]` : ''}\n`);
      return EXIT.FAILED;
    }
    if (e instanceof ApiUnreachable) {
      io.stderr.write(`affidavit ${command}: ${visible(e.message)}\n`);
      return EXIT.ERROR;
    }
    throw e;
  }
}
