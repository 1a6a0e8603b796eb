// Property test against a real PostgreSQL server: random sequences of protocol Parse / Bind /
// Execute / Close / Sync / Flush and SQL PREPARE / EXECUTE / DECLARE / FETCH / MOVE / CLOSE /
// DEALLOCATE / DISCARD / transaction statements, with colliding names, syntax errors and
// failing statements, pipelined by a raw wire-protocol client through the proxy. Every statement
// that can return a row returns a marker unique to where it was defined ('m17'), so what the
// server ran is observable: for each command the ledger records as completed with rows, the rows
// (their digest) MUST be the row of the marker the RECORDED text names. A proxy that recorded a
// statement other than the one the server ran fails here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { wire } from '@affidavit/postgres-proxy';
import { stopPostgres } from '../../services/postgres.ts';
import { commandsOf, startRig, waitFor, type Rig } from './harness.ts';
import { msg, RawClient } from './raw-client.ts';

let rig: Rig;
before(async () => {
  rig = await startRig({ allowCleartextOnLoopback: true, recordingMode: 'async' });
});
after(async () => {
  await rig?.close();
  await stopPostgres();
});

const STMTS = ['s1', 's2', ''] as const;
const SQL_STMTS = ['s1', 's2'] as const;
const PORTALS = ['', 'p1'] as const;
const CURSORS = ['c1', 'c2'] as const;

type Step =
  | { t: 'parse'; name: string; bad: boolean }
  | { t: 'bind'; portal: string; stmt: string }
  | { t: 'execute'; portal: string }
  | { t: 'close'; target: 'S' | 'P'; name: string }
  | { t: 'sync' }
  | { t: 'flush' }
  | { t: 'q'; sql: string }
  | { t: 'await' };

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
// `$` in a q step's SQL is replaced by a fresh marker when the sequence runs.
const SEL = "SELECT '$'::text AS m";
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('parse' as const), name: pick(STMTS), bad: fc.integer({ min: 0, max: 4 }).map((n) => n === 0) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('bind' as const), portal: pick(PORTALS), stmt: pick(STMTS) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('execute' as const), portal: pick([...PORTALS, ...CURSORS]) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), target: pick(['S', 'P'] as const), name: pick([...STMTS, ...PORTALS, ...CURSORS]) }) },
  { weight: 3, arbitrary: fc.constant({ t: 'sync' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'flush' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'await' as const }) },
  {
    weight: 10,
    arbitrary: fc
      .oneof(
        pick(SQL_STMTS).map((n) => `PREPARE ${n} AS ${SEL}`),
        pick(SQL_STMTS).map((n) => `EXECUTE ${n}`),
        pick(SQL_STMTS).map((n) => `PREPARE ${n} AS ${SEL}; EXECUTE ${n}`),
        fc.tuple(pick(CURSORS), fc.boolean()).map(([c, hold]) => `DECLARE ${c} CURSOR ${hold ? 'WITH HOLD ' : ''}FOR ${SEL}`),
        fc.tuple(pick(CURSORS), pick(['FETCH ALL FROM', 'FETCH', 'MOVE', 'FETCH FIRST FROM'])).map(([c, f]) => `${f} ${c}`),
        pick(CURSORS).map((c) => `CLOSE ${c}`),
        pick(SQL_STMTS).map((n) => `DEALLOCATE ${n}`),
        pick([
          'CLOSE ALL',
          'DEALLOCATE ALL',
          'DISCARD ALL',
          'BEGIN',
          'BEGIN',
          'COMMIT',
          'ROLLBACK',
          'SAVEPOINT sp',
          'ROLLBACK TO SAVEPOINT sp',
          'RELEASE sp',
          'SELECT 1/0',
        ]),
      )
      .map((sql) => ({ t: 'q' as const, sql })),
  },
);

const markerRow = (m: string) =>
  createHash('sha256')
    .update(wire.dataRow([m]))
    .digest('hex');
const lastMarker = (text: string) => [...text.matchAll(/m\d+/g)].at(-1)?.[0];

let checked = 0;
let resolvedChecked = 0;

