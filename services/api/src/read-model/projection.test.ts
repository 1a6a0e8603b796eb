// Given/when/then specs of the pure projection, and of the SQLite read model applying it.
import { test } from 'node:test';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import assert from 'node:assert/strict';
import { exampleEvent, LEDGER_RECORD_TYPES, type LedgerRecord } from '@affidavit/schemas';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { openSqliteReadModel } from '../adapters/sqlite/sqlite-read-model.ts';
import { story, writeLedger } from '../test-support.ts';
import { ReadModelProjector } from './projector.ts';
import { project, UNPROJECTED_TYPES } from './projection.ts';
import type { ReadModelMutation } from './rows.ts';

const at = { log: 'l:0', index: 7 };

test('every record type is projected or knowingly skipped (no type falls through)', () => {
  for (const type of LEDGER_RECORD_TYPES) {
    const m = project(exampleEvent(type), at);
    if (UNPROJECTED_TYPES.has(type)) assert.deepEqual(m, [], `${type} is skipped by the projector, so it MUST project nothing`);
    else assert.ok(m.length > 0, `${type} projects something`);
  }
});

test('given SessionStarted by a verified actor, then a session row at its position and an identity sighting', () => {
  const m = project(exampleEvent('SessionStarted'), at);
  assert.equal(m.length, 2);
  const [s, i] = m as [Extract<ReadModelMutation, { kind: 'session-started' }>, Extract<ReadModelMutation, { kind: 'identity-seen' }>];
  assert.equal(s.kind, 'session-started');
  assert.deepEqual(s.row.position, at);
  assert.equal(s.row.subject, 'alice');
  assert.equal(s.row.endedAt, null);
  assert.equal(i.kind, 'identity-seen');
  assert.deepEqual(i.groups, ['analysts']);
});

test('given a session without actor (before authentication), then no identity sighting', () => {
  const m = project(exampleEvent('SessionStarted', { actor: null }), at);
  assert.deepEqual(
    m.map((x) => x.kind),
    ['session-started'],
  );
});

test('given ApprovalDecided, then the decision, who decided and whether it carries a signature', () => {
  const [m] = project(exampleEvent('ApprovalDecided', { signature: null }), at);
  assert.equal(m.kind, 'approval-decided');
  if (m.kind !== 'approval-decided') return;
  assert.equal(m.hasSignature, false);
  assert.deepEqual(m.position, at);
});

test('given DataMasked, then the masked columns and rules, never the values or sealed originals', () => {
  const e = exampleEvent('DataMasked');
  const [m] = project(e, at);
  assert.equal(m.kind, 'data-masked');
  if (m.kind !== 'data-masked') return;
  assert.deepEqual(Object.keys(m.row).sort(), [
    'columns',
    'commandId',
    'count',
    'eventId',
    'occurredAt',
    'position',
    'rules',
    'sessionId',
    'subject',
    'truncated',
  ]);
  assert.deepEqual(m.row.columns, [...new Set(e.masks.map((x) => x.column))].sort());
});

const S = '0190a5d0-0000-7000-8000-000000000001';
function apply(events: LedgerRecord[]) {
  const store = openSqliteReadModel({ path: ':memory:' });
  store.apply(
    'l:0',
    events.length,
    events.flatMap((e, i) => project(e, { log: 'l:0', index: i })),
  );
  return store;
}

test('the first decision of a request is kept; a later one (replay, forgery) does not overwrite it', () => {
  const store = apply([
    exampleEvent('ApprovalRequested', { sessionId: S, requestId: 'r1' }),
    exampleEvent('ApprovalDecided', {
      sessionId: S,
      eventId: '0190a5d0-0000-7000-9000-000000000002',
      requestId: 'r1',
      decision: 'denied',
      justification: 'no',
    }),
    exampleEvent('ApprovalDecided', {
      sessionId: S,
      eventId: '0190a5d0-0000-7000-9000-000000000003',
      requestId: 'r1',
      decision: 'approved',
      justification: 'forged',
    }),
  ]);
  const a = store.approval('r1')!;
  assert.equal(a.status, 'denied');
  assert.equal(a.justification, 'no');
  assert.deepEqual(a.decisionPosition, { log: 'l:0', index: 1 });
  // Both decisions stay visible, each at its own position, for the reader to judge (signatureValid).
  assert.deepEqual(
    store.decisions('r1').map((d) => [d.decision, d.justification, d.position.index]),
    [
      ['denied', 'no', 1],
      ['approved', 'forged', 2],
    ],
  );
  store.close();
});

test('identities: first and last seen over sightings in any order, groups from the latest', () => {
  const actor = (groups: string[]) => ({ ...exampleEvent('SessionStarted').actor!, groups });
  const store = apply([
    exampleEvent('SessionStarted', { sessionId: S, occurredAt: 200, actor: actor(['b']) }),
    exampleEvent('SessionStarted', { sessionId: S.replace(/1$/, '2'), occurredAt: 100, actor: actor(['a']) }),
  ]);
  const [i] = store.identities({ first: 10 }).rows;
  assert.deepEqual([i.firstSeen, i.lastSeen, i.sessions, i.groups], [100, 200, 2, ['b']]);
  assert.deepEqual(store.positions(), { 'l:0': 2 });
  store.close();
});

test('apply is atomic: a failing mutation leaves neither rows nor position', () => {
  const store = openSqliteReadModel({ path: ':memory:' });
  const good = project(exampleEvent('SessionStarted', { sessionId: S }), { log: 'l:0', index: 0 });
  const bad = { kind: 'no-such-kind' } as unknown as ReadModelMutation;
  assert.throws(() => store.apply('l:0', 2, [...good, bad]));
  assert.deepEqual(store.positions(), {});
  assert.equal(store.session(S), undefined);
  store.close();
});

