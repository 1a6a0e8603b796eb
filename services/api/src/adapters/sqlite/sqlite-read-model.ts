// The read models in their own SQLite file (never the ledger's): rows per model plus, per ledger
// log, the next index to project, written in the same transaction as the rows.
import { closeSync, openSync } from 'node:fs';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
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
const str = (v: SQLInputValue): string => v as string;
const strOrNull = (v: SQLInputValue): string | null => (v === null ? null : (v as string));
const num = (v: SQLInputValue): number => Number(v);
const numOrNull = (v: SQLInputValue): number | null => (v === null ? null : Number(v));
const bool = (v: SQLInputValue): boolean => Number(v) === 1;
const list = (v: SQLInputValue): string[] => JSON.parse(v as string) as string[];
const b = (x: boolean | null): number | null => (x === null ? null : x ? 1 : 0);

const toSession = (r: Row): SessionRow => ({
  sessionId: str(r.session_id),
  issuer: strOrNull(r.issuer),
  subject: strOrNull(r.subject),
  email: strOrNull(r.email),
  mfa: r.mfa === null ? null : bool(r.mfa),
  sourceAddress: str(r.source_address),
  sourcePort: numOrNull(r.source_port),
  application: strOrNull(r.application),
  targetKind: str(r.target_kind),
  targetResource: str(r.target_resource),
  targetHost: str(r.target_host),
  targetDatabase: strOrNull(r.target_database),
  targetLogin: strOrNull(r.target_login),
  protocol: str(r.protocol),
  tls: bool(r.tls),
  startedAt: num(r.started_at),
  endedAt: numOrNull(r.ended_at),
  endReason: strOrNull(r.end_reason),
  endErrorCode: strOrNull(r.end_error_code),
  commandCount: numOrNull(r.command_count),
  position: { log: str(r.log), index: num(r.idx) },
});
const toCommand = (r: Row): CommandRow => ({
  sessionId: str(r.session_id),
  commandId: str(r.command_id),
  seq: num(r.seq),
  subject: strOrNull(r.subject),
  channel: str(r.channel),
  text: str(r.text),
  classes: list(r.classes),
  decision: str(r.decision),
  ruleId: strOrNull(r.rule_id),
  issuedAt: num(r.issued_at),
  outcome: strOrNull(r.outcome),
  tag: strOrNull(r.tag),
  rows: numOrNull(r.rows),
  durationMicros: numOrNull(r.duration_micros),
  errorCode: strOrNull(r.error_code),
  position: { log: str(r.log), index: num(r.idx) },
});
const toBlocked = (r: Row): BlockedRow => ({
  eventId: str(r.event_id),
  sessionId: str(r.session_id),
  commandId: str(r.command_id),
  subject: strOrNull(r.subject),
  targetResource: str(r.target_resource),
  text: str(r.text),
  ruleId: strOrNull(r.rule_id),
  reason: str(r.reason),
  occurredAt: num(r.occurred_at),
  position: { log: str(r.log), index: num(r.idx) },
});
const toApproval = (r: Row): ApprovalRow => ({
  requestId: str(r.request_id),
  sessionId: str(r.session_id),
  commandId: str(r.command_id),
  requester: strOrNull(r.requester),
  text: str(r.text),
  ruleId: str(r.rule_id),
  reason: str(r.reason),
  approverGroups: list(r.approver_groups),
  requestedAt: num(r.requested_at),
  expiresAt: num(r.expires_at),
  status: str(r.status) as ApprovalStatus,
  approver: strOrNull(r.approver),
  justification: strOrNull(r.justification),
  decidedAt: numOrNull(r.decided_at),
  hasSignature: bool(r.has_signature),
  position: { log: str(r.log), index: num(r.idx) },
  decisionPosition: r.decision_log === null ? null : { log: str(r.decision_log), index: num(r.decision_idx) },
});
const toDecision = (r: Row): DecisionRow => ({
  eventId: str(r.event_id),
  requestId: str(r.request_id),
  refused: bool(r.refused),
  decision: str(r.decision) as DecisionRow['decision'],
  approver: strOrNull(r.approver),
  justification: str(r.justification),
  decidedAt: num(r.decided_at),
  hasSignature: bool(r.has_signature),
  position: { log: str(r.log), index: num(r.idx) },
});
const toRefusal = (r: Row): RefusalRow => ({
  eventId: str(r.event_id),
  requestId: str(r.request_id),
  refusedEventId: strOrNull(r.refused_event_id),
  attemptedDecision: str(r.attempted_decision),
  claimedApprover: strOrNull(r.claimed_approver),
  actor: strOrNull(r.actor),
  code: str(r.code),
  reason: str(r.reason),
  refusedBy: str(r.refused_by),
  occurredAt: num(r.occurred_at),
  position: { log: str(r.log), index: num(r.idx) },
});
/** MAX_DECISIONS bounds the decisions listed per request (a flood of forgeries cannot make one answer huge). */
export const MAX_DECISIONS = 100;
const toMasked = (r: Row): MaskedRow => ({
  eventId: str(r.event_id),
  sessionId: str(r.session_id),
  commandId: str(r.command_id),
  subject: strOrNull(r.subject),
  count: num(r.count),
  truncated: bool(r.truncated),
  columns: list(r.columns),
  rules: list(r.rules),
  occurredAt: num(r.occurred_at),
  position: { log: str(r.log), index: num(r.idx) },
});
const toIdentity = (r: Row): IdentityRow => ({
  issuer: str(r.issuer),
  subject: str(r.subject),
  email: strOrNull(r.email),
  groups: list(r.groups),
  mfa: bool(r.mfa),
  firstSeen: num(r.first_seen),
  lastSeen: num(r.last_seen),
  sessions: num(r.sessions),
});
const toAuthFailure = (r: Row): AuthFailureRow => ({
  eventId: str(r.event_id),
  sessionId: str(r.session_id),
  code: str(r.code),
  reason: str(r.reason),
  claimedIssuer: strOrNull(r.claimed_issuer),
  claimedSubject: strOrNull(r.claimed_subject),
  tokenId: strOrNull(r.token_id),
  sourceAddress: str(r.source_address),
  targetResource: str(r.target_resource),
  occurredAt: num(r.occurred_at),
  position: { log: str(r.log), index: num(r.idx) },
});

