import { decodeBase64Strict, encodeBase64 } from './base64.ts';
import { TlogKeyInvalidError, TlogNoteMalformedError, TlogNoteUnverifiedError, TlogSignatureInvalidError } from './errors.ts';

/**
 * NoteSigner is the port a note is signed through (STYLE rule 2: the signer is injected). An adapter
 * per algorithm (Ed25519 here; ML-DSA-44 later) supplies the key name, its 32-bit key ID and `sign`,
 * which MUST return the raw signature over exactly the bytes given (the note text).
 */
export type NoteSigner = {
  readonly name: string;
  readonly keyHash: number;
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
};

/** NoteVerifier is the port a signature is checked through: key name, key ID and a `verify` that MUST NOT throw on a bad signature. */
export type NoteVerifier = {
  readonly name: string;
  readonly keyHash: number;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
};

/** NoteSignature is one signature line: key name, key ID and the signature bytes after the key ID. */
export type NoteSignature = { readonly name: string; readonly keyHash: number; readonly signature: Uint8Array };

/** OpenedNote is a note whose text was verified by at least one known key. */
export type OpenedNote = {
  readonly text: string;
  /** Signatures from known keys, all verified. */
  readonly verified: readonly NoteSignature[];
  /** Signatures from keys the caller did not know; they were not checked. */
  readonly unverified: readonly NoteSignature[];
};

/** MAX_NOTE_SIGNATURES bounds the signature lines a note may carry (the spec asks verifiers to accept at least 16). */
export const MAX_NOTE_SIGNATURES = 100;

/** MAX_NOTE_BYTES bounds a whole note: 100 post-quantum signatures of nearly 5 kB, plus text. */
export const MAX_NOTE_BYTES = 1024 * 1024;

const SIG_PREFIX = '\u2014 '; // em dash, space

/**
 * isValidKeyName tells whether a key name is allowed.
 * SPEC: https://c2sp.org/signed-note "Key names MUST be non-empty and MUST NOT contain any Unicode spaces or plus (U+002B) characters."
 */
export function isValidKeyName(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && !/[\s+]/u.test(name) && !/[\u0000-\u001f\u007f]/.test(name);
}

function malformed(why: string): never {
  throw new TlogNoteMalformedError(`malformed signed note: ${why}`);
}

function checkText(text: string, what: string): void {
  // SPEC: https://c2sp.org/signed-note "Signed notes MUST be valid UTF-8 and MUST NOT contain any ASCII control
  // characters (those below U+0020) other than newline."
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) malformed(`${what} contains an ASCII control character other than newline`);
  if (/[\ud800-\udfff]/u.test(text)) malformed(`${what} is not valid UTF-8`);
}

function keyIdBytes(keyHash: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, keyHash);
  return b;
}

/**
 * signNote signs note text with every signer, in order, and returns the signed note.
 * SPEC: https://c2sp.org/signed-note "A signed note consists of a text ending in newline (U+000A), followed by a blank
 * line (only a newline), followed by one or more signature lines of this form: em dash (U+2014), space (U+0020), key
 * name, space, base64-encoded signature, newline."
 */
export async function signNote(text: string, signers: readonly NoteSigner[]): Promise<string> {
  if (typeof text !== 'string' || !text.endsWith('\n')) malformed('text must end with a newline');
  checkText(text, 'text');
  if (signers.length === 0) throw new TlogKeyInvalidError('signNote needs at least one signer');
  if (signers.length > MAX_NOTE_SIGNATURES) throw new TlogKeyInvalidError(`more than ${MAX_NOTE_SIGNATURES} signers`);
  const message = new TextEncoder().encode(text);
  let out = `${text}\n`;
  for (const s of signers) {
    if (!isValidKeyName(s.name)) throw new TlogKeyInvalidError(`invalid key name ${JSON.stringify(s.name)}`);
    if (!Number.isInteger(s.keyHash) || s.keyHash < 0 || s.keyHash > 0xffffffff) throw new TlogKeyInvalidError(`key hash of ${s.name} is not a uint32`);
    const sig = await s.sign(message);
    const body = new Uint8Array(4 + sig.length);
    body.set(keyIdBytes(s.keyHash));
    body.set(sig, 4);
    out += `${SIG_PREFIX}${s.name} ${encodeBase64(body)}\n`;
  }
  return out;
}

