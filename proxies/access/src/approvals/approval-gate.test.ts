import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEvent, EXAMPLE_ACTOR, exampleEvent } from '@affidavit/schemas';
import type { Actor, SessionEvent } from '@affidavit/schemas';
import { Recorder } from '../recording/recorder.ts';
import type { EncodedEvent } from '../recording/event-sink.ts';
import { ApprovalGate } from './approval-gate.ts';
import type { DecisionSource, ReceivedDecision } from './approval-gate.ts';
import { commandDigest, signDecision } from './decision-signature.ts';
import type { DecisionSigner } from './decision-signature.ts';
import { testDecisionKey } from './decision-signature-test-keys.ts';
import type { Refusal } from './refusal-recorder.ts';

class MemoryDecisions implements DecisionSource {
  listeners = new Set<(d: ReceivedDecision) => void>();
  subscribe(l: (d: ReceivedDecision) => void) {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }
  emit(d: ReceivedDecision) {
    for (const l of this.listeners) l(d);
  }
}

const service = testDecisionKey(7);
const intruder = testDecisionKey(9);
const alice = EXAMPLE_ACTOR; // the requester (the session's actor)
const bob: Actor = { ...EXAMPLE_ACTOR, subject: 'bob', email: 'bob@example.com', groups: ['approvers'], tokenId: 'jti-bob' };
const carol: Actor = { ...EXAMPLE_ACTOR, subject: 'carol', email: 'carol@example.com', groups: ['analysts'], tokenId: 'jti-carol' };
const hold = { commandId: 'c1', text: 'delete from customers', ruleId: 'hold-writes', reason: 'writes need approval', approverGroups: ['approvers'] };
let eventNo = 0;

/** decision builds a decision as the accepting service would sign it (or as a forger would). */
async function decision(
  requestId: string,
  o: { approver?: Actor | null; decision?: 'approved' | 'denied'; text?: string; signer?: DecisionSigner | null; justification?: string; at?: number } = {},
): Promise<ReceivedDecision> {
  const approver = o.approver === undefined ? bob : o.approver;
  const d = {
    requestId,
    eventId: `ev-${++eventNo}`,
    occurredAt: o.at ?? Date.now() * 1000,
    decision: o.decision ?? 'approved',
    approver,
    justification: o.justification ?? 'ticket 42',
    signature: null as Uint8Array | null,
    commandDigest: commandDigest(o.text ?? hold.text) as string | null,
  };
  const signer = o.signer === undefined ? service.signer : o.signer;
  if (signer && approver) {
    d.signature = await signDecision(
      { requestId, commandDigest: commandDigest(o.text ?? hold.text), decision: d.decision, approver, justification: d.justification, decidedAt: d.occurredAt },
      signer,
    );
  }
  return d;
}

function setup(opts: { keys?: 'none'; recordUnknownRequests?: boolean; now?: () => number } = {}) {
  const published: EncodedEvent[] = [];
  const recorder = new Recorder({ publish: async (e) => void published.push(...e) }, { mode: 'sync' }, { clock: { now: () => Date.now() } });
  const base = exampleEvent('CommandIssued');
  const session = recorder.openSession({ sessionId: 's1', actor: alice, source: base.source, target: base.target, feeder: base.feeder });
  const decisions = new MemoryDecisions();
  const refusals: Refusal[] = [];
  let i = 0;
  const gate = new ApprovalGate(decisions, {
    newId: () => `req-${++i}`,
    now: opts.now ?? (() => Date.now()),
    verifierKeys: opts.keys === 'none' ? [] : [service.verifier],
    recordRefusal: async (r) => void refusals.push(r),
    ...(opts.recordUnknownRequests ? { recordUnknownRequests: true } : {}),
  });
  const events = () => published.map((p) => decodeEvent(p.value) as SessionEvent);
  const pendingId = async () => {
    for (let n = 0; n < 100 && gate.pending().length === 0; n++) await new Promise((r) => setTimeout(r, 2));
    return gate.pending()[0];
  };
  return { recorder, session, decisions, gate, events, refusals, pendingId };
}
const tick = () => new Promise((r) => setTimeout(r, 5));

test('a held command is released by a signed decision of an approver for its request id only', async () => {
  const { session, decisions, gate, events, refusals } = setup();
  let told = '';
  const p = gate.hold(session, hold, { timeoutMs: 5_000, onPending: (id) => (told = id) });
  await tick();
  assert.equal(told, 'req-1', 'the user learns the request id');
  assert.equal(events()[0].type, 'ApprovalRequested', 'the request was recorded before the user was told');
  decisions.emit(await decision('req-1', { decision: 'denied', justification: 'not today' }));
  const d = await p;
  assert.equal(d.decision, 'denied');
  assert.equal(d.justification, 'not today');
  assert.equal(d.approver?.subject, 'bob');
  assert.deepEqual(gate.pending(), []);
  assert.deepEqual(refusals, []);
});

