/**
 * A CompareReport as one self-contained HTML page: the header, the engines and claims tables, and
 * the charts as inline SVG. No script, no external resource (a page mailed or archived still
 * shows everything), system fonts. Hovering a chart's line shows its label.
 */
import { latencyCharts, messagesChart, throughputChart } from './charts.js';
import { CLAIM_COLUMNS, ENGINE_COLUMNS, FAILED_RUNS_HEADING, TITLE, cpuModelSentence, failedRunLine, failedRunsSentence, legendParagraph, runSentence, type Column } from './format.js';
import type { ClaimRow, CompareReport } from './report.js';
import { escapeHtml as esc } from '../core/html.js';

export function compareHtml(report: CompareReport): string {
  const models = report.models.length === 0 ? '' : `<p>Models:</p>\n<ul>\n${report.models.map((m) => `<li><b>${esc(m.name)}</b>: ${esc(m.description)}</li>`).join('\n')}\n</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(TITLE)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
pre{background:#f5f5f5;padding:8px 12px;overflow-x:auto}
code,pre{font:12px ui-monospace,monospace}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top;font-size:12px}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto}
.verdict{font-weight:600;white-space:nowrap}
.v-holds{background:#dff3e0;color:#1b5e20}.v-differs{background:#fdebc8;color:#8a5300}.v-not-measured{background:#eee;color:#666}
svg{display:block;margin:12px 0}svg text{font:11px system-ui,sans-serif;fill:#333}svg text.title{font-size:13px;font-weight:600}
.axis{stroke:#555;fill:none}.grid{stroke:#eee;fill:none}
.nodata{color:#666;font-style:italic}
</style></head><body>
<h1>${esc(TITLE)}</h1>
<pre><code>${esc(report.command)}</code></pre>
<p>${esc(runSentence(report))}</p>
${models}
<p>${esc(cpuModelSentence(report))}</p>
<h2>Engines</h2>
${report.engines.length === 0 ? '<p class="nodata">No engine was measured.</p>' : table(ENGINE_COLUMNS, report.engines)}
<h2>Claims</h2>
${report.claims.length === 0 ? '<p class="nodata">No claim was measured.</p>' : table(CLAIM_COLUMNS, report.claims, verdictClass)}
<p>${esc(legendParagraph(report))}</p>
<h2>${esc(FAILED_RUNS_HEADING)}</h2>
<p>${esc(failedRunsSentence(report))}</p>
${report.failedRuns.length === 0 ? '' : `<ul>${report.failedRuns.map((f) => `<li>${esc(failedRunLine(f))}</li>`).join('')}</ul>`}
<h2>Latency distributions</h2>
${latencyCharts(report)}
<h2>Messages per operation</h2>
${messagesChart(report)}
<h2>Throughput</h2>
${throughputChart(report)}
</body></html>
`;
}

/** The claims' verdict cell is coloured, so a reader sees at a glance which claims differ. */
function verdictClass(column: Column<ClaimRow>, row: ClaimRow): string | undefined {
  return column.heading === 'verdict' ? `verdict v-${row.verdict.replace(/\s+/g, '-')}` : undefined;
}

function table<Row>(columns: readonly Column<Row>[], rows: readonly Row[], cellClass?: (c: Column<Row>, r: Row) => string | undefined): string {
  const head = `<tr>${columns.map((c) => `<th>${esc(c.heading)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${columns.map((c) => {
    const cls = [c.numeric ? 'num' : '', cellClass?.(c, r) ?? ''].filter((s) => s !== '').join(' ');
    return `<td${cls === '' ? '' : ` class="${esc(cls)}"`}>${esc(c.cell(r))}</td>`;
  }).join('')}</tr>`);
  return `<div class="scroll"><table>\n${head}\n${body.join('\n')}\n</table></div>`;
}
