// Options of the token verifier: named defaults, JSON Schema, cross-field rules, then frozen
// (STYLE rule 5). Only asymmetric algorithms can be configured at all: the schema's enum is the
// allow-list's upper bound, so `none` and `HS*` are refused at start-up, not at the first token.
import { validateOptions } from '@affidavit/common';

/** ASYMMETRIC_ALGORITHMS lists every JWS algorithm the verifier can be configured to accept. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
/** AsymmetricAlgorithm is one JWS algorithm the verifier may accept. */
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/** DEFAULT_ALGORITHMS is the allow-list when none is configured. */
export const DEFAULT_ALGORITHMS: readonly AsymmetricAlgorithm[] = ['RS256', 'ES256', 'EdDSA', 'PS256'];
/** DEFAULT_CLOCK_SKEW_SECONDS tolerates small clock differences on `exp` and `nbf`. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 30;
/** DEFAULT_MAX_TOKEN_BYTES bounds what is parsed at all; real access tokens are 1–3 KiB. */
export const DEFAULT_MAX_TOKEN_BYTES = 8192;
/** DEFAULT_JWKS_COOLDOWN_MS is the least time between two fetches of the JWKS (jose's default too). */
export const DEFAULT_JWKS_COOLDOWN_MS = 30_000;
/** DEFAULT_JWKS_MAX_AGE_MS is how long fetched keys are used before they are fetched again. */
export const DEFAULT_JWKS_MAX_AGE_MS = 600_000;
/** DEFAULT_HTTP_TIMEOUT_MS bounds each fetch of the discovery document or JWKS. */
export const DEFAULT_HTTP_TIMEOUT_MS = 5_000;
/** DEFAULT_GROUPS_CLAIM is the claim path groups are read from. */
export const DEFAULT_GROUPS_CLAIM = 'groups';

/** VerifierOptions configure one trusted issuer and audience. */
export type VerifierOptions = {
  /** issuer MUST equal the token's `iss` exactly (no trailing-slash normalisation). */
  issuer: string;
  /** audience MUST be one of the token's `aud` values. */
  audience: string;
  /** jwksUri skips discovery; otherwise `jwks_uri` is read from `<issuer>/.well-known/openid-configuration`. */
  jwksUri?: string;
  algorithms: AsymmetricAlgorithm[];
  clockSkewSeconds: number;
  maxTokenBytes: number;
  /** requiredTyp, when set, MUST match the JOSE `typ` header (e.g. `at+jwt`, RFC 9068). */
  requiredTyp?: string;
  /** groupsClaim is a dotted path into the claims, e.g. `groups` or `realm_access.roles`. */
  groupsClaim: string;
  jwksCooldownMs: number;
  jwksMaxAgeMs: number;
  httpTimeoutMs: number;
  /** allowInsecureHttp permits `http:` to hosts other than loopback (never in production). */
  allowInsecureHttp: boolean;
};

/** VerifierOptionsInput is what callers pass: everything with a default is optional. */
export type VerifierOptionsInput = Pick<VerifierOptions, 'issuer' | 'audience'> & Partial<Omit<VerifierOptions, 'issuer' | 'audience'>>;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['issuer', 'audience'],
  properties: {
    issuer: { type: 'string', format: 'uri', minLength: 1, maxLength: 2048 },
    audience: { type: 'string', minLength: 1, maxLength: 2048 },
    jwksUri: { type: 'string', format: 'uri', maxLength: 2048 },
    algorithms: {
      type: 'array',
      items: { type: 'string', enum: ASYMMETRIC_ALGORITHMS },
      minItems: 1,
      uniqueItems: true,
      default: [...DEFAULT_ALGORITHMS],
    },
    clockSkewSeconds: { type: 'integer', minimum: 0, maximum: 300, default: DEFAULT_CLOCK_SKEW_SECONDS },
    maxTokenBytes: { type: 'integer', minimum: 256, maximum: 65536, default: DEFAULT_MAX_TOKEN_BYTES },
    requiredTyp: { type: 'string', minLength: 1, maxLength: 64 },
    groupsClaim: { type: 'string', pattern: '^[^.]+(\\.[^.]+)*$', maxLength: 256, default: DEFAULT_GROUPS_CLAIM },
    // A floor on the cooldown keeps "refresh on unknown kid" from ever becoming "fetch per token".
    jwksCooldownMs: { type: 'integer', minimum: 1000, maximum: 3_600_000, default: DEFAULT_JWKS_COOLDOWN_MS },
    jwksMaxAgeMs: { type: 'integer', minimum: 1000, maximum: 86_400_000, default: DEFAULT_JWKS_MAX_AGE_MS },
    httpTimeoutMs: { type: 'integer', minimum: 100, maximum: 60_000, default: DEFAULT_HTTP_TIMEOUT_MS },
    allowInsecureHttp: { type: 'boolean', default: false },
  },
} as const;

/** isLoopbackUrl tells whether a URL points at this machine, where plain HTTP cannot be intercepted. */
export function isLoopbackUrl(u: URL): boolean {
  return u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
}

function transportRule(field: 'issuer' | 'jwksUri') {
  return (o: VerifierOptions): string | undefined => {
    const v = o[field];
    if (v === undefined) return undefined;
    const u = new URL(v);
    if (u.protocol === 'https:') return undefined;
    if (u.protocol !== 'http:') return `${field}: must be an https: URL`;
    if (isLoopbackUrl(u) || o.allowInsecureHttp) return undefined;
    // Keys fetched over plain HTTP from another host can be swapped by anyone on the path.
    return `${field}: plain http: is only allowed for loopback hosts (set allowInsecureHttp for test networks)`;
  };
}

/**
 * verifierOptions validates, applies defaults and freezes verifier options.
 * It MUST throw ConfigInvalidError (AFF_E_CONFIG_INVALID) naming every bad field; in particular
 * `none` and every `HS*` algorithm are refused, because a shared secret is not supported.
 */
export function verifierOptions(input: VerifierOptionsInput): Readonly<VerifierOptions> {
  return validateOptions<VerifierOptions>(schema, input, {
    name: 'identity',
    rules: [
      transportRule('issuer'),
      transportRule('jwksUri'),
      (o) => (o.jwksMaxAgeMs < o.jwksCooldownMs ? 'jwksMaxAgeMs: must not be shorter than jwksCooldownMs' : undefined),
    ],
  });
}
