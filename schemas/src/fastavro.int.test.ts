import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LEDGER_RECORD_TYPES, codec, exampleEvent, loadSchemaFiles } from './index.ts';
import type { LedgerRecord } from './index.ts';
import { allVariants, toPlain } from '../test/support.ts';

// Cross-check with an Avro implementation we did not write: Python's fastavro (PyPI), pinned.
// It computes fingerprints from its own Parsing Canonical Form, decodes our single-object
// bytes, and writes bytes we decode. The venv lives in /work/main/.cache/pyvenv (gitignored).
const FASTAVRO_VERSION = '1.12.2';
const REPO = join(import.meta.dirname, '..', '..');
const VENV = join(REPO, '.cache', 'pyvenv');
const PY = join(VENV, 'bin', 'python');
const SCRIPT = join(import.meta.dirname, '..', 'test', 'fastavro_check.py');

function run(cmd: string, args: string[], input?: string) {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 300_000, maxBuffer: 256 << 20 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** ensureVenv creates the venv and installs the pinned fastavro unless it is already there. */
function ensureVenv(): void {
  if (!existsSync(PY)) run('python3', ['-m', 'venv', VENV]);
  const have = spawnSync(PY, ['-c', 'import fastavro; print(fastavro.__version__)'], { encoding: 'utf8' });
  if (have.status !== 0 || have.stdout.trim() !== FASTAVRO_VERSION) {
    run(PY, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `fastavro==${FASTAVRO_VERSION}`]);
  }
}

/** toWire is an event as the script's JSON: Buffers as {"$bytes": base64}, the rest as is. */
function toWire(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { $bytes: v.toString('base64') };
  if (Array.isArray(v)) return v.map(toWire);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toWire(x)]));
  return v;
}
function fromWire(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromWire);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$bytes') return Buffer.from(o.$bytes as string, 'base64');
    return Object.fromEntries(keys.map((k) => [k, fromWire(o[k])]));
  }
  return v;
}

type Report = {
  fastavro: string;
  schemas: Record<string, { fingerprint: string; canonical: string }>;
  decoded: ({ id: string; type: string; value: Record<string, unknown> } | { id: string; error: string })[];
  encoded: ({ id: string; b64: string } | { id: string; error: string })[];
};

const c = codec();
// The variants (every nullable field null / set, Buffers, arrays of unions, nested records)
// plus edge values: range ends of int and long, astral and NUL characters, a big bytes value,
// a many-entry map.
const cases: { id: string; event: LedgerRecord }[] = [
  ...allVariants(c).map((v) => ({ id: v.label, event: v.event })),
  { id: 'edge/int-min', event: exampleEvent('TerminalOutput', { channel: -(2 ** 31), offsetMicros: 9_007_199_254_740_990, data: Buffer.alloc(70_000, 0xa5) }) },
  { id: 'edge/int-max', event: exampleEvent('TerminalOutput', { channel: 2 ** 31 - 1, offsetMicros: -9_007_199_254_740_990, data: Buffer.alloc(0) }) },
  {
    id: 'edge/long-min',
    event: exampleEvent('SessionEnded', { seq: Number.MAX_SAFE_INTEGER, durationMicros: -Number.MAX_SAFE_INTEGER, commands: -(2 ** 52) - 1 }),
  },
  { id: 'edge/text', event: exampleEvent('CommandIssued', { text: 'select \u0000 ’😀’ from "t"\n', parameters: ['', null, '𝔘𝔫𝔦'] }) },
  {
    id: 'edge/map',
    event: exampleEvent('SessionStarted', { clientParameters: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, `v${i}`])) }),
  },
];

