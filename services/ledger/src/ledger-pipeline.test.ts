// The ledger's writer queue: the bus handler hands records over and returns; one writer per log
// appends whatever queued, as one store append (group commit). These tests drive it through the
// in-process bus and a store wrapper that counts, delays or fails appends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { BusRejectedError, createMemoryBroker, createMemoryBus } from '@affidavit/bus';
import type { OutgoingRecord } from '@affidavit/bus';
import { uuidv7 } from '@affidavit/common';
import type { Logger } from '@affidavit/common';
import { codec, encodeEvent, exampleEvent, TOPICS } from '@affidavit/schemas';
import type { InputRejected } from '@affidavit/schemas';
import { ed25519NoteSigner, ed25519NoteVerifier, generateEd25519NoteKey, openNote, parseCheckpoint } from '@affidavit/tlog';
import { openSqliteLedgerStore } from './adapters/index.ts';
import { Ledger, logIdFor } from './ledger-service.ts';
import type { LedgerOptions } from './ledger-service.ts';
import { entriesWithRecordedLeaves } from './bundle.ts';
import { verifyLog } from './core/verify-log.ts';
import type { AppendBatch, LedgerStore, LogStore } from './ports/index.ts';
import { BatchTooLargeError, LedgerInputInvalidError, StoreUnavailableError } from './store-errors.ts';
import { DLQ_MAX_CALL_BYTES, DLQ_MAX_VALUE_BYTES, DLQ_PREFIX_BYTES } from './dead-letters.ts';

const clock = { now: () => Date.now() };
const key = generateEd25519NoteKey('pipeline.test', (n) => randomBytes(n));
const signer = ed25519NoteSigner(key.signerKey);
const verifier = ed25519NoteVerifier(key.verifierKey);
const ev = (seq: number) => encodeEvent(exampleEvent('CommandIssued', { eventId: uuidv7(), sessionId: 'p', seq, text: `select ${seq}` }));

async function until(cond: () => boolean, ms = 20_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Hooks let a test see or change every append of every log. */
type Hooks = { before?: (batch: AppendBatch, n: number) => Promise<void> | void; sizes: number[] };

/** wrapAppends returns `store` with every log's append replaced by `append(log, batch, expectedSize)`; the rest passes through. */
function wrapAppends(store: LedgerStore, append: (log: LogStore) => (batch: AppendBatch, expectedSize: number) => Promise<void>): LedgerStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== 'openLog') return Reflect.get(target, prop, receiver);
      return async (id: string): Promise<LogStore> => {
        const log = await target.openLog(id);
        const wrapped = append(log);
        return new Proxy(log, {
          get(l, p, r) {
            if (p === 'append') return wrapped;
            const v = Reflect.get(l, p, r);
            return typeof v === 'function' ? v.bind(l) : v;
          },
        });
      };
    },
  });
}

function instrumented(store: LedgerStore, hooks: Hooks): LedgerStore {
  return wrapAppends(store, (log) => {
    let calls = 0;
    // Appends pass the hook one at a time, in call order: the wrapped store orders appends
    // (ordersAppends), and so must the wrapper, or a held first append is overtaken.
    let chain: Promise<unknown> = Promise.resolve();
    return (batch, expectedSize) => {
      const run = chain.then(async () => {
        await hooks.before?.(batch, calls++);
        await log.append(batch, expectedSize);
        if (batch.entries.length > 0) hooks.sizes.push(batch.entries.length);
      });
      chain = run.catch(() => {});
      return run;
    };
  });
}

/** A logger that keeps the messages it was given, by level. */
function recordingLogger() {
  const lines: Array<{ level: string; msg: string }> = [];
  const at = (level: string) => (_obj: unknown, msg?: string) => void lines.push({ level, msg: msg ?? '' });
  const logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
  return { lines, logger: logger as unknown as Logger };
}

