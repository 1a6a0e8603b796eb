import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isAffidavitError } from '@affidavit/common';
import { dataMaskedEvent, revealMaskedValue, staticKeyProvider } from '@affidavit/access';
import { EXAMPLE_ACTOR, exampleEvent, type DataMasked } from '@affidavit/schemas';
import { CommandRun, MAX_MASKED_VALUES_PER_COMMAND } from './command-run.ts';
import { createMaskingPort } from './masking-port.ts';
import { dataRow, decodeDataRow, errorResponse, rowDescription } from './wire/index.ts';

const keys = staticKeyProvider([{ keyId: 'k1', key: Buffer.alloc(32, 3) }]);
const spec = { columns: ['email', 'card_number'], detectors: [] };
const shape = rowDescription([
  { name: 'id', typeOid: 23 },
  { name: 'email', typeOid: 25 },
  { name: 'card_number', typeOid: 25 },
]);
const base = { id: 'c1', sessionId: 's1', text: 'SELECT', channel: 'simple' as const, startedAt: 0 };
const row = (i: number) => dataRow([String(i), `user${i}@example.com`, String(i).padStart(16, '4')]);
const text = (b: Buffer) => decodeDataRow(b).map((v) => v?.toString('utf8') ?? null);

/** reveal opens `event.masks[index]` as `affidavit reveal` does. */
const reveal = (event: DataMasked, index: number) =>
  revealMaskedValue({ event, index, opener: { ...EXAMPLE_ACTOR, subject: 'auditor' }, reason: 'INC-1', keys, clock: { now: () => 0 } });

function asEvent(d: { commandId: string; count: number; masks: DataMasked['masks']; sealedOriginals: DataMasked['sealedOriginals'] }): DataMasked {
  const e = exampleEvent('DataMasked');
  return dataMaskedEvent(
    { eventId: e.eventId, occurredAt: e.occurredAt, sessionId: 's1', seq: 1, actor: e.actor, source: e.source, target: e.target, feeder: e.feeder },
    d.commandId,
    d.masks,
    { count: d.count, sealedOriginals: d.sealedOriginals },
  );
}

test('a masked result is rewritten as bytes, counted in full, and its first originals sealed a chunk at a time', async () => {
  const masker = await createMaskingPort({ keys }).prepare('mask-pii', spec);
  const run = new CommandRun({ ...base, masker });
  run.rowDescription(shape);
  const rows = 1200;
  const sent: Buffer[] = [];
  for (let i = 0; i < rows; i++) sent.push(run.dataRow(row(i)));
  assert.deepEqual(text(sent[0]), ['0', '********', '********']);
  assert.deepEqual(text(sent[rows - 1]), [String(rows - 1), '********', '********']);
  assert.ok(!Buffer.concat(sent).includes(Buffer.from('@example.com')), 'no original reaches the client');
  const drafts = run.finish(0);
  const dm = drafts[0];
  assert.ok(dm.type === 'DataMasked');
  assert.equal(dm.count, 2 * rows);
  assert.equal(dm.masks.length, MAX_MASKED_VALUES_PER_COMMAND);
  assert.equal(dm.truncated, true);
  assert.deepEqual([dm.masks[5].column, dm.masks[5].row, dm.masks[5].ruleId, dm.masks[5].masked], ['card_number', 2, 'mask-pii#columns', '********']);
  const done = drafts.at(-1);
  assert.ok(done?.type === 'CommandCompleted' && done.resultDigest === createHash('sha256').update(Buffer.concat(sent)).digest('hex'));

  // The originals are sealed in chunks of DEFAULT_SEAL_CHUNK (one GCM operation each), covering every kept value.
  assert.ok(dm.masks.every((m) => m.original === null));
  assert.deepEqual(
    dm.sealedOriginals.map((c) => [c.first, c.count]),
    [
      [0, 256],
      [256, 256],
      [512, 256],
      [768, 232],
    ],
  );
  const event = asEvent(dm);
  assert.equal((await reveal(event, 4)).value, 'user2@example.com');
  assert.equal((await reveal(event, 999)).value, '4444444444444499');
  assert.equal((await reveal(event, 256)).value, 'user128@example.com');
  // A chunk moved to another place, a value moved to another cell, or a flipped bit fails to open.
  const moved = structuredClone(event);
  moved.sealedOriginals[0] = { ...moved.sealedOriginals[1], first: 0 };
  await assert.rejects(reveal(moved, 4), (e) => isAffidavitError(e, 'AFF_E_MASK_CONTEXT_MISMATCH'));
  const swappedCells = structuredClone(event);
  [swappedCells.masks[4], swappedCells.masks[6]] = [swappedCells.masks[6], swappedCells.masks[4]];
  await assert.rejects(reveal(swappedCells, 4), (e) => isAffidavitError(e, 'AFF_E_MASK_CONTEXT_MISMATCH'));
  const flipped = structuredClone(event);
  flipped.sealedOriginals[0].ciphertext[0] ^= 1;
  await assert.rejects(reveal(flipped, 4), (e) => isAffidavitError(e, 'AFF_E_MASK_TAMPERED'));
});

