// The embedded recording path on a real SQLite file: the sink acknowledges only what the ledger
// committed (read back through a second, read-only connection), and every session shares one log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7 } from '@affidavit/common';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import { encodeEvent, exampleEvent } from '@affidavit/schemas';
import { SESSION_EVENT_PARTITIONS, startEmbeddedRecording } from './embedded-recording.ts';

const options = (dir: string) => ({
  ledgerFile: join(dir, 'ledger.sqlite'),
  signingKeyFile: join(dir, 'ledger.key'),
  verifierKeyFile: join(dir, 'ledger.vkey'),
  origin: 'embedded-recording.test/ledger',
  checkpointEveryEntries: 1000,
  checkpointEveryMs: 5000,
});

test('a publish resolves once the ledger file holds every event, and all sessions share one log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'embedded-recording-'));
  const rec = await startEmbeddedRecording(options(dir));
  try {
    const events = Array.from({ length: 12 }, (_, i) => {
      const sessionId = `session-${i % 4}`;
      const eventId = uuidv7();
      return { key: sessionId, value: encodeEvent(exampleEvent('CommandIssued', { eventId, sessionId, seq: Math.floor(i / 4) })), headers: { eventId } };
    });
    await rec.sink.publish(events.slice(0, 5));
    // Read through another connection: what it sees is committed to the file, not in memory.
    const reader = await openSqliteLedgerStore({ path: options(dir).ledgerFile, readOnly: true });
    const logs = await reader.listLogs();
    assert.equal(SESSION_EVENT_PARTITIONS, 1);
    assert.equal(logs.length, 1, `one log for every session: ${logs.join(', ')}`);
    const stored = async () => {
      const ids: string[] = [];
      for await (const e of (await reader.openLog(logs[0])).readEntries(0, 100)) ids.push(e.eventId);
      return ids;
    };
    assert.deepEqual(
      await stored(),
      events.slice(0, 5).map((e) => e.headers.eventId),
    );
    await rec.sink.publish(events.slice(5));
    assert.deepEqual(
      await stored(),
      events.map((e) => e.headers.eventId),
    );
    await reader.close();
  } finally {
    for (const [, stop] of rec.stops.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a ledger file that cannot be opened fails the start with a typed ledger error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'embedded-recording-'));
  try {
    await assert.rejects(
      startEmbeddedRecording({ ...options(dir), ledgerFile: join(dir, 'no-such-folder', 'ledger.sqlite') }),
      (e: Error & { code?: string }) => {
        assert.match(e.code ?? '', /^AFF_E_LEDGER_/);
        return true;
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an event published without an eventId header is acknowledged when the ledger holds it, not after the timeout', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'embedded-recording-'));
  const rec = await startEmbeddedRecording(options(dir));
  try {
    const eventId = uuidv7();
    // A sink's caller may leave the headers out (the contract makes them optional): the sink
    // then waits for the id the event itself carries, not for '' (which never comes).
    const acked = rec.sink.publish([{ key: 's', value: encodeEvent(exampleEvent('AuthenticationFailed', { eventId, sessionId: 's', seq: 0 })) }]);
    const outcome = await Promise.race([acked.then(() => 'acknowledged'), new Promise((r) => setTimeout(r, 5000, 'still waiting after 5 s')).then(String)]);
    assert.equal(outcome, 'acknowledged');
    const reader = await openSqliteLedgerStore({ path: options(dir).ledgerFile, readOnly: true });
    const [log] = await reader.listLogs();
    const ids: string[] = [];
    for await (const e of (await reader.openLog(log)).readEntries(0, 10)) ids.push(e.eventId);
    await reader.close();
    assert.deepEqual(ids, [eventId]);
  } finally {
    for (const [, stop] of rec.stops.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
