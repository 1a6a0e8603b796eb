#!/usr/bin/env node
// bench/masking.ts: how fast the masking module rewrites result values, against a
// pass-through copy of the same values in the same run.
import { parseArgs } from 'node:util';
import {
  BUILTIN_DETECTORS,
  PG_OID,
  compileMaskRules,
  createChunkSealer,
  createSealer,
  dataRowMasker,
  DEFAULT_SEAL_CHUNK,
  findSpans,
  luhnValid,
  maskRow,
  sealOriginal,
  type ColumnDescription,
  type ResultRow,
} from '@affidavit/access';

const usage = `usage: node bench/masking.ts [options]

Builds a realistic mix of result values (default 70 % plain text, numbers and dates,
30 % PII: card numbers, e-mail addresses, IBANs, SSNs, JWTs, API keys, some inside
sentences) in rows of --columns text columns, then times, in the same process:
  copy      a pass-through copy of every row (row.slice())
  detect    every built-in detector over every value (findSpans)
  maskRow   maskRow with one rule running all detectors over every column
and prints values/s for each and the ratios maskRow/copy and detect/copy.

Then, like bench/postgres.ts's masking table, --rows DataRows of (id int4, email text,
card_number text) with email and card_number masked whole, timed as:
  dataRow   dataRowMasker.rewrite on the wire bytes, one row at a time (a row split across reads)
  run       dataRowMasker.rewriteRun on runs of rows as they arrive in 64 KiB reads (what the
            proxy does once the command's first 1,000 originals are sealed)
  decoded   decode every value, maskRow, encode the row again (the proxy's former path)
and the sealing of 1000 originals: createSealer (key imported once, one AES-GCM operation
per value), sealOriginal (per value, key imported each time), and createChunkSealer (what the
proxy does: one AES-GCM operation per chunk of DEFAULT_SEAL_CHUNK originals).

options:
  --values N     number of values (default 1000000)
  --pii P        share of PII values, 0..1 (default 0.3)
  --columns N    values per row (default 10)
  --rounds N     timed rounds per measurement, best kept (default 3)
  --seed N       seed of the value generator (default 1)
  --rows N       DataRows of the wire-level measurement (default 100000)
  --help         show this text`;

const { values: args } = parseArgs({
  options: {
    values: { type: 'string', default: '1000000' },
    pii: { type: 'string', default: '0.3' },
    columns: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    rows: { type: 'string', default: '100000' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(usage);
  process.exit(0);
}
const num = (name: keyof typeof args, min: number, max: number, int = true): number => {
  const n = Number(args[name]);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n)) || n < min || n > max) {
    console.error(`--${name} must be ${int ? 'an integer' : 'a number'} from ${min} to ${max}\n\n${usage}`);
    process.exit(2);
  }
  return n;
};
const total = num('values', 1, 50_000_000);
const piiShare = num('pii', 0, 1, false);
const width = num('columns', 1, 1000);
const rounds = num('rounds', 1, 20);
let seed = num('seed', 0, 2 ** 31);
const wireRows = num('rows', 1, 10_000_000);

// A small deterministic PRNG (mulberry32), so runs with one seed measure the same values.
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
const digits = (n: number): string => Array.from({ length: n }, () => Math.floor(rand() * 10)).join('');
const WORDS = ['order', 'shipped', 'pending', 'customer', 'invoice', 'the', 'refund', 'Berlin', 'Lisbon', 'paid', 'note', 'call', 'back', 'tomorrow', 'ok'];