test(`fastavro ${FASTAVRO_VERSION} agrees with our codec on fingerprints and on bytes both ways`, { timeout: 600_000 }, () => {
  ensureVenv();
  const files = loadSchemaFiles();
  const request = {
    shared: files.envelope.map((f) => f.schema),
    records: [...files.events, ...files.ledger].map((f) => f.schema),
    decode: cases.map(({ id, event }) => ({ id, b64: c.encode(event).toString('base64') })),
    encode: cases.map(({ id, event }) => ({ id, type: event.type, value: toWire(event) })),
  };
  const report = JSON.parse(run(PY, [SCRIPT], JSON.stringify(request))) as Report;
  assert.equal(report.fastavro, FASTAVRO_VERSION);

  // 1. Fingerprints: fastavro's own canonical form and CRC-64-AVRO equal ours for every type.
  assert.deepEqual(Object.keys(report.schemas).sort(), [...LEDGER_RECORD_TYPES].sort());
  for (const type of LEDGER_RECORD_TYPES) {
    const w = c.writerFor(type);
    assert.equal(report.schemas[type].canonical, w.canonical, `${type} canonical form`);
    assert.equal(report.schemas[type].fingerprint, w.fingerprint.toString('hex'), `${type} fingerprint`);
  }

  // 2. fastavro decodes our bytes to the same values, field by field.
  assert.equal(report.decoded.length, cases.length);
  for (const [i, got] of report.decoded.entries()) {
    const { id, event } = cases[i];
    assert.equal(got.id, id);
    assert.ok(!('error' in got), `fastavro could not decode ${id}: ${'error' in got ? got.error : ''}`);
    assert.equal(got.type, event.type, id);
    const value = fromWire(got.value) as Record<string, unknown>;
    const expected = event as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(value).sort(), Object.keys(expected).sort(), `${id} field names`);
    for (const k of Object.keys(expected)) assert.deepEqual(value[k], expected[k], `${id}.${k}`);
  }

  // 3. We decode what fastavro wrote, and it wrote exactly our bytes (both use the canonical
  //    binary encoding: minimal varints, one block per array or map).
  assert.equal(report.encoded.length, cases.length);
  for (const [i, got] of report.encoded.entries()) {
    const { id, event } = cases[i];
    assert.equal(got.id, id);
    assert.ok(!('error' in got), `fastavro could not encode ${id}: ${'error' in got ? got.error : ''}`);
    const bytes = Buffer.from((got as { b64: string }).b64, 'base64');
    assert.deepEqual(toPlain(c.decode(bytes)), event, `${id} decoded from fastavro's bytes`);
    assert.deepEqual(bytes, c.encode(event), `${id}: fastavro's bytes equal ours`);
  }
});

test('fastavro refuses what our codec refuses: a truncated body and an unknown fingerprint', { timeout: 600_000 }, () => {
  ensureVenv();
  const files = loadSchemaFiles();
  const good = c.encode(exampleEvent('CommandCompleted'));
  const badFp = Buffer.from(good);
  badFp[5] ^= 0xff;
  const request = {
    shared: files.envelope.map((f) => f.schema),
    records: [...files.events, ...files.ledger].map((f) => f.schema),
    decode: [
      { id: 'cut', b64: good.subarray(0, good.length - 3).toString('base64') },
      { id: 'fp', b64: badFp.toString('base64') },
      { id: 'trailing', b64: Buffer.concat([good, Buffer.from([0])]).toString('base64') },
    ],
    encode: [],
  };
  const report = JSON.parse(run(PY, [SCRIPT], JSON.stringify(request))) as Report;
  const errors = Object.fromEntries(report.decoded.map((d) => [d.id, 'error' in d ? d.error : 'decoded']));
  assert.match(errors.cut, /EOF|Error/, 'truncated');
  assert.match(errors.fp, /unknown fingerprint/);
  assert.match(errors.trailing, /trailing/);
  for (const [bytes, code] of [
    [good.subarray(0, good.length - 3), 'AFF_E_AVRO_TRUNCATED'],
    [badFp, 'AFF_E_AVRO_UNKNOWN_FINGERPRINT'],
    [Buffer.concat([good, Buffer.from([0])]), 'AFF_E_AVRO_MALFORMED'],
  ] as const) {
    assert.throws(() => c.decode(bytes), { code });
  }
});
