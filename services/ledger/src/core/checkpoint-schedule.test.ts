import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkpointDue } from './checkpoint-schedule.ts';

const sched = { everyEntries: 100, everyMs: 1_000 };
test('no checkpoint when nothing new was appended, however long ago', () => {
  assert.equal(checkpointDue({ size: 5, checkpointedSize: 5, checkpointedAt: 0 }, 1e9, sched), false);
});
test('a checkpoint after everyEntries new entries', () => {
  assert.equal(checkpointDue({ size: 199, checkpointedSize: 100, checkpointedAt: 0 }, 10, sched), false);
  assert.equal(checkpointDue({ size: 200, checkpointedSize: 100, checkpointedAt: 0 }, 10, sched), true);
});
test('a checkpoint after everyMs when something is new', () => {
  assert.equal(checkpointDue({ size: 101, checkpointedSize: 100, checkpointedAt: 0 }, 999, sched), false);
  assert.equal(checkpointDue({ size: 101, checkpointedSize: 100, checkpointedAt: 0 }, 1_000, sched), true);
});