function card(): string {
  const body = pick(['4', '51', '55', '37', '6011']) + digits(14);
  const b = body.slice(0, 15);
  for (let d = 0; d <= 9; d++) if (luhnValid(b + d)) return b + d;
  return b;
}
const plain: (() => string)[] = [
  () => Array.from({ length: 1 + Math.floor(rand() * 8) }, () => pick(WORDS)).join(' '),
  () => String(Math.floor(rand() * 1e6)),
  () => digits(16), // a long number that usually fails Luhn
  () => `${(rand() * 1000).toFixed(2)}`,
  () => `2024-0${1 + Math.floor(rand() * 9)}-1${Math.floor(rand() * 10)} 10:30:00+00`,
  () => `${pick(WORDS)}-${digits(6)}`,
  () => 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
];
const pii: (() => string)[] = [
  card,
  () => card().replace(/(\d{4})(?=\d)/g, '$1 '),
  () => `${pick(WORDS)}.${pick(WORDS)}${Math.floor(rand() * 100)}@example.com`,
  () => `please call ${pick(WORDS)}@example.org about card ${card()}`,
  () => 'GB82WEST12345698765432',
  () => `${100 + Math.floor(rand() * 500)}-${10 + Math.floor(rand() * 89)}-${1000 + Math.floor(rand() * 8999)}`,
  () =>
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  () => 'AKIAIOSFODNN7EXAMPLE',
  () => `token ghp_${'16C7e42F292c6912E7710c838347Ae178B4a'}`,
  () => 'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
];

const rows: ResultRow[] = [];
let row: string[] = [];
let piiCount = 0;
for (let i = 0; i < total; i++) {
  const isPii = rand() < piiShare;
  if (isPii) piiCount++;
  row.push(isPii ? pick(pii)() : pick(plain)());
  if (row.length === width) {
    rows.push(row);
    row = [];
  }
}
if (row.length > 0) {
  while (row.length < width) row.push('');
  rows.push(row);
}
const cols: ColumnDescription[] = Array.from({ length: width }, (_, i) => ({ name: `c${i}`, table: 't', typeOid: PG_OID.text }));
const rules = compileMaskRules([{ id: 'pii', detectors: ['all'] }]);
const detectors = [...BUILTIN_DETECTORS.values()];

let sink = 0; // keeps the work observable so the JIT cannot drop it
function time(fn: () => void, reps = rounds): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}
const copy = time(() => {
  for (const r of rows) sink += r.slice().length;
});
const detect = time(() => {
  for (const r of rows) for (const v of r) if (v !== null) sink += findSpans(v, detectors).length;
});
let masked = 0;
const mask = time(() => {
  masked = 0;
  for (const r of rows) masked += maskRow(r, cols, rules).masked.length;
});
const n = rows.length * width;
const rate = (s: number) => Math.round(n / s);
console.log(
  `values: ${n} in ${rows.length} rows of ${width} (PII ${((100 * piiCount) / total).toFixed(1)} %, masked ${masked} values), node ${process.version}, best of ${rounds}`,
);
console.log(`copy      ${rate(copy).toLocaleString('en')} values/s`);
console.log(`detect    ${rate(detect).toLocaleString('en')} values/s`);
console.log(`maskRow   ${rate(mask).toLocaleString('en')} values/s`);
console.log(`ratio maskRow/copy ${(copy / mask).toFixed(4)}   detect/copy ${(copy / detect).toFixed(4)}`);