async function setup(hooks: Hooks, options: Partial<LedgerOptions> = {}, maxBatchRecords = 50, logger?: Logger, wrap = (s: LedgerStore) => s) {
  const dir = mkdtempSync(join(tmpdir(), 'aff-pipeline-'));
  const broker = createMemoryBroker({ clock });
  const bus = createMemoryBus({ maxBatchRecords, retryBackoffMs: 5 }, { broker, clock });
  for (const t of [TOPICS.sessionEvents, TOPICS.sessionEventsDlq, TOPICS.checkpoints]) await bus.ensureTopic(t, 1);
  const raw = await openSqliteLedgerStore({ path: join(dir, 'ledger.sqlite') });
  const store = wrap(instrumented(raw, hooks));
  const ledger = new Ledger(
    { origin: 'pipeline.test', checkpointEveryEntries: 1_000, checkpointEveryMs: 60_000, retryBackoffMs: 5, ...options },
    { bus, store, signer, clock, logger },
  );
  return { bus, raw, ledger };
}

/** verifyAll checks the one log end to end and returns its entries' source offsets in index order. */
async function verifyAll(raw: LedgerStore): Promise<bigint[]> {
  const log = await raw.openLog(logIdFor(TOPICS.sessionEvents, 0));
  const checkpoints = await log.checkpoints();
  const report = await verifyLog({
    origin: `pipeline.test/${log.logId}`,
    checkpoints,
    entries: entriesWithRecordedLeaves(log),
    open: (n) => parseCheckpoint(openNote(n, [verifier]).text),
  });
  assert.equal(report.ok, true, JSON.stringify(report));
  const offsets: bigint[] = [];
  for await (const e of log.readEntries(0, Number.MAX_SAFE_INTEGER)) offsets.push(e.source!.offset);
  return offsets;
}

const consecutive = (n: number) => Array.from({ length: n }, (_, i) => BigInt(i));

test('records that queue while an append runs are written together (group commit), in offset order, once each', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  // The first append waits, so the bus keeps handing batches of 50 over meanwhile.
  const hooks: Hooks = { sizes: [], before: (_b, n) => (n === 0 ? gate : undefined) };
  const { bus, raw, ledger } = await setup(hooks, { maxAppendEntries: 400 });
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 1_000 }, (_, i) => ({ key: 'p', value: ev(i) })),
  );
  await new Promise((r) => setTimeout(r, 200));
  release();
  await until(() => ledger.stats().appended === 1_000);
  await ledger.stop();
  assert.deepEqual(await verifyAll(raw), consecutive(1_000));
  assert.ok(
    hooks.sizes.some((n) => n > 50),
    `some append wrote more than one bus batch: ${hooks.sizes.join(',')}`,
  );
  assert.ok(
    hooks.sizes.every((n) => n <= 400),
    `no append over maxAppendEntries: ${hooks.sizes.join(',')}`,
  );
  await raw.close();
});

test('a failing store holds everything back (nothing lost, nothing twice) and the bus waits at maxPendingEntries', async () => {
  let failures = 0;
  let down = true;
  const hooks: Hooks = {
    sizes: [],
    before: () => {
      if (down) {
        failures++;
        throw new StoreUnavailableError('the disk is gone for a while');
      }
    },
  };
  const log = recordingLogger();
  const { bus, raw, ledger } = await setup(hooks, { maxPendingEntries: 120 }, 50, log.logger);
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 600 }, (_, i) => ({ key: 'p', value: ev(i) })),
  );
  await until(() => failures >= 5);
  // Long enough for the waiting handler to give up with BackpressureError (the bus retries it).
  await until(() => log.lines.some((l) => l.level === 'warn' && /ledger is behind/.test(l.msg)));
  const held = ledger.stats();
  assert.equal(held.appended, 0, 'nothing counts as appended while the store fails');
  // The handler waits once 120 are queued; the batch that crossed the mark is the most over it.
  assert.ok(held.pending >= 120 && held.pending < 120 + 50, `pending ${held.pending} stays at maxPendingEntries`);
  down = false;
  await until(() => ledger.stats().appended === 600);
  await ledger.stop();
  assert.deepEqual(await verifyAll(raw), consecutive(600));
  assert.equal(ledger.stats().duplicates, 0);
  assert.equal(ledger.stats().pending, 0);
  await raw.close();
});

