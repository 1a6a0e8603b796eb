import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CommandRun } from './command-run.ts';
import { createMaskingPort, type ResultMasker } from './masking-port.ts';
import { staticKeyProvider } from '@affidavit/access';
import type { MaskedValue } from '@affidavit/schemas';
import { renderParameters } from './render-parameters.ts';
import { commandComplete, dataRow, decodeDataRow, errorResponse, rowDescription } from './wire/index.ts';

const base = { id: 'c1', sessionId: 's1', text: 'SELECT', channel: 'simple' as const, startedAt: 0 };

test('an unmasked run forwards rows unchanged and digests exactly those bytes', () => {
  const run = new CommandRun(base);
  const rows = [dataRow(['1', 'a']), dataRow(['2', null])];
  const sent = rows.map((r) => run.dataRow(r));
  assert.ok(sent.every((s, i) => s === rows[i]));
  run.commandComplete(commandComplete('SELECT 2'));
  const [done] = run.finish(1.5);
  assert.ok(done.type === 'CommandCompleted');
  assert.equal(done.rows, 2);
  assert.equal(done.tag, 'SELECT 2');
  assert.equal(done.durationMicros, 1500);
  assert.equal(done.resultDigest, createHash('sha256').update(Buffer.concat(rows)).digest('hex'));
});

test('masking rewrites values with correct lengths, seals, captures and digests what was sent', () => {
  const kept: MaskedValue[] = [];
  const masker: ResultMasker = {
    mask: (row) =>
      row[1] === null
        ? { row, masked: [] }
        : { row: [row[0], '****'], masked: [{ column: 1, columnName: 'email', ruleId: 'r', detector: null, original: row[1], masked: '****' }] },
    collect: (cells, at) => {
      for (const c of cells) kept.push({ column: c.columnName, row: at.row, ruleId: c.ruleId, detector: null, masked: c.masked ?? '\\N', original: null });
    },
    tally: () => ({ count: kept.length, sealed: kept, sealedOriginals: [] }),
  };
  const run = new CommandRun({ ...base, masker, captureBytes: 1000 });
  run.rowDescription(
    rowDescription([
      { name: 'id', typeOid: 23 },
      { name: 'email', typeOid: 25 },
    ]),
  );
  const out1 = run.dataRow(dataRow(['1', 'ada@example.com']));
  const out2 = run.dataRow(dataRow(['2', null]));
  assert.deepEqual(
    decodeDataRow(out1).map((v) => v?.toString()),
    ['1', '****'],
  );
  assert.deepEqual(
    decodeDataRow(out2).map((v) => v?.toString() ?? null),
    ['2', null],
  );
  run.commandComplete(commandComplete('SELECT 2'));
  const drafts = run.finish(0);
  assert.deepEqual(
    drafts.map((d) => d.type),
    ['DataMasked', 'ResultCaptured', 'CommandCompleted'],
  );
  const masked = drafts[0];
  assert.ok(masked.type === 'DataMasked' && masked.count === 1 && masked.masks[0].row === 0);
  const cap = drafts[1];
  assert.ok(cap.type === 'ResultCaptured');
  assert.deepEqual(cap.rows, [
    ['1', '****'],
    ['2', null],
  ]);
  const done = drafts[2];
  assert.ok(
    done.type === 'CommandCompleted' &&
      done.resultDigest ===
        createHash('sha256')
          .update(Buffer.concat([out1, out2]))
          .digest('hex'),
  );
});

test('an error sets outcome and SQLSTATE; 57014 is a cancellation', () => {
  const run = new CommandRun(base);
  run.error(errorResponse({ severity: 'ERROR', code: '57014', message: 'canceling statement due to user request' }));
  const [done] = run.finish(0);
  assert.ok(done.type === 'CommandCompleted' && done.outcome === 'cancelled' && done.errorCode === '57014' && done.resultDigest === null);
});

test('renderParameters: text, binary as hex, NULL, per-parameter formats', () => {
  assert.deepEqual(renderParameters([Buffer.from('42'), null, Buffer.from([0, 1])], [0, 0, 1]), ['42', null, '\\x0001']);
  assert.deepEqual(renderParameters([Buffer.from([0xff])], []), ['\\xff']);
  assert.match(renderParameters([Buffer.alloc(10_000, 0x61)], [0])[0]!, /…\(10000 chars\)$/);
});

