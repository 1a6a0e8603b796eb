// Affidavit replay page: the checks the page runs in the browser, apart from the page so a test
// can run them outside one (services/api/src/replay/page-verify.test.ts runs them in Node against
// proofs from @affidavit/tlog). Plain browser JavaScript, no build step; it defines one global.
'use strict';

globalThis.affidavitReplayVerify = (() => {
  const enc = new TextEncoder();

  // Control and bidi characters would hide or reorder what a statement says (Trojan Source): they
  // are shown as escapes, the same set the terminal replay escapes (visible() in the CLI's
  // approvals.ts; a browser cannot import it). A newline is kept.
  const INVISIBLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;
  const visible = (s) =>
    String(s).replace(INVISIBLE, (ch) => {
      const c = ch.codePointAt(0);
      if (ch === '\r') return '\\r';
      if (ch === '\t') return '\\t';
      return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    });

  function b64(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  async function sha256(...parts) {
    let n = 0;
    for (const p of parts) n += p.length;
    const buf = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      buf.set(p, o);
      o += p.length;
    }
    return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  }
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const half = (n) => Math.floor(n / 2);

  // SPEC: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2 (inclusion proof verification).
  // Arithmetic, not bit operators: indices may pass 2^31.
  async function rootFromProof(leafHash, index, size, proof) {
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0) throw new Error('index and size must be whole numbers');
    if (index >= size) throw new Error(`index ${index} is not below tree size ${size}`);
    if (proof.length > 64 || proof.some((p) => p.length !== 32)) throw new Error('a proof is at most 64 hashes of 32 bytes');
    let fn = index;
    let sn = size - 1;
    let r = leafHash;
    for (const p of proof) {
      if (sn === 0) throw new Error('proof is too long');
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(Uint8Array.of(1), p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = half(fn);
            sn = half(sn);
          }
        }
      } else {
        r = await sha256(Uint8Array.of(1), r, p);
      }
      fn = half(fn);
      sn = half(sn);
    }
    if (sn !== 0) throw new Error('proof is too short');
    return r;
  }

  // SPEC: https://c2sp.org/signed-note — text, a blank line, then "— name base64(keyhash4 ‖ sig)" lines.
  // SPEC: https://c2sp.org/tlog-checkpoint — origin, tree size, base64 root hash.
  function parseNote(note) {
    const cut = note.lastIndexOf('\n\n');
    if (cut < 0) throw new Error('checkpoint has no signature block');
    const text = note.slice(0, cut + 1);
    const sigs = note
      .slice(cut + 2)
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(l);
        if (!m) throw new Error('malformed signature line');
        return { name: m[1], bytes: b64(m[2]) };
      });
    const lines = text.split('\n');
    if (lines.length < 4 || !/^\d{1,16}$/.test(lines[1])) throw new Error('the checkpoint text is not origin, size, root hash');
    const root = b64(lines[2]);
    if (root.length !== 32) throw new Error('the checkpoint root hash is not 32 bytes');
    return { text, sigs, origin: lines[0], size: Number(lines[1]), root };
  }

  async function importKey(vkey) {
    // The name holds no '+', the hash is 8 hex digits, and the base64 key may hold '+' itself.
    const parts = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/.exec(vkey.trim())?.slice(1);
    if (!parts) throw new Error('a ledger key looks like name+hash+base64 (data/keys/ledger.pub)');
    const material = b64(parts[2]);
    if (material.length !== 33 || material[0] !== 1) throw new Error('not an Ed25519 note key');
    // The key hash is the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).
    const h = await sha256(enc.encode(`${parts[0]}\n`), material);
    const hash = Array.from(h.slice(0, 4), (x) => x.toString(16).padStart(2, '0')).join('');
    if (hash !== parts[1]) throw new Error('the key hash does not match the key');
    const key = await crypto.subtle.importKey('raw', material.slice(1), { name: 'Ed25519' }, false, ['verify']);
    return { name: parts[0], hash: h.slice(0, 4), label: `${parts[0]}+${parts[1]}`, key };
  }

  const checked = new Map();
  async function checkCheckpoint(note, log, key) {
    // Keyed by the key too: the page may load again with another key (the form), and a check
    // made with one key says nothing about another, or about none.
    const k = `${key ? key.label : ''}\n${log}\n${note}`;
    if (!checked.has(k))
      checked.set(
        k,
        (async () => {
          const cp = parseNote(note);
          if (!key) return { cp, signed: null };
          if (cp.origin !== `${key.name}/${log}`) throw new Error(`the checkpoint is of ${cp.origin}, not of ${key.name}/${log}`);
          const sig = cp.sigs.find((s) => s.name === key.name && s.bytes.length === 68 && equal(s.bytes.slice(0, 4), key.hash));
          if (!sig) throw new Error(`the checkpoint carries no signature by ${key.label}`);
          const ok = await crypto.subtle.verify({ name: 'Ed25519' }, key.key, sig.bytes.slice(4), enc.encode(cp.text));
          if (!ok) throw new Error(`the checkpoint's signature by ${key.label} does not verify`);
          return { cp, signed: true };
        })(),
      );
    return checked.get(k);
  }

  /** verifyEntry answers {state: verified|unsigned|pending|failed, text}. */
  async function verifyEntry(e, key) {
    if (!e.proof) return { state: 'pending', text: `not yet covered: ${e.reason || 'no proof'}` };
    try {
      const { cp, signed } = await checkCheckpoint(e.proof.checkpoint, e.log, key);
      if (cp.size !== e.proof.treeSize) throw new Error('the proof is for another tree size than its checkpoint');
      const leaf = await sha256(Uint8Array.of(0), b64(e.bytes));
      const root = await rootFromProof(
        leaf,
        e.index,
        cp.size,
        e.proof.hashes.map((h) => b64(h)),
      );
      if (!equal(root, cp.root)) throw new Error('the proof leads to another root than the checkpoint’s');
      return signed
        ? { state: 'verified', text: `verified (tree ${cp.size})` }
        : { state: 'unsigned', text: `in tree ${cp.size}; signature not checked (no ledger key given)` };
    } catch (err) {
      return { state: 'failed', text: `FAILED: ${err.message}` };
    }
  }

  return { b64, sha256, rootFromProof, parseNote, importKey, checkCheckpoint, verifyEntry, visible };
})();