test('an append the store refuses for its size is split until it fits', async () => {
  const hooks: Hooks = {
    sizes: [],
    before: (b) => {
      if (b.entries.length > 64) throw new BatchTooLargeError(`${b.entries.length} entries is over the limit`);
    },
  };
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const first = hooks.before!;
  let n = 0;
  hooks.before = async (b, i) => {
    if (n++ === 0) await gate;
    return first(b, i);
  };
  const { bus, raw, ledger } = await setup(hooks, { maxAppendEntries: 1_000 }, 100);
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 700 }, (_, i) => ({ key: 'p', value: ev(i) })),
  );
  await new Promise((r) => setTimeout(r, 100));
  release();
  await until(() => ledger.stats().appended === 700);
  await ledger.stop();
  assert.deepEqual(await verifyAll(raw), consecutive(700));
  assert.ok(
    hooks.sizes.every((s) => s <= 64),
    hooks.sizes.join(','),
  );
  await raw.close();
});

test('stop() appends every record already handed over before its final checkpoint', async () => {
  const hooks: Hooks = { sizes: [], before: () => new Promise((r) => setTimeout(r, 20)) };
  const { bus, raw, ledger } = await setup(hooks, {}, 100);
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 500 }, (_, i) => ({ key: 'p', value: ev(i) })),
  );
  await until(() => ledger.stats().appended > 0);
  await ledger.stop();
  const appended = ledger.stats().appended;
  const offsets = await verifyAll(raw);
  assert.deepEqual(offsets, consecutive(appended), 'a prefix of the partition, each offset once');
  const log = await raw.openLog(logIdFor(TOPICS.sessionEvents, 0));
  const latest = await log.latestCheckpoint();
  assert.equal(Number(latest!.split('\n')[1]), appended, 'the final checkpoint covers every appended entry');
  await raw.close();
});

test('a backlog written in large groups still gets a checkpoint every checkpointEveryEntries entries', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const hooks: Hooks = { sizes: [], before: (_b, n) => (n === 0 ? gate : undefined) };
  const { bus, raw, ledger } = await setup(hooks, { checkpointEveryEntries: 100, maxAppendEntries: 4_096 }, 50);
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 1_000 }, (_, i) => ({ key: 'p', value: ev(i) })),
  );
  await new Promise((r) => setTimeout(r, 200));
  release();
  await until(() => ledger.stats().appended === 1_000);
  await ledger.stop();
  assert.deepEqual(await verifyAll(raw), consecutive(1_000));
  const log = await raw.openLog(logIdFor(TOPICS.sessionEvents, 0));
  const sizes = (await log.checkpoints()).map((n) => Number(n.split('\n')[1]));
  assert.deepEqual(
    sizes,
    Array.from({ length: 10 }, (_, i) => (i + 1) * 100),
  );
  await raw.close();
});

test('pipelining: when the append in flight fails, the group computed behind it is recomputed; nothing lost or twice', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let failed = 0;
  // Append #1 is held (the next group is precomputed against the state after it meanwhile), then fails.
  const hooks: Hooks = {
    sizes: [],
    before: async (_b, n) => {
      if (n === 1) {
        await gate;
        failed++;
        throw new StoreUnavailableError('the disk went away mid-append');
      }
    },
  };
  const { bus, raw, ledger } = await setup(hooks, { maxAppendEntries: 50, checkpointEveryEntries: 70 });
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 400 }, (_, i) => ({ key: 'p', value: ev(i) })),
  );
  await until(() => ledger.stats().appended === 50);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(ledger.stats().appended, 50, 'nothing past the held append counts as appended');
  release();
  await until(() => ledger.stats().appended === 400);
  await ledger.stop();
  assert.equal(failed, 1);
  // verifyAll also checks every checkpoint against the recorded leaves: the recomputed tree is the stored one.
  assert.deepEqual(await verifyAll(raw), consecutive(400));
  assert.equal(ledger.stats().duplicates, 0);
  assert.equal(ledger.stats().pending, 0);
  await raw.close();
});

test('pipelining: an eventId of the group in flight (not yet in the store) is a duplicate in the next group', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const hooks: Hooks = { sizes: [], before: (_b, n) => (n === 0 ? gate : undefined) };
  const log = recordingLogger();
  const { bus, raw, ledger } = await setup(hooks, { maxAppendEntries: 50 }, 50, log.logger);
  const events = Array.from({ length: 100 }, (_, i) => ev(i));
  await ledger.start();
  // Offsets 0..49: events 0..49; 50..99: the same 50 again; 100..149: events 50..99.
  await bus.publish(
    TOPICS.sessionEvents,
    [...events.slice(0, 50), ...events.slice(0, 50), ...events.slice(50)].map((value) => ({ key: 'p', value })),
  );
  await new Promise((r) => setTimeout(r, 100));
  release();
  await until(() => ledger.stats().appended === 100 && ledger.stats().pending === 0);
  await ledger.stop();
  const offsets = await verifyAll(raw);
  assert.deepEqual(offsets, [...consecutive(50), ...consecutive(50).map((o) => o + 100n)]);
  assert.equal(ledger.stats().duplicates, 50);
  // Dropped before the append, not caught by the store's backstop (a failed append and a retry).
  assert.deepEqual(
    log.lines.filter((l) => l.level === 'error'),
    [],
  );
  await raw.close();
});