test('dataRows digests a run of unchanged rows as one slice: same digest and count as row by row', () => {
  const rows = [dataRow(['1', 'a']), dataRow(['2', null]), dataRow(['3', 'ccc'])];
  const one = new CommandRun(base);
  assert.equal(one.rewrites, false);
  for (const r of rows) one.dataRow(r);
  const runs = new CommandRun(base);
  runs.dataRows(Buffer.concat(rows.slice(0, 2)), 2);
  runs.dataRows(rows[2], 1);
  const single = new CommandRun(base);
  single.dataRows(Buffer.concat(rows), 3);
  const want = createHash('sha256').update(Buffer.concat(rows)).digest('hex');
  for (const run of [one, runs, single]) {
    const [done] = run.finish(0);
    assert.ok(done.type === 'CommandCompleted');
    assert.equal(done.resultDigest, want);
    assert.equal(done.rows, 3);
  }
  assert.equal(new CommandRun({ ...base, captureBytes: 10 }).rewrites, true);
});

test('commandComplete reads the tag in place; a tag without NUL inside the message is refused', () => {
  const run = new CommandRun(base);
  const buf = Buffer.concat([Buffer.from('xx'), commandComplete('UPDATE 7'), Buffer.from([0])]);
  run.commandComplete(buf, 2, buf.length - 1);
  const [done] = run.finish(0);
  assert.ok(done.type === 'CommandCompleted' && done.tag === 'UPDATE 7' && done.rows === 7);
  const bad = Buffer.concat([Buffer.from([0x43, 0, 0, 0, 7]), Buffer.from('ABC'), Buffer.from([0])]);
  assert.throws(() => new CommandRun(base).commandComplete(bad, 0, bad.length - 1), /NUL/);
});

test('maskedRows: runs across the sealing cap send, digest, count and seal as row by row does', async () => {
  const port = createMaskingPort({ keys: staticKeyProvider([{ keyId: 'k', key: new Uint8Array(32).fill(3) }]), maxSealed: 7 });
  const spec = { columns: ['email'], detectors: [] };
  const rd = rowDescription([
    { name: 'id', typeOid: 23 },
    { name: 'email', typeOid: 25 },
  ]);
  const rows = Array.from({ length: 40 }, (_, i) => dataRow([String(i), i % 5 === 0 ? null : `u${i}@example.com`]));
  const byRow = new CommandRun({ ...base, masker: await port.prepare('r', spec) });
  byRow.rowDescription(rd);
  const want = Buffer.concat(rows.map((r) => byRow.dataRow(r)));
  const byRun = new CommandRun({ ...base, masker: await port.prepare('r', spec) });
  assert.equal(byRun.masksRuns, true);
  byRun.rowDescription(rd);
  const sent: Buffer[] = [];
  // Runs of 3, 4, 5... rows: the cap of 7 sealed values falls inside one of them.
  for (let i = 0, k = 3; i < rows.length; i += k, k++) sent.push(byRun.maskedRows(Buffer.concat(rows.slice(i, i + k)), rows.slice(i, i + k).length));
  const got = Buffer.concat(sent);
  assert.deepEqual(got, want);
  assert.ok(!got.includes('example.com'), 'no original reaches the client');
  const [a, b] = [byRow.finish(0), byRun.finish(0)];
  assert.deepEqual(
    b.map((d) => d.type),
    ['DataMasked', 'CommandCompleted'],
  );
  const [ma, mb, done] = [a[0], b[0], b[1]];
  assert.ok(ma.type === 'DataMasked' && mb.type === 'DataMasked' && done.type === 'CommandCompleted');
  assert.equal(mb.count, 32);
  assert.equal(mb.count, ma.count);
  assert.deepEqual(
    mb.masks.map((m) => m.row),
    ma.masks.map((m) => m.row),
  );
  assert.equal(mb.masks.length, 7);
  assert.deepEqual(
    mb.sealedOriginals.map((c) => [c.first, c.count]),
    ma.sealedOriginals.map((c) => [c.first, c.count]),
  );
  assert.equal(
    mb.sealedOriginals.reduce((n, c) => n + c.count, 0),
    7,
    'the sealed chunks cover every kept value',
  );
  assert.equal(done.rows, 40);
  assert.equal(done.resultDigest, createHash('sha256').update(got).digest('hex'));
  assert.throws(() => byRun.maskedRows(Buffer.concat([rows[1], rows[2].subarray(0, 9)]), 2), /DataRow/);
});
