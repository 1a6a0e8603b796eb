// Affidavit session replay page. Plain browser JavaScript, no build step. Everything from the
// server is written with textContent, never parsed as markup: statements are client-supplied text.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const enc = new TextEncoder();

  // The fragment is read once, then removed from the address bar and history so the token is
  // not left where a screenshot, a shared link or a history sync would carry it.
  function readFragment() {
    const out = {};
    for (const part of location.hash.replace(/^#/, '').split('&')) {
      const at = part.indexOf('=');
      if (at <= 0) continue;
      try {
        out[part.slice(0, at)] = decodeURIComponent(part.slice(at + 1));
      } catch {
        // a malformed escape: ignore this part
      }
    }
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    return out;
  }

  const sessionId = decodeURIComponent(location.pathname.replace(/^\/sessions\//, '').replace(/\/replay\/?$/, ''));

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

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = visible(text);
    if (cls) e.className = cls;
    return e;
  }

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
    if (index >= size) throw new Error(`index ${index} is not below tree size ${size}`);
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
    return { text, sigs, origin: lines[0], size: Number(lines[1]), root: b64(lines[2]) };
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
    const k = `${log}\n${note}`;
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

  const iso = (us) => new Date(Math.floor(us / 1000)).toISOString().replace('T', ' ').replace('Z', '');
  const posLabel = (p) => `${p.log}#${p.index}`;
  const DECISION = { allow: 'ALLOW', mask: 'MASK', require_approval: 'HOLD', deny: 'DENY' };

  function stepCells(s) {
    if (s.kind !== 'command') return { kind: s.kind.replace('-', ' '), text: s.detail, result: [] };
    const result = [];
    if (s.blocked) result.push(`blocked: ${s.blocked.reason}`);
    if (s.outcome) {
      result.push(
        `${s.outcome}${s.tag ? ` ${s.tag}` : ''}${s.rows === null ? '' : `, ${s.rows} row${s.rows === 1 ? '' : 's'}`}${s.durationMicros === null ? '' : `, ${(s.durationMicros / 1000).toFixed(2)} ms`}`,
      );
    }
    if (s.errorCode) result.push(`error ${s.errorCode}: ${s.errorMessage || ''}`);
    if (s.masked) result.push(`masked ${s.masked.columns.join(', ') || '(by detector)'} (${s.masked.rules.join(', ')}): ${s.masked.count} values`);
    for (const a of s.approvals) {
      if (a.kind === 'requested') result.push(`held for ${a.approverGroups.join(', ')} (request ${a.requestId}) at ${posLabel(a.position)}`);
      else if (a.kind === 'decided')
        result.push(`${a.decision} by ${a.approver || '(timeout)'}${a.signed ? ' (signed)' : ''}: ${a.justification} at ${posLabel(a.position)}`);
      else result.push(`refused attempt [${a.code}] by ${a.claimedApprover || '(unknown)'}: ${a.reason} at ${posLabel(a.position)}`);
    }
    const kind = `${DECISION[s.decision] || s.decision || '?'}${s.rule ? ` · ${s.rule}` : ''}`;
    return { kind, text: s.statement, result, decision: s.decision };
  }

  async function show(data, key) {
    $('session').textContent = `${data.timeline.subject || '(unknown subject)'} → ${data.timeline.target || '(unknown target)'} · session ${data.sessionId}`;
    const byPos = new Map(data.entries.map((e) => [`${e.log}#${e.index}`, e]));
    const results = new Map();
    await Promise.all(data.entries.map(async (e) => results.set(`${e.log}#${e.index}`, await verifyEntry(e, key))));
    const tbody = $('timeline').querySelector('tbody');
    tbody.replaceChildren();
    const counts = { verified: 0, unsigned: 0, pending: 0, failed: 0 };
    for (const s of data.timeline.steps) {
      const tr = el('tr');
      tr.dataset.kind = s.kind;
      const c = stepCells(s);
      tr.append(el('td', iso(s.at)));
      const pos = el('td', null, 'pos');
      for (const e of s.events) pos.append(el('span', `${posLabel(e.position)} ${e.type}`, 'note'));
      tr.append(pos);
      tr.append(el('td', c.kind, c.decision ? `decision-${c.decision}` : undefined));
      tr.append(el('td', c.text, 'stmt'));
      const res = el('td');
      for (const r of c.result) res.append(el('span', r, 'note'));
      tr.append(res);
      const proof = el('td', null, 'proof');
      for (const e of s.events) {
        const k = posLabel(e.position);
        const v = byPos.has(k) ? results.get(k) : { state: 'failed', text: 'FAILED: no entry bytes for this position' };
        counts[v.state]++;
        const b = el('span', `${k}: ${v.text}`, `badge ${v.state}`);
        b.dataset.position = k;
        b.dataset.state = v.state;
        proof.append(b, el('br'));
      }
      tr.append(proof);
      tbody.append(tr);
    }
    const anomalies = $('anomalies');
    anomalies.replaceChildren(...data.timeline.anomalies.map((a) => el('li', `ANOMALY: ${a}`)));
    const total = data.entries.length;
    $('verdict').textContent = counts.failed
      ? `${counts.failed} of ${total} entries FAILED verification`
      : key
        ? `${counts.verified} of ${total} entries verified against checkpoints signed by ${key.label}${counts.pending ? `; ${counts.pending} not yet covered by a checkpoint` : ''}`
        : `${counts.unsigned} of ${total} entries are in the tree of their checkpoint; signatures not checked: give the ledger key (#key=…)`;
    $('verdict').dataset.failed = String(counts.failed);
    $('status').textContent = data.timeline.ended ? 'session ended' : 'session not ended (live, or its end is missing)';
    $('summary').hidden = false;
    $('timeline').hidden = false;
  }

  async function load(token, keyText) {
    $('status').textContent = 'Loading…';
    let key = null;
    if (keyText) {
      try {
        key = await importKey(keyText);
      } catch (err) {
        $('status').textContent = `ledger key refused: ${err.message}`;
        return;
      }
    }
    const res = await fetch(`/sessions/${encodeURIComponent(sessionId)}/replay/data`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const err = body?.errors?.[0];
      $('status').textContent = `refused (HTTP ${res.status})${err ? `: ${err.message} [${err.extensions?.code || ''}]` : ''}`;
      $('login').hidden = res.status !== 401 && res.status !== 403;
      return;
    }
    $('login').hidden = true;
    await show(body, key);
  }

  document.addEventListener('DOMContentLoaded', () => {
    const f = readFragment();
    $('login').addEventListener('submit', (ev) => {
      ev.preventDefault();
      load($('token').value.trim(), $('key').value.trim()).catch((err) => ($('status').textContent = `error: ${err.message}`));
    });
    if (!f.token) {
      $('status').textContent = 'Give a token to load the session.';
      $('login').hidden = false;
      if (f.key) $('key').value = f.key;
      return;
    }
    load(f.token, f.key || '').catch((err) => ($('status').textContent = `error: ${err.message}`));
  });
})();
