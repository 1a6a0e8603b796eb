// The transparency-dev/merkle golden proofs, obtained at test time from the Go module proxy (never
// copied into this repo), run through our verifiers.
//
// The module's `testdata/` folder (196 JSON files: inclusion/ and consistency/) exists only in
// versions newer than v0.0.2. When the version fetched has it, every JSON file is run as is. When it
// does not (the proxy here serves v0.0.1 and v0.0.2 only), the same vectors are rebuilt from that
// version's proof/verify_test.go: its golden tables (leaves, roots, inclusionProofs,
// consistencyProofs) are read from the downloaded file, and the corruption families the JSON files
// are named after (wrong index, size*2, size/2, wrong leaf, empty/random root, trailing/preceding
// garbage, flipped bits, removed/inserted component, ...) are applied here.
// Set TLOG_MERKLE_VERSION to try another version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TlogProofInvalidError, hashLeaf, verifyConsistency, verifyInclusion } from '../src/index.ts';
import { goModDownload } from './go-tools.ts';

const VERSION = process.env.TLOG_MERKLE_VERSION ?? 'v0.0.2';

type InclusionVector = { leafIdx: number; treeSize: number; root: Uint8Array; leafHash: Uint8Array; proof: Uint8Array[]; desc: string; wantErr: boolean };
type ConsistencyVector = { size1: number; size2: number; root1: Uint8Array; root2: Uint8Array; proof: Uint8Array[]; desc: string; wantErr: boolean };

const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const hx = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

function jsonFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) jsonFiles(p, out);
    else if (p.endsWith('.json')) out.push(p);
  }
  return out;
}

function fromTestdata(dir: string): { inclusion: InclusionVector[]; consistency: ConsistencyVector[] } {
  const inclusion = jsonFiles(join(dir, 'inclusion')).map((f) => {
    const j = JSON.parse(readFileSync(f, 'utf8'));
    return { ...j, root: b64(j.root), leafHash: b64(j.leafHash), proof: (j.proof ?? []).map(b64), desc: f };
  });
  const consistency = jsonFiles(join(dir, 'consistency')).map((f) => {
    const j = JSON.parse(readFileSync(f, 'utf8'));
    return { ...j, root1: b64(j.root1), root2: b64(j.root2), proof: (j.proof ?? []).map(b64), desc: f };
  });
  return { inclusion, consistency };
}

/** goBlock returns the text of `name = ...{ ... }` in Go source, brace-matched. */
function goBlock(src: string, name: string): string {
  const at = src.search(new RegExp(`\\b${name}\\s*=`));
  assert.ok(at >= 0, `${name} not found in verify_test.go`);
  const open = src.indexOf('{', at);
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    if (src[i] === '{') depth++;
    if (src[i] === '}' && --depth === 0) return src.slice(open + 1, i);
  }
  throw new Error(`unbalanced ${name}`);
}

const dhs = (s: string) => [...s.matchAll(/dh\("([0-9a-f]*)",\s*\d+\)/g)].map((m) => hx(m[1]));

