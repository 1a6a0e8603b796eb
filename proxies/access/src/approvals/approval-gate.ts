import type { Actor } from '@affidavit/schemas';
import type { SessionRecording } from '../recording/recorder.ts';

/** Decision is how a held command ends. */
export type Decision = { decision: 'approved' | 'denied' | 'expired'; approver: Actor | null; justification: string };

/**
 * DecisionSource delivers ApprovalDecided events seen on the bus (whoever published them).
 * `subscribe` returns a function that stops the delivery.
 */
export type DecisionSource = {
  subscribe(listener: (d: { requestId: string } & Decision) => void): () => void;
};

/** HoldRequest describes the command to hold. */
export type HoldRequest = { commandId: string; text: string; ruleId: string; reason: string; approverGroups: string[] };

/**
 * ApprovalGate holds a command until a decision arrives.
 *
 * `hold` MUST record ApprovalRequested (acknowledged by the bus) before it tells the user the
 * request id, MUST resolve `approved` only for an ApprovalDecided event naming that id, and
 * MUST record ApprovalDecided(expired) and resolve `expired` when the timeout passes first.
 */
export class ApprovalGate {
  readonly #source: DecisionSource;
  readonly #newId: () => string;
  readonly #now: () => number;
  readonly #waiting = new Map<string, (d: Decision) => void>();
  readonly #unsubscribe: () => void;

  constructor(source: DecisionSource, deps: { newId: () => string; now: () => number }) {
    this.#source = source;
    this.#newId = deps.newId;
    this.#now = deps.now;
    this.#unsubscribe = this.#source.subscribe((d) => {
      const w = this.#waiting.get(d.requestId);
      if (w) w(d);
    });
  }

  /** pending returns the ids of requests waiting in this gate. */
  pending(): string[] {
    return [...this.#waiting.keys()];
  }

  /** hold records the request, calls `onPending(requestId)` and waits for the decision or the timeout. */
  async hold(session: SessionRecording, req: HoldRequest, opts: { timeoutMs: number; onPending?: (requestId: string) => void; signal?: AbortSignal }): Promise<Decision & { requestId: string }> {
    const requestId = this.#newId();
    const expiresAtMs = this.#now() + opts.timeoutMs;
    const decided = new Promise<Decision>((resolve) => {
      this.#waiting.set(requestId, resolve);
    });
    try {
      await session.record({ type: 'ApprovalRequested', requestId, commandId: req.commandId, text: req.text, ruleId: req.ruleId, reason: req.reason, approverGroups: req.approverGroups, expiresAt: expiresAtMs * 1000 }, { wait: true });
      opts.onPending?.(requestId);
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), opts.timeoutMs);
        opts.signal?.addEventListener('abort', () => resolve('timeout'), { once: true });
      });
      const first = await Promise.race([decided, expired]);
      clearTimeout(timer);
      if (first !== 'timeout') return { requestId, ...first };
      const outcome: Decision = { decision: 'expired', approver: null, justification: opts.signal?.aborted ? 'the session ended before a decision' : 'no decision before the deadline' };
      await session.record({ type: 'ApprovalDecided', requestId, decision: 'expired', approver: null, justification: outcome.justification, signature: null }, { wait: false });
      return { requestId, ...outcome };
    } finally {
      this.#waiting.delete(requestId);
    }
  }

  /** close stops listening for decisions. */
  close(): void {
    this.#unsubscribe();
  }
}
