// Crash trials of the ledger against a real Kafka broker: while events stream in, the ledger
// process (`affidavit ledger run`) is SIGKILLed at random moments and restarted. Afterwards
// every eventId is in the log exactly once, each session's events are in seq order, and the
// root over the entries equals the signed checkpoint and a recomputation.
//
// Full size per the issue: AFFIDAVIT_SIGKILL_EVENTS=100000 AFFIDAVIT_SIGKILL_KILLS=50.
// CI runs a smaller default (same code path).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafkaBus } from '@affidavit/bus';
import { uuidv7 } from '@affidavit/common';
import { codec, encodeEvent, exampleEvent } from '@affidavit/schemas';
import type { SessionEvent } from '@affidavit/schemas';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import type { Entry } from '@affidavit/ledger';
import { ensureKafka, uniqueTopic } from '../services/kafka.ts';

const EVENTS = Number(process.env.AFFIDAVIT_SIGKILL_EVENTS ?? 20_000);
const KILLS = Number(process.env.AFFIDAVIT_SIGKILL_KILLS ?? 10);
const SESSIONS = 50;
const PARTITIONS = 3;
const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'aff-sigkill-'));
const store = join(dir, 'ledger.sqlite');
const key = join(dir, 'ledger.key');

const { bootstrap } = await ensureKafka();
const topic = uniqueTopic('sigkill');
const bus = createKafkaBus({ brokers: [bootstrap], clientId: 'sigkill-producer' });
after(() => bus.close());

let child: ChildProcess | undefined;
/** startLedger spawns the ledger and resolves once it says it is running (subscribed). */
async function startLedger(): Promise<ChildProcess> {
  // A fresh consumer group each start: the ledger must resume from its own log tail, so no
  // committed offset can help it (and no dead member delays a rebalance).
  child = spawn(
    process.execPath,
    [
      join(root, 'services/cli/src/main.ts'),
      'ledger',
      'run',
      '--brokers',
      bootstrap,
      '--store',
      store,
      '--signing-key',
      key,
      '--origin',
      'sigkill.test',
      '--topic',
      topic,
      '--partitions',
      String(PARTITIONS),
      '--group',
      uniqueTopic('ledger'),
      '--checkpoint-every',
      '2000',
      '--checkpoint-ms',
      '500',
    ],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, AFFIDAVIT_LOG_LEVEL: 'warn' },
    },
  );
  const c = child;
  await new Promise<void>((resolve, reject) => {
    let text = '';
    const t = setTimeout(() => reject(new Error(`ledger did not start: ${text}`)), 60_000);
    c.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('ledger running')) {
        clearTimeout(t);
        resolve();
      }
    });
    c.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`ledger exited ${code} before it ran: ${text}`));
    });
  });
  return c;
}
after(() => child?.kill('SIGKILL'));

/** readLogs reads every log through the store's own read-only API (WAL: safe while the ledger writes). */
async function readLogs<T>(fn: (logs: Array<{ id: string; size: number; entries: () => AsyncIterable<Entry> }>) => Promise<T>): Promise<T> {
  const s = await openSqliteLedgerStore({ path: store, readOnly: true });
  try {
    const logs = [];
    for (const id of await s.listLogs()) {
      const log = await s.openLog(id);
      logs.push({ id, size: (await log.tail()).size, entries: () => log.readEntries(0, Number.MAX_SAFE_INTEGER) });
    }
    return await fn(logs);
  } finally {
    await s.close();
  }
}
const storedCount = () => readLogs(async (logs) => logs.reduce((n, l) => n + l.size, 0)).catch(() => 0);

