// What the fold-split tests share: the period, a few times to tie on, the events a random step
// stands for, and the shape of a fold's outcome to compare (rows by kind, cites by position).
import { exampleEvent } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import type { FoldOutcome } from './run-fold.ts';

export const DAY = 86_400_000_000;
export const T0 = Date.UTC(2026, 10, 1) * 1000;
export const params = { from: T0, to: T0 + DAY, dormantDays: 30 };
/** TIMES are few, so ties across a cut are common: before the period (dormant look-back), in it, at its end. */
export const TIMES = [T0 - 40 * DAY, T0 - 1, T0, T0 + 5, T0 + 5, T0 + 9, T0 + DAY - 1, T0 + DAY];

/** Kind names the events a step can stand for. */
export type Kind = 'issue' | 'complete' | 'block' | 'request' | 'decide' | 'auth-failed' | 'rejected' | 'start' | 'mask';

type Env = { eventId: string; sessionId: string; seq: number; occurredAt: number } & Record<string, unknown>;

/** eventOf builds one event of `kind` on `env`; `pick` varies classes, decisions and the source. */
export function eventOf(kind: Kind, env: Env, o: { commandId: string; requestId: string; pick: number }): LedgerRecord {
  const { commandId, requestId, pick } = o;
  switch (kind) {
    case 'issue':
      return exampleEvent('CommandIssued', {
        ...env,
        commandId,
        text: 'x',
        classes: pick % 2 ? ['ddl'] : ['select'],
        decision: (['allow', 'deny', 'require_approval'] as const)[pick % 3],
      });
    case 'complete':
      return exampleEvent('CommandCompleted', { ...env, commandId });
    case 'block':
      return exampleEvent('CommandBlocked', { ...env, commandId });
    case 'request':
      return exampleEvent('ApprovalRequested', { ...env, commandId, requestId, text: 'x' });
    case 'decide':
      return exampleEvent('ApprovalDecided', { ...env, requestId, decision: pick % 2 ? 'approved' : 'denied' });
    case 'auth-failed':
      return exampleEvent('AuthenticationFailed', { ...env, actor: null, claimedSubject: 'mallory' });
    case 'rejected':
      return exampleEvent('InputRejected', { eventId: env.eventId, occurredAt: env.occurredAt });
    case 'start':
      // Out of order, or forged on the bus: the ledger appends it (flagged at most).
      return exampleEvent('SessionStarted', env);
    case 'mask':
      return exampleEvent('DataMasked', { ...env, commandId, source: { address: pick % 2 ? '' : '10.0.0.1', port: null, application: null } });
  }
}

/** shape is what two fold outcomes are compared on. */
export const shape = (o: FoldOutcome) => ({
  rows: o.drafts.map((d) => ({ kind: d.kind, cites: d.cites.map((c) => `${c.log}@${c.index}`), stats: d.stats ?? null })),
  spans: [...o.spans],
  maxCited: [...o.maxCited],
});
