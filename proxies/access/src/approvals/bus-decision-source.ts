import type { Bus, BusBatch, Subscription } from '@affidavit/bus';
import { codec as defaultCodec, TOPICS } from '@affidavit/schemas';
import type { ApprovalDecided, EventCodec } from '@affidavit/schemas';
import type { DecisionSource, ReceivedDecision } from './approval-gate.ts';

/** decisionsIn picks the ApprovalDecided events out of a batch; other events are skipped by header without decoding. */
export function decisionsIn(batch: BusBatch, codec: EventCodec): ReceivedDecision[] {
  const out: ReceivedDecision[] = [];
  for (const r of batch.records) {
    const type = r.headers.type?.toString();
    if (type !== undefined && type !== 'ApprovalDecided') continue;
    try {
      const e = codec.decode(r.value);
      if (e.type !== 'ApprovalDecided') continue;
      const d = e as ApprovalDecided;
      out.push({
        requestId: d.requestId,
        eventId: d.eventId,
        occurredAt: d.occurredAt,
        decision: d.decision,
        approver: d.approver,
        justification: d.justification,
        signature: d.signature,
        commandDigest: d.commandDigest,
      });
    } catch {
      // Not ours to judge: the ledger records undecodable input; a proxy only waits for decisions.
    }
  }
  return out;
}

/**
 * busDecisionSource delivers ApprovalDecided events from the session-events topic. Each proxy
 * instance reads every partition in its own consumer group, starting at the end of the log
 * (a decision for a request it holds is always published after it subscribed).
 */
export async function busDecisionSource(
  bus: Bus,
  opts: { instanceId: string; topic?: string; codec?: EventCodec },
): Promise<DecisionSource & { close(): Promise<void> }> {
  const listeners = new Set<(d: ReceivedDecision) => void>();
  const codec = opts.codec ?? defaultCodec();
  const sub: Subscription = await bus.subscribe({
    group: `affidavit-approvals-${opts.instanceId}`,
    topics: [opts.topic ?? TOPICS.sessionEvents],
    handler: async (batch) => {
      for (const d of decisionsIn(batch, codec)) for (const l of listeners) l(d);
    },
  });
  return {
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close: () => sub.close(),
  };
}