test(`ledger killed ${KILLS} times while ${EVENTS} events stream: exactly once, in order, verifiable`, { timeout: 20 * 60_000 }, async () => {
  await bus.ensureTopic(topic, PARTITIONS);
  const seq = new Array(SESSIONS).fill(0);
  const ids: string[] = [];
  const batches: { key: string; value: Buffer }[][] = [];
  for (let b = 0; b < EVENTS / 500; b++) {
    const batch = [];
    for (let i = 0; i < 500; i++) {
      const s = (b * 500 + i) % SESSIONS;
      const eventId = uuidv7();
      ids.push(eventId);
      batch.push({
        key: `session-${s}`,
        value: encodeEvent(exampleEvent('CommandIssued', { eventId, sessionId: `session-${s}`, seq: seq[s]++, text: `select ${b * 500 + i}` })),
      });
    }
    batches.push(batch);
  }
  // Producer: paced by the kill loop, not by the clock (a faster ledger would otherwise be done
  // before the later kills): slice k of the stream is published while ledger start k runs,
  // spread over about a second, so every kill lands while events are arriving and being appended.
  let cycle = -1;
  const perCycle = Math.ceil(batches.length / KILLS);
  const pauseMs = Math.max(5, 1_000 / perCycle);
  const producing = (async () => {
    for (let i = 0; i < batches.length; i++) {
      while (cycle < Math.floor(i / perCycle)) await new Promise((r) => setTimeout(r, 10));
      await bus.publish(topic, batches[i]);
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  const appendedAtKill: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    const c = await startLedger();
    cycle = k;
    // A random moment once it consumes: mid-batch, mid-checkpoint, between batches.
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 1_200));
    c.kill('SIGKILL');
    await new Promise((r) => c.once('exit', r));
    appendedAtKill.push(await storedCount());
    console.error(`kill ${k + 1}/${KILLS}: ${appendedAtKill.at(-1)} entries in the log`);
  }
  await producing;
  const last = await startLedger();
  const deadline = Date.now() + 5 * 60_000;
  for (let n = await storedCount(); n < EVENTS && Date.now() < deadline; n = await storedCount()) {
    console.error(`final run: ${n}/${EVENTS} entries`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  last.kill('SIGTERM');
  const code = await new Promise((r) => last.once('exit', r));
  assert.equal(code, 0, 'clean stop after SIGTERM');

  assert.ok(
    appendedAtKill.filter((n) => n > 0 && n < EVENTS).length >= KILLS / 2,
    `kills landed while the ledger was appending (entries at each kill: ${appendedAtKill.join(', ')})`,
  );
  const rows = await readLogs(async (logs) => {
    const out: Array<{ id: string; bytes: Uint8Array }> = [];
    for (const l of logs) for await (const e of l.entries()) out.push({ id: e.eventId, bytes: e.bytes });
    return out;
  });
  assert.equal(rows.length, EVENTS, 'every event appended, none twice');
  assert.deepEqual(new Set(rows.map((r) => r.id)), new Set(ids), 'exactly the published event ids');
  const lastSeq = new Map<string, number>();
  for (const r of rows) {
    const e = codec().decode(r.bytes) as SessionEvent;
    assert.equal(e.eventId, r.id);
    const prev = lastSeq.get(e.sessionId) ?? -1;
    assert.equal(e.seq, prev + 1, `${e.sessionId}: seq ${e.seq} after ${prev} (per-session order)`);
    lastSeq.set(e.sessionId, e.seq);
  }
  // The signed checkpoints and the root over the entries: the real verifier, as a user runs it.
  const v = spawnSync(process.execPath, [join(root, 'services/cli/src/main.ts'), 'verify', store, '--key', `${key}.pub`], { cwd: root, encoding: 'utf8' });
  assert.equal(v.status, 0, v.stdout + v.stderr);
  const okLines = v.stdout.trim().split('\n');
  assert.equal(okLines.length, PARTITIONS, v.stdout);
  assert.ok(
    okLines.every((l) => / ok: \d+ entries, \d+ checkpoints verified, root [0-9a-f]{64}/.test(l)),
    v.stdout,
  );
  assert.ok(readFileSync(`${key}.pub`, 'utf8').startsWith('sigkill.test+'));
});
