import type { Actor, ApprovalDecided, ApprovalRequested, SessionEvent } from '@affidavit/schemas';
import { decide, evolve, initialState } from './approval-decider.ts';
import type { ApprovalFact, ApprovalState } from './approval-decider.ts';
import { commandDigest, signedDecisionOf, verifyDecisionSignature } from './decision-signature.ts';
import type { DecisionVerifier } from './decision-signature.ts';

/**
 * ApprovalBook folds the ApprovalRequested / ApprovalDecided events it is given (followApprovalBook
 * feeds it from the bus) into the state of each request (the approvals Decider), so a decision can be checked — separation of
 * duties, approver groups, expiry, once only — before it is signed and published. It folds
 * only approvals and denials signed by a trusted decision key: a forged ApprovalDecided on the
 * bus must not make a genuine approver's decision look like a second one. (Expiries are unsigned:
 * a forged one can hide a request from this book, never release it; the gate holding the
 * statement keeps its own state.)
 */
export class ApprovalBook {
  readonly #states = new Map<string, ApprovalState>();
  readonly #keys: readonly DecisionVerifier[];

  constructor(opts: { verifierKeys: readonly DecisionVerifier[] }) {
    this.#keys = opts.verifierKeys;
  }

  readonly #requests = new Map<string, ApprovalRequested>();

  /** apply folds one event (ignores other types). */
  apply(e: SessionEvent): void {
    if (e.type === 'ApprovalRequested') {
      const req = e as ApprovalRequested;
      this.#requests.set(req.requestId, req);
      this.#fold(req.requestId, {
        type: 'ApprovalRequested',
        request: {
          requestId: req.requestId,
          commandId: req.commandId,
          sessionId: req.sessionId,
          requester: req.actor ?? anonymous,
          text: req.text,
          ruleId: req.ruleId,
          reason: req.reason,
          approverGroups: req.approverGroups,
          requestedAt: req.occurredAt,
          expiresAt: req.expiresAt,
          commandDigest: commandDigest(req.text),
        },
      });
    } else if (e.type === 'ApprovalDecided') {
      const d = e as ApprovalDecided;
      const req = this.#requests.get(d.requestId);
      if (d.decision !== 'expired') {
        const signed = req ? signedDecisionOf(d, commandDigest(req.text)) : null;
        if (!signed || !verifyDecisionSignature(signed, d.signature, this.#keys).ok) return;
        // Signed is not enough: a correctly signed self-approval replayed onto the bus breaks the
        // rules too, and the gate refuses it. The book folds only what the gate would accept.
        try {
          decide(
            {
              type: 'DecideApproval',
              requestId: d.requestId,
              approver: d.approver!,
              decision: d.decision,
              justification: d.justification,
              now: d.occurredAt,
              commandDigest: d.commandDigest,
            },
            this.#states.get(d.requestId) ?? initialState(),
          );
        } catch {
          return;
        }
      }
      this.#fold(d.requestId, { type: 'ApprovalDecided', requestId: d.requestId, decision: d.decision, approver: d.approver, justification: d.justification });
    }
  }

  #fold(id: string, fact: ApprovalFact): void {
    this.#states.set(id, evolve(this.#states.get(id) ?? initialState(), fact));
  }

  /** request returns the ApprovalRequested event of an id. */
  request(id: string): ApprovalRequested | undefined {
    return this.#requests.get(id);
  }

  /**
   * check runs the approval rules for a decision and returns the resulting fact, or throws the
   * typed refusal (AFF_E_APPROVAL_SELF, _NOT_APPROVER, _DECIDED, _EXPIRED, _UNKNOWN, _JUSTIFICATION).
   */
  check(requestId: string, approver: Actor, decision: 'approved' | 'denied', justification: string, nowMs: number): ApprovalFact {
    const req = this.#requests.get(requestId);
    const digest = req ? commandDigest(req.text) : null;
    const [fact] = decide(
      { type: 'DecideApproval', requestId, approver, decision, justification, now: nowMs * 1000, commandDigest: digest },
      this.#states.get(requestId) ?? initialState(),
    );
    return fact;
  }
}

const anonymous: Actor = { issuer: '', subject: '(unknown)', email: null, groups: [], authMethods: [], acr: null, mfa: false, tokenId: null };
