import { commandDigest, signDecision } from '@affidavit/access';
import type { DecisionSigner, RecordRefusal } from '@affidavit/access';
import { isAffidavitError } from '@affidavit/common';
import type { Logger } from '@affidavit/common';
import type { Actor, ApprovalDecided, Feeder } from '@affidavit/schemas';
import type { ApprovalBook } from './approval-book.ts';

/** DecideRequest is what an approver asks of the accepting service. */
export type DecideRequest = { requestId: string; decision: 'approved' | 'denied'; justification: string; token: string };

/**
 * approvalDecisions is the accepting service of decisions (the CLI control endpoint until the
 * API exists). It MUST verify the approver's token, run the approval rules, and then sign the
 * decision with the decision key (never the ledger's) before publishing it; a decision the
 * rules refuse MUST be recorded as ApprovalRefused (refusedBy `service`, actor = the verified
 * approver) before the refusal is returned. The gate holding the statement checks it all again.
 */
export function approvalDecisions(deps: {
  book: ApprovalBook;
  verifyToken: (token: string) => Promise<Actor>;
  signer: DecisionSigner;
  publish: (e: ApprovalDecided) => Promise<void>;
  recordRefusal: RecordRefusal;
  newId: () => string;
  /** now is epoch milliseconds. */
  now: () => number;
  feeder: Feeder;
  logger?: Logger;
}): (r: DecideRequest) => Promise<{ requestId: string; decision: string; approver: string; eventId: string }> {
  return async ({ requestId, decision, justification, token }) => {
    const approver = await deps.verifyToken(token);
    const nowMs = deps.now();
    try {
      deps.book.check(requestId, approver, decision, justification, nowMs);
    } catch (e) {
      if (isAffidavitError(e)) {
        const req = deps.book.request(requestId);
        await deps.recordRefusal({
          requestId,
          refusedEventId: null,
          attemptedDecision: decision,
          claimedApprover: approver,
          code: e.code,
          reason: e.message,
          refusedBy: 'service',
          actor: approver,
          target: req?.target ?? null,
        });
        deps.logger?.warn({ requestId, decision, approver: approver.subject, code: e.code }, 'approval decision refused');
      }
      throw e;
    }
    const req = deps.book.request(requestId)!;
    const occurredAt = nowMs * 1000;
    const digest = commandDigest(req.text);
    const signature = await signDecision({ requestId, commandDigest: digest, decision, approver, justification, decidedAt: occurredAt }, deps.signer);
    const event: ApprovalDecided = {
      eventId: deps.newId(),
      type: 'ApprovalDecided',
      occurredAt,
      // The decision is the approver's own act: its own stream (the request id), not a seq in the requester's session.
      sessionId: requestId,
      seq: 0,
      actor: approver,
      source: { address: '127.0.0.1', port: null, application: 'affidavit-cli' },
      target: req.target,
      feeder: deps.feeder,
      requestId,
      decision,
      approver,
      justification,
      signature: Buffer.from(signature),
      commandDigest: digest,
    };
    await deps.publish(event);
    deps.book.apply(event);
    deps.logger?.info({ requestId, decision, approver: approver.subject }, 'approval decided');
    return { requestId, decision, approver: approver.subject, eventId: event.eventId };
  };
}