test('pipelining: a store that orders appends gets the next one before the previous resolved', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let issued = 0;
  let resolved = 0;
  let most = 0;
  const hooks: Hooks = { sizes: [], before: (_b, n) => (n === 0 ? gate : undefined) };
  // Count appends issued and not yet resolved, outside the ordering wrapper.
  const counting = (store: LedgerStore) =>
    wrapAppends(store, (log) => async (batch, size) => {
      most = Math.max(most, ++issued - resolved);
      try {
        await log.append(batch, size);
      } finally {
        resolved++;
      }
    });
  const { bus, raw, ledger } = await setup(hooks, { maxAppendEntries: 50, checkpointEveryMs: 60_000 }, 50, undefined, counting);
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 300 }, (_, i) => ({ key: 'p', value: ev(i) })),
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(ledger.stats().appended, 0, 'nothing counts as appended while the first append is held');
  release();
  await until(() => ledger.stats().appended === 300);
  await ledger.stop();
  assert.equal(most, 2, 'two appends outstanding at most (PIPELINE_DEPTH)');
  assert.deepEqual(await verifyAll(raw), consecutive(300));
  await raw.close();
});

test('an event the log already holds, sent again at a later offset, is dropped on the store’s word: no retry pause, no error', async () => {
  const hooks: Hooks = { sizes: [] };
  const log = recordingLogger();
  const { bus, raw, ledger } = await setup(hooks, { maxAppendEntries: 100, retryBackoffMs: 60_000 }, 50, log.logger);
  const events = Array.from({ length: 200 }, (_, i) => ev(i));
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    events.slice(0, 100).map((value) => ({ key: 'p', value })),
  );
  await until(() => ledger.stats().appended === 100);
  // A producer retry: 20 stored events again, among new ones (offsets 100..219).
  const again = [...events.slice(100, 150), ...events.slice(10, 30), ...events.slice(150)];
  await bus.publish(
    TOPICS.sessionEvents,
    again.map((value) => ({ key: 'p', value })),
  );
  // retryBackoffMs is a minute: this only finishes in time if duplicates cost no pause.
  await until(() => ledger.stats().appended === 200 && ledger.stats().pending === 0, 10_000);
  await ledger.stop();
  assert.equal(ledger.stats().duplicates, 20);
  const offsets = await verifyAll(raw);
  assert.deepEqual(offsets, [...consecutive(150), ...consecutive(50).map((o) => o + 170n)]);
  assert.deepEqual(
    log.lines.filter((l) => l.level === 'error'),
    [],
  );
  assert.ok(log.lines.some((l) => l.level === 'info' && /already holds/.test(l.msg)));
  await raw.close();
});

test('an append reported failed that did land (outcome unknown) is found by the size fence; the writer re-reads the log, nothing twice', async () => {
  let lied = 0;
  // The second append commits, then the store reports it failed (a lost reply).
  const lying = (store: LedgerStore) =>
    wrapAppends(store, (log) => {
      let n = 0;
      return async (batch, size) => {
        await log.append(batch, size);
        if (n++ === 1) {
          lied++;
          throw new StoreUnavailableError('the reply was lost; the outcome is unknown');
        }
      };
    });
  const { bus, raw, ledger } = await setup({ sizes: [] }, { maxAppendEntries: 50, checkpointEveryEntries: 70 }, 50, undefined, lying);
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 400 }, (_, i) => ({ key: 'p', value: ev(i) })),
  );
  await until(() => ledger.stats().appended + ledger.stats().duplicates === 400 && ledger.stats().pending === 0);
  await ledger.stop();
  assert.equal(lied, 1);
  // The landed group counts as duplicates on the retry: every offset once, tree and checkpoints verify.
  assert.deepEqual(await verifyAll(raw), consecutive(400));
  await raw.close();
});

