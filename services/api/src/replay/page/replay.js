// Affidavit session replay page. Plain browser JavaScript, no build step. Everything from the
// server is written with textContent, never parsed as markup: statements are client-supplied text.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const { importKey, verifyEntry, visible } = globalThis.affidavitReplayVerify;

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

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = visible(text);
    if (cls) e.className = cls;
    return e;
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