function fromGoTables(file: string): { inclusion: InclusionVector[]; consistency: ConsistencyVector[] } {
  const src = readFileSync(file, 'utf8');
  const leaves = dhs(goBlock(src, 'leaves'));
  const roots = dhs(goBlock(src, 'roots'));
  const some = hx(/sha256SomeHash\s*=\s*dh\("([0-9a-f]+)"/.exec(src)![1]);
  const empty = hx(/sha256EmptyTreeHash\s*=\s*dh\("([0-9a-f]+)"/.exec(src)![1]);
  const rows = (block: string) =>
    [...goBlock(src, block).matchAll(/\{(\d+),\s*(\d+),\s*(nil|\[\]\[\]byte\{([^}]*)\})\}/g)].map((m) => ({
      a: Number(m[1]),
      b: Number(m[2]),
      proof: m[4] ? dhs(m[4]) : [],
    }));
  const incl = rows('inclusionProofs').filter((r) => r.a > 0); // {0, 0, nil} is "an invalid path", not a proof
  const cons = rows('consistencyProofs');
  // Guard the parser: the v0.0.2 file holds 8 leaves, 8 roots, 5 usable inclusion and 5 consistency proofs.
  assert.deepEqual([leaves.length, roots.length, incl.length, cons.length], [8, 8, 5, 5], 'parsed table sizes');

  const inclusion: InclusionVector[] = [];
  for (const r of incl) {
    const idx = r.a - 1;
    const size = r.b;
    const root = roots[size - 1];
    const leafHash = hashLeaf(leaves[idx]);
    const p = r.proof;
    const v = (desc: string, o: Partial<InclusionVector>): InclusionVector => ({
      leafIdx: idx,
      treeSize: size,
      root,
      leafHash,
      proof: p,
      desc: `${idx}/${size} ${desc}`,
      wantErr: true,
      ...o,
    });
    inclusion.push(v('happy path', { wantErr: false }));
    inclusion.push(v('leafIdx - 1', { leafIdx: idx - 1 }), v('leafIdx + 1', { leafIdx: idx + 1 }), v('leafIdx XOR 2', { leafIdx: idx ^ 2 }));
    inclusion.push(v('treeSize * 2', { treeSize: size * 2 }), v('treeSize / 2', { treeSize: Math.floor(size / 2) }));
    inclusion.push(v('wrong leaf', { leafHash: new TextEncoder().encode('WrongLeaf') }), v('empty root', { root: empty }), v('random root', { root: some }));
    inclusion.push(v('trailing garbage', { proof: [...p, new Uint8Array(0)] }), v('trailing root', { proof: [...p, root] }));
    inclusion.push(v('preceding garbage', { proof: [new Uint8Array(0), ...p] }), v('preceding root', { proof: [root, ...p] }));
    p.forEach((_, i) => inclusion.push(v(`modified proof[${i}] bit 3`, { proof: p.map((h, j) => (j === i ? Uint8Array.of(h[0] ^ 8, ...h.subarray(1)) : h)) })));
    if (p.length > 0) inclusion.push(v('removed component', { proof: p.slice(0, -1) }));
    if (p.length > 1) inclusion.push(v('inserted component', { proof: [p[0], some, ...p.slice(1)] }));
  }
  // The single-entry and "additional" families.
  const one = hashLeaf(new TextEncoder().encode('data'));
  const e = new Uint8Array(0);
  inclusion.push(
    { leafIdx: 0, treeSize: 1, root: one, leafHash: one, proof: [], desc: 'single entry: matching root and leaf', wantErr: false },
    { leafIdx: 0, treeSize: 1, root: one, leafHash: e, proof: [], desc: 'single entry: empty leaf', wantErr: true },
    { leafIdx: 0, treeSize: 1, root: e, leafHash: one, proof: [], desc: 'single entry: empty root', wantErr: true },
    { leafIdx: 0, treeSize: 1, root: e, leafHash: e, proof: [], desc: 'single entry: empty root and leaf', wantErr: true },
  );
  for (const [i, s] of [
    [0, 0],
    [0, 1],
    [1, 0],
    [2, 1],
  ]) {
    inclusion.push(
      { leafIdx: i, treeSize: s, root: e, leafHash: some, proof: [], desc: `additional ${i}/${s}: empty root`, wantErr: true },
      { leafIdx: i, treeSize: s, root: empty, leafHash: e, proof: [], desc: `additional ${i}/${s}: empty leaf`, wantErr: true },
      { leafIdx: i, treeSize: s, root: empty, leafHash: some, proof: [], desc: `additional ${i}/${s}: random leaf`, wantErr: true },
    );
  }

  const consistency: ConsistencyVector[] = [];
  for (const r of cons) {
    const [s1, s2, p] = [r.a, r.b, r.proof];
    const [root1, root2] = [roots[s1 - 1], roots[s2 - 1]];
    const v = (desc: string, o: Partial<ConsistencyVector>): ConsistencyVector => ({
      size1: s1,
      size2: s2,
      root1,
      root2,
      proof: p,
      desc: `${s1}->${s2} ${desc}`,
      wantErr: true,
      ...o,
    });
    consistency.push(v('happy path', { wantErr: false }));
    if (s1 === s2) continue; // the 1 -> 1 proof has no corruptions upstream either
    const wrong = new TextEncoder().encode('WrongRoot');
    consistency.push(v('size1 - 1', { size1: s1 - 1 }), v('size1 + 1', { size1: s1 + 1 }), v('size1 XOR 2', { size1: s1 ^ 2 }));
    consistency.push(v('size2 * 2', { size2: s2 * 2 }), v('size2 / 2', { size2: Math.floor(s2 / 2) }));
    consistency.push(v('wrong root1', { root1: wrong }), v('wrong root2', { root2: wrong }), v('swapped roots', { root1: root2, root2: root1 }));
    consistency.push(v('empty proof', { proof: [] }));
    consistency.push(v('trailing garbage', { proof: [...p, e] }), v('trailing root1', { proof: [...p, root1] }), v('trailing root2', { proof: [...p, root2] }));
    consistency.push(
      v('preceding garbage', { proof: [e, ...p] }),
      v('preceding root1', { proof: [root1, ...p] }),
      v('preceding root2', { proof: [root2, ...p] }),
      v('preceding proof[0]', { proof: [p[0], ...p] }),
    );
    if (p.length > 0) consistency.push(v('truncated proof', { proof: p.slice(0, -1) }));
    p.forEach((_, i) =>
      consistency.push(v(`modified proof[${i}] bit 4`, { proof: p.map((h, j) => (j === i ? Uint8Array.of(h[0] ^ 16, ...h.subarray(1)) : h)) })),
    );
  }
  const r1 = new TextEncoder().encode("don't care 1");
  const r2 = new TextEncoder().encode("don't care 2");
  const add = (size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: Uint8Array[], wantErr: boolean, desc: string) =>
    consistency.push({ size1, size2, root1, root2, proof, wantErr, desc: `additional: ${desc}` });
  // Upstream's TestVerifyConsistency table. Cases with size1 = 0 expect an error, as in upstream's
  // testdata after its fix #236 ("consistency proof from empty tree is meaningless").
  add(0, 0, r1, r2, [], true, 'sizes equal zero but roots are not');
  add(1, 1, r1, r2, [], true, 'sizes equal one but roots are not');
  add(0, 0, empty, empty, [], true, 'sizes are zero');
  add(0, 1, r1, r2, [], true, 'size1 is zero');
  add(0, 1, empty, r2, [], true, 'size1 is zero and size2 is not (upstream #236)');
  add(1, 1, r2, r2, [], false, 'sizes are equal (one) and proof is empty');
  add(1, 0, r1, r2, [], true, 'size1 greater than size2');
  add(2, 1, r1, r2, [], true, 'size1 greater than size2 again');
  add(1, 2, r1, r2, [], true, 'sizes differ and proof is empty');
  add(0, 0, empty, r2, [], true, 'roots do not match, sizes zero');
  add(1, 1, empty, r2, [], true, 'roots do not match, sizes one');
  add(0, 0, empty, empty, [empty], true, 'sizes match but proof not empty, zero');
  add(0, 1, empty, empty, [empty], true, 'consistency from the empty tree is useless');
  add(1, 1, empty, empty, [empty], true, 'sizes match but proof not empty, one');
  return { inclusion, consistency };
}

function outcome(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!(e instanceof TlogProofInvalidError)) throw e; // anything else is a crash, not a verdict
    return e.message;
  }
}

