// @affidavit/api: the GraphQL API for compliance officers and approvers (DESIGN "API").
export { buildServer } from './server.ts';
export type { ServerDeps } from './server.ts';
export { startApi } from './start-api.ts';
export type { StartApiOptions, RunningApi } from './start-api.ts';
export { apiOptions, DEFAULT_API_OPTIONS, DEFAULT_BODY_LIMIT } from './options.ts';
export type { ApiOptions } from './options.ts';
export { rolesOf, DEFAULT_ROLE_GROUPS } from './auth/roles.ts';
export type { Role, RoleGroups } from './auth/roles.ts';
export type {
  DecisionService,
  DecideRequest,
  DecideResult,
  DecisionSignatureVerifier,
  AuthFailureRecorder,
  RequestOrigin,
  RevealService,
  RevealRequest,
  RevealResult,
} from './ports.ts';
export { decisionSignatureVerifier } from './decision-signature-verifier.ts';
export { project } from './read-model/projection.ts';
export type * from './read-model/rows.ts';
export type { ReadModelStore, Page, PageRequest } from './read-model/read-model-store.ts';
export { ReadModelProjector, DEFAULT_POLL_MS, DEFAULT_BATCH_ENTRIES } from './read-model/projector.ts';
export type { Changes } from './read-model/projector.ts';
export { openSqliteReadModel } from './adapters/sqlite/sqlite-read-model.ts';
export { createProofService } from './proofs.ts';
export type { ProofService, InclusionProof, ConsistencyAnswer } from './proofs.ts';
export { createReportService } from './reports.ts';
export type { ReportService, ReportKeys } from './reports.ts';
export { GRAPHQL_PATH } from './graphql/graphql-plugin.ts';
export {
  ApiUnauthenticatedError,
  ApiForbiddenError,
  ApiCursorInvalidError,
  ApiInputInvalidError,
  ApiNoCheckpointError,
  ApiUnavailableError,
  ApiRateLimitedError,
  ApiNotFoundError,
  ReadModelUnreadableError,
} from './errors.ts';
export { eventSinkAuthFailureRecorder } from './auth/auth-failure-recorder.ts';
export type { AuthFailureRecorderOptions } from './auth/auth-failure-recorder.ts';
