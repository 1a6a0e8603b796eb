import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hashLeaf, rootHash, memoryNodeReader, toHex } from '@affidavit/tlog';
import { RootAccumulator } from './root-accumulator.ts';
import { verifyLog } from './verify-log.ts';
import type { OpenedCheckpoint, VerifyEntry } from './verify-log.ts';

// A stand-in for signed notes: the checkpoint text is JSON, "signed" when it says so. The real
// note verification is tested in packages/tlog and end to end through the CLI.
const note = (c: { origin?: string; size: number; root: Uint8Array; bad?: boolean }) =>
  JSON.stringify({ origin: c.origin ?? 'log', size: c.size, root: toHex(c.root), bad: c.bad ?? false });
const open = (n: string): OpenedCheckpoint => {
  const j = JSON.parse(n);
  if (j.bad) throw Object.assign(new Error('signature does not verify'), { code: 'AFF_E_TLOG_SIGNATURE_INVALID' });
  return { origin: j.origin, size: j.size, root: Buffer.from(j.root, 'hex') };
};
const entriesOf = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`entry ${i}`));
async function* stream(list: Buffer[], recorded = true, indexes?: number[]): AsyncIterable<VerifyEntry> {
  for (const [i, bytes] of list.entries())
    yield { index: indexes?.[i] ?? i, bytes, ...(recorded ? { recordedLeaf: hashLeaf(Buffer.from(`entry ${indexes?.[i] ?? i}`)) } : {}) };
}
const rootOf = async (list: Buffer[], size = list.length) => rootHash(memoryNodeReader(list.map((b) => hashLeaf(b))), size);
const cps = async (list: Buffer[], sizes: number[]) => Promise.all(sizes.map(async (s) => note({ size: s, root: await rootOf(list, s) })));

test('RootAccumulator gives the RFC 9162 root of every prefix', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 300 }), async (n) => {
      const list = entriesOf(n);
      const acc = new RootAccumulator();
      for (const b of list) acc.push(hashLeaf(b));
      assert.equal(toHex(acc.root()!), toHex(await rootOf(list)));
    }),
    { numRuns: 60 },
  );
});

test('an untouched log verifies', async () => {
  const list = entriesOf(1000);
  const r = await verifyLog({ origin: 'log', checkpoints: await cps(list, [10, 257, 1000]), entries: stream(list), open });
  assert.deepEqual(r, { ok: true, entries: 1000, checkpoints: 3, signed: 1000, root: toHex(await rootOf(list)) });
});

test('one changed byte is named by entry when the append-time leaf is known', async () => {
  const list = entriesOf(100);
  const checkpoints = await cps(list, [100]);
  list[42] = Buffer.from('entry 4X');
  const r = await verifyLog({ origin: 'log', checkpoints, entries: stream(list), open });
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.problem.kind === 'entry' && r.problem.index, 42);
});

test('one changed byte without recorded leaves is pinned to the range of the failing checkpoint', async () => {
  const list = entriesOf(100);
  const checkpoints = await cps(list, [40, 80, 100]);
  list[50] = Buffer.from('tampered');
  const r = await verifyLog({ origin: 'log', checkpoints, entries: stream(list, false), open });
  assert.ok(!r.ok && r.problem.kind === 'range' && r.problem.from === 40 && r.problem.to === 80, JSON.stringify(r));
});

test('a deleted entry, a duplicated one and two swapped ones are each detected', async () => {
  const list = entriesOf(20);
  const checkpoints = await cps(list, [20]);
  const del = await verifyLog({
    origin: 'log',
    checkpoints,
    entries: stream(
      [...list.slice(0, 5), ...list.slice(6)],
      true,
      [...Array(20).keys()].filter((i) => i !== 5),
    ),
    open,
  });
  assert.ok(!del.ok && del.problem.kind === 'entry' && del.problem.index === 5 && /missing/.test(del.problem.message));
  const swapped = [...list];
  [swapped[3], swapped[4]] = [swapped[4], swapped[3]];
  const sw = await verifyLog({ origin: 'log', checkpoints, entries: stream(swapped), open });
  assert.ok(!sw.ok && sw.problem.kind === 'entry' && sw.problem.index === 3);
  const sw2 = await verifyLog({ origin: 'log', checkpoints, entries: stream(swapped, false), open });
  assert.ok(!sw2.ok && sw2.problem.kind === 'range', 'without recorded leaves the swap still breaks the root');
});

