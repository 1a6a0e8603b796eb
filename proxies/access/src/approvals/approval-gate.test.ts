import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEvent, exampleEvent } from '@affidavit/schemas';
import type { SessionEvent } from '@affidavit/schemas';
import { Recorder } from '../recording/recorder.ts';
import type { EncodedEvent } from '../recording/event-sink.ts';
import { ApprovalGate } from './approval-gate.ts';
import type { Decision, DecisionSource } from './approval-gate.ts';

class MemoryDecisions implements DecisionSource {
  listeners = new Set<(d: { requestId: string } & Decision) => void>();
  subscribe(l: (d: { requestId: string } & Decision) => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  emit(d: { requestId: string } & Decision) {
    for (const l of this.listeners) l(d);
  }
}

function setup() {
  const published: EncodedEvent[] = [];
  const recorder = new Recorder({ publish: async (e) => void published.push(...e) }, { mode: 'sync' }, { clock: { now: () => Date.now() } });
  const base = exampleEvent('CommandIssued');
  const session = recorder.openSession({ sessionId: 's1', actor: base.actor, source: base.source, target: base.target, feeder: base.feeder });
  const decisions = new MemoryDecisions();
  let i = 0;
  const gate = new ApprovalGate(decisions, { newId: () => `req-${++i}`, now: () => Date.now() });
  const events = () => published.map((p) => decodeEvent(p.value) as SessionEvent);
  return { recorder, session, decisions, gate, events };
}
const hold = { commandId: 'c1', text: 'delete from customers', ruleId: 'hold-writes', reason: 'writes need approval', approverGroups: ['approvers'] };

test('a held command is released by the decision for its request id only', async () => {
  const { session, decisions, gate, events } = setup();
  let told = '';
  const p = gate.hold(session, hold, { timeoutMs: 5_000, onPending: (id) => (told = id) });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(told, 'req-1', 'the user learns the request id');
  assert.equal(events()[0].type, 'ApprovalRequested', 'the request was recorded before the user was told');
  decisions.emit({ requestId: 'req-other', decision: 'approved', approver: null, justification: 'x' });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(gate.pending(), ['req-1'], 'a decision for another request does not release it');
  decisions.emit({ requestId: 'req-1', decision: 'denied', approver: null, justification: 'not today' });
  const d = await p;
  assert.equal(d.decision, 'denied');
  assert.equal(d.justification, 'not today');
  assert.deepEqual(gate.pending(), []);
});

test('no decision before the timeout: expired, and ApprovalDecided(expired) is recorded', async () => {
  const { recorder, session, gate, events } = setup();
  const d = await gate.hold(session, hold, { timeoutMs: 30 });
  assert.equal(d.decision, 'expired');
  await recorder.flush();
  const last = events().at(-1)!;
  assert.equal(last.type, 'ApprovalDecided');
  assert.equal((last as { decision: string }).decision, 'expired');
});

test('if the request cannot be recorded, the command is not held but refused', async () => {
  const recorder = new Recorder({ publish: async () => { throw new Error('down'); } }, { mode: 'sync', retryInitialMs: 1000, retryMaxMs: 1000 }, { clock: { now: () => Date.now() } });
  const base = exampleEvent('CommandIssued');
  const session = recorder.openSession({ sessionId: 's9', actor: base.actor, source: base.source, target: base.target, feeder: base.feeder });
  const gate = new ApprovalGate(new MemoryDecisions(), { newId: () => 'r', now: () => Date.now() });
  let told = false;
  await assert.rejects(gate.hold(session, hold, { timeoutMs: 5_000, onPending: () => (told = true) }), { code: 'AFF_E_RECORDING_UNAVAILABLE' });
  assert.equal(told, false);
});
