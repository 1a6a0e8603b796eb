import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exampleEvent } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import { buildTimeline, timelineEvents } from './timeline.ts';
import type { CommandStep, PositionedRecord } from './timeline.ts';

const S = '01890a5d-ac96-774b-bcce-b302099a8000';
const T0 = 1_700_000_000_000_000;
let n = 0;
const id = () => `01890a5d-ac96-774b-bcce-${String(++n).padStart(12, '0')}`;
const at = (log: string, index: number, record: LedgerRecord): PositionedRecord => ({ position: { log, index }, record });
const ev = <T extends LedgerRecord['type']>(type: T, seq: number, o: Record<string, unknown> = {}) =>
  exampleEvent(type, { eventId: id(), seq, occurredAt: T0 + seq * 1000, ...o } as never);

function session(): PositionedRecord[] {
  return [
    at('L', 0, ev('SessionStarted', 0)),
    at('L', 1, ev('CommandIssued', 1, { commandId: 'c1', text: 'SELECT email FROM customers', decision: 'mask', ruleId: 'mask-pii' })),
    at(
      'L',
      2,
      ev('DataMasked', 2, {
        commandId: 'c1',
        count: 2,
        masks: [{ column: 'email', row: 0, ruleId: 'mask-pii', detector: null, masked: 'a***', original: null }],
      }),
    ),
    at('L', 3, ev('CommandCompleted', 3, { commandId: 'c1', rows: 2, durationMicros: 900, tag: 'SELECT 2' })),
    at('L', 4, ev('CommandBlocked', 4, { commandId: 'c2', text: 'DROP TABLE customers', ruleId: 'no-ddl', reason: 'DDL is not allowed' })),
    at('L', 5, ev('CommandIssued', 5, { commandId: 'c3', text: 'UPDATE customers SET x = 1', decision: 'require_approval', ruleId: 'hold-writes' })),
    at('L', 6, ev('ApprovalRequested', 6, { commandId: 'c3', requestId: 'r1', text: 'UPDATE customers SET x = 1' })),
    // The decision is its own stream (sessionId = request id), possibly in another log.
    at('M', 0, ev('ApprovalDecided', 0, { sessionId: 'r1', requestId: 'r1', occurredAt: T0 + 6500 })),
    at('L', 7, ev('CommandCompleted', 7, { commandId: 'c3', rows: 1, durationMicros: 1200, tag: 'UPDATE 1' })),
    at('L', 8, ev('SessionEnded', 8, { commands: 3 })),
  ];
}

test('a session folds into steps: start, masked SELECT, blocked DROP, approved UPDATE, end', () => {
  const t = buildTimeline(S, session());
  assert.deepEqual(
    t.steps.map((s) => s.kind),
    ['session-started', 'command', 'command', 'command', 'session-ended'],
  );
  const [, select, drop, update] = t.steps as CommandStep[];
  assert.equal(select.statement, 'SELECT email FROM customers');
  assert.equal(select.decision, 'mask');
  assert.equal(select.rule, 'mask-pii');
  assert.equal(select.rows, 2);
  assert.equal(select.durationMicros, 900);
  assert.deepEqual(select.masked, { columns: ['email'], rules: ['mask-pii'], count: 2, truncated: false });
  assert.deepEqual(select.position, { log: 'L', index: 1 });
  assert.equal(drop.decision, 'deny');
  assert.deepEqual(drop.blocked, { rule: 'no-ddl', reason: 'DDL is not allowed' });
  assert.deepEqual(
    update.approvals.map((a) => [a.kind, a.position.log, a.position.index]),
    [
      ['requested', 'L', 6],
      ['decided', 'M', 0],
    ],
  );
  assert.equal(update.approvals[1].kind === 'decided' && update.approvals[1].approver, 'bob');
  assert.equal(t.ended, true);
  assert.equal(t.subject, 'alice');
  assert.deepEqual(t.anomalies, []);
});

test('every entry appears exactly once, whatever order the entries come in', () => {
  const entries = session();
  const a = buildTimeline(S, entries);
  const b = buildTimeline(S, [...entries].reverse());
  assert.deepEqual(b, a);
  assert.equal(timelineEvents(a).length, entries.length);
  assert.deepEqual(new Set(timelineEvents(a).map((e) => e.eventId)), new Set(entries.map((e) => e.record.eventId)));
});

test('gaps and repeats in seq, foreign entries and decisions of unknown requests are named, never shown as the session', () => {
  const entries = session().filter((e) => e.position.index !== 3 || e.position.log !== 'L');
  entries.push(at('L', 9, ev('CommandIssued', 9, { sessionId: 'someone-else' })));
  entries.push(at('M', 1, ev('ApprovalDecided', 0, { sessionId: 'r9', requestId: 'r9' })));
  const t = buildTimeline(S, entries);
  assert.deepEqual(t.anomalies, [
    'entry L:9 belongs to session someone-else, not 01890a5d-ac96-774b-bcce-b302099a8000',
    'seq 3 is missing',
    'entry M:1 decides request r9, which this session never made',
  ]);
  assert.equal(timelineEvents(t).length, entries.length - 2);
});

test('a live session (no SessionEnded yet) is not marked ended', () => {
  const t = buildTimeline(
    S,
    session().filter((e) => e.record.type !== 'SessionEnded'),
  );
  assert.equal(t.ended, false);
  assert.equal(t.endedAt, null);
});

test('a held statement that completed without an approving decision among the entries is an anomaly', () => {
  const withoutDecision = session().filter((e) => e.record.type !== 'ApprovalDecided');
  const t = buildTimeline(S, withoutDecision);
  assert.deepEqual(t.anomalies, ['statement L:5 completed (ok) after approval request r1, but no approving decision is among the entries']);
  assert.deepEqual(buildTimeline(S, session()).anomalies, [], 'with the decision: none');
});
