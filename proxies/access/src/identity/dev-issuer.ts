// Development token issuer for the embedded mode: mints short-lived JWT access tokens for users
// named in the configuration and publishes its discovery document and JWKS on 127.0.0.1, so the
// proxies verify its tokens exactly as they verify a real IdP's (over HTTP, by kid).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JSONWebKeySet } from 'jose';
import { uuidv7, validateOptions, type Clock } from '@affidavit/common';
import { DevUnknownUserError } from './errors.ts';
import { loadOrCreateDevSigningKey, type DevKeyAlgorithm, type DevSigningKey } from './dev-issuer-key.ts';

/** DevUser is one configured user of the development issuer. */
export type DevUser = {
  groups: string[];
  email?: string;
  /** amr defaults to `['pwd']` (single factor); use e.g. `['pwd','otp']` to act as an MFA user. */
  amr: string[];
};

/** DevIssuerOptions configure the development issuer. */
export type DevIssuerOptions = {
  audience: string;
  users: Record<string, DevUser>;
  /** keyFile is where the private signing key is kept across restarts. */
  keyFile: string;
  algorithm: DevKeyAlgorithm;
  /** port on 127.0.0.1; 0 picks a free one. */
  port: number;
  tokenTtlSeconds: number;
};

/** DevIssuerOptionsInput is what callers pass; fields with defaults are optional. */
export type DevIssuerOptionsInput = {
  audience: string;
  users: Record<string, Partial<DevUser>>;
  keyFile: string;
  algorithm?: DevKeyAlgorithm;
  port?: number;
  tokenTtlSeconds?: number;
};

/** DEFAULT_DEV_TOKEN_TTL_SECONDS keeps development tokens short-lived (15 minutes). */
export const DEFAULT_DEV_TOKEN_TTL_SECONDS = 900;

const NAME = '^[A-Za-z0-9._@-]{1,64}$';
const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['audience', 'users', 'keyFile'],
  properties: {
    audience: { type: 'string', minLength: 1, maxLength: 2048 },
    users: {
      type: 'object',
      minProperties: 1,
      maxProperties: 10_000,
      propertyNames: { pattern: NAME },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          groups: { type: 'array', items: { type: 'string', pattern: NAME }, maxItems: 256, uniqueItems: true, default: [] },
          email: { type: 'string', format: 'email', maxLength: 320 },
          amr: { type: 'array', items: { type: 'string', pattern: '^[a-z]{2,16}$' }, minItems: 1, maxItems: 16, uniqueItems: true, default: ['pwd'] },
        },
      },
    },
    keyFile: { type: 'string', minLength: 1, maxLength: 4096 },
    algorithm: { type: 'string', enum: ['EdDSA', 'RS256'], default: 'EdDSA' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 0 },
    tokenTtlSeconds: { type: 'integer', minimum: 10, maximum: 3600, default: DEFAULT_DEV_TOKEN_TTL_SECONDS },
  },
} as const;

/** devIssuerOptions validates, applies defaults and freezes development issuer options. */
export function devIssuerOptions(input: DevIssuerOptionsInput): Readonly<DevIssuerOptions> {
  return validateOptions<DevIssuerOptions>(schema, input, { name: 'devIssuer' });
}

/** MintOptions override one token's lifetime or amr (e.g. to mint an expired token in a test). */
export type MintOptions = { readonly ttlSeconds?: number; readonly amr?: readonly string[]; readonly notBeforeSeconds?: number };

/** DevTokenMinter signs access tokens for configured users. */
export type DevTokenMinter = {
  /** mint returns a signed JWT for `user`; it MUST throw DevUnknownUserError for an unconfigured user. */
  mint(user: string, opts?: MintOptions): Promise<string>;
  /** jwks is the public key set to publish. */
  jwks(): JSONWebKeySet;
};

/**
 * createDevTokenMinter builds the minting core: no HTTP, clock and ids injected.
 * Tokens carry iss, aud, sub, exp, iat, nbf, jti, groups, email, amr and the RFC 9068 `at+jwt` typ.
 */
export function createDevTokenMinter(
  params: { readonly issuer: string; readonly options: Readonly<DevIssuerOptions>; readonly key: DevSigningKey },
  deps: { readonly clock: Clock; readonly newId?: (ms: number) => string },
): DevTokenMinter {
  const { issuer, options, key } = params;
  const newId = deps.newId ?? uuidv7;
  return {
    async mint(user, opts = {}) {
      if (!Object.hasOwn(options.users, user)) {
        throw new DevUnknownUserError(
          `no user ${JSON.stringify(user.slice(0, 64))} is configured for the development issuer (known: ${Object.keys(options.users).slice(0, 20).join(', ')})`,
        );
      }
      const u = options.users[user];
      const now = deps.clock.now();
      const iat = Math.floor(now / 1000);
      const nbf = iat + (opts.notBeforeSeconds ?? 0);
      return new SignJWT({
        groups: [...u.groups],
        ...(u.email === undefined ? {} : { email: u.email }),
        amr: [...(opts.amr ?? u.amr)],
      })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(options.audience)
        .setSubject(user)
        .setIssuedAt(iat)
        .setNotBefore(nbf)
        .setExpirationTime(iat + (opts.ttlSeconds ?? options.tokenTtlSeconds))
        .setJti(newId(now))
        .sign(key.privateKey);
    },
    jwks: () => ({ keys: [{ ...key.publicJwk }] }),
  };
}

/** DevIssuer is a running development issuer. */
export type DevIssuer = DevTokenMinter & {
  /** issuer is `http://127.0.0.1:<port>`, the `iss` of every token. */
  readonly issuer: string;
  readonly port: number;
  readonly jwksUri: string;
  readonly audience: string;
  readonly kid: string;
  /** close stops the HTTP server. */
  close(): Promise<void>;
};

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'max-age=300', ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

/**
 * startDevIssuer loads or creates the signing key, then serves the discovery document at
 * `/.well-known/openid-configuration` and the JWKS at `/jwks.json` on 127.0.0.1 only.
 * It is for the embedded mode and tests; it has no login and MUST NOT face a network.
 */
export async function startDevIssuer(
  input: DevIssuerOptionsInput,
  deps: { readonly clock: Clock; readonly newId?: (ms: number) => string },
): Promise<DevIssuer> {
  const options = devIssuerOptions(input);
  const key = await loadOrCreateDevSigningKey(options.keyFile, options.algorithm);
  let discovery: Record<string, unknown> = {};
  let jwks: JSONWebKeySet = { keys: [] };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/.well-known/openid-configuration') return send(res, 200, discovery);
    if (path === '/jwks.json') return send(res, 200, jwks);
    return send(res, 404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const minter = createDevTokenMinter({ issuer, options, key }, deps);
  jwks = minter.jwks();
  // SPEC: https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata
  // Only what a verifier reads; this issuer has no authorization or token endpoint (tokens are
  // minted in-process by `affidavit login` in embedded mode).
  discovery = {
    issuer,
    jwks_uri: `${issuer}/jwks.json`,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [key.alg],
    response_types_supported: ['token'],
    claims_supported: ['iss', 'aud', 'sub', 'exp', 'iat', 'nbf', 'jti', 'groups', 'email', 'amr'],
  };
  return {
    ...minter,
    issuer,
    port,
    jwksUri: `${issuer}/jwks.json`,
    audience: options.audience,
    kid: key.kid,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}
