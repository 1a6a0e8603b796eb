// The evidence tests' story, as ledger events: carol used demo 40 days before the period; in
// it alice (MFA) ran a DDL that was held and approved with a signed decision, bob (no MFA, no
// groups) had a DDL blocked and an event recorded without a source address; mallory failed to log in.
import { EXAMPLE_ACTOR, exampleEvent } from '@affidavit/schemas';
import type { ApprovalRequested, LedgerRecord } from '@affidavit/schemas';
import type { ReportRequest } from './adapters/ledger-report.ts';
import { decisionVerifier, ledgerSigner, ledgerVerifier, signed } from './test-support.ts';

export const DAY = 86_400_000_000;
export const T0 = Date.UTC(2026, 10, 1) * 1000; // period start, microseconds
let n = 0;
const eid = () => `0190a5d0-0000-7000-9000-${String(++n).padStart(12, '0')}`;
const sid = (k: number) => `0190a5d0-0000-7000-8000-${String(k).padStart(12, '0')}`;
const actor = (subject: string, groups: string[], mfa: boolean) => ({
  ...EXAMPLE_ACTOR,
  subject,
  groups,
  mfa,
  authMethods: mfa ? ['pwd', 'otp'] : ['pwd'],
});

/** story: carol used demo 40 days before the period; alice (MFA) and bob (no MFA) in it; one DDL held and approved, one blocked, one failed login, one event without a source. */
export async function story(): Promise<LedgerRecord[]> {
  const alice = actor('alice', ['analysts'], true);
  const bob = actor('bob', [], false);
  const carol = actor('carol', ['analysts'], true);
  const out: LedgerRecord[] = [];
  out.push(exampleEvent('SessionStarted', { eventId: eid(), sessionId: sid(1), occurredAt: T0 - 40 * DAY, actor: carol }));
  out.push(exampleEvent('SessionStarted', { eventId: eid(), sessionId: sid(2), seq: 0, occurredAt: T0 + 1000, actor: alice }));
  out.push(
    exampleEvent('CommandIssued', { eventId: eid(), sessionId: sid(2), seq: 1, occurredAt: T0 + 2000, actor: alice, commandId: 'a1', text: 'select 1' }),
  );
  out.push(
    exampleEvent('CommandIssued', {
      eventId: eid(),
      sessionId: sid(2),
      seq: 2,
      occurredAt: T0 + 3000,
      actor: alice,
      commandId: 'a2',
      text: 'alter table t add c int',
      classes: ['ddl'],
      decision: 'require_approval',
      ruleId: 'hold-ddl',
    }),
  );
  const req = exampleEvent('ApprovalRequested', {
    eventId: eid(),
    sessionId: sid(2),
    seq: 3,
    occurredAt: T0 + 3100,
    actor: alice,
    requestId: 'r1',
    commandId: 'a2',
    text: 'alter table t add c int',
  }) as ApprovalRequested;
  out.push(req);
  out.push(
    await signed(
      exampleEvent('ApprovalDecided', {
        eventId: eid(),
        sessionId: sid(2),
        seq: 4,
        occurredAt: T0 + 5000,
        actor: alice,
        requestId: 'r1',
        decision: 'approved',
        approver: actor('dave', ['approvers'], true),
        justification: 'ticket 7',
      }),
      req,
    ),
  );
  out.push(
    exampleEvent('CommandCompleted', { eventId: eid(), sessionId: sid(2), seq: 5, occurredAt: T0 + 6000, actor: alice, commandId: 'a2', tag: 'ALTER TABLE' }),
  );
  out.push(exampleEvent('SessionStarted', { eventId: eid(), sessionId: sid(3), seq: 0, occurredAt: T0 + 7000, actor: bob }));
  out.push(
    exampleEvent('CommandIssued', {
      eventId: eid(),
      sessionId: sid(3),
      seq: 1,
      occurredAt: T0 + 8000,
      actor: bob,
      commandId: 'b1',
      text: 'drop table t',
      classes: ['ddl'],
      decision: 'deny',
      ruleId: 'no-ddl',
    }),
  );
  out.push(exampleEvent('CommandBlocked', { eventId: eid(), sessionId: sid(3), seq: 2, occurredAt: T0 + 8100, actor: bob, commandId: 'b1' }));
  out.push(
    exampleEvent('DataMasked', {
      eventId: eid(),
      sessionId: sid(3),
      seq: 3,
      occurredAt: T0 + 8200,
      actor: bob,
      commandId: 'b0',
      source: { address: '', port: null, application: null },
    }),
  );
  out.push(
    exampleEvent('AuthenticationFailed', {
      eventId: eid(),
      sessionId: sid(4),
      occurredAt: T0 + 9000,
      actor: null,
      claimedSubject: 'mallory',
      code: 'AFF_E_AUTH_TOKEN_EXPIRED',
      reason: 'token expired',
    }),
  );
  out.push(exampleEvent('SessionEnded', { eventId: eid(), sessionId: sid(3), seq: 4, occurredAt: T0 + 10_000, actor: bob }));
  // After the period: not reported.
  out.push(exampleEvent('SessionStarted', { eventId: eid(), sessionId: sid(5), occurredAt: T0 + 2 * DAY, actor: carol }));
  return out;
}

/** storyRequest asks for `control`'s report over the story's day, checked with the test keys and attested, at a fixed time. */
export const storyRequest = (control: string): ReportRequest => ({
  control,
  from: new Date(T0 / 1000),
  to: new Date(T0 / 1000 + 86_400_000),
  key: ledgerVerifier,
  decisionKeys: [decisionVerifier],
  signer: ledgerSigner,
  now: () => new Date('2026-12-01T00:00:00Z'),
});
