// Folding a log in ranges (one per thread) must give exactly the rows of one fold over it: for
// every control, random event streams are cut at every point, the later range's fold is saved,
// posted (structuredClone, as between threads) and absorbed, and the rows compared with one pass.
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

const LOG = 'affidavit.session-events.v1:0';

const actorOf = (k: number) => ({ ...EXAMPLE_ACTOR, subject: `user${k % 3}`, groups: k % 2 ? ['g'] : [] });
const targetOf = (k: number) => ({ ...exampleEvent('SessionStarted').target, resource: `db${k % 2}` });

type Step = { kind: number; session: number; pick: number; time: number; started: boolean };

/** toRecords turns steps into a stream a ledger could hold: a session's SessionStarted, when it has one, comes first. */
function toRecords(steps: readonly Step[]): LedgerRecord[] {
  const seq = new Map<number, number>();
  const out: LedgerRecord[] = [];
  steps.forEach((s, i) => {
    const sessionId = `0190a5d0-0000-7000-8000-${String(s.session).padStart(12, '0')}`;
    const n = seq.get(s.session);
    const env = {
      eventId: `0190a5d0-0000-7000-9000-${String(i).padStart(12, '0')}`,
      sessionId,
      seq: n ?? 0,
      occurredAt: TIMES[s.time],
      actor: actorOf(s.session),
      target: targetOf(s.session + s.pick),
    };
    if (n === undefined && s.started) {
      seq.set(s.session, 1);
      out.push(exampleEvent('SessionStarted', env));
      return;
    }
    seq.set(s.session, (n ?? 0) + 1);
    const kinds: Kind[] = ['issue', 'issue', 'complete', 'block', 'request', 'decide', 'auth-failed', 'rejected', 'mask', 'mask', 'start'];
    out.push(eventOf(kinds[s.kind], env, { commandId: `c${s.pick % 3}`, requestId: `r${s.session}-${s.pick % 2}`, pick: s.pick }));
  });
  return out;
}

function oneFold(control: ControlId, entries: readonly CitedEntry[]) {
  const f = reportFold(control, params);
  for (const e of entries) f.add(e);
  return shape(f.finish());
}

/** splitFold folds [0, cuts[0]), [cuts[0], cuts[1]) ... each on its own, then merges them from the back, as the worker and the report's thread do. */
function splitFold(control: ControlId, entries: readonly CitedEntry[], ...cuts: number[]) {
  const bounds = [0, ...cuts, entries.length];
  let acc: ReturnType<typeof reportFold> | undefined;
  for (let k = bounds.length - 2; k >= 0; k--) {
    const f = reportFold(control, k === 0 ? params : { ...params, carry: true });
    for (const e of entries.slice(bounds[k], bounds[k + 1])) f.add(e);
    if (acc) {
      const later = structuredClone(acc.save());
      // Where the fold says the later range does not fit (a log out of order), it is folded on in one pass, as the adapter does.
      if (f.fits(later)) f.absorb(later);
      else for (const e of entries.slice(bounds[k + 1])) f.add(e);
    }
    acc = f;
  }
  return shape(acc!.finish());
}

const step = fc.record({
  kind: fc.nat(10),
  session: fc.nat(5),
  pick: fc.nat(5),
  time: fc.nat(TIMES.length - 1),
  started: fc.boolean(),
});

for (const control of CONTROL_IDS) {
  test(`${control}: a log folded in two ranges gives the rows of one fold, wherever it is cut`, () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80, size: 'max' }), (steps) => {
        const entries = toRecords(steps).map((record, index) => ({ log: LOG, index, bytes: encodeEvent(record), record }));
        const whole = oneFold(control, entries);
        for (let at = 0; at <= entries.length; at++) assert.deepEqual(splitFold(control, entries, at), whole, `cut at ${at}`);
      }),
      { numRuns: 100 },
    );
  });

  test(`${control}: three ranges merged from the back give the rows of one fold`, () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80, size: 'max' }), fc.nat(), fc.nat(), (steps, a, b) => {
        const entries = toRecords(steps).map((record, index) => ({ log: LOG, index, bytes: encodeEvent(record), record }));
        const [x, y] = [a % (entries.length + 1), b % (entries.length + 1)].sort((p, q) => p - q);
        assert.deepEqual(splitFold(control, entries, x, y), oneFold(control, entries), `cuts at ${x}, ${y}`);
      }),
      { numRuns: 300 },
    );
  });
}

test('a SessionStarted after a privileged command of its session (out of order, or forged) does not lose the completion', () => {
  // The command is issued in the first range; the session "starts" again in the second, then the command completes.
  const steps = [
    { kind: 1, session: 1, pick: 1, time: 3, started: true },
    { kind: 1, session: 1, pick: 1, time: 3, started: false },
    { kind: 10, session: 1, pick: 0, time: 4, started: false },
    { kind: 2, session: 1, pick: 1, time: 5, started: false },
  ];
  const entries = toRecords(steps).map((record, index) => ({ log: LOG, index, bytes: encodeEvent(record), record }));
  for (const control of ['ac-2', 'ac-6.9'] as const) {
    const whole = oneFold(control, entries);
    const row = whole.rows.find((r) => r.kind === 'privileged-command');
    assert.deepEqual(row?.cites, [`${LOG}@1`, `${LOG}@3`], 'one pass: the ddl with its completion');
    assert.deepEqual(splitFold(control, entries, 2), whole);
  }
});

test('a saved fold posts only the bytes of what it cites, not the pages they were read from', () => {
  const records = toRecords(Array.from({ length: 40 }, (_, i) => ({ kind: i % 10, session: i % 4, pick: i, time: 3, started: true })));
  const page = Buffer.concat(records.map((r) => encodeEvent(r)));
  let at = 0;
  const f = reportFold('ac-2', { ...params, carry: true });
  records.forEach((record, index) => {
    const n = encodeEvent(record).length;
    f.add({ log: LOG, index, bytes: page.subarray(at, at + n), record });
    at += n;
  });
  const posted = structuredClone(f.save());
  const sizes = new Set<number>();
  JSON.stringify(posted, (_k, v) => {
    if (v instanceof Uint8Array) sizes.add(v.buffer.byteLength);
    return v instanceof Uint8Array ? null : v;
  });
  assert.ok(sizes.size > 0, 'the saved fold cites entries');
  for (const s of sizes) assert.ok(s < page.length, `a cited entry posted ${s} bytes, the whole page is ${page.length}`);
});

test('au-3: the bound on cited gaps holds across the cut (the later range cites only what is left of it)', () => {
  // Every event lacks a source address, some also an outcome: more gaps than the bound cites.
  const steps = Array.from({ length: 130 }, (_, i) => ({ kind: i % 7 === 0 ? 2 : 9, session: i % 3, pick: 1 + 2 * (i % 2), time: 3, started: false }));
  const entries = toRecords(steps).map((record, index) => ({ log: LOG, index, bytes: encodeEvent(record), record }));
  const whole = oneFold('au-3', entries);
  assert.ok(whole.rows.filter((r) => r.kind === 'field-gap').length >= 50, 'the stream has more gaps than one content cites');
  for (let at = 0; at <= entries.length; at += 3) assert.deepEqual(splitFold('au-3', entries, at), whole, `cut at ${at}`);
});
