// Reports rendered for people keep hostile statement text inert: no HTML element, no broken or
// disguised Markdown table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHtml } from './html.ts';
import { renderMarkdown } from './markdown.ts';
import type { Report } from './model.ts';

const hostile = 'drop table t; -- <script>alert(1)</script> | x \r\x1b[2K\u202e';
const report: Report = {
  format: 'affidavit.report/v1',
  control: 'ac-6.9',
  title: 'AC-6(9) Log Use of Privileged Functions',
  period: { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' },
  parameters: { dormantDays: 30 },
  generatedAt: '2026-12-01T00:00:00.000Z',
  ledgerKey: 'k+00000000',
  logs: [],
  rows: [
    {
      id: 'ac-6.9/1',
      kind: 'privileged-command',
      claims: { text: hostile, subject: 'alice' },
      stats: {},
      cites: [{ log: 'l', index: 3, entry: '', proof: [] }],
    },
  ],
  objectives: [{ id: 'ac-6.9_obj', title: 't', state: 'not-satisfied', reason: `because ${hostile}`, rows: ['ac-6.9/1'] }],
  gaps: [],
};

test('HTML escapes every value', () => {
  const html = renderHtml(report);
  assert.doesNotMatch(html, /<script>/);
  assert.match(html, /&#60;script&#62;alert\(1\)&#60;\/script&#62;/);
  assert.match(html, /class="not-satisfied"/);
  assert.match(html, /l#3/);
});

test('Markdown keeps one row per line and escapes pipes and control characters', () => {
  const md = renderMarkdown(report);
  const row = md.split('\n').find((l) => l.startsWith('| ac-6.9/1 |'))!;
  assert.ok(row, md);
  assert.doesNotMatch(row, /[\r\x1b\u202e]/);
  assert.match(row, /\\\| x/);
  assert.match(md, /## Objectives: 0 satisfied, 1 not satisfied/);
});

// GFM splits a table row at each pipe not escaped, an escape being a backslash and the next
// character (cmark-gfm's scanner): `\\|` is an escaped backslash, then a splitting pipe.
const cells = (row: string) => {
  let n = 0;
  for (let i = 0; i < row.length; i++) {
    if (row[i] === '\\') i++;
    else if (row[i] === '|') n++;
  }
  return n - 1;
};

test('Markdown: a statement cannot add a table column, raw HTML or a link (backslash before pipe, tags, brackets)', () => {
  const forged = 'select 1 \\| alice \\| <img src=x onerror=alert(1)> [verified](javascript:alert(1)) `x` *y* \u200f\u2066\ufeff\u0085';
  const r: Report = { ...report, rows: [{ ...report.rows[0], claims: { text: forged, subject: 'alice' } }] };
  const md = renderMarkdown(r);
  const lines = md.split('\n');
  const header = lines.find((l) => l.startsWith('| row |'))!;
  const row = lines.find((l) => l.startsWith('| ac-6.9/1 |'))!;
  assert.equal(cells(row), cells(header), `a statement added a column:\n${header}\n${row}`);
  assert.doesNotMatch(row, /(^|[^\\])</, 'raw HTML tag start');
  assert.doesNotMatch(row, /(^|[^\\])\]\(/, 'a link');
  assert.doesNotMatch(row, /[\u200f\u2066\ufeff\u0085]/, 'invisible or reordering characters');
});
