// What the proxy learns about a refused login, for the AuthenticationFailed audit event.
import type { AuthErrorCode } from './errors.ts';

/** AuthenticationFailure describes one refused token; the claimed* fields are UNVERIFIED. */
export type AuthenticationFailure = {
  /** code is the AFF_E_* code of the error the verifier threw. */
  readonly code: AuthErrorCode | (string & {});
  /** reason is the error message shown to the user. */
  readonly reason: string;
  /** claimedIssuer is the `iss` the token claimed, if it could be decoded; not verified. */
  readonly claimedIssuer?: string;
  /** claimedSubject is the `sub` the token claimed, if it could be decoded; not verified. */
  readonly claimedSubject?: string;
  /** tokenId is the `jti` the token claimed, if it could be decoded; not verified. */
  readonly tokenId?: string;
  /** at is when the token was refused, Unix milliseconds from the injected clock. */
  readonly at: number;
};

/** RejectionSink receives every AuthenticationFailure; it MUST NOT throw (errors are swallowed). */
export type RejectionSink = (failure: AuthenticationFailure) => void;

// Claimed values land in the ledger forever; a hostile token must not choose their size.
const MAX_CLAIMED = 256;

function claimed(claims: Readonly<Record<string, unknown>> | undefined, name: string): string | undefined {
  const v = claims?.[name];
  return typeof v === 'string' ? v.slice(0, MAX_CLAIMED) : undefined;
}

/** authenticationFailure builds the failure record from an error code, message and the unverified claims. */
export function authenticationFailure(code: string, reason: string, at: number, unverifiedClaims?: Readonly<Record<string, unknown>>): AuthenticationFailure {
  const iss = claimed(unverifiedClaims, 'iss');
  const sub = claimed(unverifiedClaims, 'sub');
  const jti = claimed(unverifiedClaims, 'jti');
  return Object.freeze({
    code,
    reason,
    ...(iss === undefined ? {} : { claimedIssuer: iss }),
    ...(sub === undefined ? {} : { claimedSubject: sub }),
    ...(jti === undefined ? {} : { tokenId: jti }),
    at,
  });
}
