// Policy engine: policy files, SQL and shell classification, pure evaluation.
export { PolicyInvalidError, SqlParserNotReadyError } from './errors.ts';
export { ACTION_STRICTNESS, SQL_CLASSES, SHELL_CLASSES } from './types.ts';
export type {
  Action,
  Classification,
  PolicyDecision,
  MaskSpec,
  Operation,
  OperationClass,
  PolicyRequest,
  QualifiedName,
  ResolutionContext,
  CatalogSnapshot,
  CatalogRelation,
  CatalogRelationKind,
  StatementInfo,
  Target,
  TargetKind,
  Unparsable,
} from './types.ts';
export { POLICY_SCHEMA } from './policy-schema.ts';
export { analysePolicy, parsePolicy, formatFindings, DEFAULT_DETECTORS } from './load-policy.ts';
export type { Policy, PolicyRule, PolicyFinding, PolicyAnalysis, AnalyseOptions, FunctionPolicy } from './load-policy.ts';
export {
  CATALOG_SCHEMAS,
  effectiveSearchPath,
  fallbackResolution,
  parseSearchPath,
  resolveRelation,
} from './resolve-names.ts';
export type { Candidate, ResolvedName } from './resolve-names.ts';
export { splitIdentifierList } from './identifier-list.ts';
export { prefetchCatalog, mayChangeResolution, resolutionFromRow, RESOLUTION_QUERY, MAX_VIEW_DEPTH } from './catalog-port.ts';
export type { RelationCatalog, RelationKey } from './catalog-port.ts';
export { pgCatalog } from './adapters/pg-catalog.ts';
export type { SqlQueryFn } from './adapters/pg-catalog.ts';
export { RELATION_FUNCTIONS } from './relation-functions.ts';
export type { RelationFunctionKind } from './relation-functions.ts';
export { evaluate, decideOperation, ruleMatches } from './evaluate.ts';
export { initSqlParser, isSqlParserReady, parsePostgres } from './sql-parser.ts';
export type { SqlParseFn, SqlParseOutcome, SqlParseTree } from './sql-parser.ts';
export {
  SqlClassifier,
  classifySqlWith,
  classifyStatementNode,
  DEFAULT_SQL_CACHE_SIZE,
  DEFAULT_SQL_MAX_LENGTH,
} from './classify-sql.ts';
export type { SqlClassifierOptions } from './classify-sql.ts';
export { PreparedRegistry, DEFAULT_PREPARED_LIMIT } from './prepared-registry.ts';
export { classifyShell, classifyShellSession, DEFAULT_SHELL_MAX_DEPTH, DEFAULT_SHELL_MAX_LENGTH } from './classify-shell.ts';
export type { ShellClassifyOptions } from './classify-shell.ts';
export { classifySftp, sftpClass } from './classify-sftp.ts';
export type { SftpRequest } from './classify-sftp.ts';
export { policyCheck, loadPolicyFile } from './adapters/policy-check.ts';
export type { PolicyCheckResult } from './adapters/policy-check.ts';
export { PolicyWatcher, DEFAULT_POLICY_DEBOUNCE_MS } from './adapters/policy-watcher.ts';
export type { PolicyWatcherOptions, WatcherLogger } from './adapters/policy-watcher.ts';
