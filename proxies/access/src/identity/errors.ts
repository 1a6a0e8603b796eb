// Identity error catalogue. Every rejection of a token has its own code so a proxy, a script
// or an auditor can tell an expired token from a forged one without parsing messages, and each
// message says what the user can do about it (docs/errors.md, "Identity (proxies/access)").
import { defineError } from '@affidavit/common';

/** TokenTooLargeError: the token exceeds the configured size limit; it was rejected before any parsing. */
export const TokenTooLargeError = defineError('AFF_E_AUTH_TOO_LARGE', 'the access token is larger than this proxy accepts');
/** TokenMalformedError: the value is not a compact signed JWT (three base64url parts, JSON header and claims). */
export const TokenMalformedError = defineError('AFF_E_AUTH_MALFORMED', 'the value sent as a password is not a signed JWT access token');
/** AlgorithmNotAllowedError: the token's `alg` is `none`, HMAC, or not in the allow-list. */
export const AlgorithmNotAllowedError = defineError('AFF_E_AUTH_ALG_NOT_ALLOWED', 'the token is signed with an algorithm this proxy does not accept');
/** WrongIssuerError: the token's `iss` is not exactly the configured issuer. */
export const WrongIssuerError = defineError('AFF_E_AUTH_WRONG_ISSUER', 'the token was issued by an identity provider this proxy does not trust');
/** WrongAudienceError: the token's `aud` does not contain this proxy's audience. */
export const WrongAudienceError = defineError('AFF_E_AUTH_WRONG_AUDIENCE', 'the token was issued for another service, not for this proxy');
/** WrongTokenTypeError: the JOSE `typ` header is not the configured one (e.g. an ID token sent where an access token is required). */
export const WrongTokenTypeError = defineError('AFF_E_AUTH_WRONG_TYPE', 'the token is of the wrong type (for example an ID token instead of an access token)');
/** UnknownKeyIdError: no key of the issuer's JWKS matches the token's `kid`, even after a (rate-limited) refresh. */
export const UnknownKeyIdError = defineError('AFF_E_AUTH_UNKNOWN_KID', 'the token is signed with a key the identity provider does not publish');
/** BadSignatureError: the signature does not verify with the issuer's key; the token was altered or forged. */
export const BadSignatureError = defineError('AFF_E_AUTH_BAD_SIGNATURE', 'the token signature is invalid; the token was altered or forged');
/** TokenExpiredError: `exp` is in the past, beyond the allowed clock skew. */
export const TokenExpiredError = defineError('AFF_E_AUTH_TOKEN_EXPIRED', 'the access token has expired; log in again to get a fresh one');
/** TokenNotYetValidError: `nbf` is in the future, beyond the allowed clock skew. */
export const TokenNotYetValidError = defineError(
  'AFF_E_AUTH_NOT_YET_VALID',
  'the access token is not valid yet; check the clocks of this machine and of the identity provider',
);
/** ClaimInvalidError: a required claim is missing (`sub`, `exp`) or a claim has the wrong type (e.g. groups not strings). */
export const ClaimInvalidError = defineError('AFF_E_AUTH_CLAIM_INVALID', 'the token lacks a required claim or a claim has the wrong type');
/** SigningKeyRejectedError: the issuer's key cannot be used (e.g. an RSA key under 2048 bits, an unsupported curve). */
export const SigningKeyRejectedError = defineError(
  'AFF_E_AUTH_KEY_REJECTED',
  "the identity provider's signing key is not acceptable (too weak or unsupported)",
);
/** IssuerUnreachableError: the discovery document or JWKS could not be fetched in time; retrying later may succeed. */
export const IssuerUnreachableError = defineError(
  'AFF_E_AUTH_ISSUER_UNREACHABLE',
  'the identity provider could not be reached to fetch its signing keys; try again shortly',
  {
    retriable: true,
  },
);
/** IssuerMetadataInvalidError: the discovery document or JWKS is not valid (bad JSON, issuer mismatch, not a key set). */
export const IssuerMetadataInvalidError = defineError('AFF_E_AUTH_ISSUER_METADATA_INVALID', "the identity provider's discovery document or key set is invalid");
/** DevUnknownUserError: the development issuer was asked for a token for a user that is not configured. */
export const DevUnknownUserError = defineError('AFF_E_AUTH_DEV_UNKNOWN_USER', 'no such user is configured for the development issuer');
/** DevKeyInvalidError: the development issuer's key file exists but cannot be used (corrupt, wrong algorithm, public only). */
export const DevKeyInvalidError = defineError('AFF_E_AUTH_DEV_KEY_INVALID', "the development issuer's key file cannot be used");

/** AuthErrorCode is the code of any identity rejection. */
export type AuthErrorCode =
  | 'AFF_E_AUTH_TOO_LARGE'
  | 'AFF_E_AUTH_MALFORMED'
  | 'AFF_E_AUTH_ALG_NOT_ALLOWED'
  | 'AFF_E_AUTH_WRONG_ISSUER'
  | 'AFF_E_AUTH_WRONG_AUDIENCE'
  | 'AFF_E_AUTH_WRONG_TYPE'
  | 'AFF_E_AUTH_UNKNOWN_KID'
  | 'AFF_E_AUTH_BAD_SIGNATURE'
  | 'AFF_E_AUTH_TOKEN_EXPIRED'
  | 'AFF_E_AUTH_NOT_YET_VALID'
  | 'AFF_E_AUTH_CLAIM_INVALID'
  | 'AFF_E_AUTH_KEY_REJECTED'
  | 'AFF_E_AUTH_ISSUER_UNREACHABLE'
  | 'AFF_E_AUTH_ISSUER_METADATA_INVALID';
