// Follows each privileged command of the period to its outcome: blocked, completed, or held for
// approval and decided. Shared by AC-2 (privileged use) and AC-6(9) (privileged functions logged).
import { privilegedBecause } from './claims.ts';
import type { DraftRow } from './fold.ts';
import type { CitedEntry } from './model.ts';
import type { Pick } from './projection.ts';

/** PRIVILEGED_FIELDS are the fields privilegedTracker reads. */
export const PRIVILEGED_FIELDS: Pick = { sessionId: true, commandId: true, requestId: true, classes: true, decision: true, ruleId: true };

export function privilegedTracker() {
  const commands = new Map<string, CitedEntry[]>();
  const byRequest = new Map<string, CitedEntry[]>();
  return {
    add(e: CitedEntry, inPeriod: boolean): void {
      const r = e.record;
      if (r.type === 'InputRejected') return;
      if (r.type === 'CommandIssued') {
        if (inPeriod && privilegedBecause(r) !== null) commands.set(`${r.sessionId}\u0000${r.commandId}`, [e]);
        return;
      }
      if (r.type === 'ApprovalDecided') {
        const held = byRequest.get(r.requestId);
        // Only the first decision counts, as at the gate; later attempts are refused there.
        if (held && !held.some((c) => c.record.type === 'ApprovalDecided')) held.push(e);
        return;
      }
      if (r.type === 'CommandBlocked' || r.type === 'CommandCompleted' || r.type === 'ApprovalRequested') {
        const cites = commands.get(`${r.sessionId}\u0000${r.commandId}`);
        if (!cites) return;
        cites.push(e);
        if (r.type === 'ApprovalRequested') byRequest.set(r.requestId, cites);
      }
    },
    rows(): DraftRow[] {
      return [...commands.values()].map((cites) => ({ kind: 'privileged-command' as const, cites }));
    },
  };
}