test(`transparency-dev/merkle ${VERSION} golden proofs through our verifiers`, () => {
  const dir = goModDownload('github.com/transparency-dev/merkle', VERSION);
  const testdata = join(dir, 'testdata');
  const usingJson = existsSync(join(testdata, 'inclusion'));
  const { inclusion, consistency } = usingJson ? fromTestdata(testdata) : fromGoTables(join(dir, 'proof', 'verify_test.go'));
  const total = inclusion.length + consistency.length;
  console.log(
    `merkle ${VERSION}: ${usingJson ? 'testdata JSON' : 'verify_test.go tables + corruptions'}: ${inclusion.length} inclusion, ${consistency.length} consistency vectors`,
  );
  assert.ok(total >= 196, `only ${total} vectors`);
  const wrong: string[] = [];
  for (const v of inclusion) {
    const err = outcome(() => verifyInclusion(v.leafHash, v.leafIdx, v.treeSize, v.proof, v.root));
    if ((err !== undefined) !== v.wantErr) wrong.push(`inclusion ${v.desc}: wantErr=${v.wantErr} got ${err ?? 'ok'}`);
  }
  for (const v of consistency) {
    const err = outcome(() => verifyConsistency(v.size1, v.size2, v.proof, v.root1, v.root2));
    if ((err !== undefined) !== v.wantErr) wrong.push(`consistency ${v.desc}: wantErr=${v.wantErr} got ${err ?? 'ok'}`);
  }
  assert.deepEqual(wrong, []);
  assert.ok(inclusion.some((v) => !v.wantErr) && consistency.some((v) => !v.wantErr) && inclusion.some((v) => v.wantErr));
});
