// Renders a report as a self-contained HTML page for people: the objectives, the gaps, a table
// per row kind. Every value is escaped: statement texts and identities come from clients.
import type { Json, Report } from './model.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const text = (v: Json | undefined) => esc(typeof v === 'string' ? v : JSON.stringify(v ?? null));

/** renderHtml renders a report as HTML. */
export function renderHtml(r: Report): string {
  const ok = r.objectives.filter((o) => o.state === 'satisfied').length;
  const out: string[] = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(r.title)}</title>`,
    '<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;vertical-align:top}.not-satisfied{color:#a00}.satisfied{color:#060}</style>',
    '</head><body>',
    `<h1>${esc(r.title)}</h1>`,
    `<p>Period ${esc(r.period.from)} to ${esc(r.period.to)}; generated ${esc(r.generatedAt)}; ledger key ${esc(r.ledgerKey)}.</p>`,
    `<h2>Objectives: ${ok} satisfied, ${r.objectives.length - ok} not satisfied</h2>`,
    '<table><tr><th>objective</th><th>state</th><th>reason</th></tr>',
    ...r.objectives.map((o) => `<tr><td>${esc(o.id)}</td><td class="${o.state}">${esc(o.state)}</td><td>${esc(o.reason)}</td></tr>`),
    '</table>',
  ];
  if (r.gaps.length > 0) out.push('<h2>Gaps</h2><ul>', ...r.gaps.map((g) => `<li>${esc(g)}</li>`), '</ul>');
  for (const kind of [...new Set(r.rows.map((x) => x.kind))]) {
    const rows = r.rows.filter((x) => x.kind === kind);
    const keys = [...new Set(rows.flatMap((x) => [...Object.keys(x.claims), ...Object.keys(x.stats)]))];
    out.push(`<h2>${esc(kind)} (${rows.length})</h2>`, `<table><tr><th>row</th>${keys.map((k) => `<th>${esc(k)}</th>`).join('')}<th>cites</th></tr>`);
    for (const x of rows) {
      const cites = x.checkpoint ? `checkpoint ${x.checkpoint.size}` : x.cites.map((c) => `${c.log}#${c.index}`).join(' ');
      out.push(`<tr><td>${esc(x.id)}</td>${keys.map((k) => `<td>${text(k in x.claims ? x.claims[k] : x.stats[k])}</td>`).join('')}<td>${esc(cites)}</td></tr>`);
    }
    out.push('</table>');
  }
  out.push('</body></html>');
  return `${out.join('\n')}\n`;
}
