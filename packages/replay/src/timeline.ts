// The session timeline: a session's ledger entries folded into the steps an analyst reads
// (a statement with its decision, rule, rows, duration, masked columns and approvals). Pure: the
// entries come from the caller (a ledger scan, the API, or a verified replay bundle), so the
// terminal, the web page and the bundle replay show the same steps for the same entries.
//
// Every entry given lands in exactly one step's `events`, in ledger order within the step, so a
// replay can be compared with the original session event for event and every line shown can
// be traced to a ledger position.
import type { LedgerRecord, PolicyAction, SessionEvent } from '@affidavit/schemas';

/** Position is where an entry sits in the ledger: its log and 0-based index. */
export type Position = { readonly log: string; readonly index: number };

/** PositionedRecord is one decoded ledger entry of a session and where it sits. */
export type PositionedRecord = { readonly position: Position; readonly record: LedgerRecord };

/** StepEvent names one entry folded into a step. */
export type StepEvent = { readonly type: string; readonly eventId: string; readonly at: number; readonly position: Position };

/** ApprovalNote is one approval event of a held statement, shown inline in its command's step. */
export type ApprovalNote =
  | {
      readonly kind: 'requested';
      readonly at: number;
      readonly requestId: string;
      readonly rule: string;
      readonly reason: string;
      readonly approverGroups: readonly string[];
      readonly expiresAt: number;
      readonly position: Position;
    }
  | {
      readonly kind: 'decided';
      readonly at: number;
      readonly requestId: string;
      readonly decision: string;
      readonly approver: string | null;
      readonly justification: string;
      readonly signed: boolean;
      readonly position: Position;
    }
  | {
      readonly kind: 'refused';
      readonly at: number;
      readonly requestId: string;
      readonly attemptedDecision: string;
      readonly claimedApprover: string | null;
      readonly code: string;
      readonly reason: string;
      readonly position: Position;
    };

/** MaskedSummary is what masking did to a command's result: which columns, by which rules, how many values. */
export type MaskedSummary = { readonly columns: readonly string[]; readonly rules: readonly string[]; readonly count: number; readonly truncated: boolean };

/** CommandStep is one statement: what was asked, what policy decided, what came back. */
export type CommandStep = {
  readonly kind: 'command';
  readonly at: number;
  readonly position: Position;
  readonly events: readonly StepEvent[];
  readonly commandId: string;
  readonly channel: string | null;
  /** statement is the text as recorded (client-supplied: render it escaped); null when only a completion or block was recorded. */
  readonly statement: string | null;
  readonly parameters: readonly (string | null)[];
  readonly decision: PolicyAction | 'deny' | null;
  readonly rule: string | null;
  readonly blocked: { readonly rule: string | null; readonly reason: string } | null;
  readonly outcome: string | null;
  readonly tag: string | null;
  readonly rows: number | null;
  readonly durationMicros: number | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly masked: MaskedSummary | null;
  readonly captured: { readonly columns: readonly string[]; readonly rows: number; readonly truncated: boolean } | null;
  readonly approvals: readonly ApprovalNote[];
};

/** SessionStep is anything else of the session: start, end, failed login, a revealed value, terminal output. */
export type SessionStep = {
  readonly kind: 'session-started' | 'session-ended' | 'authentication-failed' | 'value-revealed' | 'terminal-output' | 'other';
  readonly at: number;
  readonly position: Position;
  readonly events: readonly StepEvent[];
  /** detail is a short description built from recorded fields (client-supplied parts included: render escaped). */
  readonly detail: string;
};

/** Step is one line of the timeline. */
export type Step = CommandStep | SessionStep;

/** Timeline is a session replayed from its entries. */
export type Timeline = {
  readonly sessionId: string;
  readonly subject: string | null;
  readonly target: string | null;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  /** ended is true when the SessionEnded entry is among the entries (otherwise the session is live or its tail is missing). */
  readonly ended: boolean;
  readonly steps: readonly Step[];
  /** anomalies names what the entries themselves show is wrong: gaps or repeats in the session's seq, approvals of unknown requests. */
  readonly anomalies: readonly string[];
};

const posKey = (p: Position) => `${p.log}\u0000${p.index}`;
const byPosition = (a: PositionedRecord, b: PositionedRecord) =>
  a.position.log === b.position.log ? a.position.index - b.position.index : a.record.occurredAt - b.record.occurredAt;

type MutableCommand = { -readonly [K in keyof CommandStep]: CommandStep[K] } & { events: StepEvent[]; approvals: ApprovalNote[]; seq: number };

function newCommand(commandId: string, at: number, position: Position, seq: number): MutableCommand {
  return {
    kind: 'command',
    at,
    position,
    events: [],
    commandId,
    channel: null,
    statement: null,
    parameters: [],
    decision: null,
    rule: null,
    blocked: null,
    outcome: null,
    tag: null,
    rows: null,
    durationMicros: null,
    errorCode: null,
    errorMessage: null,
    masked: null,
    captured: null,
    approvals: [],
    seq,
  };
}

