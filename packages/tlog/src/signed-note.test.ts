import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  TlogCheckpointMalformedError,
  TlogKeyInvalidError,
  TlogNoteMalformedError,
  TlogNoteUnverifiedError,
  TlogSignatureInvalidError,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatCheckpoint,
  generateEd25519NoteKey,
  openNote,
  parseCheckpoint,
  parseNote,
  signNote,
  toHex,
} from './index.ts';
import type { NoteSigner, NoteVerifier } from './index.ts';

// SOURCE: https://c2sp.org/signed-note, section "Verifier keys / Example" (C2SP/C2SP signed-note.md).
const C2SP_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const C2SP_NOTE =
  'This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

// SOURCE: https://c2sp.org/signed-note, the opening example (a text with an inner blank line).
const QUASIMODO =
  'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u00e8 subito sera.\n\n' +
  '\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n';

// SOURCE: golang.org/x/mod v0.42.0 sumdb/note/example_test.go (ExampleSign / ExampleOpen).
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

// SOURCE: https://c2sp.org/tlog-checkpoint, the opening example's note text.
const C2SP_CHECKPOINT = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

test('C2SP signed-note example verifies with its verifier key', () => {
  const v = ed25519NoteVerifier(C2SP_VKEY);
  assert.equal(v.name, 'example.com/foo');
  assert.equal(v.keyHash, 0x530d903a);
  const n = openNote(C2SP_NOTE, [v]);
  assert.equal(n.text, 'This is an example message.\n');
  assert.equal(n.verified.length, 1);
  assert.throws(() => openNote(C2SP_NOTE.replace('example message', 'example massage'), [v]), TlogSignatureInvalidError);
});

test('x/mod sumdb/note example: same signature bytes (Ed25519 is deterministic) and it opens', async () => {
  const signer = ed25519NoteSigner(GO_SKEY);
  assert.equal(signer.verifierKey, GO_VKEY);
  assert.equal(await signNote(GO_TEXT, [signer]), GO_NOTE);
  assert.equal(openNote(GO_NOTE, [ed25519NoteVerifier(GO_VKEY)]).text, GO_TEXT);
});

test('a note splits at its LAST blank line; unknown keys are ignored, not trusted', () => {
  const p = parseNote(QUASIMODO);
  assert.equal(p.text, 'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u00e8 subito sera.\n');
  assert.equal(p.signatures[0].name, 'quasimodo.example/salvatore');
  assert.equal(p.signatures[0].keyHash, 0x367ba04b);
  assert.throws(() => openNote(QUASIMODO, [ed25519NoteVerifier(C2SP_VKEY)]), TlogNoteUnverifiedError);
  // Known key plus an unknown one: verified, the other reported as unverified.
  const both = GO_NOTE + QUASIMODO.slice(QUASIMODO.lastIndexOf('\u2014'));
  const n = openNote(both, [ed25519NoteVerifier(GO_VKEY)]);
  assert.equal(n.verified.length, 1);
  assert.equal(n.unverified.length, 1);
  assert.equal(n.unverified[0].name, 'quasimodo.example/salvatore');
});

test('several signers; a known key with a bad signature rejects the whole note', async () => {
  let i = 0;
  const rand = (n: number) => new Uint8Array(createHash('sha256').update(`seed ${i++}`).digest().subarray(0, n));
  const a = generateEd25519NoteKey('log.example/a', rand);
  const b = generateEd25519NoteKey('witness.example/b', rand);
  const note = await signNote('hello\n\nworld\n', [ed25519NoteSigner(a.signerKey), ed25519NoteSigner(b.signerKey)]);
  const va = ed25519NoteVerifier(a.verifierKey);
  const vb = ed25519NoteVerifier(b.verifierKey);
  assert.equal(openNote(note, [vb]).text, 'hello\n\nworld\n');
  assert.equal(openNote(note, [va, vb]).verified.length, 2);
  // Same name, other key ID: an unknown key (ignored), per the spec.
  const impostor: NoteVerifier = { name: 'log.example/a', keyHash: (va.keyHash + 1) >>> 0, verify: () => true };
  assert.throws(() => openNote(note, [impostor]), TlogNoteUnverifiedError);
  // A known key whose signature fails (here: a verifier that says no) rejects the note even if another verifies.
  const liar: NoteVerifier = { name: vb.name, keyHash: vb.keyHash, verify: () => false };
  assert.throws(() => openNote(note, [va, liar]), TlogSignatureInvalidError);
});

test('the signer is a port: another algorithm is just another adapter', async () => {
  // A toy non-Ed25519 adapter (stands in for ML-DSA-44): signature = SHA-256(secret || msg).
  const mac = (m: Uint8Array) => new Uint8Array(createHash('sha256').update('secret').update(m).digest());
  const signer: NoteSigner = { name: 'pq.example/log', keyHash: 0x01020304, sign: mac };
  const verifier: NoteVerifier = { name: 'pq.example/log', keyHash: 0x01020304, verify: (m, s) => toHex(mac(m)) === toHex(s) };
  const note = await signNote('pq\n', [signer]);
  assert.match(note, /^pq\n\n\u2014 pq\.example\/log AQIDB/);
  assert.equal(openNote(note, [verifier]).text, 'pq\n');
});

