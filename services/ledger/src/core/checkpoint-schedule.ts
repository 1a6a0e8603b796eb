/** CheckpointSchedule says when a log needs a new signed checkpoint. */
export type CheckpointSchedule = { everyEntries: number; everyMs: number };

/** CheckpointState is what the schedule looks at for one log. */
export type CheckpointState = { size: number; checkpointedSize: number; checkpointedAt: number };

/**
 * checkpointDue is true when entries were appended since the last checkpoint and either
 * `everyEntries` of them accumulated or `everyMs` passed. A log with nothing new never needs one.
 */
export function checkpointDue(s: CheckpointState, now: number, sched: CheckpointSchedule): boolean {
  if (s.size <= s.checkpointedSize) return false;
  return s.size - s.checkpointedSize >= sched.everyEntries || now - s.checkpointedAt >= sched.everyMs;
}
