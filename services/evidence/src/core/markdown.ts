// Renders a report for people: the objectives (satisfied / not satisfied and why), the gaps, and
// a table of the rows with the ledger positions they cite.
import type { Json, Report } from './model.ts';

// Table cells are one line; pipes and control characters could break or disguise the table.
const cell = (v: Json | undefined) =>
  (typeof v === 'string' ? v : JSON.stringify(v ?? null))
    .replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, ' ')
    .replace(/\|/g, '\\|')
    .slice(0, 200);

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