test('a checkpoint-only append that fails is asked for again, and lands', async () => {
  let refused = 0;
  const hooks: Hooks = {
    sizes: [],
    before: (b) => {
      if (b.entries.length === 0 && b.checkpoint !== undefined && refused === 0) {
        refused++;
        throw new StoreUnavailableError('the disk hiccuped');
      }
    },
  };
  // No checkpoint by entries or by time during the test: only the explicit request below.
  const { bus, raw, ledger } = await setup(hooks, { checkpointEveryEntries: 1_000_000, checkpointEveryMs: 600_000 });
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 30 }, (_, i) => ({ key: 'p', value: ev(i) })),
  );
  await until(() => ledger.stats().appended === 30);
  const log = await raw.openLog(logIdFor(TOPICS.sessionEvents, 0));
  assert.equal(await log.latestCheckpoint(), undefined);
  // The writer takes the request, its append is refused, and the retry writes it: checkpointNow
  // resolves once the writer is done, so the checkpoint is there right after.
  await ledger.checkpointNow(true);
  assert.equal(refused, 1);
  assert.equal(Number((await log.latestCheckpoint())?.split('\n')[1]), 30, 'the refused checkpoint was written on the retry');
  await ledger.stop();
  assert.deepEqual(await verifyAll(raw), consecutive(30));
  await raw.close();
});

// Poison records: a failure that repeats for the same input MUST NOT stall the partition.

test('an entry the store refuses as invalid is narrowed down and appended as InputRejected; every other record is appended', async () => {
  const events = Array.from({ length: 100 }, (_, i) => ev(i));
  const poison = codec().inspect(events[37]).eventId;
  let refusals = 0;
  const hooks: Hooks = {
    sizes: [],
    before: (b) => {
      if (b.entries.some((e) => e.eventId === poison)) {
        refusals++;
        throw new LedgerInputInvalidError('entries[0] refused by a stricter store (test)');
      }
    },
  };
  const { bus, raw, ledger } = await setup(hooks, { maxAppendEntries: 64 });
  await ledger.start();
  await bus.publish(
    TOPICS.sessionEvents,
    events.map((value) => ({ key: 'p', value })),
  );
  await until(() => ledger.stats().appended === 100 && ledger.stats().pending === 0);
  await ledger.stop();
  assert.ok(refusals >= 2 && refusals <= 10, `narrowed down in a few steps, not retried forever (${refusals})`);
  assert.deepEqual(await verifyAll(raw), consecutive(100));
  const log = await raw.openLog(logIdFor(TOPICS.sessionEvents, 0));
  const kinds: string[] = [];
  for await (const e of log.readEntries(0, 100)) kinds.push(e.kind);
  assert.equal(kinds[37], 'rejected');
  assert.equal(kinds.filter((k) => k === 'rejected').length, 1);
  let entry37: InputRejected | undefined;
  for await (const e of log.readEntries(37, 38)) entry37 = codec().decode(e.bytes) as InputRejected;
  assert.equal(entry37?.code, 'AFF_E_LEDGER_ENTRY_REFUSED');
  await raw.close();
});

test('a DLQ that refuses records for good gets digest + prefix instead, once; the partition moves on', async () => {
  const dlq: OutgoingRecord[][] = [];
  let refused = 0;
  const { bus, raw, ledger } = await setup({ sizes: [] }, {}, 50, undefined);
  const publish = bus.publish.bind(bus);
  bus.publish = async (topic, records, opts) => {
    if (topic === TOPICS.sessionEventsDlq) {
      if (records.some((r) => r.headers?.truncated !== 'true')) {
        refused++;
        throw new BusRejectedError('MESSAGE_TOO_LARGE (test)');
      }
      dlq.push([...records]);
    }
    return publish(topic, records, opts);
  };
  await ledger.start();
  // A burst of 250 KB garbage records, one of 300 KB (over the DLQ bound), then valid events.
  const garbage = [...Array.from({ length: 6 }, (_, i) => randomBytes(250_000 + i)), randomBytes(300_000)];
  await bus.publish(
    TOPICS.sessionEvents,
    garbage.map((value) => ({ key: 'p', value })),
  );
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 20 }, (_, i) => ({ key: 'p', value: ev(i) })),
  );
  await until(() => ledger.stats().appended === 27 && ledger.stats().pending === 0);
  await ledger.stop();
  assert.equal(ledger.stats().rejected, 7);
  assert.ok(refused >= 1 && refused <= 7, `each refused call tried once (${refused})`);
  const sent = dlq.flat();
  assert.equal(sent.length, 7, 'every rejected record reached the DLQ, as digest + prefix');
  for (const [i, r] of sent.entries()) {
    assert.equal(r.value.length, DLQ_PREFIX_BYTES);
    assert.equal(r.headers?.['raw-size'], String(garbage[i].length));
    assert.equal(r.headers?.['raw-sha256'], createHash('sha256').update(garbage[i]).digest('hex'));
  }
  assert.deepEqual(await verifyAll(raw), consecutive(27));
  await raw.close();
});

