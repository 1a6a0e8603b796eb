// @affidavit/postgres-proxy: the PostgreSQL feeder. Clients log in with an OIDC access token as
// their password; every command is checked by policy and recorded before (sync) it runs.
export { createPostgresProxy } from './server.ts';
export type { PostgresProxy, PostgresProxyDeps } from './server.ts';
export {
  postgresProxyOptions,
  DEFAULT_PG_PROXY_PORT,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_SLOW_CLIENT_TIMEOUT_MS,
  DEFAULT_MAX_CAPTURE_BYTES,
} from './options.ts';
export type { PostgresProxyOptions, PostgresProxyOptionsInput, UpstreamOptions } from './options.ts';
export { createMaskingPort } from './masking-port.ts';
export type { MaskingPort, ResultMasker } from './masking-port.ts';
export { REFUSAL_SQL } from './session.ts';
export type { SessionDeps } from './session.ts';
export {
  PgTlsRequiredError,
  PgUpstreamUnavailableError,
  PgCommandDeniedError,
  PgApprovalRefusedError,
  PgMaskBinaryError,
  PgMaskCopyError,
  PgIdleTimeoutError,
  PgStatementTimeoutError,
  PgClientTooSlowError,
  PgProtocolStateError,
} from './errors.ts';
export * as wire from './wire/index.ts';
