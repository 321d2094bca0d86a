/**
 * A CompareReport as GitHub-flavoured Markdown: readable as plain text in a terminal, and fit to
 * commit under docs/. The figures and the prose come from ./format.ts, shared with the HTML page.
 */
import { CLAIM_COLUMNS, ENGINE_COLUMNS, FAILED_RUNS_HEADING, TITLE, cpuModelSentence, failedRunLine, failedRunsSentence, legendParagraph, runSentence, type Column } from './format.js';
import type { CompareReport } from './report.js';

export function compareMarkdown(report: CompareReport): string {
  const out: string[] = [`# ${TITLE}`, '', fence(report.command), '', escapeText(runSentence(report)), ''];
  if (report.models.length > 0) {
    out.push('Models:', '');
    for (const m of report.models) out.push(`- **${escapeText(m.name)}**: ${escapeText(m.description)}`);
    out.push('');
  }
  out.push(escapeText(cpuModelSentence(report)), '');
  out.push('## Engines', '', report.engines.length === 0 ? 'No engine was measured.' : table(ENGINE_COLUMNS, report.engines), '');
  out.push('## Claims', '', report.claims.length === 0 ? 'No claim was measured.' : table(CLAIM_COLUMNS, report.claims), '');
  out.push(escapeText(legendParagraph(report)), '');
  out.push(`## ${FAILED_RUNS_HEADING}`, '', escapeText(failedRunsSentence(report)), '');
  if (report.failedRuns.length > 0) out.push(...report.failedRuns.map((f) => `- ${escapeText(failedRunLine(f))}`), '');
  return out.join('\n');
}

function table<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [
    line(columns.map((c) => escapeCell(c.heading))),
    line(columns.map((c) => (c.numeric ? '---:' : '---'))),
    ...rows.map((r) => line(columns.map((c) => escapeCell(c.cell(r))))),
  ].join('\n');
}

/**
 * Text from the report (claims, labels, names) is data, not Markdown: a `<` would open raw HTML on
 * GitHub (a `<script>` in a claim must show, not vanish), so it is backslash-escaped, which both
 * GitHub and a reader in a terminal take as the character itself.
 */
function escapeText(s: string): string {
  return s.replace(/[\\<]/g, (c) => `\\${c}`);
}

/** In a table cell, also `|` (it would end the cell) and line breaks (they would end the row). */
function escapeCell(s: string): string {
  return escapeText(s).replace(/\|/g, '\\|').replace(/\s*\r?\n\s*/g, ' ');
}

/** A code block whose fence is longer than any run of backticks in the command, so none can close it. */
function fence(command: string): string {
  const longest = Math.max(0, ...[...command.matchAll(/`+/g)].map((m) => m[0].length));
  const f = '`'.repeat(Math.max(3, longest + 1));
  return `${f}sh\n${command}\n${f}`;
}
