// Verifies OIDC/OAuth JWT access tokens against one issuer's JWKS and returns the Identity a
// session is bound to. Every rejection is a typed error with its own code, and is reported to
// the optional onRejected sink so the proxy can record an AuthenticationFailed event.
import { errors as jose, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import { AffidavitError, type Clock } from '@affidavit/common';
import {
  AlgorithmNotAllowedError,
  BadSignatureError,
  ClaimInvalidError,
  SigningKeyRejectedError,
  TokenExpiredError,
  TokenMalformedError,
  TokenNotYetValidError,
  WrongAudienceError,
  WrongIssuerError,
  WrongTokenTypeError,
} from './errors.ts';
import { authenticationFailure, type RejectionSink } from './authentication-failure.ts';
import { httpFetchJson, type FetchJson } from './fetch-json.ts';
import { identityFromClaims, type Identity } from './identity.ts';
import { createJwksKeySource, type KeySource } from './jwks-key-source.ts';
import { checkAlgorithm, checkTokenSize, decodeCompactJwt } from './token-shape.ts';
import { verifierOptions, type VerifierOptions, type VerifierOptionsInput } from './verifier-options.ts';

/** TokenVerifier checks access tokens of one issuer for one audience. */
export type TokenVerifier = {
  /**
   * verify resolves to the token's Identity or rejects with an AffidavitError whose code is one
   * of AFF_E_AUTH_*. It MUST NOT resolve unless the signature verified with a key published by
   * the configured issuer, with an allowed algorithm, and `iss`, `aud`, `exp`, `nbf` (and `typ`
   * when configured) passed. Every rejection MUST be reported to onRejected exactly once.
   */
  verify(token: string): Promise<Identity>;
  /** options are the validated, frozen options in force. */
  readonly options: Readonly<VerifierOptions>;
  /** keySource exposes the JWKS cache (fetch counts for tests and metrics). */
  readonly keySource: KeySource;
};

/** TokenVerifierDeps are the verifier's injected collaborators. */
export type TokenVerifierDeps = {
  readonly clock: Clock;
  readonly onRejected?: RejectionSink;
  /** fetchJson defaults to HTTP(S) with a timeout; tests pass a fake. */
  readonly fetchJson?: FetchJson;
  /** keySource replaces the JWKS fetcher entirely (e.g. a local key set). */
  readonly keySource?: KeySource;
};

const SHORT = 128;
const show = (v: unknown) =>
  JSON.stringify(typeof v === 'string' ? v.slice(0, SHORT) : Array.isArray(v) ? v.slice(0, 4).map((x) => String(x).slice(0, SHORT)) : (v ?? null));

/** translateJoseError maps a jose verification error onto our catalogue; unknown errors become MALFORMED. */
function translateJoseError(e: unknown, o: Readonly<VerifierOptions>): AffidavitError {
  if (e instanceof AffidavitError) return e;
  if (e instanceof jose.JWTExpired) {
    const exp = e.payload.exp;
    const when = typeof exp === 'number' ? ` at ${new Date(exp * 1000).toISOString()}` : '';
    return new TokenExpiredError(`the access token expired${when} (clock skew allowed: ${o.clockSkewSeconds} s); log in again to get a fresh one`, {
      cause: e,
    });
  }
  if (e instanceof jose.JWTClaimValidationFailed) {
    const p = e.payload;
    if (e.reason === 'missing') return new ClaimInvalidError(`the token has no "${e.claim}" claim`, { cause: e });
    if (e.reason === 'check_failed') {
      switch (e.claim) {
        case 'nbf': {
          const nbf = typeof p.nbf === 'number' ? ` until ${new Date(p.nbf * 1000).toISOString()}` : '';
          return new TokenNotYetValidError(
            `the access token is not valid${nbf} (clock skew allowed: ${o.clockSkewSeconds} s); check the clocks of this machine and of the identity provider`,
            { cause: e },
          );
        }
        case 'iss':
          return new WrongIssuerError(`the token was issued by ${show(p.iss)}, but this proxy only trusts ${o.issuer}`, { cause: e });
        case 'aud':
          return new WrongAudienceError(`the token is meant for ${show(p.aud)}, not for this proxy (${o.audience}); request a token for ${o.audience}`, {
            cause: e,
          });
        case 'typ':
          return new WrongTokenTypeError(`the token's type is not "${o.requiredTyp}"; send an access token, not an ID token`, { cause: e });
      }
    }
    return new ClaimInvalidError(`the token's "${e.claim}" claim is invalid (${e.message})`, { cause: e });
  }
  if (e instanceof jose.JWSSignatureVerificationFailed) return new BadSignatureError(undefined, { cause: e });
  if (e instanceof jose.JOSEAlgNotAllowed) return new AlgorithmNotAllowedError(undefined, { cause: e });
  if (e instanceof jose.JWSInvalid || e instanceof jose.JWTInvalid || e instanceof jose.JOSENotSupported) {
    return new TokenMalformedError(`the token is not a valid signed JWT: ${e.message}`, { cause: e });
  }
  // jose throws TypeError for keys it refuses to use, e.g. an RSA modulus under 2048 bits.
  if (e instanceof TypeError) return new SigningKeyRejectedError(`the identity provider's signing key was refused: ${e.message}`, { cause: e });
  return new TokenMalformedError(undefined, { cause: e });
}

/**
 * createTokenVerifier validates and freezes the options and returns a TokenVerifier.
 * Throws ConfigInvalidError (AFF_E_CONFIG_INVALID) for bad options, including `none`/`HS*` algorithms.
 */
export function createTokenVerifier(input: VerifierOptionsInput, deps: TokenVerifierDeps): TokenVerifier {
  const o = verifierOptions(input);
  const { clock, onRejected } = deps;
  const keySource = deps.keySource ?? createJwksKeySource(o, { clock, fetchJson: deps.fetchJson ?? httpFetchJson });

  function report(err: AffidavitError, claims: Readonly<Record<string, unknown>> | undefined): void {
    if (!onRejected) return;
    try {
      onRejected(authenticationFailure(err.code, err.message, clock.now(), claims));
    } catch {
      // The sink is best effort: its failure must not turn a clear refusal into another error.
    }
  }

  async function verifyWith(token: string, keys: readonly CryptoKey[]): Promise<JWTPayload> {
    let lastError: unknown;
    for (const key of keys) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [...o.algorithms],
          issuer: o.issuer,
          audience: o.audience,
          clockTolerance: o.clockSkewSeconds,
          currentDate: new Date(clock.now()),
          requiredClaims: ['exp', 'sub'],
          ...(o.requiredTyp === undefined ? {} : { typ: o.requiredTyp }),
        });
        return payload;
      } catch (e) {
        // Several candidates only when the token has no kid: try the next one on a bad signature.
        if (!(e instanceof jose.JWSSignatureVerificationFailed)) throw e;
        lastError = e;
      }
    }
    throw lastError;
  }

  return {
    options: o,
    keySource,
    async verify(token) {
      let claims: Readonly<Record<string, unknown>> | undefined;
      try {
        checkTokenSize(token, o.maxTokenBytes);
        const decoded = decodeCompactJwt(token);
        claims = decoded.claims;
        checkAlgorithm(decoded.header.alg, o.algorithms);
        // Refuse a foreign issuer before touching the JWKS: its kid would be unknown to us and
        // would cost a refresh. Rejecting on an unverified claim is safe; accepting never is.
        if (claims.iss !== o.issuer) throw new WrongIssuerError(`the token was issued by ${show(claims.iss)}, but this proxy only trusts ${o.issuer}`);
        const keys = await keySource.candidates(decoded.header);
        const payload = await verifyWith(token, keys);
        return identityFromClaims(payload as Record<string, unknown>, o.groupsClaim);
      } catch (e) {
        const err = translateJoseError(e, o);
        report(err, claims);
        throw err;
      }
    },
  };
}
