// Poison records through a real Kafka broker (issue 16): a hostile publisher puts on the
// session-events topic every record that used to stall a partition for good, each followed by
// valid events. The ledger process (`affidavit ledger run`) MUST turn every record into a ledger
// entry (an event, or an InputRejected entry; a seq anomaly adds a flag entry), append every
// valid event after them, keep its memory bounded, and leave a ledger `affidavit verify` proves,
// also against the checkpoints topic as kcat dumps it.
//
// One partition, so every poison record sits in the way of every later record.
// Run: node --test test/e2e/ledger-poison.test.ts
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafkaBus } from '@affidavit/bus';
import { uuidv7 } from '@affidavit/common';
import { codec, encodeEvent, exampleEvent } from '@affidavit/schemas';
import type { InputRejected } from '@affidavit/schemas';
import { openSqliteLedgerStore } from '@affidavit/ledger';
import type { Entry } from '@affidavit/ledger';
import { ensureKafka, uniqueTopic } from '../services/kafka.ts';
import { findKcat, kcatConsume } from '../services/kcat.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'aff-poison-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const store = join(dir, 'ledger.sqlite');
const key = join(dir, 'ledger.key');

const { bootstrap } = await ensureKafka();
const topic = uniqueTopic('poison');
// The producer side allows a ~1 MiB value (the broker's default message.max.bytes is 1 MiB).
const bus = createKafkaBus({ brokers: [bootstrap], clientId: 'poison-producer', maxValueBytes: 2 * 1024 * 1024 });
after(() => bus.close());

let child: ChildProcess | undefined;
after(() => child?.kill('SIGKILL'));

/** startLedger spawns `affidavit ledger run` and resolves once it is subscribed. */
async function startLedger(): Promise<ChildProcess> {
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
      'poison.test',
      '--topic',
      topic,
      '--partitions',
      '1',
      '--group',
      uniqueTopic('ledger'),
      '--checkpoint-ms',
      '300',
    ],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, AFFIDAVIT_LOG_LEVEL: 'warn' },
    },
  );
  const c = child;
  let text = '';
  c.stderr!.on('data', (d: Buffer) => {
    text += d.toString();
    if (text.length > 1 << 20) text = text.slice(-(1 << 19));
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`ledger did not start: ${text}`)), 60_000);
    const poll = setInterval(() => {
      if (text.includes('ledger running')) {
        clearTimeout(t);
        clearInterval(poll);
        resolve();
      }
    }, 20);
    c.once('exit', (code) => {
      clearTimeout(t);
      clearInterval(poll);
      reject(new Error(`ledger exited ${code} before it ran: ${text}`));
    });
  });
  (c as ChildProcess & { log: () => string }).log = () => text;
  return c;
}

/** rssKiB reads a process's resident set size from /proc (Linux). */
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

/** entries reads the one log through the store's read-only API (WAL: safe while the ledger writes). */
async function entries(): Promise<Entry[]> {
  const s = await openSqliteLedgerStore({ path: store, readOnly: true });
  try {
    const out: Entry[] = [];
    for (const id of await s.listLogs()) for await (const e of (await s.openLog(id)).readEntries(0, Number.MAX_SAFE_INTEGER)) out.push(e);
    return out;
  } finally {
    await s.close();
  }
}

/** kcatProduce sends one record with NO key (kcat without -K), as a client outside Affidavit can: a file argument is one message. */
function kcatProduce(value: Buffer): Promise<void> {
  const f = join(dir, `kcat-${randomBytes(4).toString('hex')}.bin`);
  writeFileSync(f, value);
  return new Promise((resolve, reject) => {
    execFile(findKcat()!, ['-b', bootstrap, '-P', '-t', topic, '-p', '0', f], { timeout: 30_000 }, (err, _o, stderr) =>
      err ? reject(new Error(`kcat -P failed: ${err.message} ${stderr}`)) : resolve(),
    );
  });
}

const SESSION = 'session-poison';
let seq = 0;
/** event encodes a valid CommandIssued of SESSION (or as overridden). */
const event = (over: Record<string, unknown> = {}) =>
  encodeEvent(exampleEvent('CommandIssued', { eventId: uuidv7(), sessionId: SESSION, seq: seq++, text: 'select 1', ...over }));
