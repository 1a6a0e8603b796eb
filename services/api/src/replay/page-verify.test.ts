// The replay page's in-browser checks (page/verify.js), run in Node, whose WebCrypto is the same
// API, against the tree code of @affidavit/tlog: every index of trees of 1 to 40 leaves verifies,
// and every altered proof, index, entry, checkpoint or key fails. The page is where an analyst
// decides to trust what they see, so its verifier gets the same differential tests as tlog's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createMemoryTileStore,
  ed25519NoteSigner,
  encodeBase64,
  formatCheckpoint,
  generateEd25519NoteKey,
  hashLeaf,
  inclusionProof,
  integrate,
  signNote,
  tileNodeReader,
} from '@affidavit/tlog';

type Key = { name: string; label: string };
type Verdict = { state: 'verified' | 'unsigned' | 'pending' | 'failed'; text: string };
type PageVerify = {
  rootFromProof(leaf: Uint8Array, index: number, size: number, proof: Uint8Array[]): Promise<Uint8Array>;
  importKey(vkey: string): Promise<Key>;
  verifyEntry(
    e: { log: string; index: number; bytes: string; proof: { treeSize: number; hashes: string[]; checkpoint: string } | null; reason: string | null },
    key: Key | null,
  ): Promise<Verdict>;
  visible(s: string): string;
};

function loadPageVerify(): PageVerify {
  const code = readFileSync(join(import.meta.dirname, 'page', 'verify.js'), 'utf8');
  const scope: { affidavitReplayVerify?: PageVerify } = {};
  // The script assigns one global; here `globalThis` is a plain object, everything else is Node's own.
  new Function('globalThis', code)(scope);
  return scope.affidavitReplayVerify!;
}
const page = loadPageVerify();

async function tree(n: number) {
  const tiles = createMemoryTileStore();
  const bytes = Array.from({ length: n }, (_, i) => Buffer.from(`entry ${i}`));
  const r = await integrate(tiles.read, 0, bytes.map(hashLeaf));
  tiles.write(r.tiles);
  const proof = (i: number) => inclusionProof(tileNodeReader(tiles.read, n), i, n);
  return { bytes, root: r.root, proof };
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
async function rejects(p: Promise<Uint8Array>, root: Uint8Array): Promise<boolean> {
  try {
    return !same(await p, root);
  } catch {
    return true;
  }
}

test('every index of every tree of 1 to 40 leaves verifies; altered proofs and indices do not', async () => {
  for (let n = 1; n <= 40; n++) {
    const t = await tree(n);
    for (let i = 0; i < n; i++) {
      const leaf = hashLeaf(t.bytes[i]);
      const proof = await t.proof(i);
      assert.ok(same(await page.rootFromProof(leaf, i, n, proof), t.root), `size ${n} index ${i}`);
      if (proof.length > 0) {
        const flipped = proof.map((h) => Uint8Array.from(h));
        flipped[0][0] ^= 1;
        assert.ok(await rejects(page.rootFromProof(leaf, i, n, flipped), t.root), `flipped hash, size ${n} index ${i}`);
        assert.ok(await rejects(page.rootFromProof(leaf, i, n, proof.slice(1)), t.root), `short proof, size ${n} index ${i}`);
      }
      assert.ok(await rejects(page.rootFromProof(leaf, i, n, [...proof, t.root]), t.root), `long proof, size ${n} index ${i}`);
      if (i + 1 < n) assert.ok(await rejects(page.rootFromProof(leaf, i + 1, n, proof), t.root), `wrong index, size ${n} index ${i}`);
      assert.ok(await rejects(page.rootFromProof(hashLeaf(Buffer.from('forged')), i, n, proof), t.root), `other bytes, size ${n} index ${i}`);
    }
  }
  await assert.rejects(page.rootFromProof(new Uint8Array(32), 3, 3, []), /not below tree size/);
  await assert.rejects(page.rootFromProof(new Uint8Array(32), 0, 2, [new Uint8Array(31)]), /32 bytes/);
});

test('an entry verifies only with a checkpoint signed by the key given, for its log', async () => {
  const log = 'affidavit.session-events.v1:0';
  const pair = generateEd25519NoteKey('test.page', (k) => randomBytes(k));
  const key = await page.importKey(pair.verifierKey);
  assert.match(key.label, /^test\.page\+[0-9a-f]{8}$/);
  const t = await tree(7);
  const note = await signNote(formatCheckpoint({ origin: `test.page/${log}`, size: 7, root: t.root, extensions: [] }), [ed25519NoteSigner(pair.signerKey)]);
  const entry = async (i: number, o: { bytes?: Buffer; note?: string; log?: string } = {}) => ({
    log: o.log ?? log,
    index: i,
    bytes: (o.bytes ?? t.bytes[i]).toString('base64'),
    proof: { treeSize: 7, hashes: (await t.proof(i)).map(encodeBase64), checkpoint: o.note ?? note },
    reason: null,
  });
  assert.deepEqual(await page.verifyEntry(await entry(4), key), { state: 'verified', text: 'verified (tree 7)' });
  assert.equal((await page.verifyEntry(await entry(4), null)).state, 'unsigned');
  assert.equal((await page.verifyEntry({ ...(await entry(4)), proof: null, reason: 'past the checkpoint' }, key)).state, 'pending');

  const failed = async (e: Parameters<PageVerify['verifyEntry']>[0], k: Key | null, why: RegExp) => {
    const v = await page.verifyEntry(e, k);
    assert.equal(v.state, 'failed', JSON.stringify(v));
    assert.match(v.text, why);
  };
  await failed(await entry(4, { bytes: Buffer.from('entry 5') }), key, /another root/);
  await failed(await entry(4, { log: 'affidavit.session-events.v1:1' }), key, /is of test\.page\/affidavit\.session-events\.v1:0, not of/);
  // The same text signed by another key of the same name; and a signed note whose size was edited.
  const other = generateEd25519NoteKey('test.page', (k) => randomBytes(k));
  const foreign = await signNote(formatCheckpoint({ origin: `test.page/${log}`, size: 7, root: t.root, extensions: [] }), [ed25519NoteSigner(other.signerKey)]);
  await failed(await entry(4, { note: foreign }), key, /carries no signature by test\.page\+/);
  await failed(await entry(4, { note: note.replace('\n7\n', '\n8\n') }), key, /signature by test\.page\+[0-9a-f]{8} does not verify/);
});

test('ledger keys are parsed whatever their base64 holds; a key whose hash does not match is refused', async () => {
  let withPlus: string;
  do withPlus = generateEd25519NoteKey('test.page', (k) => randomBytes(k)).verifierKey;
  while (!withPlus.split('+').slice(2).join('+').includes('+'));
  assert.equal((await page.importKey(withPlus)).name, 'test.page');
  const [name, hash, b64] = [withPlus.slice(0, withPlus.indexOf('+')), withPlus.split('+')[1], withPlus.split('+').slice(2).join('+')];
  const wrongHash = `${name}+${hash === '00000000' ? '00000001' : '00000000'}+${b64}`;
  await assert.rejects(page.importKey(wrongHash), /key hash does not match/);
  await assert.rejects(page.importKey('not a key'), /name\+hash\+base64/);
});

test('control and bidi characters are shown as escapes, as in the terminal', () => {
  assert.equal(page.visible('a\u001b[2Jb\r\u202ec\nd'), 'a\\x1b[2Jb\\r\\u202ec\nd');
});