test('the read-model file is created owner-only; a foreign database is refused, not overwritten', () => {
  const dir = mkdtempSync(join(tmpdir(), 'affidavit-rm-'));
  try {
    const store = openSqliteReadModel({ path: join(dir, 'rm.sqlite') });
    store.apply('l:0', 1, project(exampleEvent('SessionStarted', { sessionId: S }), { log: 'l:0', index: 0 }));
    store.close();
    assert.equal(statSync(join(dir, 'rm.sqlite')).mode & 0o777, 0o600);
    const reopened = openSqliteReadModel({ path: join(dir, 'rm.sqlite') });
    assert.deepEqual(reopened.positions(), { 'l:0': 1 });
    reopened.close();
    writeFileSync(join(dir, 'other.sqlite'), '');
    const other = new DatabaseSync(join(dir, 'other.sqlite'));
    other.exec('CREATE TABLE customers (id INTEGER)');
    other.close();
    assert.throws(() => openSqliteReadModel({ path: join(dir, 'other.sqlite') }), { code: 'AFF_E_API_READ_MODEL_UNREADABLE' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a decision the gate refused (ApprovalRefused names it) is taken back; the next standing one is shown', () => {
  const forged = '0190a5d0-0000-7000-9000-00000000f001';
  const real = '0190a5d0-0000-7000-9000-00000000f002';
  const refusal = exampleEvent('ApprovalRefused', {
    sessionId: S,
    eventId: '0190a5d0-0000-7000-9000-00000000f003',
    requestId: 'r1',
    refusedEventId: forged,
    code: 'AFF_E_APPROVAL_SELF',
  });
  const events = [
    exampleEvent('ApprovalRequested', { sessionId: S, requestId: 'r1' }),
    exampleEvent('ApprovalDecided', { sessionId: S, eventId: forged, requestId: 'r1', decision: 'approved', justification: 'me myself' }),
  ];
  const store = apply(events);
  assert.equal(store.approval('r1')!.status, 'approved');
  store.apply('l:0', 3, project(refusal, { log: 'l:0', index: 2 }));
  assert.equal(store.approval('r1')!.status, 'pending', 'the refused decision no longer stands');
  store.apply(
    'l:0',
    4,
    project(exampleEvent('ApprovalDecided', { sessionId: S, eventId: real, requestId: 'r1', decision: 'denied', justification: 'no' }), {
      log: 'l:0',
      index: 3,
    }),
  );
  const a = store.approval('r1')!;
  assert.deepEqual([a.status, a.justification, a.decisionPosition?.index], ['denied', 'no', 3]);
  assert.deepEqual(
    store.decisions('r1').map((d) => [d.eventId, d.refused]),
    [
      [forged, true],
      [real, false],
    ],
  );
  assert.deepEqual(
    store.refusals('r1').map((r) => [r.refusedEventId, r.code]),
    [[forged, 'AFF_E_APPROVAL_SELF']],
  );
  store.close();
  // Ledger order may put the refusal first (another log): the decision is then born refused.
  const early = openSqliteReadModel({ path: ':memory:' });
  early.apply(
    'l:0',
    3,
    [events[0], refusal, events[1]].flatMap((e, i) => project(e, { log: 'l:0', index: i })),
  );
  assert.equal(early.approval('r1')!.status, 'pending');
  early.close();
});

test('read models ahead of the ledger (built from another ledger file) are rebuilt from the ledger', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'affidavit-rm-foreign-'));
  try {
    const long = story(4, 2);
    const short = story(1, 1);
    await writeLedger(join(dir, 'a.sqlite'), long);
    await writeLedger(join(dir, 'b.sqlite'), short);
    const store = openSqliteReadModel({ path: join(dir, 'rm.sqlite') });
    const a = await openSqliteLedgerStore({ path: join(dir, 'a.sqlite'), readOnly: true });
    await new ReadModelProjector({ ledger: a, store }).catchUp();
    await a.close();
    assert.equal(store.sessions({}, { first: 50 }).rows.length, 4);
    const b = await openSqliteLedgerStore({ path: join(dir, 'b.sqlite'), readOnly: true });
    assert.equal(await new ReadModelProjector({ ledger: b, store }).catchUp(), short.length);
    await b.close();
    assert.equal(store.sessions({}, { first: 50 }).rows.length, 1);
    // Behind, not ahead: a longer ledger whose entries differ is recognised by the last projected eventId.
    const other = story(6, 1);
    await writeLedger(join(dir, 'c.sqlite'), other);
    const c = await openSqliteLedgerStore({ path: join(dir, 'c.sqlite'), readOnly: true });
    assert.equal(await new ReadModelProjector({ ledger: c, store }).catchUp(), other.length, 'rebuilt from 0, not continued');
    await c.close();
    assert.equal(store.sessions({}, { first: 50 }).rows.length, 6);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a ledger store that skips entries (a bundle gone from the file) stops the projector, never a read model with holes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'affidavit-rm-gap-'));
  try {
    await writeLedger(join(dir, 'a.sqlite'), story(4, 2));
    const a = await openSqliteLedgerStore({ path: join(dir, 'a.sqlite'), readOnly: true });
    const skipping: typeof a = {
      ...a,
      listLogs: () => a.listLogs(),
      close: () => a.close(),
      async openLog(id) {
        const log = await a.openLog(id);
        return {
          ...log,
          tail: () => log.tail(),
          async *readEntries(from: number, to: number) {
            for await (const e of log.readEntries(from, to)) if (e.index !== 2) yield e;
          },
        };
      },
    };
    const store = openSqliteReadModel({ path: ':memory:' });
    await assert.rejects(new ReadModelProjector({ ledger: skipping, store }).catchUp(), /returned entry 3 where 2 was due/);
    await a.close();
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