test('every poison record becomes an entry and never stalls the partition; memory bounded; verify proves the result', { timeout: 4 * 60_000 }, async () => {
  assert.ok(findKcat(), 'kcat must be installed (Debian package kcat)');
  await bus.ensureTopic(topic, 1);
  const c = await startLedger();

  // What is expected at each offset: 'event', or the InputRejected code; 'flag' marks an event
  // followed by its seq-anomaly flag entry.
  const expected: Array<{ what: string; value: Buffer }> = [];
  let offset = 0;
  const publish = async (what: string, value: Buffer, k = SESSION) => {
    await bus.publish(topic, [{ key: k, value }]);
    expected.push({ what, value });
    offset++;
  };
  const valid = async (n: number) => {
    for (let i = 0; i < n; i++) await publish('event', event());
  };

  await valid(5);
  const baseline = rssKiB(c.pid!);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(c.pid!))), 100);

  await publish('AFF_E_LEDGER_EVENT_ID_INVALID', event({ eventId: '' }));
  await valid(3);
  await publish('AFF_E_LEDGER_EVENT_ID_INVALID', event({ eventId: 'x'.repeat(401) }));
  await valid(3);
  // An id of the ledger's own form, naming the offset of the garbage record published below: it
  // once made the ledger drop that record as a "duplicate".
  const garbageOffset = offset + 1 + 3;
  await publish('AFF_E_LEDGER_EVENT_ID_INVALID', event({ eventId: `rejected:${topic}:0:${garbageOffset}` }));
  await valid(3);
  assert.equal(offset, garbageOffset);
  await publish('AFF_E_AVRO_BAD_MAGIC', Buffer.concat([Buffer.from('not avro'), randomBytes(1_000_000)]));
  await valid(3);
  for (let i = 0; i < 40; i++) await publish('AFF_E_AVRO_BAD_MAGIC', Buffer.concat([Buffer.from('junk'), randomBytes(250_000)]));
  await valid(3);
  const keyless = event();
  await kcatProduce(keyless);
  expected.push({ what: 'AFF_E_LEDGER_KEY_MISMATCH', value: keyless });
  offset++;
  await valid(3);
  await publish('AFF_E_LEDGER_KEY_MISMATCH', event(), 'another-session');
  await valid(3);
  await publish('flag', event({ seq: 2 })); // backwards: seq is past 20 by now
  await publish('event', event());
  await publish('flag', event({ seq: seq - 1 })); // repeats the seq just before it
  await valid(50);

  const want = expected.length + expected.filter((x) => x.what === 'flag').length;
  const deadline = Date.now() + 90_000;
  let got: Entry[] = [];
  for (;;) {
    got = await entries().catch(() => []);
    if (got.length >= want || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  clearInterval(sampler);
  const log = (c as ChildProcess & { log: () => string }).log();
  assert.equal(got.length, want, `every record became an entry (${got.length} of ${want}); ledger log tail:\n${log.slice(-4000)}`);
  assert.doesNotMatch(log, /will be retried/, 'no append was retried: nothing failed deterministically');

  // Entry by entry: the valid events in order, every poison as InputRejected with its code.
  let i = 0;
  for (const [off, x] of expected.entries()) {
    const e = got[i++];
    assert.equal(e.source?.offset, BigInt(off), `entry ${e.index} comes from offset ${off}`);
    if (x.what === 'event' || x.what === 'flag') {
      assert.equal(e.kind, 'event', `offset ${off} is an event`);
      assert.ok(Buffer.from(e.bytes).equals(x.value), `offset ${off}: the bytes as published`);
      if (x.what === 'flag') {
        const f = got[i++];
        assert.equal(f.kind, 'rejected');
        assert.equal(f.eventId, `anomaly:${topic}:0:${off}`);
        assert.equal((codec().decode(f.bytes) as InputRejected).code, 'AFF_E_LEDGER_SEQ_ANOMALY');
      }
      continue;
    }
    assert.equal(e.kind, 'rejected', `offset ${off} is rejected (${x.what})`);
    assert.equal(e.eventId, `rejected:${topic}:0:${off}`, 'the id comes from the source position');
    const r = codec().decode(e.bytes) as InputRejected;
    assert.equal(r.code, x.what, `offset ${off}: ${r.reason}`);
    assert.equal(r.rawSize, x.value.length);
  }

  // The DLQ holds every rejected record: whole up to 256 KiB, digest + 4 KiB prefix above.
  const rejected = expected.filter((x) => x.what !== 'event' && x.what !== 'flag');
  const dlq = await kcatConsume({ bootstrap, topic: `${topic}.dlq`, count: rejected.length, timeoutMs: 60_000 });
  assert.equal(dlq.length, rejected.length);
  for (const [k, r] of dlq.entries()) {
    const raw = rejected[k].value;
    if (raw.length > 256 * 1024) assert.ok(r.value?.equals(raw.subarray(0, 4096)), `DLQ record ${k}: the 4 KiB prefix of a ${raw.length}-byte record`);
    else assert.ok(r.value?.equals(raw), `DLQ record ${k}: the raw bytes`);
  }

  const growthMiB = (peak - baseline) / 1024;
  console.error(
    `ledger RSS: baseline ${(baseline / 1024).toFixed(0)} MiB, peak ${(peak / 1024).toFixed(0)} MiB (+${growthMiB.toFixed(0)} MiB) for ${(expected.reduce((n, x) => n + x.value.length, 0) / 2 ** 20).toFixed(1)} MiB of records`,
  );
  assert.ok(growthMiB < 128, `memory stays bounded: RSS grew ${growthMiB.toFixed(0)} MiB`);

  c.kill('SIGTERM');
  assert.equal(await new Promise((r) => c.once('exit', r)), 0, 'clean stop after SIGTERM');

  // verify proves the ledger, also against every checkpoint the topic carried (kcat's dump).
  const dump = spawnSync(findKcat()!, ['-b', bootstrap, '-C', '-t', `${topic}.checkpoints`, '-o', 'beginning', '-e', '-q', '-f', '%s\\n'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(dump.status, 0, dump.stderr);
  const published = join(dir, 'published.notes');
  writeFileSync(published, dump.stdout);
  assert.ok(dump.stdout.split('\n\n').length > 1, 'checkpoints were published');
  const v = spawnSync(process.execPath, [join(root, 'services/cli/src/main.ts'), 'verify', store, '--key', `${key}.pub`, '--checkpoints-from', published], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stderr, /verified: 1 logs proven/);
});