async function runSequence(steps: readonly Step[]): Promise<void> {
  let marker = 0;
  const fresh = () => `m${++marker}`;
  const mark = rig.mark();
  const c = await RawClient.login(rig.port, await rig.token());
  let ready = 0; // ReadyForQuery the client will receive for what it sent
  let open = false; // extended messages sent since the last Sync
  let batch: Buffer[] = [];
  const flush = () => {
    if (batch.length > 0) c.send(...batch);
    batch = [];
  };
  try {
    for (const s of steps) {
      switch (s.t) {
        case 'parse':
          batch.push(msg.parse(s.name, s.bad ? `SELEC '${fresh()}'` : SEL.replace('$', fresh())));
          open = true;
          break;
        case 'bind':
          batch.push(msg.bind(s.portal, s.stmt));
          open = true;
          break;
        case 'execute':
          batch.push(msg.execute(s.portal));
          open = true;
          break;
        case 'close':
          batch.push(msg.close(s.target, s.name));
          open = true;
          break;
        case 'flush':
          batch.push(msg.flush());
          break;
        case 'sync':
          batch.push(msg.sync());
          ready++;
          open = false;
          break;
        case 'q':
          // A Query after a failed extended message would be skipped with no answer of its
          // own; end the segment first so the count of ReadyForQuery stays known.
          if (open) {
            batch.push(msg.sync());
            ready++;
            open = false;
          }
          batch.push(msg.query(s.sql.replaceAll('$', () => fresh())));
          ready++;
          break;
        case 'await':
          flush();
          await c.ready(ready);
          break;
      }
    }
    if (open) {
      batch.push(msg.sync());
      ready++;
    }
    flush();
    await c.ready(ready);
  } finally {
    c.close();
  }
  const session = await waitFor(() => rig.since(mark).find((e) => e.type === 'SessionStarted')?.sessionId, 'SessionStarted');
  const events = () => rig.since(mark).filter((e) => e.sessionId === session);
  await waitFor(() => (events().some((e) => e.type === 'SessionEnded') ? true : undefined), 'SessionEnded');
  for (const cmd of commandsOf(events())) {
    if (cmd.outcome !== 'ok' || cmd.event?.type !== 'CommandCompleted' || cmd.event.resultDigest === null) continue;
    const m = lastMarker(cmd.text);
    assert.ok(m, `rows came back for a command whose recorded text names no marker: ${JSON.stringify(cmd.text)}`);
    assert.equal(
      cmd.event.resultDigest,
      markerRow(m),
      `the ledger recorded ${JSON.stringify(cmd.text)} but the server ran something else (its row is not ${m})`,
    );
    checked++;
    if (/\n-- /.test(cmd.text) || cmd.text.startsWith('DECLARE')) resolvedChecked++;
  }
}

test('random pipelined sequences: every command recorded as run is the statement the server ran', { timeout: 120_000 }, async () => {
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 40 }), async (steps) => {
      await runSequence(steps);
    }),
    { numRuns: 150, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: false },
  );
  // The runs must have exercised the interesting paths, not only refusals.
  assert.ok(checked > 50, `only ${checked} commands with rows were checked`);
  assert.ok(resolvedChecked > 10, `only ${resolvedChecked} EXECUTE / FETCH / cursor Executes were checked`);
  assert.ok(Date.now() - started < 60_000);
});

test('the bait-and-switch sequences of issue 15, pipelined in one write: the record names what ran', async () => {
  await runSequence([
    { t: 'q', sql: `PREPARE s1 AS ${SEL}` },
    { t: 'q', sql: `PREPARE s1 AS ${SEL}` },
    { t: 'q', sql: 'EXECUTE s1' },
    { t: 'parse', name: 's2', bad: false },
    { t: 'sync' },
    { t: 'parse', name: 's2', bad: false },
    { t: 'sync' },
    { t: 'bind', portal: '', stmt: 's2' },
    { t: 'execute', portal: '' },
    { t: 'sync' },
    { t: 'q', sql: 'BEGIN' },
    { t: 'q', sql: `DECLARE c1 CURSOR FOR ${SEL}` },
    { t: 'q', sql: 'SAVEPOINT sp' },
    { t: 'q', sql: `DECLARE c1 CURSOR FOR ${SEL}` },
    { t: 'q', sql: 'ROLLBACK TO SAVEPOINT sp' },
    { t: 'execute', portal: 'c1' },
    { t: 'sync' },
    { t: 'q', sql: 'FETCH FIRST FROM c1' },
    { t: 'q', sql: 'COMMIT' },
  ]);
});