test('malformed notes are refused with a typed error naming the problem', () => {
  const sig = GO_NOTE.slice(GO_NOTE.lastIndexOf('\u2014'));
  const cases: [string | Uint8Array, RegExp][] = [
    [GO_TEXT + sig, /no blank line/],
    [`${GO_TEXT}\n`, /signature block is empty/],
    [GO_NOTE.slice(0, -1), /does not end with a newline/],
    [`${GO_TEXT}\n- PeterNeumann abc=\n`, /em dash/],
    [`${GO_TEXT}\n\u2014 Peter+Neumann ${sig.split(' ')[2]}`, /invalid key name/],
    [`${GO_TEXT}\n\u2014 PeterNeumann ${sig.split(' ')[2].replace('=', '')}`, /canonical base64/],
    [`${GO_TEXT}\n\u2014 PeterNeumann AAAA\n`, /canonical base64 of a key ID/],
    [`a\tb\n\n${sig}`, /control character/],
    [Uint8Array.of(0xff, 0x0a, 0x0a), /not valid UTF-8/],
    [`${GO_TEXT}\n${sig.repeat(101)}`, /more than 100/],
  ];
  for (const [note, re] of cases) {
    assert.throws(
      () => openNote(note, [ed25519NoteVerifier(GO_VKEY)]),
      (e: unknown) => e instanceof TlogNoteMalformedError && re.test((e as Error).message),
      String(re),
    );
  }
});

test('keys: x/mod encodings round-trip; bad keys are refused', () => {
  const seed = new Uint8Array(32).fill(7);
  const k = generateEd25519NoteKey('example.com/k', () => seed);
  assert.match(k.signerKey, /^PRIVATE\+KEY\+example\.com\/k\+[0-9a-f]{8}\+AQcHBwcH/);
  assert.equal(ed25519NoteSigner(k.signerKey).verifierKey, k.verifierKey);
  const bad = [
    'example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k', // key ID does not match
    'example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k', // upper-case hex
    'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2', // not canonical base64
    'example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k', // type 0x02
    'example.com/foo+530d903a',
    'exa mple+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k',
  ];
  for (const b of bad) assert.throws(() => ed25519NoteVerifier(b), TlogKeyInvalidError, b);
  assert.throws(() => ed25519NoteSigner(GO_VKEY), TlogKeyInvalidError);
  assert.throws(() => ed25519NoteSigner(GO_SKEY.replace('c74f20a3', 'c74f20a4')), TlogKeyInvalidError);
  assert.throws(() => generateEd25519NoteKey('bad name', () => seed), TlogKeyInvalidError);
  assert.throws(() => generateEd25519NoteKey('ok', () => new Uint8Array(31)), TlogKeyInvalidError);
});

test('C2SP tlog-checkpoint example parses and formats back byte for byte', () => {
  const c = parseCheckpoint(C2SP_CHECKPOINT);
  assert.equal(c.origin, 'example.com/behind-the-sofa');
  assert.equal(c.size, 20852163);
  assert.equal(c.root.length, 32);
  assert.deepEqual(c.extensions, []);
  assert.equal(formatCheckpoint(c), C2SP_CHECKPOINT);
  const ext = `${C2SP_CHECKPOINT}ext one\next two\n`;
  assert.deepEqual(parseCheckpoint(ext).extensions, ['ext one', 'ext two']);
  assert.equal(formatCheckpoint(parseCheckpoint(ext)), ext);
});

test('malformed checkpoints are refused, naming the line', () => {
  const root = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=';
  const cases: [string, RegExp][] = [
    [`o\n1\n${root}`, /newline/],
    [`o\n1\n`, /at least 3 lines/],
    [`\n1\n${root}\n`, /origin/],
    [`o\n01\n${root}\n`, /leading zeroes/],
    [`o\n-1\n${root}\n`, /decimal/],
    [`o\n9007199254740992\n${root}\n`, /larger than 2\^53-1/],
    [`o\n1\n${root.replace('I=', 'J=')}\n`, /canonical base64/], // non-zero padding bits: Node would accept it
    [`o\n1\n${root.slice(0, -1)}\n`, /canonical base64/],
    [`o\n1\nAAAA\n`, /3 bytes, want 32/],
    [`o\n1\n${root}\n\n`, /extension line 4 is empty/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseCheckpoint(text),
      (e: unknown) => e instanceof TlogCheckpointMalformedError && re.test((e as Error).message),
      `${re} ${JSON.stringify(text)}`,
    );
  }
  assert.throws(() => formatCheckpoint({ origin: 'a\nb', size: 1, root: new Uint8Array(32), extensions: [] }), TlogCheckpointMalformedError);
});

test('a signed checkpoint round-trips through signNote / openNote / parseCheckpoint', async () => {
  const signer = ed25519NoteSigner(GO_SKEY);
  const note = await signNote(formatCheckpoint({ origin: 'affidavit.example/log/0', size: 3, root: new Uint8Array(32).fill(9), extensions: [] }), [signer]);
  const c = parseCheckpoint(openNote(note, [ed25519NoteVerifier(GO_VKEY)]).text);
  assert.equal(c.size, 3);
  assert.equal(c.origin, 'affidavit.example/log/0');
});
