// The result path (ResponseRouter → BackendFramer → CommandRun → masking) must not depend on how
// the server's bytes are cut into reads: a stream split at EVERY offset, and at random sets of
// offsets, gives exactly the bytes (and the record) of the whole stream relayed at once. A row
// split across reads, a run of rows masked in place, a hidden Describe dropped, an error
// replaced: each goes through the framer's completion path at some offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { staticKeyProvider } from '@affidavit/access';
import { CommandRun } from './command-run.ts';
import { createMaskingPort, type ResultMasker } from './masking-port.ts';
import { ProtocolState } from './protocol-state.ts';
import { ResponseRouter } from './response-router.ts';
import { statementFacts } from './statement-facts.ts';
import { bindComplete, commandComplete, dataRow, errorResponse, noticeResponse, parseComplete, readyForQuery, rowDescription } from './wire/index.ts';

const keys = staticKeyProvider([{ keyId: 'k1', key: Buffer.alloc(32, 3) }]);
const masking = createMaskingPort({ keys });
const prepare = () => masking.prepare('mask-pii', { columns: ['email', 'card_number'], detectors: [] });
const shape = rowDescription([
  { name: 'id', typeOid: 23 },
  { name: 'email', typeOid: 25 },
  { name: 'card_number', typeOid: 25 },
]);
const rows = (n: number, from = 0) =>
  Array.from({ length: n }, (_, k) => {
    const i = k + from;
    return dataRow([String(i), i % 5 === 0 ? null : `user${i}@example.com`.repeat(1 + (i % 3)), i % 7 === 0 ? null : String(i).padStart(16, '4')]);
  });

// The server's answers to: a masked simple Query with capture; a masked extended Execute (with the
// proxy's hidden Describe); an unmasked Execute; a refused Query (error replaced); a Sync.
const STREAM = Buffer.concat([
  shape,
  ...rows(12),
  commandComplete('SELECT 12'),
  noticeResponse({ severity: 'NOTICE', code: '00000', message: 'between' }),
  readyForQuery('I'),
  parseComplete(),
  bindComplete(),
  shape,
  ...rows(8, 100),
  commandComplete('SELECT 8'),
  bindComplete(),
  ...rows(3, 500),
  commandComplete('SELECT 3'),
  readyForQuery('I'),
  errorResponse({ severity: 'ERROR', code: '42601', message: 'syntax error at or near "AFFIDAVIT"' }),
  readyForQuery('I'),
]);
const REPLACED = errorResponse({ severity: 'ERROR', code: '42501', message: 'refused by the test' });

type Run = { out: Buffer; drafts: unknown[] };

// relayInPieces relays STREAM cut at `cuts` (sorted offsets) through a fresh router and commands.
async function relayInPieces(cuts: readonly number[]): Promise<Run> {
  const recorded: unknown[] = [];
  const router = new ResponseRouter(1 << 20, new ProtocolState(statementFacts), {
    completed: (cmd) => {
      for (const d of cmd.finish(0)) recorded.push(stable(d));
    },
    notification: () => {},
    parameterStatus: () => {},
  });
  const cmd = (id: string, m: ResultMasker | undefined, capture: number) =>
    new CommandRun({ id, sessionId: 's', text: id, channel: 'simple', masker: m, captureBytes: capture, startedAt: 0 });
  const statements = Object.freeze([]);
  router.expect({ kind: 'query', cmd: cmd('q1', await prepare(), 4096), statements, defs: undefined, opaque: false, portal: '', next: 0 });
  router.expect({ kind: 'parse', name: '', def: undefined });
  router.expect({ kind: 'bind', name: '', def: undefined });
  const masked = cmd('e1', await prepare(), 0);
  router.expect({ kind: 'describe', hidden: masked });
  router.expect({ kind: 'execute', cmd: masked, statements, defs: undefined, opaque: false, portal: '', next: 0 });
  router.expect({ kind: 'bind', name: '', def: undefined });
  router.expect({ kind: 'execute', cmd: cmd('e2', undefined, 0), statements, defs: undefined, opaque: false, portal: '', next: 0 });
  router.expect({ kind: 'sync' });
  router.expect({ kind: 'query', replace: REPLACED, statements, defs: undefined, opaque: false, portal: '', next: 0 });
  const out: Buffer[] = [];
  let at = 0;
  for (const end of [...cuts, STREAM.length]) {
    if (end <= at) continue;
    // Each read is its own copy (as upstream.ts hands them): masking may rewrite it in place.
    const r = router.relay(Buffer.from(STREAM.subarray(at, end)));
    if (r !== undefined) out.push(...(Array.isArray(r) ? r : [r]).map((b) => Buffer.from(b)));
    at = end;
  }
  assert.equal(router.pending, 0);
  return { out: Buffer.concat(out), drafts: recorded };
}

// stable drops what differs run to run by design (sealed originals carry a random nonce).
function stable(d: unknown): unknown {
  const o = { ...(d as Record<string, unknown>) };
  delete o.sealedOriginals;
  return o;
}

const whole = await relayInPieces([]);

test('the whole stream: masked, with no original e-mail or card number, and the refusal replaced', () => {
  for (const clear of ['user13@example.com', 'user101@example.com', 'user107@example.com']) assert.ok(!whole.out.includes(Buffer.from(clear)), clear);
  assert.ok(!whole.out.includes(Buffer.from('4444444444444441')));
  assert.ok(whole.out.includes(REPLACED));
  assert.ok(whole.out.includes(Buffer.from('user501@example.com')), 'the unmasked Execute is untouched');
  assert.equal(whole.drafts.filter((d) => (d as { type: string }).type === 'CommandCompleted').length, 3);
});

test('split at every offset: the bytes sent and the record equal those of the whole stream', async () => {
  for (let k = 1; k < STREAM.length; k++) {
    const r = await relayInPieces([k]);
    if (!r.out.equals(whole.out)) assert.fail(`output differs when the stream is split at ${k}`);
    assert.deepEqual(r.drafts, whole.drafts, `record differs when the stream is split at ${k}`);
  }
});

test('fast-check: any set of cuts gives the bytes and the record of the whole stream', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: STREAM.length - 1 }), { maxLength: 40 }), async (cuts) => {
      const r = await relayInPieces([...cuts].sort((a, b) => a - b));
      assert.ok(r.out.equals(whole.out));
      assert.deepEqual(r.drafts, whole.drafts);
    }),
    { numRuns: 300 },
  );
});

test('one byte at a time', async () => {
  const r = await relayInPieces(Array.from({ length: STREAM.length - 1 }, (_, i) => i + 1));
  assert.ok(r.out.equals(whole.out));
  assert.deepEqual(r.drafts, whole.drafts);
});