/** KeyCol is one column of a list's unique sort key and its type in cursors. */
type KeyCol = { readonly col: string; readonly type: 'string' | 'number' };

/** PageSpec describes one list: table, filters already rendered, sort key and direction. */
type Cond = [string] | [string, SQLInputValue];
type PageSpec = { table: string; where: Cond[]; key: readonly KeyCol[]; desc: boolean };

const TIME_DESC = (timeCol: string, idCol: string): KeyCol[] => [
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
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?, ?) ON CONFLICT (session_id) DO NOTHING`,
    ),
    endSession: db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ?, end_error_code = ?, command_count = ? WHERE session_id = ? AND ended_at IS NULL'),
    insertCommand: db.prepare(
      `INSERT INTO commands (session_id, command_id, seq, subject, channel, text, classes, decision, rule_id, issued_at, log, idx)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, command_id) DO NOTHING`,
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
    refusals: db.prepare(`SELECT * FROM approval_refusals WHERE request_id = ? ORDER BY log, idx LIMIT ${MAX_DECISIONS}`),
    insertDecision: db.prepare(
      // A refusal may reach the ledger before the decision it names (another log): born refused then.
      `INSERT INTO approval_decisions (request_id, log, idx, event_id, decision, approver, justification, decided_at, has_signature, refused)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, EXISTS (SELECT 1 FROM approval_refusals WHERE refused_event_id = ?4)) ON CONFLICT DO NOTHING`,
    ),
    decisions: db.prepare(`SELECT * FROM approval_decisions WHERE request_id = ? ORDER BY log, idx LIMIT ${MAX_DECISIONS}`),
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
    session: db.prepare('SELECT * FROM sessions WHERE session_id = ?'),
    approval: db.prepare('SELECT * FROM approvals WHERE request_id = ?'),
    masked: db.prepare('SELECT * FROM masked WHERE event_id = ?'),
  };

  /** settle sets a request's shown decision to its first standing (unrefused) one, or back to pending. */
  function settle(requestId: string): void {
    const d = s.firstStanding.get(requestId) as Row | undefined;
    if (!d) s.undecideApproval.run(requestId);
    else s.decideApproval.run(d.decision, d.approver, d.justification, d.decided_at, d.has_signature, d.log, d.idx, requestId);
  }

  function applyOne(m: ReadModelMutation): void {
    switch (m.kind) {
      case 'session-started': {
        const r = m.row;
        s.insertSession.run(
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
          r.position.log,
          r.position.index,
        );
        return;
      }
      case 'session-ended':
        s.endSession.run(m.endedAt, m.reason, m.errorCode, m.commands, m.sessionId);
        return;
      case 'command-issued': {
        const r = m.row;
        s.insertCommand.run(
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
          r.position.log,
          r.position.index,
        );
        return;
      }
      case 'command-completed':
        s.completeCommand.run(m.outcome, m.tag, m.rows, m.durationMicros, m.errorCode, m.sessionId, m.commandId);
        return;
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
  function page<T>(spec: PageSpec, req: PageRequest, map: (r: Row) => T): Page<T> {
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
    const sql = `SELECT * FROM ${spec.table}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''} ORDER BY ${cols.map((c) => `${c} ${dir}`).join(', ')} LIMIT ?`;
    let st = pageStatements.get(sql);
    if (!st) pageStatements.set(sql, (st = db.prepare(sql)));
    const rows = st.all(...params, first + 1) as Row[];
    const more = rows.length > first;
    const kept = more ? rows.slice(0, first) : rows;
    const last = kept.at(-1);
    return { rows: kept.map(map), next: more && last ? encodeCursor(spec.key.map((k) => last[k.col] as KeyValue)) : null };
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
        for (const m of mutations) applyOne(m);
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
      return page({ table: 'sessions', where, key: TIME_DESC('started_at', 'session_id'), desc: true }, req, toSession);
    },
    session: (id) => {
      const r = s.session.get(id) as Row | undefined;
      return r && toSession(r);
    },
    commands(sessionId, req) {
      return page(
        {
          table: 'commands',
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
      return page({ table: 'blocked', where, key: TIME_DESC('occurred_at', 'event_id'), desc: true }, req, toBlocked);
    },
    approvals(f: ApprovalFilter, req) {
      const where = [...eq('status', f.status), ...eq('requester', f.requester)];
      return page({ table: 'approvals', where, key: TIME_DESC('requested_at', 'request_id'), desc: true }, req, toApproval);
    },
    approval: (id) => {
      const r = s.approval.get(id) as Row | undefined;
      return r && toApproval(r);
    },
    decisions: (id) => (s.decisions.all(id) as Row[]).map(toDecision),
    refusals: (id) => (s.refusals.all(id) as Row[]).map(toRefusal),
    maskedData(f: MaskedFilter, req) {
      const where = [...eq('subject', f.subject), ...eq('session_id', f.sessionId)];
      return page({ table: 'masked', where, key: TIME_DESC('occurred_at', 'event_id'), desc: true }, req, toMasked);
    },
    masked: (id) => {
      const r = s.masked.get(id) as Row | undefined;
      return r && toMasked(r);
    },
    identities(req) {
      return page(
        {
          table: 'identities',
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
      return page({ table: 'auth_failures', where, key: TIME_DESC('occurred_at', 'event_id'), desc: true }, req, toAuthFailure);
    },
    close() {
      if (db.isOpen) db.close();
    },
  };
}
