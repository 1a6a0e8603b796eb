// A real OpenID Connect provider for integration tests: panva's `oidc-provider` (v9), in this
// process, on a free 127.0.0.1 port. It issues RFC 9068 JWT access tokens through the
// client_credentials grant: each configured user is a confidential client whose client_id is
// the token's `sub`, and its groups/email/amr are added as claims (extraTokenClaims).
//
// Config per the provider's docs (docs/README.md of panva/node-oidc-provider, v9):
//   features.clientCredentials.enabled, features.resourceIndicators.getResourceServerInfo
//   returning { scope, audience, accessTokenFormat: 'jwt', jwt: { sign: { alg } } },
//   extraTokenClaims(ctx, token) for custom claims.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, calculateJwkThumbprint, SignJWT, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';

/** OidcUser is one user (client) of the test provider; the shape of test/fixtures/oidc/users.json. */
export type OidcUser = { readonly groups: readonly string[]; readonly email?: string; readonly amr?: readonly string[]; readonly acr?: string };

/** StartOidcProviderOptions tune the provider. */
export type StartOidcProviderOptions = {
  /** audience of issued tokens; an absolute URI (RFC 8707 resource indicator). */
  readonly audience?: string;
  /** users default to test/fixtures/oidc/users.json. */
  readonly users?: Readonly<Record<string, OidcUser>>;
  readonly accessTokenTtlSeconds?: number;
};

/** OidcProviderInstance is a running test provider. */
export type OidcProviderInstance = {
  /** issuer is `http://127.0.0.1:<port>`, the `iss` of its tokens and the discovery prefix. */
  readonly issuer: string;
  readonly port: number;
  readonly audience: string;
  readonly jwksUri: string;
  /** publicJwks is the key set the provider publishes (RS256 signing key). */
  readonly publicJwks: { readonly keys: readonly JWK[] };
  /** issueToken runs the client_credentials grant as `user` and returns the JWT access token. */
  issueToken(user: string, opts?: { readonly resource?: string }): Promise<string>;
  /**
   * signAsProvider signs arbitrary claims with the provider's real signing key (kid and
   * `at+jwt` typ by default). Test-only: it forges tokens the provider would never issue
   * (future `nbf`, foreign `aud`, oversized claims) to prove the verifier refuses them.
   */
  signAsProvider(claims: JWTPayload, header?: Readonly<Record<string, unknown>>): Promise<string>;
  /** stop closes the server and every open connection. */
  stop(): Promise<void>;
};

/** DEFAULT_OIDC_AUDIENCE is the resource indicator the proxies' verifier is configured with in tests. */
export const DEFAULT_OIDC_AUDIENCE = 'https://affidavit.test/proxies';
/** OIDC_SCOPE is the one scope the test resource server defines. */
export const OIDC_SCOPE = 'proxy:connect';

/** loadTestUsers reads test/fixtures/oidc/users.json. */
export function loadTestUsers(): Record<string, OidcUser> {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'oidc', 'users.json'), 'utf8')) as Record<string, OidcUser>;
}

// oidc-provider ships no type declarations; this is the small part of its API used here.
type ProviderCtor = new (issuer: string, config: Record<string, unknown>) => { callback(): (req: IncomingMessage, res: ServerResponse) => void };
type ProviderModule = { Provider: ProviderCtor; errors: { InvalidTarget: new (description?: string) => Error } };

/**
 * startOidcProvider starts oidc-provider on 127.0.0.1 with a fresh RSA signing key and one
 * client per user. The returned instance MUST be stopped (`await p.stop()`).
 */
export async function startOidcProvider(opts: StartOidcProviderOptions = {}): Promise<OidcProviderInstance> {
  const audience = opts.audience ?? DEFAULT_OIDC_AUDIENCE;
  const users = opts.users ?? loadTestUsers();
  const ttl = opts.accessTokenTtlSeconds ?? 300;
  // A variable specifier keeps tsc from looking for declarations the package does not ship.
  const spec = 'oidc-provider';
  const { Provider, errors } = (await import(spec)) as ProviderModule;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const priv = await exportJWK(privateKey);
  const pub: JWK = { kty: priv.kty, n: priv.n, e: priv.e };
  const kid = await calculateJwkThumbprint(pub);
  const signingJwk = { ...priv, kid, alg: 'RS256', use: 'sig' };

  const secrets = new Map(Object.keys(users).map((u) => [u, randomBytes(24).toString('base64url')]));
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [...secrets].map(([client_id, client_secret]) => ({
      client_id,
      client_secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [signingJwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    ttl: { ClientCredentials: ttl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => audience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resourceIndicator: string) => {
          if (resourceIndicator !== audience) throw new errors.InvalidTarget();
          return { scope: OIDC_SCOPE, audience, accessTokenTTL: ttl, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    extraTokenClaims: async (_ctx: unknown, token: { clientId?: string }) => {
      const u = token.clientId === undefined ? undefined : users[token.clientId];
      if (!u) return undefined;
      return {
        groups: [...u.groups],
        ...(u.email === undefined ? {} : { email: u.email }),
        ...(u.amr === undefined ? {} : { amr: [...u.amr] }),
        ...(u.acr === undefined ? {} : { acr: u.acr }),
      };
    },
  });
  handler = provider.callback();

  return {
    issuer,
    port,
    audience,
    jwksUri: `${issuer}/jwks`,
    publicJwks: { keys: [{ ...pub, kid, alg: 'RS256', use: 'sig' }] },
    async issueToken(user, o = {}) {
      const secret = secrets.get(user);
      if (secret === undefined) throw new Error(`test OIDC provider: unknown user ${user}`);
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(user)}:${encodeURIComponent(secret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: OIDC_SCOPE, resource: o.resource ?? audience }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (res.status !== 200 || typeof body.access_token !== 'string') {
        throw new Error(`test OIDC provider refused a token for ${user}: HTTP ${res.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
      }
      return body.access_token;
    },
    signAsProvider: (claims, header = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt', ...header } as JWTHeaderParameters).sign(privateKey),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}