/**
 * parseNote splits a signed note into its text and signature lines without verifying anything.
 * The text is separated from the signatures by the LAST blank line (the text itself may contain blank lines).
 * SPEC: https://c2sp.org/signed-note "the text is separated from the signatures by the last empty line in the note."
 */
export function parseNote(note: string | Uint8Array): { text: string; signatures: NoteSignature[] } {
  let s: string;
  if (typeof note === 'string') s = note;
  else {
    if (note.length > MAX_NOTE_BYTES) malformed(`note is larger than ${MAX_NOTE_BYTES} bytes`);
    try {
      s = new TextDecoder('utf-8', { fatal: true }).decode(note);
    } catch {
      malformed('note is not valid UTF-8');
    }
  }
  if (s.length > MAX_NOTE_BYTES) malformed(`note is larger than ${MAX_NOTE_BYTES} bytes`);
  checkText(s, 'note');
  const split = s.lastIndexOf('\n\n');
  if (split < 0) malformed('no blank line before the signatures');
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) malformed('the signature block is empty or does not end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) malformed(`more than ${MAX_NOTE_SIGNATURES} signature lines`);
  const signatures = lines.map((line, i) => {
    if (!line.startsWith(SIG_PREFIX)) malformed(`signature line ${i + 1} does not start with an em dash and a space`);
    const rest = line.slice(SIG_PREFIX.length);
    const sp = rest.indexOf(' ');
    const name = sp < 0 ? rest : rest.slice(0, sp);
    const b64 = sp < 0 ? '' : rest.slice(sp + 1);
    if (!isValidKeyName(name)) malformed(`signature line ${i + 1} has an invalid key name ${JSON.stringify(name.slice(0, 60))}`);
    const raw = decodeBase64Strict(b64);
    if (raw === undefined || raw.length < 5) malformed(`signature line ${i + 1} (${name}) is not canonical base64 of a key ID and a signature`);
    const keyHash = new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0);
    return { name, keyHash, signature: raw.subarray(4) };
  });
  return { text, signatures };
}

/**
 * openNote verifies a signed note against the known verifiers and returns its text.
 * Signatures from unknown keys (name and key ID not both matching a verifier) are ignored and
 * reported as unverified; a known key's signature that fails rejects the whole note
 * (TlogSignatureInvalidError); no verified signature at all gives TlogNoteUnverifiedError.
 * SPEC: https://c2sp.org/signed-note "Verifiers MUST ignore signatures from unknown keys, even if they share a name or ID
 * (but not both) with a known key. If the key name and ID match a known key, verifiers MUST verify the signature. If a
 * signature from a known key fails to verify, clients SHOULD reject the whole note. If no signature from a known key
 * verifies successfully, clients MUST reject the note."
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const { text, signatures } = parseNote(note);
  const message = new TextEncoder().encode(text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of signatures) {
    const id = `${sig.name}+${sig.keyHash}`;
    const v = verifiers.find((k) => k.name === sig.name && k.keyHash === sig.keyHash);
    if (v === undefined) {
      unverified.push(sig);
      continue;
    }
    if (!v.verify(message, sig.signature)) {
      throw new TlogSignatureInvalidError(`signature by ${sig.name}+${sig.keyHash.toString(16).padStart(8, '0')} does not verify`);
    }
    if (!seen.has(id)) verified.push(sig);
    seen.add(id);
  }
  if (verified.length === 0) {
    const names = signatures.map((s) => `${s.name}+${s.keyHash.toString(16).padStart(8, '0')}`).join(', ');
    throw new TlogNoteUnverifiedError(`no signature from a known key (note is signed by: ${names})`);
  }
  return { text, verified, unverified };
}