test('truncation below a checkpoint and a rollback against an external checkpoint are detected', async () => {
  const list = entriesOf(50);
  const checkpoints = await cps(list, [50]);
  const cut = await verifyLog({ origin: 'log', checkpoints, entries: stream(list.slice(0, 30)), open });
  assert.ok(!cut.ok && cut.problem.kind === 'checkpoint' && /removed/.test(cut.problem.message));
  // Truncate to 30 and re-append different entries, with fresh (validly signed) checkpoints.
  const rewritten = [...list.slice(0, 30), ...Array.from({ length: 20 }, (_, i) => Buffer.from(`forged ${i}`))];
  const external = await cps(list, [40]);
  const rb = await verifyLog({ origin: 'log', checkpoints: await cps(rewritten, [50]), external, entries: stream(rewritten, false), open });
  assert.ok(!rb.ok && rb.problem.kind === 'range' && /rollback/.test(rb.problem.message), JSON.stringify(rb));
});

test('a bad signature, a foreign origin and two roots for one size fail on the checkpoint', async () => {
  const list = entriesOf(10);
  const good = await cps(list, [10]);
  const bad = note({ size: 10, root: await rootOf(list), bad: true });
  const r1 = await verifyLog({ origin: 'log', checkpoints: [bad], entries: stream(list), open });
  assert.ok(!r1.ok && r1.problem.kind === 'checkpoint' && /AFF_E_TLOG_SIGNATURE_INVALID/.test(r1.problem.message));
  const r2 = await verifyLog({ origin: 'log', checkpoints: [note({ origin: 'other', size: 10, root: await rootOf(list) })], entries: stream(list), open });
  assert.ok(!r2.ok && /origin/.test(r2.problem.message));
  const fork = note({ size: 10, root: await rootOf(entriesOf(11), 10).then((r) => Buffer.from(r).fill(1)) });
  const r3 = await verifyLog({ origin: 'log', checkpoints: [...good, fork], entries: stream(list), open });
  assert.ok(!r3.ok && /forked/.test(r3.problem.message));
});

/** paged regroups a stream of entries into pages of the given sizes (cycled), as entriesWithRecordedLeaves yields them. */
async function* paged(src: AsyncIterable<VerifyEntry>, sizes: number[]): AsyncIterable<VerifyEntry[]> {
  let page: VerifyEntry[] = [];
  let k = 0;
  for await (const e of src) {
    page.push(e);
    if (page.length >= sizes[k % sizes.length]) {
      yield page;
      page = [];
      k++;
    }
  }
  if (page.length > 0) yield page;
}

test('property: entries given as pages give exactly the report of entries given one by one, tampered or not', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 400 }),
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 5 }),
      fc.constantFrom('none', 'alter', 'drop', 'swap'),
      fc.nat(),
      fc.boolean(),
      async (n, sizes, tamper, at, recorded) => {
        const list = entriesOf(n);
        const checkpoints = await cps(list, [...new Set([1, Math.ceil(n / 2), n])]);
        const i = at % n;
        let indexes: number[] | undefined;
        if (tamper === 'alter') list[i] = Buffer.from(`entry ${i}!`);
        if (tamper === 'drop') {
          list.splice(i, 1);
          indexes = Array.from({ length: n }, (_, k) => k).filter((k) => k !== i);
        }
        if (tamper === 'swap' && i + 1 < n) [list[i], list[i + 1]] = [list[i + 1], list[i]];
        const single = await verifyLog({ origin: 'log', checkpoints, entries: stream(list, recorded, indexes), open });
        const pages = await verifyLog({ origin: 'log', checkpoints, entries: paged(stream(list, recorded, indexes), sizes), open });
        assert.deepEqual(pages, single);
        if (tamper === 'none') assert.equal(single.ok, true);
        if (tamper === 'alter' || tamper === 'drop') assert.equal(single.ok, false);
      },
    ),
    { numRuns: 150 },
  );
});
