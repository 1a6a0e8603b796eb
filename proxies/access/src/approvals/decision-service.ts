import { isAffidavitError } from '@affidavit/common';
import type { AffidavitError, Logger } from '@affidavit/common';
import type { Actor, ApprovalDecided, Feeder, Source } from '@affidavit/schemas';
import type { ApprovalBook } from './approval-book.ts';
import { commandDigest, signDecision } from './decision-signature.ts';
import type { DecisionSigner } from './decision-signature.ts';
import type { RecordRefusal } from './refusal-recorder.ts';

/** DecisionRequest is one approver's decision, the approver already verified by the caller (the API). */
export type DecisionRequest = {
  readonly requestId: string;
  readonly decision: 'approved' | 'denied';
  readonly justification: string;
  /** approver is the verified identity of who decides (never taken from the request's arguments). */
  readonly approver: Actor;
};

/** DecisionAccepted is what was signed and published; `decidedAt` is epoch milliseconds. */
export type DecisionAccepted = { readonly requestId: string; readonly decision: 'approved' | 'denied'; readonly decidedAt: number; readonly eventId: string };

/** ApprovalDecisionService accepts decisions and records the refused ones. */
export type ApprovalDecisionService = {
  /**
   * decide runs the approval rules against the book, then signs and publishes the decision;
   * a decision the rules refuse resolves to `{ error }` (AFF_E_APPROVAL_*) once its
   * ApprovalRefused is recorded.
   */
  decide(r: DecisionRequest): Promise<DecisionAccepted | { readonly error: AffidavitError }>;
  /**
   * refused records an attempt the caller refused before the rules ran (an API caller without
   * the approver role), so every attempt to decide is on the record.
   */
  refused(r: DecisionRequest, error: AffidavitError): Promise<void>;
};

/** ApprovalDecisionDeps are the service's ports. */
export type ApprovalDecisionDeps = {
  readonly book: ApprovalBook;
  readonly signer: DecisionSigner;
  /** publish MUST NOT resolve before the event is durably recorded: the approver is told only what is on the record. */
  readonly publish: (e: ApprovalDecided) => Promise<void>;
  readonly recordRefusal: RecordRefusal;
  readonly newId: () => string;
  /** now is epoch milliseconds. */
  readonly now: () => number;
  readonly feeder: Feeder;
  /** source names the accepting service in the envelope of each decision. */
  readonly source: Source;
  readonly logger?: Logger;
};

/**
 * approvalDecisionService is the accepting service of decisions. It MUST run the approval rules
 * (separation of duties, approver group, expiry, decided once) on the book's state and then sign
 * the decision with the decision key (never the ledger's) before publishing it; a refused
 * decision MUST be recorded as ApprovalRefused (refusedBy `service`, actor = the verified
 * approver) before the refusal is returned. The gate holding the statement checks it all again.
 */
export function approvalDecisionService(deps: ApprovalDecisionDeps): ApprovalDecisionService {
  // Decisions on one request run one after the other: the rules are checked on the book, then
  // signing and publishing await, and only then is the decision folded. Two requests arriving
  // together would otherwise both pass the check and both be published (approved AND denied).
  const queues = new Map<string, Promise<void>>();
  async function serially<T>(requestId: string, task: () => Promise<T>): Promise<T> {
    const previous = queues.get(requestId) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = previous.then(() => mine);
    queues.set(requestId, tail);
    try {
      await previous;
      return await task();
    } finally {
      release();
      if (queues.get(requestId) === tail) queues.delete(requestId);
    }
  }

  async function refused(r: DecisionRequest, e: AffidavitError): Promise<void> {
    const req = deps.book.request(r.requestId);
    await deps.recordRefusal({
      requestId: r.requestId,
      refusedEventId: null,
      attemptedDecision: r.decision,
      claimedApprover: r.approver,
      code: e.code,
      reason: e.message,
      refusedBy: 'service',
      actor: r.approver,
      target: req?.target ?? null,
    });
    deps.logger?.warn({ requestId: r.requestId, decision: r.decision, approver: r.approver.subject, code: e.code }, 'approval decision refused');
  }

  return {
    refused,
    decide: (r) => serially(r.requestId, () => decideNow(r)),
  };

  async function decideNow(r: DecisionRequest): Promise<DecisionAccepted | { readonly error: AffidavitError }> {
    const { requestId, decision, justification, approver } = r;
    const nowMs = deps.now();
    try {
      deps.book.check(requestId, approver, decision, justification, nowMs);
    } catch (e) {
      if (!isAffidavitError(e)) throw e;
      await refused(r, e);
      return { error: e };
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
      source: deps.source,
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
    return { requestId, decision, decidedAt: nowMs, eventId: event.eventId };
  }
}
