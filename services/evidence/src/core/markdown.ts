// Renders a report for people: the objectives (satisfied / not satisfied and why), the gaps, and
// a table of the rows with the ledger positions they cite.
import type { Json, Report } from './model.ts';

// Table cells are one line of inert text: statements and identities come from clients. Control,
// invisible and reordering characters become spaces; every character Markdown gives a meaning
// inside a cell (a backslash too: `\\|` would be an escaped backslash then a splitting pipe) is
// escaped, so a value adds no column, HTML element, link or emphasis. Cut before escaping, so a
// cut never leaves a lone backslash.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;
const cell = (v: Json | undefined) =>
  (typeof v === 'string' ? v : JSON.stringify(v ?? null))
    .slice(0, 200)
    .replace(INVISIBLE, ' ')
    .replace(/[\\`*_{}[\]<>|~&!#]/g, (c) => `\\${c}`);

/** renderMarkdown renders a report as Markdown. */
export function renderMarkdown(r: Report): string {
  const out: string[] = [`# ${r.title}`, '', `Period ${r.period.from} to ${r.period.to}; generated ${r.generatedAt}; ledger key ${r.ledgerKey}.`, ''];
  const ok = r.objectives.filter((o) => o.state === 'satisfied').length;
  out.push(`## Objectives: ${ok} satisfied, ${r.objectives.length - ok} not satisfied`, '', '| objective | state | reason |', '| --- | --- | --- |');
  for (const o of r.objectives) out.push(`| ${o.id} | ${o.state} | ${cell(o.reason)} |`);
  if (r.gaps.length > 0) out.push('', '## Gaps', '', ...r.gaps.map((g) => `- ${cell(g)}`));
  const kinds = [...new Set(r.rows.map((x) => x.kind))];
  for (const kind of kinds) {
    const rows = r.rows.filter((x) => x.kind === kind);
    const keys = [...new Set(rows.flatMap((x) => [...Object.keys(x.claims), ...Object.keys(x.stats)]))];
    out.push('', `## ${kind} (${rows.length})`, '', `| row | ${keys.join(' | ')} | cites |`, `| --- |${' --- |'.repeat(keys.length)} --- |`);
    for (const x of rows) {
      const v = (k: string) => cell(k in x.claims ? x.claims[k] : x.stats[k]);
      const cites = x.checkpoint ? `checkpoint ${x.checkpoint.size}` : x.cites.map((c) => `${c.log}#${c.index}`).join(' ');
      out.push(`| ${x.id} | ${keys.map(v).join(' | ')} | ${cell(cites)} |`);
    }
  }
  return `${out.join('\n')}\n`;
}
