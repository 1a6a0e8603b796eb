import type { Actor, Target } from '@affidavit/schemas';
import { isAffidavitError } from '@affidavit/common';
import type { Logger } from '@affidavit/common';
import type { SessionRecording } from '../recording/recorder.ts';
import { decide, evolve, initialState } from './approval-decider.ts';
import type { ApprovalFact, ApprovalRequest, ApprovalState } from './approval-decider.ts';
import { commandDigest, signedDecisionOf, verifyDecisionSignature } from './decision-signature.ts';
import type { DecisionVerifier } from './decision-signature.ts';
import { DecisionSignatureError, UnknownApprovalError } from './errors.ts';
import type { RecordRefusal } from './refusal-recorder.ts';

/** Decision is how a held command ends. */
export type Decision = { decision: 'approved' | 'denied' | 'expired'; approver: Actor | null; justification: string };

/**
 * ReceivedDecision is an ApprovalDecided event as a DecisionSource delivers it: claims, not yet
 * trusted. `eventId` is null only for a decision that never was an event (tests).
 */
export type ReceivedDecision = Decision & {
  requestId: string;
  eventId: string | null;
  occurredAt: number;
  signature: Uint8Array | null;
  commandDigest: string | null;
};

/**
 * DecisionSource delivers ApprovalDecided events seen on the bus (whoever published them).
 * `subscribe` returns a function that stops the delivery.
 */
export type DecisionSource = {
  subscribe(listener: (d: ReceivedDecision) => void): () => void;
};

/** HoldRequest describes the command to hold. */
export type HoldRequest = { commandId: string; text: string; ruleId: string; reason: string; approverGroups: string[] };

/** ApprovalGateDeps are the gate's collaborators. */
export type ApprovalGateDeps = {
  newId: () => string;
  /** now is epoch milliseconds. */
  now: () => number;
  /** verifierKeys are the decision keys trusted; with none, nothing is ever released (fail closed). */
  verifierKeys: readonly DecisionVerifier[];
  /** recordRefusal records each refused attempt (an ApprovalRefused event). */
  recordRefusal: RecordRefusal;
  /**
   * recordUnknownRequests also records decisions naming a request this gate never held. Only
   * where one gate sees every request (embedded mode): with several proxies on one topic, each
   * would record the others' requests as unknown.
   */
  recordUnknownRequests?: boolean;
  /** retainFinished is how many decided requests are remembered, so late or second decisions are recorded as refused. */
  retainFinished?: number;
  logger?: Logger;
};

type Entry = { state: ApprovalState; digest: string; target: Target; release?: () => void };

const DEFAULT_RETAIN_FINISHED = 10_000;
const anonymous: Actor = { issuer: '', subject: '(unknown)', email: null, groups: [], authMethods: [], acr: null, mfa: false, tokenId: null };

/**
 * ApprovalGate holds a command until a valid decision arrives. The rules are enforced here,
 * where the statement is held, not (only) where decisions are accepted: whoever can write to
 * the topic can publish an ApprovalDecided.
 *
 * `hold` MUST record ApprovalRequested (acknowledged by the bus) before it tells the user the
 * request id. The gate MUST release a statement only for a decision that (1) carries a
 * signature by one of `verifierKeys` over the canonical decision of this request id and this
 * request's command digest, and (2) passes the approval decider against the request as this
 * gate recorded it: approver ≠ requester (issuer+subject), approver in the rule's groups, not
 * expired, decided once, naming this statement's digest, justified. Any other decision MUST be ignored (the statement stays
 * held) and recorded as ApprovalRefused naming the rule it broke. When the timeout passes first
 * it MUST record ApprovalDecided(expired) and resolve `expired`.
 */
export class ApprovalGate {
  readonly #deps: ApprovalGateDeps;
  readonly #entries = new Map<string, Entry>();
  readonly #finished: string[] = [];
  readonly #inflight = new Set<Promise<void>>();
  readonly #unsubscribe: () => void;

  constructor(source: DecisionSource, deps: ApprovalGateDeps) {
    this.#deps = deps;
    if (deps.verifierKeys.length === 0) deps.logger?.warn('no decision-verifier key configured: held statements can only expire or be cancelled');
    this.#unsubscribe = source.subscribe((d) => this.#receive(d));
  }

