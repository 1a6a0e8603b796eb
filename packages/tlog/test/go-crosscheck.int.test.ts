// Cross-check with the reference Go code (test/go/tlogcheck: transparency-dev/merkle and
// golang.org/x/mod/sumdb/note, fetched through the Go module proxy by `go build`):
// (a) Go verifies proofs and signed checkpoints our TypeScript produced, and rejects tampered ones;
// (b) Go produces proofs and a signed note with its own fresh key, and our TypeScript verifies them.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  consistencyProof,
  createMemoryTileStore,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatCheckpoint,
  generateEd25519NoteKey,
  hashLeaf,
  inclusionProof,
  integrate,
  openNote,
  parseCheckpoint,
  signNote,
  tileNodeReader,
  verifyConsistency,
  verifyInclusion,
  TlogSignatureInvalidError,
} from '../src/index.ts';
import type { Hash } from '../src/index.ts';
import { buildTlogcheck, runJson } from './go-tools.ts';

type Result = { ok: boolean; error?: string; text?: string };
type Response = {
  inclusion: Result[];
  consistency: Result[];
  notes: Result[];
  generated?: { roots: string[]; inclusion: string[][]; consistency: string[][]; vkey: string; note: string };
};

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
let bin = '';

before(() => {
  bin = buildTlogcheck();
});

// A tree big enough to span three tile levels' worth of edge cases (full and partial tiles).
const N = 1000;
const entries = Array.from({ length: N }, (_, i) => new TextEncoder().encode(`event ${i}`));
const leafHashes: Hash[] = entries.map(hashLeaf);

// Deterministic query points, including powers of two and tile boundaries.
const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 255, 256, 257, 511, 512, 513, 999, 1000];
function pick(i: number, n: number): number {
  return Math.floor((i * 7919) % n);
}

test('(a) Go verifies inclusion and consistency proofs that our tile code produced', async () => {
  const store = createMemoryTileStore();
  const roots = new Map<number, Hash>();
  let size = 0;
  for (const next of SIZES) {
    const r = await integrate(store.read, size, leafHashes.slice(size, next));
    store.write(r.tiles);
    roots.set(next, r.root);
    size = next;
  }
  const inclusion: unknown[] = [];
  const consistency: unknown[] = [];
  for (const [k, size2] of SIZES.entries()) {
    const reader = tileNodeReader(store.read, size2);
    for (const index of new Set([0, size2 - 1, pick(k + 1, size2)])) {
      const proof = await inclusionProof(reader, index, size2);
      inclusion.push({ index, size: size2, leafHash: b64(leafHashes[index]), proof: proof.map(b64), root: b64(roots.get(size2)!) });
    }
    for (const size1 of SIZES.filter((s) => s <= size2)) {
      const proof = await consistencyProof(reader, size1, size2);
      consistency.push({ size1, size2, proof: proof.map(b64), root1: b64(roots.get(size1)!), root2: b64(roots.get(size2)!) });
    }
  }
  // Tampered copies: Go MUST reject each.
  // Tampered copies: a different leaf hash, or a different old root. Go MUST reject each.
  type Incl = { index: number; leafHash: string };
  type Cons = { size1: number; size2: number; root1: string };
  const tamperedInclusion = (inclusion as Incl[]).map((c) => ({ ...c, leafHash: b64(leafHashes[(c.index + 1) % N]) }));
  const tamperedConsistency = (consistency as Cons[]).filter((c) => c.size1 !== c.size2).map((c) => ({ ...c, root1: b64(leafHashes[7]) }));
  const res = runJson<Response>(bin, { inclusion: [...inclusion, ...tamperedInclusion], consistency: [...consistency, ...tamperedConsistency] });
  const good = res.inclusion.slice(0, inclusion.length).concat(res.consistency.slice(0, consistency.length));
  assert.deepEqual(
    good.filter((r) => !r.ok),
    [],
  );
  assert.ok(good.length > 100, `${good.length} checks`);
  const bad = res.inclusion.slice(inclusion.length).concat(res.consistency.slice(consistency.length));
  assert.deepEqual(
    bad.filter((r) => r.ok),
    [],
  );
});

