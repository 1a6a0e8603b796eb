import { isAffidavitError } from '@affidavit/common';
import type { Actor, ApprovalDecided, ApprovalRefused, ApprovalRequested, LedgerRecord } from '@affidavit/schemas';
import { decide, evolve, initialState } from './approval-decider.ts';
import type { ApprovalState } from './approval-decider.ts';
import { commandDigest, signedDecisionOf, verifyDecisionSignature } from './decision-signature.ts';
import type { DecisionVerifier } from './decision-signature.ts';

/** DecisionFinding is one ApprovalDecided event that does not hold up. */
export type DecisionFinding = { eventId: string; requestId: string; problem: string };

/** ApprovalDecisionsReport is what verifyApprovalDecisions found. */
export type ApprovalDecisionsReport = {
  ok: boolean;
  /** decisions counts every ApprovalDecided event. */
  decisions: number;
  /** valid counts approvals and denials signed by a trusted key that took effect. */
  valid: number;
  /** refused counts ApprovalDecided events an ApprovalRefused names (forgeries and rule breaches, shown refused). */
  refused: number;
  /** expiries counts expiries, which the holding proxy records unsigned. */
  expiries: number;
  problems: DecisionFinding[];
};

const anonymous: Actor = { issuer: '', subject: '(unknown)', email: null, groups: [], authMethods: [], acr: null, mfa: false, tokenId: null };

/**
 * verifyApprovalDecisions checks, offline, every ApprovalDecided among `records` (in ledger
 * order) with the trusted decision keys. An approval or denial MUST either carry a valid
 * signature over its canonical decision — the command digest taken from its ApprovalRequested —
 * and pass the approval rules replayed from the ledger (approver ≠ requester, approver in the
 * groups, before expiry, first decision), or be named by an ApprovalRefused (a refused attempt,
 * which released nothing). Anything else is a problem: a decision that looks effective but
 * nobody trusted signed, or that broke a rule and was not refused.
 */
export function verifyApprovalDecisions(records: Iterable<LedgerRecord>, keys: readonly DecisionVerifier[]): ApprovalDecisionsReport {
  const requests = new Map<string, ApprovalRequested>();
  const refusedIds = new Set<string>();
  const decided: ApprovalDecided[] = [];
  for (const r of records) {
    if (r.type === 'ApprovalRequested') requests.set(r.requestId, r);
    else if (r.type === 'ApprovalRefused') {
      const refusal = r as ApprovalRefused;
      if (refusal.refusedEventId !== null) refusedIds.add(refusal.refusedEventId);
    } else if (r.type === 'ApprovalDecided') decided.push(r);
  }
  const states = new Map<string, ApprovalState>();
  const report: ApprovalDecisionsReport = { ok: true, decisions: decided.length, valid: 0, refused: 0, expiries: 0, problems: [] };
  const problem = (d: ApprovalDecided, text: string) => report.problems.push({ eventId: d.eventId, requestId: d.requestId, problem: text });

  for (const d of decided) {
    if (refusedIds.has(d.eventId)) {
      report.refused++;
      continue;
    }
    const req = requests.get(d.requestId);
    if (!req) {
      problem(d, 'no ApprovalRequested with this request id in the ledger, and no refusal recorded');
      continue;
    }
    const state = states.get(d.requestId) ?? evolve(initialState(), { type: 'ApprovalRequested', request: requestOf(req) });
    if (d.decision === 'expired') {
      if (d.approver !== null) problem(d, 'an expiry names an approver');
      else report.expiries++;
      states.set(
        d.requestId,
        evolve(state, { type: 'ApprovalDecided', requestId: d.requestId, decision: 'expired', approver: null, justification: d.justification }),
      );
      continue;
    }
    const signed = signedDecisionOf(d, commandDigest(req.text));
    const check = signed ? verifyDecisionSignature(signed, d.signature, keys) : { ok: false as const, reason: 'the decision names no approver' };
    if (!check.ok) {
      problem(d, `${check.reason}, and no refusal recorded`);
      continue;
    }
    try {
      const facts = decide(
        {
          type: 'DecideApproval',
          requestId: d.requestId,
          approver: d.approver!,
          decision: d.decision,
          justification: d.justification,
          now: d.occurredAt,
          commandDigest: d.commandDigest,
        },
        state,
      );
      states.set(d.requestId, facts.reduce(evolve, state));
      report.valid++;
    } catch (e) {
      if (!isAffidavitError(e)) throw e;
      problem(d, `signed, but breaks an approval rule and no refusal recorded: ${e.message} (${e.code})`);
    }
  }
  report.ok = report.problems.length === 0;
  return report;
}

function requestOf(r: ApprovalRequested) {
  return {
    requestId: r.requestId,
    commandId: r.commandId,
    sessionId: r.sessionId,
    requester: r.actor ?? anonymous,
    text: r.text,
    ruleId: r.ruleId,
    reason: r.reason,
    approverGroups: r.approverGroups,
    requestedAt: r.occurredAt,
    expiresAt: r.expiresAt,
    commandDigest: commandDigest(r.text),
  };
}
