// The read models in their own SQLite file (never the ledger's): rows per model plus, per ledger
// log, the next index to project, written in the same transaction as the rows.
import { closeSync, openSync } from 'node:fs';
import { DatabaseSync, type SQLInputValue, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import { ReadModelUnreadableError } from '../../errors.ts';
import type {
  ApprovalFilter,
  AuthFailureFilter,
  BlockedFilter,
  MaskedFilter,
  Page,
  PageRequest,
  ReadModelStore,
  SessionFilter,
} from '../../read-model/read-model-store.ts';
import type {
  ApprovalRow,
  ApprovalStatus,
  AuthFailureRow,
  BlockedRow,
  CommandRow,
  DecisionRow,
  IdentityRow,
  MaskedRow,
  ReadModelMutation,
  RefusalRow,
  SessionRow,
} from '../../read-model/rows.ts';
import { checkFirst, decodeCursor, encodeCursor, type KeyValue } from './keyset.ts';
import { DDL, PRAGMAS, READ_MODEL_VERSION, TABLES } from './read-model-schema.ts';

type Row = Record<string, SQLInputValue>;
type Value = SQLInputValue | SQLOutputValue;
const str = (v: Value): string => v as string;
const strOrNull = (v: Value): string | null => (v === null ? null : (v as string));
const num = (v: Value): number => Number(v);
const numOrNull = (v: Value): number | null => (v === null ? null : Number(v));
const bool = (v: Value): boolean => Number(v) === 1;
const list = (v: Value): string[] => JSON.parse(v as string) as string[];
const b = (x: boolean | null): number | null => (x === null ? null : x ? 1 : 0);

/** Cells is one result row as an array (statements return arrays: no object per row to build and drop). */
type Cells = SQLOutputValue[];
/** Columns is a table's selected column list and each column's place in it. */
type Columns<N extends string> = { readonly list: string; readonly at: Readonly<Record<N, number>> };
function columns<const N extends string>(names: readonly N[]): Columns<N> {
  return { list: names.join(', '), at: Object.freeze(Object.fromEntries(names.map((n, i) => [n, i])) as Record<N, number>) };
}
const SESSION = columns([
  'session_id',
  'issuer',
  'subject',
  'email',
  'mfa',
  'source_address',
  'source_port',
  'application',
  'target_kind',
  'target_resource',
  'target_host',
  'target_database',
  'target_login',
  'protocol',
  'tls',
  'started_at',
  'ended_at',
  'end_reason',
  'end_error_code',
  'command_count',
  'log',
  'idx',
]);
const COMMAND = columns([
  'session_id',
  'command_id',
  'seq',
  'subject',
  'channel',
  'text',
  'classes',
  'decision',
  'rule_id',
  'issued_at',
  'outcome',
  'tag',
  'rows',
  'duration_micros',
  'error_code',
  'log',
  'idx',
]);
const BLOCKED = columns(['event_id', 'session_id', 'command_id', 'subject', 'target_resource', 'text', 'rule_id', 'reason', 'occurred_at', 'log', 'idx']);
const APPROVAL = columns([
  'request_id',
  'session_id',
  'command_id',
  'requester',
  'text',
  'rule_id',
  'reason',
  'approver_groups',
  'requested_at',
  'expires_at',
  'status',
  'approver',
  'justification',
  'decided_at',
  'has_signature',
  'log',
  'idx',
  'decision_log',
  'decision_idx',
]);
const DECISION = columns(['event_id', 'request_id', 'refused', 'decision', 'approver', 'justification', 'decided_at', 'has_signature', 'log', 'idx']);
const REFUSAL = columns([
  'event_id',
  'request_id',
  'refused_event_id',
  'attempted_decision',
  'claimed_approver',
  'actor',
  'code',
  'reason',
  'refused_by',
  'occurred_at',
  'log',
  'idx',
]);
const MASKED = columns(['event_id', 'session_id', 'command_id', 'subject', 'count', 'truncated', 'columns', 'rules', 'occurred_at', 'log', 'idx']);
const IDENTITY = columns(['issuer', 'subject', 'email', 'groups', 'mfa', 'first_seen', 'last_seen', 'sessions']);
const AUTH_FAILURE = columns([
  'event_id',
  'session_id',
  'code',
  'reason',
  'claimed_issuer',
  'claimed_subject',
  'token_id',
  'source_address',
  'target_resource',
  'occurred_at',
  'log',
  'idx',
]);
const toSession = (r: Cells): SessionRow => ({
  sessionId: str(r[SESSION.at.session_id]),
  issuer: strOrNull(r[SESSION.at.issuer]),
  subject: strOrNull(r[SESSION.at.subject]),
  email: strOrNull(r[SESSION.at.email]),
  mfa: r[SESSION.at.mfa] === null ? null : bool(r[SESSION.at.mfa]),
  sourceAddress: str(r[SESSION.at.source_address]),
  sourcePort: numOrNull(r[SESSION.at.source_port]),
  application: strOrNull(r[SESSION.at.application]),
  targetKind: str(r[SESSION.at.target_kind]),
  targetResource: str(r[SESSION.at.target_resource]),
  targetHost: str(r[SESSION.at.target_host]),
  targetDatabase: strOrNull(r[SESSION.at.target_database]),
  targetLogin: strOrNull(r[SESSION.at.target_login]),
  protocol: str(r[SESSION.at.protocol]),
  tls: bool(r[SESSION.at.tls]),
  startedAt: num(r[SESSION.at.started_at]),
  endedAt: numOrNull(r[SESSION.at.ended_at]),
  endReason: strOrNull(r[SESSION.at.end_reason]),
  endErrorCode: strOrNull(r[SESSION.at.end_error_code]),
  commandCount: numOrNull(r[SESSION.at.command_count]),
  position: { log: str(r[SESSION.at.log]), index: num(r[SESSION.at.idx]) },
});
const toCommand = (r: Cells): CommandRow => ({
  sessionId: str(r[COMMAND.at.session_id]),
  commandId: str(r[COMMAND.at.command_id]),
  seq: num(r[COMMAND.at.seq]),
  subject: strOrNull(r[COMMAND.at.subject]),
  channel: str(r[COMMAND.at.channel]),
  text: str(r[COMMAND.at.text]),
  classes: list(r[COMMAND.at.classes]),
  decision: str(r[COMMAND.at.decision]),
  ruleId: strOrNull(r[COMMAND.at.rule_id]),
  issuedAt: num(r[COMMAND.at.issued_at]),
  outcome: strOrNull(r[COMMAND.at.outcome]),
  tag: strOrNull(r[COMMAND.at.tag]),
  rows: numOrNull(r[COMMAND.at.rows]),
  durationMicros: numOrNull(r[COMMAND.at.duration_micros]),
  errorCode: strOrNull(r[COMMAND.at.error_code]),
  position: { log: str(r[COMMAND.at.log]), index: num(r[COMMAND.at.idx]) },
});
const toBlocked = (r: Cells): BlockedRow => ({
  eventId: str(r[BLOCKED.at.event_id]),
  sessionId: str(r[BLOCKED.at.session_id]),
  commandId: str(r[BLOCKED.at.command_id]),
  subject: strOrNull(r[BLOCKED.at.subject]),
  targetResource: str(r[BLOCKED.at.target_resource]),
  text: str(r[BLOCKED.at.text]),
  ruleId: strOrNull(r[BLOCKED.at.rule_id]),
  reason: str(r[BLOCKED.at.reason]),
  occurredAt: num(r[BLOCKED.at.occurred_at]),
  position: { log: str(r[BLOCKED.at.log]), index: num(r[BLOCKED.at.idx]) },
});
const toApproval = (r: Cells): ApprovalRow => ({
  requestId: str(r[APPROVAL.at.request_id]),
  sessionId: str(r[APPROVAL.at.session_id]),
  commandId: str(r[APPROVAL.at.command_id]),
  requester: strOrNull(r[APPROVAL.at.requester]),
  text: str(r[APPROVAL.at.text]),
  ruleId: str(r[APPROVAL.at.rule_id]),
  reason: str(r[APPROVAL.at.reason]),
  approverGroups: list(r[APPROVAL.at.approver_groups]),
  requestedAt: num(r[APPROVAL.at.requested_at]),
  expiresAt: num(r[APPROVAL.at.expires_at]),
  status: str(r[APPROVAL.at.status]) as ApprovalStatus,
  approver: strOrNull(r[APPROVAL.at.approver]),
  justification: strOrNull(r[APPROVAL.at.justification]),
  decidedAt: numOrNull(r[APPROVAL.at.decided_at]),
  hasSignature: bool(r[APPROVAL.at.has_signature]),
  position: { log: str(r[APPROVAL.at.log]), index: num(r[APPROVAL.at.idx]) },
  decisionPosition: r[APPROVAL.at.decision_log] === null ? null : { log: str(r[APPROVAL.at.decision_log]), index: num(r[APPROVAL.at.decision_idx]) },
});
const toDecision = (r: Cells): DecisionRow => ({
  eventId: str(r[DECISION.at.event_id]),
  requestId: str(r[DECISION.at.request_id]),
  refused: bool(r[DECISION.at.refused]),
  decision: str(r[DECISION.at.decision]) as DecisionRow['decision'],
  approver: strOrNull(r[DECISION.at.approver]),
  justification: str(r[DECISION.at.justification]),
  decidedAt: num(r[DECISION.at.decided_at]),
  hasSignature: bool(r[DECISION.at.has_signature]),
  position: { log: str(r[DECISION.at.log]), index: num(r[DECISION.at.idx]) },
});
const toRefusal = (r: Cells): RefusalRow => ({
  eventId: str(r[REFUSAL.at.event_id]),
  requestId: str(r[REFUSAL.at.request_id]),
  refusedEventId: strOrNull(r[REFUSAL.at.refused_event_id]),
  attemptedDecision: str(r[REFUSAL.at.attempted_decision]),
  claimedApprover: strOrNull(r[REFUSAL.at.claimed_approver]),
  actor: strOrNull(r[REFUSAL.at.actor]),
  code: str(r[REFUSAL.at.code]),
  reason: str(r[REFUSAL.at.reason]),
  refusedBy: str(r[REFUSAL.at.refused_by]),
  occurredAt: num(r[REFUSAL.at.occurred_at]),
  position: { log: str(r[REFUSAL.at.log]), index: num(r[REFUSAL.at.idx]) },
});
/** MAX_DECISIONS bounds the decisions listed per request (a flood of forgeries cannot make one answer huge). */
export const MAX_DECISIONS = 100;
const toMasked = (r: Cells): MaskedRow => ({
  eventId: str(r[MASKED.at.event_id]),
  sessionId: str(r[MASKED.at.session_id]),
  commandId: str(r[MASKED.at.command_id]),
  subject: strOrNull(r[MASKED.at.subject]),
  count: num(r[MASKED.at.count]),
  truncated: bool(r[MASKED.at.truncated]),
  columns: list(r[MASKED.at.columns]),
  rules: list(r[MASKED.at.rules]),
  occurredAt: num(r[MASKED.at.occurred_at]),
  position: { log: str(r[MASKED.at.log]), index: num(r[MASKED.at.idx]) },
});
const toIdentity = (r: Cells): IdentityRow => ({
  issuer: str(r[IDENTITY.at.issuer]),
  subject: str(r[IDENTITY.at.subject]),
  email: strOrNull(r[IDENTITY.at.email]),
  groups: list(r[IDENTITY.at.groups]),
  mfa: bool(r[IDENTITY.at.mfa]),
  firstSeen: num(r[IDENTITY.at.first_seen]),
  lastSeen: num(r[IDENTITY.at.last_seen]),
  sessions: num(r[IDENTITY.at.sessions]),
});
const toAuthFailure = (r: Cells): AuthFailureRow => ({
  eventId: str(r[AUTH_FAILURE.at.event_id]),
  sessionId: str(r[AUTH_FAILURE.at.session_id]),
  code: str(r[AUTH_FAILURE.at.code]),
  reason: str(r[AUTH_FAILURE.at.reason]),
  claimedIssuer: strOrNull(r[AUTH_FAILURE.at.claimed_issuer]),
  claimedSubject: strOrNull(r[AUTH_FAILURE.at.claimed_subject]),
  tokenId: strOrNull(r[AUTH_FAILURE.at.token_id]),
  sourceAddress: str(r[AUTH_FAILURE.at.source_address]),
  targetResource: str(r[AUTH_FAILURE.at.target_resource]),
  occurredAt: num(r[AUTH_FAILURE.at.occurred_at]),
  position: { log: str(r[AUTH_FAILURE.at.log]), index: num(r[AUTH_FAILURE.at.idx]) },
});

/** arrays makes a statement return each row as an array of its columns. */
function arrays(st: StatementSync): StatementSync {
  st.setReturnArrays(true);
  return st;
}

/** KeyCol is one column of a list's unique sort key and its type in cursors. */
type KeyCol = { readonly col: string; readonly type: 'string' | 'number' };

/** PageSpec describes one list: table, filters already rendered, sort key and direction. */
type Cond = [string] | [string, SQLInputValue];
type PageSpec<N extends string> = { table: string; cols: Columns<N>; where: Cond[]; key: readonly (KeyCol & { col: N })[]; desc: boolean };

const TIME_DESC = <N extends string>(timeCol: N, idCol: N): (KeyCol & { col: N })[] => [
  { col: timeCol, type: 'number' },
  { col: idCol, type: 'string' },
];

/** SqliteReadModelOptions: the read-model file's path (':memory:' for tests). */
export type SqliteReadModelOptions = { readonly path: string };

/**
 * openSqliteReadModel opens (creating when missing) the read-model file. A file of another
 * read-model version is dropped and recreated empty (it is rebuilt from the ledger); a file that
 * is not a read-model file at all is refused (ReadModelUnreadableError), never overwritten.
 */
export function openSqliteReadModel(o: SqliteReadModelOptions): ReadModelStore {
  // The read models hold who ran which statement: the file is created owner-only (SQLite gives
  // its -wal and -shm files the same mode), never world-readable under a permissive umask.
  if (o.path !== ':memory:') closeSync(openSync(o.path, 'a', 0o600));
  const db = new DatabaseSync(o.path);
  for (const p of PRAGMAS) db.exec(p);
  const hasSchema = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'rm_schema'").get();
  if (!hasSchema) {
    const other = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' LIMIT 1").get();
    if (other) {
      db.close();
      throw new ReadModelUnreadableError(`${o.path} has tables (${String(other.name)}) but is not an Affidavit read-model file`);
    }
  } else {
    const v = Number(db.prepare('SELECT version FROM rm_schema WHERE id = 1').get()?.version);
    if (v !== READ_MODEL_VERSION) {
      for (const t of [...TABLES, 'rm_schema']) db.exec(`DROP TABLE IF EXISTS ${t}`);
    }
  }
  db.exec(DDL);
  db.prepare('INSERT INTO rm_schema (id, version) VALUES (1, ?) ON CONFLICT (id) DO NOTHING').run(READ_MODEL_VERSION);

  const s = {
    positions: db.prepare('SELECT log, next_index, last_event_id FROM rm_positions'),
    setPosition: db.prepare(
      'INSERT INTO rm_positions (log, next_index, last_event_id) VALUES (?, ?, ?) ON CONFLICT (log) DO UPDATE SET next_index = excluded.next_index, last_event_id = excluded.last_event_id',
    ),
    insertSession: db.prepare(
      `INSERT INTO sessions (session_id, issuer, subject, email, mfa, source_address, source_port, application, target_kind, target_resource,
        target_host, target_database, target_login, protocol, tls, started_at, ended_at, end_reason, end_error_code, command_count, log, idx)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    endSession: db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ?, end_error_code = ?, command_count = ? WHERE session_id = ? AND ended_at IS NULL'),
    insertCommand: db.prepare(
      `INSERT INTO commands (session_id, command_id, seq, subject, channel, text, classes, decision, rule_id, issued_at,
        outcome, tag, rows, duration_micros, error_code, log, idx)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    completeCommand: db.prepare(
      'UPDATE commands SET outcome = ?, tag = ?, rows = ?, duration_micros = ?, error_code = ? WHERE session_id = ? AND command_id = ? AND outcome IS NULL',
    ),
    insertBlocked: db.prepare(
      `INSERT INTO blocked (event_id, session_id, command_id, subject, target_resource, text, rule_id, reason, occurred_at, log, idx)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
    ),
    insertApproval: db.prepare(
      `INSERT INTO approvals (request_id, session_id, command_id, requester, text, rule_id, reason, approver_groups, requested_at, expires_at,
        status, has_signature, log, idx) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (request_id) DO NOTHING`,
    ),
    // The decision shown is the first one no ApprovalRefused names; later ones (a replay, a
    // forgery) do not overwrite it, and a refused one is taken back. signatureValid tells the
    // reader whether the shown decision is signed.
    decideApproval: db.prepare(
      `UPDATE approvals SET status = ?, approver = ?, justification = ?, decided_at = ?, has_signature = ?, decision_log = ?, decision_idx = ?
       WHERE request_id = ?`,
    ),
    undecideApproval: db.prepare(
      `UPDATE approvals SET status = 'pending', approver = NULL, justification = NULL, decided_at = NULL, has_signature = 0, decision_log = NULL, decision_idx = NULL
       WHERE request_id = ?`,
    ),
    firstStanding: db.prepare('SELECT * FROM approval_decisions WHERE request_id = ? AND refused = 0 ORDER BY log, idx LIMIT 1'),
    refuseDecision: db.prepare('UPDATE approval_decisions SET refused = 1 WHERE event_id = ? RETURNING request_id'),
    insertRefusal: db.prepare(
      `INSERT INTO approval_refusals (event_id, request_id, refused_event_id, attempted_decision, claimed_approver, actor, code, reason, refused_by, occurred_at, log, idx)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
    ),
    refusals: arrays(db.prepare(`SELECT ${REFUSAL.list} FROM approval_refusals WHERE request_id = ? ORDER BY log, idx LIMIT ${MAX_DECISIONS}`)),
    insertDecision: db.prepare(
      // A refusal may reach the ledger before the decision it names (another log): born refused then.
      `INSERT INTO approval_decisions (request_id, log, idx, event_id, decision, approver, justification, decided_at, has_signature, refused)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, EXISTS (SELECT 1 FROM approval_refusals WHERE refused_event_id = ?4)) ON CONFLICT DO NOTHING`,
    ),
    decisions: arrays(db.prepare(`SELECT ${DECISION.list} FROM approval_decisions WHERE request_id = ? ORDER BY log, idx LIMIT ${MAX_DECISIONS}`)),
    insertMasked: db.prepare(
      `INSERT INTO masked (event_id, session_id, command_id, subject, count, truncated, columns, rules, occurred_at, log, idx)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
    ),
    // Columns on the right of SET read the stored row; excluded.* is the new sighting.
    seeIdentity: db.prepare(
      `INSERT INTO identities (issuer, subject, email, groups, mfa, first_seen, last_seen, sessions) VALUES (?, ?, ?, ?, ?, ?, ?, 1)
       ON CONFLICT (subject, issuer) DO UPDATE SET
         email = CASE WHEN excluded.last_seen >= last_seen THEN excluded.email ELSE email END,
         groups = CASE WHEN excluded.last_seen >= last_seen THEN excluded.groups ELSE groups END,
         mfa = CASE WHEN excluded.last_seen >= last_seen THEN excluded.mfa ELSE mfa END,
         first_seen = min(first_seen, excluded.first_seen),
         last_seen = max(last_seen, excluded.last_seen),
         sessions = sessions + 1`,
    ),
    insertAuthFailure: db.prepare(
      `INSERT INTO auth_failures (event_id, session_id, code, reason, claimed_issuer, claimed_subject, token_id, source_address, target_resource, occurred_at, log, idx)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
    ),
    session: arrays(db.prepare(`SELECT ${SESSION.list} FROM sessions WHERE session_id = ?`)),
    approval: arrays(db.prepare(`SELECT ${APPROVAL.list} FROM approvals WHERE request_id = ?`)),
    masked: arrays(db.prepare(`SELECT ${MASKED.list} FROM masked WHERE event_id = ?`)),
  };

  /** settle sets a request's shown decision to its first standing (unrefused) one, or back to pending. */
  function settle(requestId: string): void {
    const d = s.firstStanding.get(requestId) as Row | undefined;
    if (!d) s.undecideApproval.run(requestId);
    else s.decideApproval.run(d.decision, d.approver, d.justification, d.decided_at, d.has_signature, d.log, d.idx, requestId);
  }

  type SessionEnded = Extract<ReadModelMutation, { kind: 'session-ended' }>;
  type CommandCompleted = Extract<ReadModelMutation, { kind: 'command-completed' }>;
  /**
   * Batch holds, until the end of a transaction, the sessions and commands it starts, so a start
   * and its end (an issue and its completion) in one batch are one row written, not a row written
   * and then updated. The first start and the first end win, as with the statements one by one.
   */
  type Batch = {
    sessions: Map<string, { started: Extract<ReadModelMutation, { kind: 'session-started' }>; ended: SessionEnded | null }>;
    commands: Map<string, { issued: Extract<ReadModelMutation, { kind: 'command-issued' }>; completed: CommandCompleted | null }>;
  };
  const endSession = (m: SessionEnded) => s.endSession.run(m.endedAt, m.reason, m.errorCode, m.commands, m.sessionId);
  const completeCommand = (m: CommandCompleted) => s.completeCommand.run(m.outcome, m.tag, m.rows, m.durationMicros, m.errorCode, m.sessionId, m.commandId);

  /** flush writes the batch's sessions and commands; a row already stored keeps its start and gets the end only if it has none. */
  function flush(batch: Batch): void {
    for (const { started, ended } of batch.sessions.values()) {
      const r = started.row;
      const inserted = s.insertSession.run(
        r.sessionId,
        r.issuer,
        r.subject,
        r.email,
        b(r.mfa),
        r.sourceAddress,
        r.sourcePort,
        r.application,
        r.targetKind,
        r.targetResource,
        r.targetHost,
        r.targetDatabase,
        r.targetLogin,
        r.protocol,
        r.tls ? 1 : 0,
        r.startedAt,
        ended?.endedAt ?? null,
        ended?.reason ?? null,
        ended?.errorCode ?? null,
        ended?.commands ?? null,
        r.position.log,
        r.position.index,
      );
      if (ended && Number(inserted.changes) === 0) endSession(ended);
    }
    for (const { issued, completed } of batch.commands.values()) {
      const r = issued.row;
      const inserted = s.insertCommand.run(
        r.sessionId,
        r.commandId,
        r.seq,
        r.subject,
        r.channel,
        r.text,
        JSON.stringify(r.classes),
        r.decision,
        r.ruleId,
        r.issuedAt,
        completed?.outcome ?? null,
        completed?.tag ?? null,
        completed?.rows ?? null,
        completed?.durationMicros ?? null,
        completed?.errorCode ?? null,
        r.position.log,
        r.position.index,
      );
      if (completed && Number(inserted.changes) === 0) completeCommand(completed);
    }
  }

  function applyOne(m: ReadModelMutation, batch: Batch): void {
    switch (m.kind) {
      case 'session-started':
        if (!batch.sessions.has(m.row.sessionId)) batch.sessions.set(m.row.sessionId, { started: m, ended: null });
        return;
      case 'session-ended': {
        const pending = batch.sessions.get(m.sessionId);
        if (pending) pending.ended ??= m;
        else endSession(m);
        return;
      }
      case 'command-issued': {
        const key = `${m.row.sessionId}\u0000${m.row.commandId}`;
        if (!batch.commands.has(key)) batch.commands.set(key, { issued: m, completed: null });
        return;
      }
      case 'command-completed': {
        const pending = batch.commands.get(`${m.sessionId}\u0000${m.commandId}`);
        if (pending) pending.completed ??= m;
        else completeCommand(m);
        return;
      }
      case 'command-blocked': {
        const r = m.row;
        s.insertBlocked.run(
          r.eventId,
          r.sessionId,
          r.commandId,
          r.subject,
          r.targetResource,
          r.text,
          r.ruleId,
          r.reason,
          r.occurredAt,
          r.position.log,
          r.position.index,
        );
        return;
      }
      case 'approval-requested': {
        const r = m.row;
        s.insertApproval.run(
          r.requestId,
          r.sessionId,
          r.commandId,
          r.requester,
          r.text,
          r.ruleId,
          r.reason,
          JSON.stringify(r.approverGroups),
          r.requestedAt,
          r.expiresAt,
          r.position.log,
          r.position.index,
        );
        return;
      }
      case 'approval-decided':
        s.insertDecision.run(
          m.requestId,
          m.position.log,
          m.position.index,
          m.eventId,
          m.status,
          m.approver,
          m.justification,
          m.decidedAt,
          m.hasSignature ? 1 : 0,
        );
        settle(m.requestId);
        return;
      case 'approval-refused': {
        const r = m.row;
        s.insertRefusal.run(
          r.eventId,
          r.requestId,
          r.refusedEventId,
          r.attemptedDecision,
          r.claimedApprover,
          r.actor,
          r.code,
          r.reason,
          r.refusedBy,
          r.occurredAt,
          r.position.log,
          r.position.index,
        );
        if (r.refusedEventId !== null) {
          for (const row of s.refuseDecision.all(r.refusedEventId) as Row[]) settle(str(row.request_id));
        }
        return;
      }
      case 'data-masked': {
        const r = m.row;
        s.insertMasked.run(
          r.eventId,
          r.sessionId,
          r.commandId,
          r.subject,
          r.count,
          r.truncated ? 1 : 0,
          JSON.stringify(r.columns),
          JSON.stringify(r.rules),
          r.occurredAt,
          r.position.log,
          r.position.index,
        );
        return;
      }
      case 'identity-seen':
        s.seeIdentity.run(m.issuer, m.subject, m.email, JSON.stringify(m.groups), m.mfa ? 1 : 0, m.at, m.at);
        return;
      case 'authentication-failed': {
        const r = m.row;
        s.insertAuthFailure.run(
          r.eventId,
          r.sessionId,
          r.code,
          r.reason,
          r.claimedIssuer,
          r.claimedSubject,
          r.tokenId,
          r.sourceAddress,
          r.targetResource,
          r.occurredAt,
          r.position.log,
          r.position.index,
        );
        return;
      }
      default: {
        const never: never = m;
        throw new TypeError(`unhandled mutation ${(never as { kind: string }).kind}`);
      }
    }
  }

  // Prepared page statements, one per (table, filter columns, with/without cursor) shape.
  const pageStatements = new Map<string, StatementSync>();
  function page<T, N extends string>(spec: PageSpec<N>, req: PageRequest, map: (r: Cells) => T): Page<T> {
    const first = checkFirst(req.first);
    const conds: string[] = [];
    const params: SQLInputValue[] = [];
    for (const c of spec.where) {
      conds.push(c[0]);
      if (c.length === 2) params.push(c[1]);
    }
    const cols = spec.key.map((k) => k.col);
    if (req.after) {
      const key = decodeCursor(
        req.after,
        spec.key.map((k) => k.type),
      );
      conds.push(`(${cols.join(', ')}) ${spec.desc ? '<' : '>'} (${cols.map(() => '?').join(', ')})`);
      params.push(...key);
    }
    const dir = spec.desc ? 'DESC' : 'ASC';
    const sql = `SELECT ${spec.cols.list} FROM ${spec.table}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''} ORDER BY ${cols.map((c) => `${c} ${dir}`).join(', ')} LIMIT ?`;
    let st = pageStatements.get(sql);
    if (!st) pageStatements.set(sql, (st = arrays(db.prepare(sql))));
    const rows = st.all(...params, first + 1) as unknown as Cells[];
    const more = rows.length > first;
    const kept = more ? rows.slice(0, first) : rows;
    const last = kept.at(-1);
    return { rows: kept.map(map), next: more && last ? encodeCursor(spec.key.map((k) => last[spec.cols.at[k.col]] as KeyValue)) : null };
  }

  const eq = (col: string, v: SQLInputValue | undefined): Cond[] => (v === undefined || v === null ? [] : [[`${col} = ?`, v]]);

  return {
    positions() {
      const out: Record<string, number> = {};
      for (const r of s.positions.all()) out[String(r.log)] = Number(r.next_index);
      return out;
    },
    anchors() {
      const out: Record<string, string> = {};
      for (const r of s.positions.all()) if (r.last_event_id !== null) out[String(r.log)] = String(r.last_event_id);
      return out;
    },
    apply(log, nextIndex, mutations, lastEventId) {
      db.exec('BEGIN');
      try {
        const batch: Batch = { sessions: new Map(), commands: new Map() };
        for (const m of mutations) applyOne(m, batch);
        flush(batch);
        s.setPosition.run(log, nextIndex, lastEventId ?? null);
        db.exec('COMMIT');
      } catch (e) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw e;
      }
    },
    reset() {
      db.exec('BEGIN');
      for (const t of TABLES) db.exec(`DELETE FROM ${t}`);
      db.exec('COMMIT');
    },
    sessions(f: SessionFilter, req) {
      const where: Cond[] = [...eq('subject', f.subject), ...eq('target_resource', f.targetResource), ...eq('source_address', f.sourceAddress)];
      if (f.active === true) where.push(['ended_at IS NULL']);
      if (f.active === false) where.push(['ended_at IS NOT NULL']);
      if (f.since != null) where.push(['started_at >= ?', f.since]);
      if (f.until != null) where.push(['started_at < ?', f.until]);
      return page({ table: 'sessions', cols: SESSION, where, key: TIME_DESC('started_at', 'session_id'), desc: true }, req, toSession);
    },
    session: (id) => {
      const r = s.session.get(id) as unknown as Cells | undefined;
      return r && toSession(r);
    },
    commands(sessionId, req) {
      return page(
        {
          table: 'commands',
          cols: COMMAND,
          where: eq('session_id', sessionId),
          key: [
            { col: 'seq', type: 'number' },
            { col: 'command_id', type: 'string' },
          ],
          desc: false,
        },
        req,
        toCommand,
      );
    },
    blockedCommands(f: BlockedFilter, req) {
      const where = [...eq('subject', f.subject), ...eq('session_id', f.sessionId), ...eq('rule_id', f.ruleId)];
      return page({ table: 'blocked', cols: BLOCKED, where, key: TIME_DESC('occurred_at', 'event_id'), desc: true }, req, toBlocked);
    },
    approvals(f: ApprovalFilter, req) {
      const where = [...eq('status', f.status), ...eq('requester', f.requester)];
      return page({ table: 'approvals', cols: APPROVAL, where, key: TIME_DESC('requested_at', 'request_id'), desc: true }, req, toApproval);
    },
    approval: (id) => {
      const r = s.approval.get(id) as unknown as Cells | undefined;
      return r && toApproval(r);
    },
    decisions: (id) => (s.decisions.all(id) as unknown as Cells[]).map(toDecision),
    refusals: (id) => (s.refusals.all(id) as unknown as Cells[]).map(toRefusal),
    maskedData(f: MaskedFilter, req) {
      const where = [...eq('subject', f.subject), ...eq('session_id', f.sessionId)];
      return page({ table: 'masked', cols: MASKED, where, key: TIME_DESC('occurred_at', 'event_id'), desc: true }, req, toMasked);
    },
    masked: (id) => {
      const r = s.masked.get(id) as unknown as Cells | undefined;
      return r && toMasked(r);
    },
    identities(req) {
      return page(
        {
          table: 'identities',
          cols: IDENTITY,
          where: [],
          key: [
            { col: 'subject', type: 'string' },
            { col: 'issuer', type: 'string' },
          ],
          desc: false,
        },
        req,
        toIdentity,
      );
    },
    authenticationFailures(f: AuthFailureFilter, req) {
      const where = [...eq('code', f.code), ...eq('claimed_subject', f.claimedSubject)];
      return page({ table: 'auth_failures', cols: AUTH_FAILURE, where, key: TIME_DESC('occurred_at', 'event_id'), desc: true }, req, toAuthFailure);
    },
    close() {
      if (db.isOpen) db.close();
    },
  };
}
