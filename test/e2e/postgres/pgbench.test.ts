// pgbench through the proxy: initialisation (DDL and COPY allowed by the test policy), then
// the TPC-B-like script over the simple, extended and prepared protocols. Every statement is
// recorded with its outcome.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { stopPostgres } from '../../services/postgres.ts';
import { commandsOf, sessionsEnded, startRig, waitFor, type Rig } from './harness.ts';

let rig: Rig;
before(async () => {
  rig = await startRig({ recordingMode: 'async' });
});
after(async () => {
  await rig?.close();
  await stopPostgres();
});

test('pgbench -i through the proxy', async () => {
  const m = rig.mark();
  const r = await rig.pgbench(['-i', '-s', '1', '-q']);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => sessionsEnded(rig.since(m), 1) || undefined, 'every session ended');
  const cmds = commandsOf(rig.since(m));
  assert.ok(cmds.length >= 4, JSON.stringify(cmds.map((c) => c.text)));
  assert.ok(
    cmds.every((c) => c.outcome === 'ok'),
    JSON.stringify(cmds.filter((c) => c.outcome !== 'ok')),
  );
  const copy = rig.since(m).find((e) => e.type === 'CommandCompleted' && e.tag === 'COPY 100000');
  assert.ok(copy, 'the COPY of pgbench_accounts is recorded with its row count');
});

for (const mode of ['simple', 'extended', 'prepared'] as const) {
  test(`pgbench -M ${mode}: every statement recorded, in order, with its outcome`, async () => {
    const m = rig.mark();
    const r = await rig.pgbench(['-n', '-M', mode, '-c', '2', '-t', '25']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /number of transactions actually processed: 50\/50/);
    await waitFor(() => sessionsEnded(rig.since(m), 2) || undefined, 'every session ended (pgbench opens -c 2 and one more)');
    const ev = rig.since(m);
    const cmds = commandsOf(ev);
    const updates = cmds.filter((c) => c.text.startsWith('UPDATE pgbench_accounts'));
    assert.equal(updates.length, 50);
    assert.ok(
      cmds.every((c) => c.outcome === 'ok'),
      JSON.stringify(cmds.filter((c) => c.outcome !== 'ok').slice(0, 3)),
    );
    const channel = mode === 'simple' ? 'simple' : 'extended';
    // pgbench's own set-up queries use the simple protocol in every mode; the script's do not.
    const scripted = ev.filter((e) => e.type === 'CommandIssued' && e.text.startsWith('UPDATE pgbench_accounts'));
    assert.ok(scripted.every((e) => e.type === 'CommandIssued' && e.channel === channel));
    if (mode !== 'simple') assert.ok(scripted.every((e) => e.type === 'CommandIssued' && e.parameters.length === 2 && /^-?\d+$/.test(e.parameters[0] ?? '')));
    if (mode !== 'simple') assert.ok(updates.every((u) => u.event?.type === 'CommandCompleted' && u.event.tag === 'UPDATE 1'));
    // Per session, seq is gap-free and events are in order.
    const bySession = new Map<string, number[]>();
    for (const e of ev) bySession.set(e.sessionId, [...(bySession.get(e.sessionId) ?? []), e.seq]);
    for (const seqs of bySession.values())
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i),
      );
  });
}