test('(a) Go opens a signed checkpoint our code produced, and rejects a forged one', async () => {
  let i = 0;
  const rand = (n: number) => new Uint8Array(createHash('sha256').update(`crosscheck ${i++}`).digest().subarray(0, n));
  const key = generateEd25519NoteKey('affidavit.example/log/0', rand);
  const witness = generateEd25519NoteKey('witness.example/w', rand);
  const store = createMemoryTileStore();
  const r = await integrate(store.read, 0, leafHashes);
  const text = formatCheckpoint({ origin: 'affidavit.example/log/0', size: r.size, root: r.root, extensions: [] });
  const note = await signNote(text, [ed25519NoteSigner(key.signerKey), ed25519NoteSigner(witness.signerKey)]);
  const forged = note.replace(`\n${N}\n`, `\n${N + 1}\n`);
  const res = runJson<Response>(bin, {
    notes: [
      { note, vkeys: [key.verifierKey] },
      { note, vkeys: [witness.verifierKey, key.verifierKey] },
      { note: forged, vkeys: [key.verifierKey] },
      { note, vkeys: [generateEd25519NoteKey('other.example/k', rand).verifierKey] },
    ],
  });
  assert.equal(res.notes[0].ok, true, res.notes[0].error);
  assert.equal(res.notes[0].text, text);
  assert.equal(parseCheckpoint(res.notes[0].text!).size, N);
  assert.equal(res.notes[1].ok, true, res.notes[1].error);
  assert.equal(res.notes[2].ok, false);
  assert.match(res.notes[2].error!, /invalid signature/);
  assert.equal(res.notes[3].ok, false);
  assert.match(res.notes[3].error!, /unknown key|no verifiable signatures/);
});

test('(b) our code verifies proofs, roots and a signed note that the Go reference produced', async () => {
  const inclusionReq: [number, number][] = [];
  const consistencyReq: [number, number][] = [];
  for (const [k, size] of SIZES.entries()) {
    inclusionReq.push([0, size], [size - 1, size], [pick(k + 3, size), size]);
    for (const size1 of SIZES.filter((s) => s <= size)) consistencyReq.push([size1, size]);
  }
  const text = 'affidavit.example/from-go\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
  const res = runJson<Response>(bin, {
    generate: { leaves: entries.map(b64), inclusion: inclusionReq, consistency: consistencyReq, keyName: 'go.example/tlogcheck', noteText: text },
  });
  const g = res.generated!;
  assert.equal(g.roots.length, N + 1);
  const memory = createMemoryTileStore();
  let size = 0;
  for (const next of SIZES) {
    const r = await integrate(memory.read, size, leafHashes.slice(size, next));
    memory.write(r.tiles);
    assert.equal(b64(r.root), g.roots[next], `root of ${next}`);
    size = next;
  }
  inclusionReq.forEach(([index, sz], i) => {
    const proof = g.inclusion[i].map(unb64);
    verifyInclusion(leafHashes[index], index, sz, proof, unb64(g.roots[sz]));
  });
  consistencyReq.forEach(([s1, s2], i) => {
    verifyConsistency(s1, s2, g.consistency[i].map(unb64), unb64(g.roots[s1]), unb64(g.roots[s2]));
  });
  // Our generator gives byte-identical proofs.
  const reader = tileNodeReader(memory.read, N);
  for (const [i, [index, sz]] of inclusionReq.entries()) {
    if (sz === N) assert.deepEqual((await inclusionProof(reader, index, sz)).map(b64), g.inclusion[i]);
  }
  const v = ed25519NoteVerifier(g.vkey);
  const opened = openNote(g.note, [v]);
  assert.equal(opened.text, text);
  assert.equal(parseCheckpoint(opened.text).origin, 'affidavit.example/from-go');
  assert.throws(() => openNote(g.note.replace('from-go', 'from-gp'), [v]), TlogSignatureInvalidError);
});
