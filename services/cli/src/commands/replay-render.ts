// Terminal rendering of a session timeline: one line per ledger entry, so what is printed can
// be compared with the ledger event for event and every line names its position. Everything a
// client, an approver or a policy author wrote goes through `visible()`: a statement holding an
// ANSI escape or a carriage return cannot repaint the analyst's terminal.
import type { ApprovalNote, CommandStep, Position, Step, Timeline } from '@affidavit/replay';
import { visible } from './approvals.ts';

/** RenderedLine is one printed line and the entry it shows. */
export type RenderedLine = {
  readonly eventId: string;
  readonly at: number;
  readonly stepIndex: number;
  /** continuation is true for every line of a step but its first (shown indented under it). */
  readonly continuation: boolean;
  /** step names the step's first entry, for a continuation printed after other steps' lines. */
  readonly step: string;
  readonly text: string;
};

const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();
const ms = (us: number) => `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
const v = (s: string | null | undefined) => visible(s ?? '');

const DECISION: Record<string, string> = { allow: 'ALLOW', mask: 'MASK', require_approval: 'HOLD', deny: 'DENY' };

/** positionLabel names a position: `#index` in the session's main log, `log#index` elsewhere. */
export function positionLabel(p: Position, mainLog: string | null): string {
  return p.log === mainLog ? `#${p.index}` : `${v(p.log)}#${p.index}`;
}

function approvalText(a: ApprovalNote): string {
  switch (a.kind) {
    case 'requested':
      return `held for approval by ${v(a.approverGroups.join(', '))} (request ${v(a.requestId)}, rule ${v(a.rule)}, expires ${iso(a.expiresAt)}): ${v(a.reason)}`;
    case 'decided':
      return `${v(a.decision)} by ${v(a.approver ?? '(timeout)')}${a.signed ? ' (signed)' : ' (unsigned)'}: ${v(a.justification)}`;
    case 'refused':
      return `decision refused [${v(a.code)}]: ${v(a.attemptedDecision)} claimed by ${v(a.claimedApprover ?? '(unknown)')}: ${v(a.reason)}`;
    default: {
      const never: never = a;
      return String(never);
    }
  }
}

function commandLine(c: CommandStep, type: string, eventId: string): string {
  switch (type) {
    case 'CommandIssued': {
      const params = c.parameters.length > 0 ? `  params (${c.parameters.map((p) => (p === null ? 'NULL' : v(p))).join(', ')})` : '';
      return `${DECISION[c.decision ?? ''] ?? v(c.decision)} ${c.rule ? `rule ${v(c.rule)}` : '(default rule)'}: ${v(c.statement)}${params}`;
    }
    case 'CommandBlocked':
      return c.events[0].eventId === eventId
        ? `DENY ${c.blocked?.rule ? `rule ${v(c.blocked.rule)}` : '(default deny)'}: ${v(c.statement)}  -> blocked: ${v(c.blocked?.reason)}`
        : `-> blocked: ${v(c.blocked?.reason)}`;
    case 'CommandCompleted': {
      const rows = c.rows === null ? '' : `, ${c.rows} row${c.rows === 1 ? '' : 's'}`;
      const err = c.errorCode ? ` [${v(c.errorCode)}] ${v(c.errorMessage)}` : '';
      return `-> ${v(c.outcome)}${c.tag ? ` ${v(c.tag)}` : ''}${rows}${c.durationMicros === null ? '' : ` in ${ms(c.durationMicros)}`}${err}`;
    }
    case 'DataMasked':
      return c.masked
        ? `masked ${v(c.masked.columns.join(', ') || '(values by detector)')} by ${v(c.masked.rules.join(', '))}: ${c.masked.count} value${c.masked.count === 1 ? '' : 's'}${c.masked.truncated ? ' (list truncated)' : ''}`
        : 'masked';
    case 'ResultCaptured':
      return `result captured: ${c.captured?.rows ?? 0} rows of ${v(c.captured?.columns.join(', '))}${c.captured?.truncated ? ' (truncated)' : ''}`;
    default: {
      const ev = c.events.find((e) => e.eventId === eventId);
      const note = ev && c.approvals.find((a) => a.position.log === ev.position.log && a.position.index === ev.position.index);
      return note ? approvalText(note) : v(type);
    }
  }
}

/** renderTimeline returns every line of a timeline, step by step, each tied to its entry. */
export function renderTimeline(t: Timeline): RenderedLine[] {
  const mainLog = t.steps[0]?.position.log ?? null;
  const out: RenderedLine[] = [];
  t.steps.forEach((s: Step, stepIndex) => {
    for (const [i, e] of s.events.entries()) {
      const where = positionLabel(e.position, mainLog);
      const body = s.kind === 'command' ? commandLine(s, e.type, e.eventId) : `${s.kind.replace('-', ' ')}: ${v(s.detail)}`;
      out.push({
        eventId: e.eventId,
        at: e.at,
        stepIndex,
        continuation: i > 0,
        step: positionLabel(s.position, mainLog),
        text: `${iso(e.at)}  ${where.padEnd(6)} ${i === 0 ? '' : '  '}${body}`,
      });
    }
  });
  return out;
}

/** header describes the session in one line. */
export function header(t: Timeline): string {
  const log = t.steps[0]?.position.log;
  return `session ${v(t.sessionId)}: ${v(t.subject ?? '(unknown subject)')} to ${v(t.target ?? '(unknown target)')}${log ? `, entries in log ${v(log)}` : ''}${t.startedAt ? `, started ${iso(t.startedAt)}` : ''}`;
}

/** footer says how the session ended and what the entries show is wrong. */
export function footer(t: Timeline): string[] {
  const lines = [t.ended ? `session ended ${iso(t.endedAt!)}` : 'the session has not ended (live, or its SessionEnded entry is missing)'];
  for (const a of t.anomalies) lines.push(`ANOMALY: ${v(a)}`);
  return lines;
}
