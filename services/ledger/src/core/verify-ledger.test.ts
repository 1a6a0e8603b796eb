// verifyLedger's rules beyond verifyLog, with JSON stand-ins for signed notes (real notes are
// covered end to end by services/cli/src/e2e/verify-forgery.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashLeaf, memoryNodeReader, rootHash, toHex } from '@affidavit/tlog';
import { verifyLedger } from './verify-ledger.ts';
import type { LogSource } from './verify-ledger.ts';
import type { OpenedCheckpoint, VerifyEntry } from './verify-log.ts';

const open = (n: string): OpenedCheckpoint => {
  const j = JSON.parse(n.slice(n.indexOf('\n') + 1));
  return { origin: n.slice(0, n.indexOf('\n')), size: j.size, root: Buffer.from(j.root, 'hex') };
};
const bytes = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`e${i}`));
const note = async (origin: string, size: number) =>
  `${origin}\n${JSON.stringify({ size, root: toHex(await rootHash(memoryNodeReader(bytes(size).map((b) => hashLeaf(b))), size)) })}`;
async function* entries(n: number): AsyncIterable<VerifyEntry> {
  for (const [index, b] of bytes(n).entries()) yield { index, bytes: b };
}
const log = async (id: string, n: number, sizes: number[]): Promise<LogSource> => ({
  id,
  checkpoints: await Promise.all(sizes.map((s) => note(`o/${id}`, s))),
  entries: entries(n),
});
const run = (logs: LogSource[], more: Partial<Parameters<typeof verifyLedger>[0]> = {}) =>
  verifyLedger({ logs, external: [], open, allowUnsignedTail: false, scope: 'every-log', ...more });

test('proven logs pass; an unsigned tail fails unless accepted, and is counted either way', async () => {
  assert.equal((await run([await log('a', 10, [5, 10])])).ok, true);
  const tail = await run([await log('a', 12, [5, 10])]);
  assert.equal(tail.ok, false);
  assert.equal(tail.logs[0].unsigned, 2);
  assert.match(tail.logs[0].message, /2 entries after the last checkpoint \(size 10\) are unproven/);
  const accepted = await run([await log('a', 12, [5, 10])], { allowUnsignedTail: true });
  assert.equal(accepted.ok, true);
  assert.match(accepted.logs[0].message, /2 entries after them UNPROVEN/);
});

test('nothing signed fails even with --allow-unsigned-tail; an empty log with nothing signed passes; no logs at all fails', async () => {
  const r = await run([await log('a', 3, [])], { allowUnsignedTail: true });
  assert.equal(r.ok, false);
  assert.match(r.logs[0].message, /nothing signed covers its 3 entries/);
  assert.equal((await run([await log('a', 0, [])])).ok, true);
  assert.deepEqual((await run([])).problems, ['no logs here: nothing is proven']);
});

test('an external checkpoint of a missing log fails with every-log scope, is skipped for a bundle unless given one by one', async () => {
  const ext = [{ label: 'feed:1', note: await note('o/gone', 4) }];
  const every = await run([await log('a', 10, [10])], { external: ext });
  assert.deepEqual(every.problems, ['feed:1: no log with origin "o/gone" here: deleted or renamed?']);
  const some = await run([await log('a', 10, [10])], { external: ext, scope: 'some-logs' });
  assert.equal(some.ok, true);
  assert.match(some.notes[0], /1 external checkpoints of other logs/);
  assert.equal((await run([await log('a', 10, [10])], { external: ext, scope: 'some-logs', strictLabels: new Set(['feed:1']) })).ok, false);
});

test('a log without stored checkpoints is matched to its external ones by origin suffix', async () => {
  const r = await run([await log('a', 10, [])], { external: [{ label: 'feed:1', note: await note('o/a', 10) }] });
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.logs[0].signed, 10);
});