  /** pending returns the ids of requests waiting in this gate. */
  pending(): string[] {
    return [...this.#entries].filter(([, e]) => e.state.status === 'pending').map(([id]) => id);
  }

  /** hold records the request, calls `onPending(requestId)` and waits for a valid decision or the timeout. */
  async hold(
    session: SessionRecording,
    req: HoldRequest,
    opts: { timeoutMs: number; onPending?: (requestId: string) => void; signal?: AbortSignal },
  ): Promise<Decision & { requestId: string }> {
    const requestId = this.#deps.newId();
    const nowMs = this.#deps.now();
    const expiresAtMs = nowMs + opts.timeoutMs;
    const envelope = session.envelope();
    const request: ApprovalRequest = {
      requestId,
      commandId: req.commandId,
      sessionId: envelope.sessionId,
      requester: envelope.actor ?? anonymous,
      text: req.text,
      ruleId: req.ruleId,
      reason: req.reason,
      approverGroups: [...req.approverGroups],
      requestedAt: nowMs * 1000,
      expiresAt: expiresAtMs * 1000,
      commandDigest: commandDigest(req.text),
    };
    const entry: Entry = {
      state: fold(initialState(), decide({ type: 'RequestApproval', request }, initialState())),
      digest: request.commandDigest!,
      target: envelope.target,
    };
    const released = new Promise<void>((resolve) => (entry.release = resolve));
    this.#entries.set(requestId, entry);
    let timer: NodeJS.Timeout | undefined;
    try {
      await session.record(
        {
          type: 'ApprovalRequested',
          requestId,
          commandId: req.commandId,
          text: req.text,
          ruleId: req.ruleId,
          reason: req.reason,
          approverGroups: req.approverGroups,
          expiresAt: expiresAtMs * 1000,
        },
        { wait: true },
      );
      opts.onPending?.(requestId);
      // The state is the one truth: whichever of a valid decision and the deadline changes it
      // first wins, synchronously, so a decision arriving as the timer fires cannot also win.
      const expire = (justification: string) => {
        if (entry.state.status !== 'pending') return;
        entry.state = evolve(entry.state, { type: 'ApprovalDecided', requestId, decision: 'expired', approver: null, justification });
        entry.release?.();
      };
      timer = setTimeout(() => expire('no decision before the deadline'), opts.timeoutMs);
      const onAbort = () => expire('the session ended before a decision');
      if (opts.signal?.aborted) onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      await released;
      opts.signal?.removeEventListener('abort', onAbort);
      const st = entry.state;
      if (st.status === 'approved' || st.status === 'denied') return { requestId, decision: st.status, approver: st.approver, justification: st.justification };
      const justification = st.status === 'expired' ? st.justification : 'no decision before the deadline';
      await session.record(
        { type: 'ApprovalDecided', requestId, decision: 'expired', approver: null, justification, signature: null, commandDigest: null },
        { wait: false },
      );
      return { requestId, decision: 'expired', approver: null, justification };
    } finally {
      clearTimeout(timer);
      entry.release = undefined;
      // A request that could not even be recorded was never visible: forget it at once.
      if (entry.state.status === 'pending') this.#entries.delete(requestId);
      else this.#retire(requestId);
    }
  }

  /** settled resolves once every refusal recorded so far is acknowledged (or failed and was logged). */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  /** close stops listening for decisions. */
  close(): void {
    this.#unsubscribe();
  }

  #retire(requestId: string): void {
    this.#finished.push(requestId);
    const keep = this.#deps.retainFinished ?? DEFAULT_RETAIN_FINISHED;
    while (this.#finished.length > keep) this.#entries.delete(this.#finished.shift()!);
  }

  #receive(d: ReceivedDecision): void {
    const entry = this.#entries.get(d.requestId);
    if (!entry) {
      if (this.#deps.recordUnknownRequests) this.#refuse(d, null, UnknownApprovalError.code, `no approval request ${d.requestId} is held by this proxy`);
      return;
    }
    if (d.decision === 'expired') {
      // The gate's own expiry comes back from the bus: nothing to do. Anyone else's is a forgery.
      if (entry.state.status === 'expired' && d.approver === null) return;
      this.#refuse(d, entry, DecisionSignatureError.code, 'an expiry is decided only by the proxy holding the request, never by a message');
      return;
    }
    const signed = signedDecisionOf(d, entry.digest);
    const check = signed
      ? verifyDecisionSignature(signed, d.signature, this.#deps.verifierKeys)
      : { ok: false as const, reason: 'a decision names no approver' };
    if (!check.ok) {
      this.#refuse(d, entry, DecisionSignatureError.code, check.reason);
      return;
    }
    let facts: ApprovalFact[];
    try {
      facts = decide(
        {
          type: 'DecideApproval',
          requestId: d.requestId,
          approver: d.approver!,
          decision: d.decision,
          justification: d.justification,
          now: this.#deps.now() * 1000,
          commandDigest: d.commandDigest,
        },
        entry.state,
      );
    } catch (e) {
      if (!isAffidavitError(e)) throw e;
      this.#refuse(d, entry, e.code, e.message);
      return;
    }
    entry.state = facts.reduce(evolve, entry.state);
    this.#deps.logger?.info(
      { requestId: d.requestId, decision: d.decision, approver: d.approver?.subject, keyName: check.keyName },
      'approval decision accepted',
    );
    entry.release?.();
  }

  #refuse(d: ReceivedDecision, entry: Entry | null, code: string, reason: string): void {
    this.#deps.logger?.warn({ requestId: d.requestId, eventId: d.eventId, code, reason, claimedApprover: d.approver?.subject }, 'approval decision refused');
    const p = this.#deps
      .recordRefusal({
        requestId: d.requestId,
        refusedEventId: d.eventId,
        attemptedDecision: d.decision,
        claimedApprover: d.approver,
        code,
        reason,
        refusedBy: 'gate',
        actor: null,
        target: entry?.target ?? null,
      })
      .catch((err: unknown) => this.#deps.logger?.error({ err, requestId: d.requestId, code }, 'could not record a refused approval decision'))
      .finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }
}

const fold = (s: ApprovalState, facts: ApprovalFact[]) => facts.reduce(evolve, s);
