// The SQLite read models write a session's start and end (a command's issue and completion) that
// fall in one batch as one row; the answers must be those of applying the mutations one by one:
// the first start and the first end win, a completion before its issue is lost, a row stored by
// an earlier batch keeps its start and gets an end only if it had none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandRow, ReadModelMutation, SessionRow } from '../../read-model/rows.ts';
import { openSqliteReadModel } from './sqlite-read-model.ts';

const at = (index: number) => ({ log: 'log', index });
const session = (id: string, startedAt: number, subject = 'alice'): ReadModelMutation => ({
  kind: 'session-started',
  row: {
    sessionId: id,
    issuer: 'iss',
    subject,
    email: null,
    mfa: false,
    sourceAddress: '10.0.0.1',
    sourcePort: 5000,
    application: 'psql',
    targetKind: 'postgres',
    targetResource: 'demo',
    targetHost: 'db',
    targetDatabase: 'demo',
    targetLogin: 'alice',
    protocol: 'postgres',
    tls: true,
    startedAt,
    endedAt: null,
    endReason: null,
    endErrorCode: null,
    commandCount: null,
    position: at(startedAt),
  } satisfies SessionRow,
});
const ended = (id: string, reason: string): ReadModelMutation => ({ kind: 'session-ended', sessionId: id, endedAt: 99, reason, errorCode: null, commands: 1 });
const issued = (sessionId: string, commandId: string, text: string, seq = 1): ReadModelMutation => ({
  kind: 'command-issued',
  row: {
    sessionId,
    commandId,
    seq,
    subject: 'alice',
    channel: 'simple',
    text,
    classes: ['select'],
    decision: 'allow',
    ruleId: null,
    issuedAt: 10,
    outcome: null,
    tag: null,
    rows: null,
    durationMicros: null,
    errorCode: null,
    position: at(seq),
  } satisfies CommandRow,
});
const completed = (sessionId: string, commandId: string, tag: string): ReadModelMutation => ({
  kind: 'command-completed',
  sessionId,
  commandId,
  outcome: 'ok',
  tag,
  rows: 1,
  durationMicros: 5,
  errorCode: null,
});

test('a start and its end in one batch: one row, first start and first end win', () => {
  const store = openSqliteReadModel({ path: ':memory:' });
  store.apply('log', 5, [session('s1', 1), session('s1', 2, 'mallory'), ended('s1', 'client-closed'), ended('s1', 'terminated')]);
  const s = store.session('s1')!;
  assert.deepEqual([s.subject, s.startedAt, s.endReason], ['alice', 1, 'client-closed']);
  assert.equal(store.sessions({}, { first: 10 }).rows.length, 1);
  store.close();
});

test('an end for a session stored by an earlier batch, and a repeated start with its own end', () => {
  const store = openSqliteReadModel({ path: ':memory:' });
  store.apply('log', 1, [session('s1', 1)]);
  store.apply('log', 3, [session('s1', 7, 'mallory'), ended('s1', 'client-closed')]);
  const s = store.session('s1')!;
  assert.deepEqual([s.subject, s.startedAt, s.endReason], ['alice', 1, 'client-closed'], 'the stored start stays; the end lands on it');
  store.apply('log', 4, [ended('s1', 'terminated')]);
  assert.equal(store.session('s1')!.endReason, 'client-closed', 'ended once');
  store.close();
});

test('commands: issue and completion folded; a completion before its issue is lost, as one by one', () => {
  const store = openSqliteReadModel({ path: ':memory:' });
  store.apply('log', 1, [issued('s1', 'c0', 'select 0', 0)]);
  store.apply('log', 9, [
    completed('s1', 'c2', 'EARLY'),
    issued('s1', 'c1', 'select 1'),
    issued('s1', 'c1', 'select 666'),
    completed('s1', 'c1', 'SELECT 1'),
    completed('s1', 'c1', 'SELECT 2'),
    issued('s1', 'c2', 'select 2', 2),
    issued('s1', 'c0', 'select zero again', 0),
    completed('s1', 'c0', 'SELECT 0'),
  ]);
  const rows = store.commands('s1', { first: 10 }).rows.map((r) => [r.commandId, r.text, r.tag]);
  assert.deepEqual(rows, [
    ['c0', 'select 0', 'SELECT 0'],
    ['c1', 'select 1', 'SELECT 1'],
    ['c2', 'select 2', null],
  ]);
  store.close();
});