test('originals are sealed as each chunk fills and the last partial chunk at tally: one GCM operation per chunk', async () => {
  const masker = await createMaskingPort({ keys, sealChunk: 3 }).prepare('mask-pii', spec);
  const run = new CommandRun({ ...base, masker });
  run.rowDescription(shape);
  for (let i = 0; i < 4; i++) run.dataRow(row(i));
  const [dm] = run.finish(0);
  assert.ok(dm.type === 'DataMasked');
  assert.equal(dm.count, 8);
  assert.equal(dm.truncated, false);
  assert.deepEqual(
    dm.sealedOriginals.map((c) => [c.first, c.count]),
    [
      [0, 3],
      [3, 3],
      [6, 2],
    ],
  );
  const event = asEvent(dm);
  const opened = [];
  for (let i = 0; i < 8; i++) opened.push((await reveal(event, i)).value);
  assert.deepEqual(
    opened,
    [0, 1, 2, 3].flatMap((i) => [`user${i}@example.com`, String(i).padStart(16, '4')]),
  );
  assert.throws(() => createMaskingPort({ keys, sealChunk: 0 }), RangeError);
});

test('the decoding path (masking with capture) collects and seals chunks the same way', async () => {
  const masker = await createMaskingPort({ keys, maxSealed: 5, sealChunk: 2 }).prepare('mask-pii', spec);
  const run = new CommandRun({ ...base, masker, captureBytes: 10_000 });
  run.rowDescription(shape);
  for (let i = 0; i < 4; i++) run.dataRow(row(i));
  const drafts = run.finish(0);
  const dm = drafts[0];
  assert.ok(dm.type === 'DataMasked');
  assert.deepEqual([dm.count, dm.masks.length, dm.truncated], [8, 5, true]);
  assert.deepEqual(
    dm.sealedOriginals.map((c) => [c.first, c.count]),
    [
      [0, 2],
      [2, 2],
      [4, 1],
    ],
  );
  assert.equal((await reveal(asEvent(dm), 4)).value, 'user2@example.com');
  const cap = drafts[1];
  assert.ok(cap.type === 'ResultCaptured' && !JSON.stringify(cap.rows).includes('example.com'));
});

test('results of several statements in one command are counted together; unmasked rows pass as the same buffer', async () => {
  const masker = await createMaskingPort({ keys, maxSealed: 3 }).prepare('mask-pii', spec);
  const run = new CommandRun({ ...base, masker });
  run.rowDescription(shape);
  for (let i = 0; i < 2; i++) run.dataRow(row(i));
  run.rowDescription(rowDescription([{ name: 'note', typeOid: 25 }]));
  const plain = dataRow(['nothing to mask']);
  assert.equal(run.dataRow(plain), plain);
  run.rowDescription(rowDescription([{ name: 'email', typeOid: 25 }]));
  assert.deepEqual(text(run.dataRow(dataRow(['x@y.org']))), ['********']);
  const [dm] = run.finish(0);
  assert.ok(dm.type === 'DataMasked');
  assert.equal(dm.count, 5);
  assert.deepEqual(
    dm.masks.map((m) => [m.column, m.row]),
    [
      ['email', 0],
      ['card_number', 0],
      ['email', 1],
    ],
  );
});

test('a DataRow that does not match its RowDescription is refused, not passed on unmasked', async () => {
  const masker = await createMaskingPort({ keys }).prepare('mask-pii', spec);
  const run = new CommandRun({ ...base, masker });
  run.rowDescription(shape);
  assert.throws(
    () => run.dataRow(dataRow(['1', 'a@b.org'])),
    (e) => isAffidavitError(e, 'AFF_E_MASK_ROW_SHAPE'),
  );
  const bad = Buffer.from(row(1));
  bad.writeInt32BE(500, 7);
  assert.throws(
    () => run.dataRow(bad),
    (e) => isAffidavitError(e, 'AFF_E_MASK_DATA_ROW_MALFORMED'),
  );
});

test('lineage: forced positions are masked whatever their names, and error texts are withheld', async () => {
  const forced = () => new Map([[1, 'derived' as const]]);
  const masker = await createMaskingPort({ keys }).prepare('mask-pii', spec, { forced, masksMessages: true });
  const run = new CommandRun({ ...base, masker });
  run.rowDescription(
    rowDescription([
      { name: 'id', typeOid: 23 },
      { name: 'reversed', typeOid: 25 },
    ]),
  );
  assert.deepEqual(text(run.dataRow(dataRow(['1', 'moc.elpmaxe@ecila']))), ['1', '********']);
  assert.deepEqual(text(run.dataRow(dataRow(['2', null]))), ['2', '********']);
  const err = errorResponse({ severity: 'ERROR', code: '22P02', message: 'invalid input syntax for type integer: "alice@example.com"' });
  const shown = run.message(err);
  assert.equal(shown.includes('alice'), false);
  run.error(shown);
  const done = run.finish(0).at(-1);
  assert.ok(done?.type === 'CommandCompleted');
  assert.equal(done.errorCode, '22P02');
  assert.equal(done.errorMessage?.includes('alice'), false);
  // Without lineage (the statement reads no masked column) texts pass unchanged.
  const plain = new CommandRun({ ...base, masker: await createMaskingPort({ keys }).prepare('mask-pii', spec) });
  assert.equal(plain.message(err), err);
});