// Wire level: DataRow bytes as the upstream sends them.
// SPEC: https://www.postgresql.org/docs/current/protocol-message-formats.html (DataRow: 'D',
// Int32 length including itself, Int16 count, then per value Int32 length (-1 NULL) and bytes).
function encodeDataRow(values: readonly (Buffer | string | null)[]): Buffer {
  const parts = values.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v));
  const out = Buffer.allocUnsafe(7 + parts.reduce((a, p) => a + 4 + (p?.length ?? 0), 0));
  out[0] = 0x44;
  out.writeInt32BE(out.length - 1, 1);
  out.writeInt16BE(parts.length, 5);
  let o = 7;
  for (const p of parts) {
    o = out.writeInt32BE(p === null ? -1 : p.length, o);
    if (p) o += p.copy(out, o);
  }
  return out;
}
function decodeDataRow(raw: Buffer): (Buffer | null)[] {
  const out: (Buffer | null)[] = [];
  let o = 7;
  for (let i = raw.readInt16BE(5); i > 0; i--) {
    const len = raw.readInt32BE(o);
    o += 4;
    out.push(len < 0 ? null : raw.subarray(o, o + len));
    if (len > 0) o += len;
  }
  return out;
}
const wire: Buffer[] = [];
for (let g = 1; g <= wireRows; g++) wire.push(encodeDataRow([String(g), `user${g}@example.com`, String(g).padStart(16, '4')]));
const wireCols: ColumnDescription[] = [
  { name: 'id', typeOid: PG_OID.int4 },
  { name: 'email', typeOid: PG_OID.text },
  { name: 'card_number', typeOid: PG_OID.text },
];
const wireRules = compileMaskRules([{ id: 'mask-bench-customers#columns', columns: ['email', 'card_number'], style: 'full' }]);
// A pass over the rows takes milliseconds: best of at least 30, so the JIT has settled.
const wireRounds = Math.max(rounds, 30);
const bytesPath = time(() => {
  const m = dataRowMasker(wireCols, [0, 0, 0], wireRules);
  for (const r of wire) sink += m.rewrite(r).length;
}, wireRounds);
// The rows back to back in reads of at most 64 KiB, split on row boundaries, as the relay sees them.
const reads: { raw: Buffer; count: number }[] = [];
for (let k = 0; k < wire.length; ) {
  let size = 0;
  let n = 0;
  while (k + n < wire.length && size + wire[k + n].length <= 64 * 1024) size += wire[k + n++].length;
  reads.push({ raw: Buffer.concat(wire.slice(k, k + n)), count: n });
  k += n;
}
const runPath = time(() => {
  const m = dataRowMasker(wireCols, [0, 0, 0], wireRules);
  for (const r of reads) sink += m.rewriteRun(r.raw, r.count).length;
}, wireRounds);
const decodedPath = time(() => {
  for (const r of wire) {
    const values = decodeDataRow(r);
    const res = maskRow(
      values.map((v) => v?.toString('utf8') ?? null),
      wireCols,
      wireRules,
    );
    sink += (res.masked.length > 0 ? encodeDataRow(res.row) : r).length;
  }
});
const key = { keyId: 'bench', key: new Uint8Array(32).fill(7) };
const at = (row: number) => ({ sessionId: '0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000', commandId: '0190aaaa-bbbb-7ccc-8ddd-eeeeffff0001', column: 'email', row });
const sealOnce = time(() => {
  const s = createSealer(key);
  for (let i = 0; i < 1000; i++) sink += s.seal(`user${i}@example.com`, at(i)).ciphertext.length;
});
const sealEach = time(() => {
  for (let i = 0; i < 1000; i++) sink += sealOriginal(`user${i}@example.com`, at(i), key).ciphertext.length;
});
const sealChunks = time(() => {
  const s = createChunkSealer(key);
  const { sessionId, commandId } = at(0);
  for (let first = 0; first < 1000; first += DEFAULT_SEAL_CHUNK) {
    const n = Math.min(DEFAULT_SEAL_CHUNK, 1000 - first);
    const originals: string[] = [];
    const positions: { column: string; row: number }[] = [];
    for (let i = first; i < first + n; i++) {
      originals.push(`user${i}@example.com`);
      positions.push({ column: 'email', row: i });
    }
    sink += s.seal(originals, { sessionId, commandId, first, positions }).ciphertext.length;
  }
});
const perRow = (s: number) => ((s * 1e9) / wireRows).toFixed(0);
console.log(`\nDataRows: ${wireRows} x (id, email, card_number), email and card_number masked whole`);
console.log(`dataRow   ${Math.round(wireRows / bytesPath).toLocaleString('en')} rows/s (${perRow(bytesPath)} ns/row)`);
console.log(`run       ${Math.round(wireRows / runPath).toLocaleString('en')} rows/s (${perRow(runPath)} ns/row)`);
console.log(
  `decoded   ${Math.round(wireRows / decodedPath).toLocaleString('en')} rows/s (${perRow(decodedPath)} ns/row)   dataRow is ${(decodedPath / bytesPath).toFixed(1)} x faster`,
);
console.log(
  `seal 1000 originals: createSealer ${(sealOnce * 1000).toFixed(1)} ms, sealOriginal each ${(sealEach * 1000).toFixed(1)} ms, ` +
    `createChunkSealer (chunks of ${DEFAULT_SEAL_CHUNK}) ${(sealChunks * 1000).toFixed(2)} ms = ${(sealOnce / sealChunks).toFixed(0)} x faster than createSealer`,
);
if (sink < 0) console.log(sink);
