import type { Bus, Subscription } from '@affidavit/bus';
import { commandDigest, decide, evolve, initialState, signedDecisionOf, verifyDecisionSignature } from '@affidavit/access';
import type { ApprovalFact, ApprovalState, DecisionVerifier } from '@affidavit/access';
import { codec, TOPICS } from '@affidavit/schemas';
import type { Actor, ApprovalDecided, ApprovalRequested, SessionEvent } from '@affidavit/schemas';

/** PendingApproval is what `affidavit approvals list` shows. */
export type PendingApproval = {
  requestId: string;
  sessionId: string;
  requester: string;
  text: string;
  ruleId: string;
  reason: string;
  approverGroups: string[];
  expiresAt: string;
};

/**
 * ApprovalBook folds the ApprovalRequested / ApprovalDecided events seen on the bus into the
 * state of each request (the approvals Decider), so a decision can be checked — separation of
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
  #sub?: Subscription;

  /** follow subscribes to the session-events topic (or `topic`) in a group of its own. */
  async follow(bus: Bus, group: string, topic: string = TOPICS.sessionEvents): Promise<void> {
    this.#sub = await bus.subscribe({
      group,
      topics: [topic],
      handler: async (batch) => {
        for (const r of batch.records) {
          const t = r.headers.type?.toString();
          if (t !== undefined && t !== 'ApprovalRequested' && t !== 'ApprovalDecided') continue;
          let e: SessionEvent;
          try {
            e = codec().decode(r.value) as SessionEvent;
          } catch {
            continue;
          }
          this.apply(e);
        }
      },
    });
  }

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

  /** pending lists requests still waiting, oldest first (expired ones are left out). */
  pending(nowMs: number): PendingApproval[] {
    const out: PendingApproval[] = [];
    for (const [id, st] of this.#states) {
      if (st.status !== 'pending' || st.request.expiresAt <= nowMs * 1000) continue;
      const req = this.#requests.get(id)!;
      out.push({
        requestId: id,
        sessionId: req.sessionId,
        requester: req.actor?.subject ?? '(unknown)',
        text: req.text,
        ruleId: req.ruleId,
        reason: req.reason,
        approverGroups: req.approverGroups,
        expiresAt: new Date(req.expiresAt / 1000).toISOString(),
      });
    }
    return out;
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

  /** close stops following the bus. */
  async close(): Promise<void> {
    await this.#sub?.close();
  }
}

const anonymous: Actor = { issuer: '', subject: '(unknown)', email: null, groups: [], authMethods: [], acr: null, mfa: false, tokenId: null };
