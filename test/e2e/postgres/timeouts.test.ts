// Statement and idle timeouts of the proxy, with real psql.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { stopPostgres } from '../../services/postgres.ts';
import { commandsOf, startRig, waitFor, type Rig } from './harness.ts';

let rig: Rig;
before(async () => {
  rig = await startRig({ statementTimeoutMs: 500, idleTimeoutMs: 1500 });
});
after(async () => {
  await rig?.close();
  await stopPostgres();
});

test('a statement past statementTimeoutMs is cancelled upstream (57014)', async () => {
  const m = rig.mark();
  const t0 = Date.now();
  const r = await rig.psql(['-c', 'SELECT pg_sleep(5)']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /AFF_E_PG_STATEMENT_TIMEOUT/);
  assert.match(r.stderr, /canceling statement/);
  assert.ok(Date.now() - t0 < 4000);
  await waitFor(() => rig.since(m).some((e) => e.type === 'SessionEnded') || undefined, 'SessionEnded');
  assert.deepEqual(
    commandsOf(rig.since(m)).map((c) => c.outcome),
    ['cancelled'],
  );
});

test('an idle session is closed with 57P05 after idleTimeoutMs', async () => {
  const m = rig.mark();
  const r = await rig.psql(['-c', 'SELECT 1', '-c', '\\! sleep 2.5', '-c', 'SELECT 2']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /idle-session timeout/);
  const ended = await waitFor(() => rig.since(m).find((e) => e.type === 'SessionEnded'), 'SessionEnded');
  assert.ok(ended.type === 'SessionEnded' && ended.errorCode === 'AFF_E_PG_IDLE_TIMEOUT');
});
