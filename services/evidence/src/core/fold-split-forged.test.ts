// Folding in ranges against a log an attacker wrote into: events forged on the bus are appended
// (out-of-order seq at most flagged), so ids repeat across sessions, decisions come before their
// requests, sessions "start" again, and times run backwards. The report's thread folds the front
// of a log, then absorbs the worker's fold of the back (itself runs merged from the back), then
// folds the next log on: every control must give the rows of one pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EXAMPLE_ACTOR, encodeEvent, exampleEvent } from '@affidavit/schemas';
import type { LedgerRecord } from '@affidavit/schemas';
import { CONTROL_IDS } from './model.ts';
import type { CitedEntry, ControlId } from './model.ts';
import { reportFold } from './run-fold.ts';
import { eventOf, params, shape, TIMES } from './fold-streams.fixture.ts';
import type { Kind } from './fold-streams.fixture.ts';

// req: request ids are shared by all sessions (unique at the gate, not on a forged bus).
type Step = { kind: number; session: number; pick: number; time: number; req: number; log: number };

function toRecords(steps: readonly Step[]): { log: string; record: LedgerRecord }[] {
  return steps.map((s, i) => {
    const sessionId = `0190a5d0-0000-7000-8000-${String(s.session).padStart(12, '0')}`;
    const env = {
      eventId: `0190a5d0-0000-7000-9000-${String(i).padStart(12, '0')}`,
      sessionId,
      seq: i,
      occurredAt: TIMES[s.time],
      actor: { ...EXAMPLE_ACTOR, subject: `user${s.session % 3}`, groups: s.session % 2 ? ['g'] : [] },
      target: { ...exampleEvent('SessionStarted').target, resource: `db${(s.session + s.pick) % 2}` },
    };
    const commandId = `c${s.pick % 3}`;
    const requestId = `r${s.req}`;
    const kinds: Kind[] = [
      'issue',
      'issue',
      'complete',
      'block',
      'request',
      'request',
      'decide',
      'decide',
      'auth-failed',
      'rejected',
      'start',
      'start',
      'mask',
    ];
    const record = eventOf(kinds[Math.min(s.kind, kinds.length - 1)], env, { commandId, requestId, pick: s.pick });
    return { log: `L${s.log}`, record };
  });
}

/** toEntries lays the records out log by log, as a report reads them, numbered per log. */
function toEntries(steps: readonly Step[]): CitedEntry[] {
  const recs = toRecords(steps);
  const out: CitedEntry[] = [];
  for (const log of ['L0', 'L1']) {
    let index = 0;
    for (const r of recs) if (r.log === log) out.push({ log, index: index++, bytes: encodeEvent(r.record), record: r.record });
  }
  return out;
}

function oneFold(control: ControlId, entries: readonly CitedEntry[]) {
  const f = reportFold(control, params);
  for (const e of entries) f.add(e);
  return shape(f.finish());
}

/**
 * parallelFold folds as ledger-report.ts does: [0, a) in the report's fold; [a, b) (one log) in
 * worker runs cut at `mid`, merged from the back, each refolding on where `fits` refuses; the
 * report's fold absorbs that (or refolds it) and folds [b, end) on.
 */
function parallelFold(control: ControlId, entries: readonly CitedEntry[], a: number, b: number, mid: number[]) {
  const main = reportFold(control, params);
  for (const e of entries.slice(0, a)) main.add(e);
  const bounds = [a, ...mid.filter((m) => m > a && m < b).sort((x, y) => x - y), b];
  let acc: ReturnType<typeof reportFold> | undefined;
  for (let k = bounds.length - 2; k >= 0; k--) {
    const f = reportFold(control, { ...params, carry: true });
    for (const e of entries.slice(bounds[k], bounds[k + 1])) f.add(e);
    if (acc) {
      const later = structuredClone(acc.save());
      if (f.fits(later)) f.absorb(later);
      else for (const e of entries.slice(bounds[k + 1], b)) f.add(e);
    }
    acc = f;
  }
  const later = structuredClone(acc!.save());
  if (main.fits(later)) main.absorb(later);
  else for (const e of entries.slice(a, b)) main.add(e);
  for (const e of entries.slice(b)) main.add(e);
  return shape(main.finish());
}

// Weighted toward what the privileged tracker follows, with few ids, so collisions are common.
const step = fc.record({
  kind: fc.constantFrom(0, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12),
  session: fc.nat(2),
  pick: fc.constantFrom(0, 1, 1, 2, 3, 4, 5),
  time: fc.nat(TIMES.length - 1),
  req: fc.nat(1),
  log: fc.constantFrom(0, 0, 0, 1),
});

for (const control of CONTROL_IDS) {
  test(`${control}: a log with forged events folded in worker runs, then the next log, gives the rows of one pass`, () => {
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 60, size: 'max' }),
        fc.nat(),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 3 }),
        (steps, x, y, mid) => {
          const entries = toEntries(steps);
          const n = entries.length + 1;
          const [a, b] = [x % n, y % n].sort((p, q) => p - q);
          // The worker's part lies within one log.
          if (a < b && entries[a]?.log !== entries[b - 1]?.log) return;
          assert.deepEqual(
            parallelFold(
              control,
              entries,
              a,
              b,
              mid.map((m) => m % n),
            ),
            oneFold(control, entries),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
}

test('a request id used again by another session: the decision goes where one pass sends it', () => {
  // Session 1 issues a DDL before the cut. After it, session 2 issues a DDL and asks approval as
  // r0; then a forged request r0 for session 1's DDL, then the decision of r0. One pass binds r0
  // to session 1's command last and gives it the decision; the worker's range placed its own r0
  // and would have sent the decision to session 2's command.
  const steps: Step[] = [
    { kind: 1, session: 1, pick: 1, time: 3, req: 0, log: 0 },
    { kind: 1, session: 2, pick: 1, time: 3, req: 0, log: 0 },
    { kind: 4, session: 2, pick: 1, time: 3, req: 0, log: 0 },
    { kind: 4, session: 1, pick: 1, time: 3, req: 0, log: 0 },
    { kind: 6, session: 3, pick: 1, time: 3, req: 0, log: 0 },
  ];
  const entries = toEntries(steps);
  for (const control of ['ac-2', 'ac-6.9'] as const) {
    const whole = oneFold(control, entries);
    const decided = whole.rows.find((r) => r.kind === 'privileged-command' && r.cites.includes('L0@4'));
    assert.deepEqual(decided?.cites, ['L0@0', 'L0@3', 'L0@4'], `${control}: one pass gives the decision to session 1's command`);
    for (let at = 0; at <= entries.length; at++) assert.deepEqual(parallelFold(control, entries, at, entries.length, []), whole, `${control}: cut at ${at}`);
  }
});