const stepEvent = (r: PositionedRecord): StepEvent => ({ type: r.record.type, eventId: r.record.eventId, at: r.record.occurredAt, position: r.position });

/**
 * buildTimeline folds a session's entries into steps. `entries` are the session's own events
 * (sessionId = `sessionId`) plus the approval decisions and refusals of its requests, which
 * travel in streams of their own; any order is accepted. The session's events are ordered by
 * seq (ties by ledger position), and a decision is shown in the step of the statement it
 * decided. Entries of other sessions are refused with an anomaly, never shown as this one's.
 */
export function buildTimeline(sessionId: string, entries: readonly PositionedRecord[]): Timeline {
  const anomalies: string[] = [];
  const seen = new Set<string>();
  const own: Array<PositionedRecord & { record: SessionEvent }> = [];
  const approvalsByRequest = new Map<string, PositionedRecord[]>();
  for (const e of entries) {
    const k = posKey(e.position);
    if (seen.has(k)) continue;
    seen.add(k);
    const r = e.record;
    if (r.type === 'InputRejected') {
      anomalies.push(`entry ${e.position.log}:${e.position.index} is an InputRejected record, not an event of this session`);
      continue;
    }
    if (r.sessionId === sessionId) {
      own.push(e as PositionedRecord & { record: SessionEvent });
      continue;
    }
    if (r.type === 'ApprovalDecided' || r.type === 'ApprovalRefused') {
      const list = approvalsByRequest.get(r.requestId) ?? [];
      list.push(e);
      approvalsByRequest.set(r.requestId, list);
      continue;
    }
    anomalies.push(`entry ${e.position.log}:${e.position.index} belongs to session ${r.sessionId}, not ${sessionId}`);
  }
  own.sort((a, b) => a.record.seq - b.record.seq || byPosition(a, b));
  // Gaps and repeats in seq are evidence that entries are missing or duplicated: name them.
  for (let i = 0; i < own.length; i++) {
    const want = i === 0 ? 0 : own[i - 1].record.seq + 1;
    const got = own[i].record.seq;
    if (i > 0 && got === own[i - 1].record.seq)
      anomalies.push(
        `seq ${got} appears more than once (entries ${own[i - 1].position.log}:${own[i - 1].position.index} and ${own[i].position.log}:${own[i].position.index})`,
      );
    else if (got > want) anomalies.push(got - want === 1 ? `seq ${want} is missing` : `seq ${want} to ${got - 1} are missing`);
  }

  const steps: Array<MutableCommand | SessionStep> = [];
  const commands = new Map<string, MutableCommand>();
  const requestCommand = new Map<string, MutableCommand>();
  const command = (e: PositionedRecord & { record: SessionEvent }, commandId: string): MutableCommand => {
    let c = commands.get(commandId);
    if (!c) {
      c = newCommand(commandId, e.record.occurredAt, e.position, e.record.seq);
      commands.set(commandId, c);
      steps.push(c);
    }
    c.events.push(stepEvent(e));
    return c;
  };
  const other = (e: PositionedRecord, kind: SessionStep['kind'], detail: string) =>
    steps.push({ kind, at: e.record.occurredAt, position: e.position, events: [stepEvent(e)], detail });
  let subject: string | null = null;
  let target: string | null = null;
  let startedAt: number | null = null;
  let endedAt: number | null = null;
  let ended = false;

  for (const e of own) {
    const r = e.record;
    switch (r.type) {
      case 'SessionStarted':
        subject = r.actor?.subject ?? null;
        target = `${r.target.kind} ${r.target.resource}${r.target.database ? `/${r.target.database}` : ''}`;
        startedAt = r.occurredAt;
        other(
          e,
          'session-started',
          `${r.actor?.subject ?? '(unauthenticated)'} from ${r.source.address}${r.source.application ? ` (${r.source.application})` : ''} to ${target}, ${r.protocol}${r.tls ? ', TLS' : ', no TLS'}, recording ${r.recordingMode}`,
        );
        break;
      case 'SessionEnded':
        ended = true;
        endedAt = r.occurredAt;
        other(e, 'session-ended', `${r.reason} after ${r.commands} commands${r.errorCode ? ` (${r.errorCode})` : ''}`);
        break;
      case 'AuthenticationFailed':
        other(e, 'authentication-failed', `${r.code}: ${r.reason}${r.claimedSubject ? ` (claimed ${r.claimedSubject})` : ''}`);
        break;
      case 'CommandIssued': {
        const c = command(e, r.commandId);
        c.channel = r.channel;
        c.statement = r.text;
        c.parameters = r.parameters;
        c.decision = r.decision;
        c.rule = r.ruleId;
        break;
      }
      case 'CommandCompleted': {
        const c = command(e, r.commandId);
        c.outcome = r.outcome;
        c.tag = r.tag;
        c.rows = r.rows;
        c.durationMicros = r.durationMicros;
        c.errorCode = r.errorCode;
        c.errorMessage = r.errorMessage;
        break;
      }
      case 'CommandBlocked': {
        const c = command(e, r.commandId);
        c.blocked = { rule: r.ruleId, reason: r.reason };
        c.statement ??= r.text;
        c.decision ??= 'deny';
        c.rule ??= r.ruleId;
        break;
      }
      case 'DataMasked': {
        const c = command(e, r.commandId);
        const prev = c.masked;
        const columns = new Set(prev?.columns ?? []);
        const rules = new Set(prev?.rules ?? []);
        for (const m of r.masks) {
          columns.add(m.column);
          rules.add(m.ruleId);
        }
        c.masked = { columns: [...columns], rules: [...rules], count: (prev?.count ?? 0) + r.count, truncated: (prev?.truncated ?? false) || r.truncated };
        break;
      }
      case 'ResultCaptured': {
        const c = command(e, r.commandId);
        c.captured = { columns: r.columns, rows: (c.captured?.rows ?? 0) + r.rows.length, truncated: (c.captured?.truncated ?? false) || r.truncated };
        break;
      }
      case 'ApprovalRequested': {
        const c = command(e, r.commandId);
        c.statement ??= r.text;
        requestCommand.set(r.requestId, c);
        c.approvals.push({
          kind: 'requested',
          at: r.occurredAt,
          requestId: r.requestId,
          rule: r.ruleId,
          reason: r.reason,
          approverGroups: r.approverGroups,
          expiresAt: r.expiresAt,
          position: e.position,
        });
        break;
      }
      case 'ApprovalDecided':
      case 'ApprovalRefused': {
        // In the session's own stream (a proxy records expiries and gate refusals there).
        const list = approvalsByRequest.get(r.requestId) ?? [];
        list.push(e);
        approvalsByRequest.set(r.requestId, list);
        break;
      }
      case 'MaskedValueOpened':
        other(
          e,
          'value-revealed',
          `masked value ${r.index} of event ${r.maskedEventId} opened by ${r.actor?.subject ?? '(unknown)'} with key ${r.keyId}: ${r.reason}`,
        );
        break;
      case 'TerminalOutput':
        other(e, 'terminal-output', `${r.stream} ${r.data.length} bytes on channel ${r.channel}`);
        break;
      default: {
        const never: never = r;
        other(e as PositionedRecord, 'other', `unknown event ${(never as { type: string }).type}`);
      }
    }
  }

  for (const [requestId, list] of approvalsByRequest) {
    const c = requestCommand.get(requestId);
    if (!c) {
      for (const e of list) anomalies.push(`entry ${e.position.log}:${e.position.index} decides request ${requestId}, which this session never made`);
      continue;
    }
    for (const e of [...list].sort((a, b) => a.record.occurredAt - b.record.occurredAt || byPosition(a, b))) {
      const r = e.record;
      c.events.push(stepEvent(e));
      if (r.type === 'ApprovalDecided')
        c.approvals.push({
          kind: 'decided',
          at: r.occurredAt,
          requestId,
          decision: r.decision,
          approver: r.approver?.subject ?? null,
          justification: r.justification,
          signed: r.signature !== null,
          position: e.position,
        });
      else if (r.type === 'ApprovalRefused')
        c.approvals.push({
          kind: 'refused',
          at: r.occurredAt,
          requestId,
          attemptedDecision: r.attemptedDecision,
          claimedApprover: r.claimedApprover?.subject ?? null,
          code: r.code,
          reason: r.reason,
          position: e.position,
        });
    }
  }

  // A decision from another stream lands between the request and the completion it released:
  // in ledger order within one log, by time across logs.
  const order = (a: { position: Position; at: number }, b: { position: Position; at: number }) =>
    a.position.log === b.position.log ? a.position.index - b.position.index : a.at - b.at;
  for (const c of commands.values()) {
    c.events.sort(order);
    c.approvals.sort(order);
  }

  // A held statement that ran must have been approved: a completion without an approving decision
  // among the entries means a decision is missing (left out of a bundle, or never recorded).
  for (const c of commands.values()) {
    const requested = c.approvals.filter((a) => a.kind === 'requested');
    const approved = c.approvals.some((a) => a.kind === 'decided' && a.decision === 'approved');
    if (requested.length > 0 && c.outcome !== null && !approved)
      anomalies.push(
        `statement ${c.position.log}:${c.position.index} completed (${c.outcome}) after approval request ${requested.map((a) => a.requestId).join(', ')}, but no approving decision is among the entries`,
      );
  }

  return {
    sessionId,
    subject,
    target,
    startedAt,
    endedAt,
    ended,
    steps: steps.map((s) => (s.kind === 'command' ? stripSeq(s) : s)),
    anomalies,
  };
}

function stripSeq(c: MutableCommand): CommandStep {
  const { seq: _seq, ...step } = c;
  return step;
}

/** timelineEvents lists every entry a timeline shows, step by step: what "event for event" compares. */
export function timelineEvents(t: Timeline): StepEvent[] {
  return t.steps.flatMap((s) => s.events);
}