test('forged and rule-breaking decisions are ignored, each recorded as refused; the genuine one releases once', async () => {
  const { session, decisions, gate, refusals, pendingId } = setup();
  const other = setup(); // a second request elsewhere, decided genuinely: its decision is then replayed here
  let released = 0;
  const p = gate.hold(session, hold, { timeoutMs: 5_000 }).then((d) => (released++, d));
  const id = await pendingId();
  const genuineForOther = await decision('req-other', { text: hold.text });
  const attempts: Array<[string, ReceivedDecision, string]> = [
    ['no signature', await decision(id, { signer: null }), 'AFF_E_APPROVAL_SIGNATURE'],
    ['garbage signature', { ...(await decision(id)), signature: new Uint8Array(68).fill(1) }, 'AFF_E_APPROVAL_SIGNATURE'],
    ['signed by another key', await decision(id, { signer: intruder.signer }), 'AFF_E_APPROVAL_SIGNATURE'],
    [
      'another key claiming the service key id',
      await decision(id, { signer: { ...intruder.signer, keyHash: service.signer.keyHash } }),
      'AFF_E_APPROVAL_SIGNATURE',
    ],
    ['signed for another statement', await decision(id, { text: 'delete from orders' }), 'AFF_E_APPROVAL_SIGNATURE'],
    ['replayed from another request', { ...genuineForOther, requestId: id }, 'AFF_E_APPROVAL_SIGNATURE'],
    ['approver swapped after signing', { ...(await decision(id, { approver: carol })), approver: bob }, 'AFF_E_APPROVAL_SIGNATURE'],
    [
      'groups inflated after signing',
      { ...(await decision(id, { approver: carol })), approver: { ...carol, groups: ['approvers'] } },
      'AFF_E_APPROVAL_SIGNATURE',
    ],
    [
      'self-approval, correctly signed',
      await decision(id, { approver: { ...alice, groups: ['approvers'], email: 'other@example.com' } }),
      'AFF_E_APPROVAL_SELF',
    ],
    ['wrong group, correctly signed', await decision(id, { approver: carol }), 'AFF_E_APPROVAL_NOT_APPROVER'],
    ['empty justification, correctly signed', await decision(id, { justification: ' ' }), 'AFF_E_APPROVAL_JUSTIFICATION'],
    [
      'naming another statement, correctly signed for this one',
      { ...(await decision(id)), commandDigest: commandDigest('delete from orders') },
      'AFF_E_APPROVAL_COMMAND_MISMATCH',
    ],
    ['naming no statement, correctly signed for this one', { ...(await decision(id)), commandDigest: null }, 'AFF_E_APPROVAL_COMMAND_MISMATCH'],
    ['a forged expiry', { ...(await decision(id, { signer: null })), decision: 'expired', approver: null }, 'AFF_E_APPROVAL_SIGNATURE'],
    ['no approver at all', { ...(await decision(id)), approver: null }, 'AFF_E_APPROVAL_SIGNATURE'],
  ];
  for (const [, a] of attempts) decisions.emit(a);
  await tick();
  assert.deepEqual(gate.pending(), [id], 'nothing released the statement');
  assert.equal(released, 0);
  await gate.settled();
  assert.deepEqual(
    refusals.map((r) => r.code),
    attempts.map(([, , code]) => code),
    attempts.map(([why]) => why).join(' | '),
  );
  for (const [i, r] of refusals.entries()) {
    assert.equal(r.requestId, id);
    assert.equal(r.refusedEventId, attempts[i][1].eventId, 'the refusal names the refused event');
    assert.equal(r.refusedBy, 'gate');
    assert.equal(r.actor, null, 'nobody authenticated a bus message');
    assert.ok(r.reason.length > 10);
  }
  assert.match(refusals[8].reason, /cannot decide it/);

  const genuine = await decision(id);
  decisions.emit(genuine);
  const d = await p;
  assert.equal(d.decision, 'approved');
  decisions.emit(genuine); // the same message again (replayed)
  decisions.emit(await decision(id, { decision: 'denied' })); // a second, genuine decision
  await tick();
  await gate.settled();
  assert.equal(released, 1, 'released exactly once');
  assert.deepEqual(
    refusals.slice(attempts.length).map((r) => r.code),
    ['AFF_E_APPROVAL_DECIDED', 'AFF_E_APPROVAL_DECIDED'],
  );
  other.gate.close();
});

