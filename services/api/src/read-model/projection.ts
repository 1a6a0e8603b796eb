// The read models' projection: a pure fold from ledger records to row mutations (STYLE rule 2).
// No I/O, no clock: the same records at the same positions always give the same mutations, which
// is what makes "drop the read models and rebuild from the ledger" give identical answers.
import type { LedgerRecord } from '@affidavit/schemas';
import type { Position, ReadModelMutation } from './rows.ts';

/**
 * UNPROJECTED_TYPES feed no read model. The projector skips their entries by the writer schema
 * in the header, without decoding them (result rows and terminal output are the largest events).
 * `project` returns no mutation for them (tested), so skipping changes nothing but the cost.
 */
export const UNPROJECTED_TYPES: ReadonlySet<string> = new Set([
  'ResultCaptured',
  'TerminalOutput',
  'MaskedValueOpened',
  'InputRejected',
] satisfies LedgerRecord['type'][]);

const uniq = (xs: readonly string[]) => [...new Set(xs)].sort();

/**
 * project returns the mutations one ledger record makes, given its position. Records that feed
 * no read model (result rows, terminal output, the ledger's own InputRejected) give none.
 */
export function project(e: LedgerRecord, position: Position): ReadModelMutation[] {
  switch (e.type) {
    case 'SessionStarted': {
      const a = e.actor;
      const out: ReadModelMutation[] = [
        {
          kind: 'session-started',
          row: {
            sessionId: e.sessionId,
            issuer: a?.issuer ?? null,
            subject: a?.subject ?? null,
            email: a?.email ?? null,
            mfa: a?.mfa ?? null,
            sourceAddress: e.source.address,
            sourcePort: e.source.port,
            application: e.source.application,
            targetKind: e.target.kind,
            targetResource: e.target.resource,
            targetHost: e.target.host,
            targetDatabase: e.target.database,
            targetLogin: e.target.login,
            protocol: e.protocol,
            tls: e.tls,
            startedAt: e.occurredAt,
            endedAt: null,
            endReason: null,
            endErrorCode: null,
            commandCount: null,
            position,
          },
        },
      ];
      if (a) out.push({ kind: 'identity-seen', issuer: a.issuer, subject: a.subject, email: a.email, groups: uniq(a.groups), mfa: a.mfa, at: e.occurredAt });
      return out;
    }
    case 'SessionEnded':
      return [{ kind: 'session-ended', sessionId: e.sessionId, endedAt: e.occurredAt, reason: e.reason, errorCode: e.errorCode, commands: e.commands }];
    case 'CommandIssued':
      return [
        {
          kind: 'command-issued',
          row: {
            sessionId: e.sessionId,
            commandId: e.commandId,
            seq: e.seq,
            subject: e.actor?.subject ?? null,
            channel: e.channel,
            text: e.text,
            classes: [...e.classes],
            decision: e.decision,
            ruleId: e.ruleId,
            issuedAt: e.occurredAt,
            outcome: null,
            tag: null,
            rows: null,
            durationMicros: null,
            errorCode: null,
            position,
          },
        },
      ];
    case 'CommandCompleted':
      return [
        {
          kind: 'command-completed',
          sessionId: e.sessionId,
          commandId: e.commandId,
          outcome: e.outcome,
          tag: e.tag,
          rows: e.rows,
          durationMicros: e.durationMicros,
          errorCode: e.errorCode,
        },
      ];
    case 'CommandBlocked':
      return [
        {
          kind: 'command-blocked',
          row: {
            eventId: e.eventId,
            sessionId: e.sessionId,
            commandId: e.commandId,
            subject: e.actor?.subject ?? null,
            targetResource: e.target.resource,
            text: e.text,
            ruleId: e.ruleId,
            reason: e.reason,
            occurredAt: e.occurredAt,
            position,
          },
        },
      ];
    case 'ApprovalRequested':
      return [
        {
          kind: 'approval-requested',
          row: {
            requestId: e.requestId,
            sessionId: e.sessionId,
            commandId: e.commandId,
            requester: e.actor?.subject ?? null,
            text: e.text,
            ruleId: e.ruleId,
            reason: e.reason,
            approverGroups: [...e.approverGroups],
            requestedAt: e.occurredAt,
            expiresAt: e.expiresAt,
            status: 'pending',
            approver: null,
            justification: null,
            decidedAt: null,
            hasSignature: false,
            position,
            decisionPosition: null,
          },
        },
      ];
    case 'ApprovalDecided':
      return [
        {
          kind: 'approval-decided',
          eventId: e.eventId,
          requestId: e.requestId,
          status: e.decision,
          approver: e.approver?.subject ?? null,
          justification: e.justification,
          decidedAt: e.occurredAt,
          hasSignature: e.signature !== null,
          position,
        },
      ];
    case 'ApprovalRefused':
      return [
        {
          kind: 'approval-refused',
          row: {
            eventId: e.eventId,
            requestId: e.requestId,
            refusedEventId: e.refusedEventId,
            attemptedDecision: e.attemptedDecision,
            claimedApprover: e.claimedApprover?.subject ?? null,
            actor: e.actor?.subject ?? null,
            code: e.code,
            reason: e.reason,
            refusedBy: e.refusedBy,
            occurredAt: e.occurredAt,
            position,
          },
        },
      ];
    case 'DataMasked':
      return [
        {
          kind: 'data-masked',
          row: {
            eventId: e.eventId,
            sessionId: e.sessionId,
            commandId: e.commandId,
            subject: e.actor?.subject ?? null,
            count: e.count,
            truncated: e.truncated,
            columns: uniq(e.masks.map((m) => m.column)),
            rules: uniq(e.masks.map((m) => m.ruleId)),
            occurredAt: e.occurredAt,
            position,
          },
        },
      ];
    case 'AuthenticationFailed':
      return [
        {
          kind: 'authentication-failed',
          row: {
            eventId: e.eventId,
            sessionId: e.sessionId,
            code: e.code,
            reason: e.reason,
            claimedIssuer: e.claimedIssuer,
            claimedSubject: e.claimedSubject,
            tokenId: e.tokenId,
            sourceAddress: e.source.address,
            targetResource: e.target.resource,
            occurredAt: e.occurredAt,
            position,
          },
        },
      ];
    case 'ResultCaptured':
    case 'TerminalOutput':
    case 'MaskedValueOpened':
    case 'InputRejected':
      return [];
    default: {
      const never: never = e;
      throw new TypeError(`unhandled record type ${(never as { type: string }).type}`);
    }
  }
}
