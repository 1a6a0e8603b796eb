// Identity: OIDC access-token verification (jose), the AuthenticationFailed audit hook, and the
// development issuer of the embedded mode. Re-exported by proxies/access/src/index.ts.
export {
  TokenTooLargeError,
  TokenMalformedError,
  AlgorithmNotAllowedError,
  WrongIssuerError,
  WrongAudienceError,
  WrongTokenTypeError,
  UnknownKeyIdError,
  BadSignatureError,
  TokenExpiredError,
  TokenNotYetValidError,
  ClaimInvalidError,
  SigningKeyRejectedError,
  IssuerUnreachableError,
  IssuerMetadataInvalidError,
  DevUnknownUserError,
  DevKeyInvalidError,
} from './errors.ts';
export type { AuthErrorCode } from './errors.ts';
export {
  verifierOptions,
  ASYMMETRIC_ALGORITHMS,
  DEFAULT_ALGORITHMS,
  DEFAULT_CLOCK_SKEW_SECONDS,
  DEFAULT_MAX_TOKEN_BYTES,
  DEFAULT_JWKS_COOLDOWN_MS,
  DEFAULT_JWKS_MAX_AGE_MS,
  DEFAULT_HTTP_TIMEOUT_MS,
  DEFAULT_GROUPS_CLAIM,
} from './verifier-options.ts';
export type { VerifierOptions, VerifierOptionsInput, AsymmetricAlgorithm } from './verifier-options.ts';
export { createTokenVerifier } from './token-verifier.ts';
export type { TokenVerifier, TokenVerifierDeps } from './token-verifier.ts';
export type { Identity } from './identity.ts';
export { identityFromClaims } from './identity.ts';
export { deriveMfa, AUTH_FACTOR_CATEGORY } from './mfa.ts';
export { readClaimPath } from './claim-path.ts';
export { createJwksKeySource, discoveryUrl } from './jwks-key-source.ts';
export type { KeySource, KeySourceOptions } from './jwks-key-source.ts';
export { httpFetchJson, MAX_METADATA_BYTES } from './fetch-json.ts';
export type { FetchJson } from './fetch-json.ts';
export { authenticationFailure } from './authentication-failure.ts';
export type { AuthenticationFailure, RejectionSink } from './authentication-failure.ts';
export { authenticationFailedEvent, actorFromIdentity } from './audit-event.ts';
export type { EnvelopeParts } from './audit-event.ts';
export { startDevIssuer, createDevTokenMinter, devIssuerOptions, DEFAULT_DEV_TOKEN_TTL_SECONDS } from './dev-issuer.ts';
export type { DevIssuer, DevIssuerOptions, DevIssuerOptionsInput, DevUser, DevTokenMinter, MintOptions } from './dev-issuer.ts';
export { loadOrCreateDevSigningKey } from './dev-issuer-key.ts';
export type { DevSigningKey, DevKeyAlgorithm } from './dev-issuer-key.ts';