test('DLQ calls stay small: a burst of large rejected records is split, an oversized one sent as a prefix', async () => {
  const calls: number[] = [];
  const { bus, raw, ledger } = await setup({ sizes: [] });
  const publish = bus.publish.bind(bus);
  bus.publish = async (topic, records, opts) => {
    if (topic === TOPICS.sessionEventsDlq) calls.push(records.reduce((n, r) => n + r.value.length, 0));
    return publish(topic, records, opts);
  };
  await ledger.start();
  await bus.publish(TOPICS.sessionEvents, [
    ...Array.from({ length: 8 }, () => ({ key: 'p', value: randomBytes(250_000) })),
    { key: 'p', value: randomBytes(DLQ_MAX_VALUE_BYTES + 1) },
  ]);
  await until(() => ledger.stats().appended === 9 && ledger.stats().pending === 0);
  await ledger.stop();
  assert.ok(calls.length >= 4, `split into several calls (${calls.join(', ')})`);
  assert.ok(
    calls.every((n) => n <= DLQ_MAX_CALL_BYTES),
    `each call at most ${DLQ_MAX_CALL_BYTES} bytes (${calls.join(', ')})`,
  );
  assert.equal(
    calls.reduce((a, b) => a + b, 0),
    8 * 250_000 + DLQ_PREFIX_BYTES,
  );
  await raw.close();
});

test('a seq anomaly is flagged through the pipeline, also against groups still in flight', async () => {
  const { bus, raw, ledger } = await setup({ sizes: [] }, { maxAppendEntries: 8 });
  await ledger.start();
  const seqs = [...Array.from({ length: 40 }, (_, i) => i), 10, 39, 40];
  await bus.publish(
    TOPICS.sessionEvents,
    seqs.map((s) => ({ key: 'p', value: ev(s) })),
  );
  await until(() => ledger.stats().appended === 45 && ledger.stats().pending === 0);
  await ledger.stop();
  assert.equal(ledger.stats().anomalies, 2);
  const log = await raw.openLog(logIdFor(TOPICS.sessionEvents, 0));
  const flags: string[] = [];
  for await (const e of log.readEntries(0, 45)) if (e.kind === 'rejected') flags.push(`${e.index}:${(codec().decode(e.bytes) as InputRejected).code}`);
  assert.deepEqual(flags, ['41:AFF_E_LEDGER_SEQ_ANOMALY', '43:AFF_E_LEDGER_SEQ_ANOMALY']);
  await raw.close();
});

test('queued records are bounded in bytes: a burst of large records waits for room (maxPendingBytes) and is all appended', async () => {
  const groups: number[] = [];
  const hooks: Hooks = { sizes: [], before: (b) => void groups.push(b.entries.reduce((n, e) => n + e.bytes.length, 0)) };
  const { bus, raw, ledger } = await setup(hooks, { maxPendingBytes: 1024 * 1024 }, 4);
  await ledger.start();
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, ledger.stats().pending)), 1);
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 30 }, () => ({ key: 'p', value: randomBytes(300_000) })),
  );
  await bus.publish(
    TOPICS.sessionEvents,
    Array.from({ length: 10 }, (_, i) => ({ key: 'p', value: ev(i) })),
  );
  await until(() => ledger.stats().appended === 40 && ledger.stats().pending === 0);
  clearInterval(sampler);
  await ledger.stop();
  assert.ok(peak <= 12, `at most ~1 MiB of 300 KB records queued plus a delivery (${peak})`);
  assert.deepEqual(await verifyAll(raw), consecutive(40));
  await raw.close();
});
