// The read-model file's schema. It is a cache of the ledger: a file of another version is not
// migrated, it is dropped and rebuilt (the ledger is the source of truth).
export const READ_MODEL_VERSION = 5;

/** PRAGMAS: WAL so queries never block the projector; synchronous=NORMAL is enough for a file
 * that is rebuilt from the ledger (WAL keeps it consistent; a power cut may lose the last
 * commits, which the projector then re-applies from the stored position). */
export const PRAGMAS = ['PRAGMA journal_mode = WAL', 'PRAGMA synchronous = NORMAL', 'PRAGMA cache_size = -32768', 'PRAGMA temp_store = MEMORY'];

// Every list is read by keyset over a unique sort key; each index below serves one (filter, order).
// sessions and commands are stored in the order they are listed (their primary key is the sort
// key), so a page is one range of the table, not an index range plus a lookup per row; their ids
// are unique through an index of their own.
export const DDL = `
CREATE TABLE IF NOT EXISTS rm_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rm_positions (log TEXT PRIMARY KEY, next_index INTEGER NOT NULL, last_event_id TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT NOT NULL, issuer TEXT, subject TEXT, email TEXT, mfa INTEGER,
  source_address TEXT NOT NULL, source_port INTEGER, application TEXT,
  target_kind TEXT NOT NULL, target_resource TEXT NOT NULL, target_host TEXT NOT NULL, target_database TEXT, target_login TEXT,
  protocol TEXT NOT NULL, tls INTEGER NOT NULL, started_at INTEGER NOT NULL,
  ended_at INTEGER, end_reason TEXT, end_error_code TEXT, command_count INTEGER,
  log TEXT NOT NULL, idx INTEGER NOT NULL,
  PRIMARY KEY (started_at, session_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS sessions_by_id ON sessions (session_id);
CREATE INDEX IF NOT EXISTS sessions_by_subject ON sessions (subject, started_at, session_id);
CREATE INDEX IF NOT EXISTS sessions_by_target ON sessions (target_resource, started_at, session_id);
CREATE TABLE IF NOT EXISTS commands (
  session_id TEXT NOT NULL, command_id TEXT NOT NULL, seq INTEGER NOT NULL, subject TEXT, channel TEXT NOT NULL,
  text TEXT NOT NULL, classes TEXT NOT NULL, decision TEXT NOT NULL, rule_id TEXT, issued_at INTEGER NOT NULL,
  outcome TEXT, tag TEXT, rows INTEGER, duration_micros INTEGER, error_code TEXT,
  log TEXT NOT NULL, idx INTEGER NOT NULL,
  PRIMARY KEY (session_id, seq, command_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS commands_by_id ON commands (session_id, command_id);
CREATE TABLE IF NOT EXISTS blocked (
  event_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, command_id TEXT NOT NULL, subject TEXT, target_resource TEXT NOT NULL,
  text TEXT NOT NULL, rule_id TEXT, reason TEXT NOT NULL, occurred_at INTEGER NOT NULL, log TEXT NOT NULL, idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blocked_by_time ON blocked (occurred_at, event_id);
CREATE TABLE IF NOT EXISTS approvals (
  request_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, command_id TEXT NOT NULL, requester TEXT, text TEXT NOT NULL,
  rule_id TEXT NOT NULL, reason TEXT NOT NULL, approver_groups TEXT NOT NULL, requested_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  status TEXT NOT NULL, approver TEXT, justification TEXT, decided_at INTEGER, has_signature INTEGER NOT NULL,
  log TEXT NOT NULL, idx INTEGER NOT NULL, decision_log TEXT, decision_idx INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS approvals_by_time ON approvals (requested_at, request_id);
CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (status, requested_at, request_id);
-- Every decision of a request: the first one no ApprovalRefused names sets approvals.status; a
-- replayed or forged decision is listed beside the real one, with its refusal and signature check.
CREATE TABLE IF NOT EXISTS approval_decisions (
  request_id TEXT NOT NULL, log TEXT NOT NULL, idx INTEGER NOT NULL, event_id TEXT NOT NULL, decision TEXT NOT NULL, approver TEXT,
  justification TEXT NOT NULL, decided_at INTEGER NOT NULL, has_signature INTEGER NOT NULL, refused INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (request_id, log, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS approval_refusals (
  event_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, refused_event_id TEXT, attempted_decision TEXT NOT NULL, claimed_approver TEXT,
  actor TEXT, code TEXT NOT NULL, reason TEXT NOT NULL, refused_by TEXT NOT NULL, occurred_at INTEGER NOT NULL, log TEXT NOT NULL, idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS approval_refusals_by_request ON approval_refusals (request_id, log, idx);
CREATE INDEX IF NOT EXISTS approval_refusals_by_refused ON approval_refusals (refused_event_id);
-- Refusals can name a decision of any request id (a replay): looked up by the refused event id.
CREATE INDEX IF NOT EXISTS approval_decisions_by_event ON approval_decisions (event_id);
CREATE TABLE IF NOT EXISTS masked (
  event_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, command_id TEXT NOT NULL, subject TEXT, count INTEGER NOT NULL,
  truncated INTEGER NOT NULL, columns TEXT NOT NULL, rules TEXT NOT NULL, occurred_at INTEGER NOT NULL, log TEXT NOT NULL, idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS masked_by_time ON masked (occurred_at, event_id);
CREATE TABLE IF NOT EXISTS identities (
  issuer TEXT NOT NULL, subject TEXT NOT NULL, email TEXT, groups TEXT NOT NULL, mfa INTEGER NOT NULL,
  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, sessions INTEGER NOT NULL,
  PRIMARY KEY (subject, issuer)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS auth_failures (
  event_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL, claimed_issuer TEXT, claimed_subject TEXT,
  token_id TEXT, source_address TEXT NOT NULL, target_resource TEXT NOT NULL, occurred_at INTEGER NOT NULL, log TEXT NOT NULL, idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS auth_failures_by_time ON auth_failures (occurred_at, event_id);
`;

/** TABLES are dropped by reset (rebuild from the ledger). */
export const TABLES = [
  'rm_positions',
  'sessions',
  'commands',
  'blocked',
  'approvals',
  'approval_decisions',
  'approval_refusals',
  'masked',
  'identities',
  'auth_failures',
] as const;
