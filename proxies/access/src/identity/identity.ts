// The verified identity a session is bound to, built from claims whose signature, issuer,
// audience and lifetime were already checked. Pure: no I/O, no clock.
import { readClaimPath } from './claim-path.ts';
import { deriveMfa } from './mfa.ts';
import { ClaimInvalidError } from './errors.ts';

/** Identity is who opened a session, as proven by a verified access token. */
export type Identity = {
  readonly issuer: string;
  readonly subject: string;
  readonly email?: string;
  /** groups come from the configured claim path; empty when the token carries none. */
  readonly groups: readonly string[];
  /** amr is the token's `amr` claim (RFC 8176 values), empty when absent. */
  readonly amr: readonly string[];
  readonly acr?: string;
  /** mfa is deriveMfa(amr): see mfa.ts for the rule. */
  readonly mfa: boolean;
  /** tokenId is the `jti` claim, when present. */
  readonly tokenId?: string;
  /** expiresAt is `exp` in Unix milliseconds. */
  readonly expiresAt: number;
  /** issuedAt is `iat` in Unix milliseconds, when present. */
  readonly issuedAt?: number;
};

// Claims end up in audit events and log lines; bound them so a token cannot inflate either.
const MAX_GROUPS = 256;
const MAX_STRING = 1024;

function optionalString(claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const v = claims[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > MAX_STRING)
    throw new ClaimInvalidError(`the token's "${name}" claim must be a string of at most ${MAX_STRING} characters`);
  return v;
}

function stringList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  // Some IdPs send a single group as a bare string rather than a one-element array.
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.length > MAX_GROUPS || !value.every((g) => typeof g === 'string' && g.length <= MAX_STRING)) {
    throw new ClaimInvalidError(`the token's ${what} claim must be a list of at most ${MAX_GROUPS} strings`);
  }
  return [...new Set(value as string[])];
}

/**
 * identityFromClaims builds an Identity from verified claims.
 * It MUST throw ClaimInvalidError (AFF_E_AUTH_CLAIM_INVALID) when `sub` or `exp` is missing or a
 * claim has the wrong type, rather than produce an identity with a guessed value.
 */
export function identityFromClaims(claims: Readonly<Record<string, unknown>>, groupsClaim: string): Identity {
  const { iss, sub, exp, iat } = claims;
  if (typeof iss !== 'string') throw new ClaimInvalidError('the token has no "iss" (issuer) claim');
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_STRING) throw new ClaimInvalidError('the token has no usable "sub" (subject) claim');
  if (typeof exp !== 'number' || !Number.isFinite(exp))
    throw new ClaimInvalidError('the token has no "exp" (expiry) claim; tokens that never expire are refused');
  const amr = stringList(claims.amr, '"amr"');
  const email = optionalString(claims, 'email');
  const acr = optionalString(claims, 'acr');
  const jti = optionalString(claims, 'jti');
  return Object.freeze({
    issuer: iss,
    subject: sub,
    ...(email === undefined ? {} : { email }),
    groups: Object.freeze(stringList(readClaimPath(claims, groupsClaim), `"${groupsClaim}"`)),
    amr: Object.freeze(amr),
    ...(acr === undefined ? {} : { acr }),
    mfa: deriveMfa(amr),
    ...(jti === undefined ? {} : { tokenId: jti }),
    expiresAt: exp * 1000,
    ...(typeof iat === 'number' && Number.isFinite(iat) ? { issuedAt: iat * 1000 } : {}),
  });
}