test('without a configured decision key nothing is released, even a correctly signed decision (fail closed)', async () => {
  const { session, decisions, gate, refusals, pendingId } = setup({ keys: 'none' });
  const p = gate.hold(session, hold, { timeoutMs: 80 });
  const id = await pendingId();
  decisions.emit(await decision(id));
  const d = await p;
  assert.equal(d.decision, 'expired');
  await gate.settled();
  assert.equal(refusals[0].code, 'AFF_E_APPROVAL_SIGNATURE');
  assert.match(refusals[0].reason, /no decision-verifier key/);
});

test('a decision after expiry is refused and recorded; the gate records its own expiry and ignores its echo', async () => {
  const { recorder, session, decisions, gate, events, refusals, pendingId } = setup();
  const p = gate.hold(session, hold, { timeoutMs: 30 });
  const id = await pendingId();
  const late = await decision(id);
  const d = await p;
  assert.equal(d.decision, 'expired');
  await recorder.flush();
  const last = events().at(-1)!;
  assert.equal(last.type, 'ApprovalDecided');
  assert.equal((last as { decision: string }).decision, 'expired');
  decisions.emit({
    requestId: id,
    eventId: last.eventId,
    occurredAt: last.occurredAt,
    decision: 'expired',
    approver: null,
    justification: 'no decision before the deadline',
    signature: null,
    commandDigest: null,
  });
  decisions.emit(late);
  await gate.settled();
  assert.deepEqual(
    refusals.map((r) => [r.code, r.refusedEventId]),
    [['AFF_E_APPROVAL_EXPIRED', late.eventId]],
    'the echo is not a refusal; the late decision is',
  );
});

test('a decision arriving at the deadline by the gate clock is refused even before the timer fires', async () => {
  let clock = 1_000_000;
  const { session, decisions, gate, refusals, pendingId } = setup({ now: () => clock });
  const p = gate.hold(session, hold, { timeoutMs: 50 });
  const id = await pendingId();
  clock += 50;
  decisions.emit(await decision(id));
  await gate.settled();
  assert.equal(refusals[0]?.code, 'AFF_E_APPROVAL_EXPIRED');
  assert.equal((await p).decision, 'expired');
});

test('unknown request ids are recorded only where one gate sees every request', async () => {
  const multi = setup();
  multi.decisions.emit(await decision('req-nobody-holds'));
  await multi.gate.settled();
  assert.deepEqual(multi.refusals, [], 'another proxy may hold it');
  const single = setup({ recordUnknownRequests: true });
  single.decisions.emit(await decision('req-nobody-holds'));
  await single.gate.settled();
  assert.deepEqual(
    single.refusals.map((r) => [r.code, r.target]),
    [['AFF_E_APPROVAL_UNKNOWN', null]],
  );
});

test('a session that ends while held expires its request; later decisions are refused', async () => {
  const { session, decisions, gate, refusals, pendingId } = setup();
  const abort = new AbortController();
  const p = gate.hold(session, hold, { timeoutMs: 5_000, signal: abort.signal });
  const id = await pendingId();
  abort.abort();
  const d = await p;
  assert.deepEqual([d.decision, d.justification], ['expired', 'the session ended before a decision']);
  decisions.emit(await decision(id));
  await gate.settled();
  assert.equal(refusals[0].code, 'AFF_E_APPROVAL_EXPIRED');
});

test('if the request cannot be recorded, the command is not held but refused', async () => {
  const recorder = new Recorder(
    {
      publish: async () => {
        throw new Error('down');
      },
    },
    { mode: 'sync', retryInitialMs: 1000, retryMaxMs: 1000 },
    { clock: { now: () => Date.now() } },
  );
  const base = exampleEvent('CommandIssued');
  const session = recorder.openSession({ sessionId: 's9', actor: base.actor, source: base.source, target: base.target, feeder: base.feeder });
  const gate = new ApprovalGate(new MemoryDecisions(), {
    newId: () => 'r',
    now: () => Date.now(),
    verifierKeys: [service.verifier],
    recordRefusal: async () => {},
  });
  let told = false;
  await assert.rejects(gate.hold(session, hold, { timeoutMs: 5_000, onPending: () => (told = true) }), { code: 'AFF_E_RECORDING_UNAVAILABLE' });
  assert.equal(told, false);
  assert.deepEqual(gate.pending(), []);
});
