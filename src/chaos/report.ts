/**
 * A chaos run's report: Markdown for the terminal and the README, and a self-contained HTML page
 * with the same verdicts and a latency timeline (SVG), the nemesis's intervals shaded.
 */
import { escapeHtml } from '../core/html.js';
import type { ChaosOptions, ChaosResult } from './run.js';
import type { NemesisKind } from './nemesis.js';
import type { TimedOperation } from './workload.js';

export interface ReportInput {
  readonly options: ChaosOptions;
  readonly result: ChaosResult;
  readonly history: readonly TimedOperation[];
}

/** The SVG draws at most this many operations (evenly sampled): a page stays small. */
const MAX_DRAWN_OPERATIONS = 20_000;

export function systemLabel(o: Pick<ChaosOptions, 'system' | 'protocol' | 'mutant'>): string {
  return o.system === 'etcd' ? 'etcd' : `quorate ${o.protocol}${o.mutant === null ? '' : ` (mutant ${o.mutant})`}`;
}

/** The timeline's shading for each kind of fault. */
const FAULT_COLOURS: Record<NemesisKind, string> = { partition: '#fde2c8', kill: '#f9d0d0', pause: '#d8e4f8', skew: '#e6d8f8', member: '#d8f0dc' };

/** Text for a Markdown table cell: a `|` would end the cell. */
const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** One line of the results table: system, workload, nemesis, operations, outcomes, verdict. */
export function resultRow(o: Pick<ChaosOptions, 'system' | 'protocol' | 'mutant' | 'nemesis' | 'workload'>, r: ChaosResult): string {
  return `| ${systemLabel(o)} | ${o.workload} | ${o.nemesis.join(', ') || 'none'} | ${r.check.operations} | ${r.counts.ok} | ${r.counts.fail} | ${r.counts.unknown} | ${r.counts.notSent} | ${r.okAfterHeal} | ${cell(r.check.summary)} |`;
}

export const RESULT_HEADER = '| system | workload | nemesis | operations | ok | fail | unknown | not sent | ok after heal | verdict |\n|---|---|---|---|---|---|---|---|---|---|';

export function chaosReportMarkdown(input: ReportInput): string {
  const { options: o, result: r } = input;
  const lines = [
    `# Chaos run: ${systemLabel(o)}`,
    '',
    `\`${o.commandLine}\``,
    '',
    `${o.nodes} members, ${o.clients} clients on ${o.keys} keys, ${o.timeLimitS} s of faults${o.maxFaults === null ? '' : ` at most, or ${o.maxFaults} faults`} (seed ${o.seed}); each fault ${o.faultMs}–${2 * o.faultMs} ms, the quiet between ${o.quietMs}–${2 * o.quietMs} ms.`,
    '',
    `Faults made: ${r.events.length}, over ${(r.healedAtMs / 1000).toFixed(1)} s. Kill -9 / restart cycles: ${r.restarts} (members killed and restarted).`,
    '',
    RESULT_HEADER,
    resultRow(o, r),
    '',
  ];
  if (r.nemesisError !== null) lines.push(`**The nemesis failed: ${r.nemesisError}.** Its faults were not all healed and the run ended there; the history up to then is checked above.`, '');
  if (r.check.verdict === 'invalid') lines.push('## Anomaly', '', r.check.details, '');
  if (r.check.verdict === 'unknown') lines.push(`The checker gave up within its budget: the verdict is unknown.${r.check.details === '' ? '' : `\n\n${r.check.details}`}`, '');
  const capped = r.cappedAtMs !== null && r.cappedAtMs < r.healedAtMs;
  if (r.cappedAtMs !== null) lines.push(`**The clients stopped at ${(r.cappedAtMs / 1000).toFixed(1)} s: the history reached its cap of ${r.maxOperations} operations.** Faults after that were not observed by any operation.`, '');
  if (r.okAfterHeal === 0 && !capped && r.nemesisError === null) lines.push('**No operation succeeded after every fault was healed: the cluster did not recover.**', '');
  if (r.unexpectedExits.length > 0) lines.push(`Members that exited on their own: ${r.unexpectedExits.join(', ')} (see logs/).`, '');
  lines.push(r.legend, '');
  lines.push('## Nemesis', '', '| from (s) | to (s) | fault |', '|---|---|---|');
  // A fault whose heal failed (the nemesis's error ended the run) has no end: said so, not "Infinity".
  const to = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : 'not healed');
  for (const e of r.events) lines.push(`| ${(e.startMs / 1000).toFixed(1)} | ${to(e.endMs)} | ${cell(e.what)}${e.healed === undefined ? '' : cell(`; healed: ${e.healed}`)} |`);
  if (r.events.length === 0) lines.push('| | | none |');
  lines.push('', `Files: ${[...r.files, '`report.html`', '`logs/`'].join(', ')}.`, '');
  return lines.join('\n');
}


export function chaosReportHtml(input: ReportInput): string {
  const { options: o, result: r, history } = input;
  const markdown = chaosReportMarkdown(input);
  return [
    '<!doctype html><html><head><meta charset="utf-8">',
    `<title>${escapeHtml(`chaos: ${systemLabel(o)}`)}</title>`,
    '<style>body{font:14px system-ui,sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em;overflow:auto}</style>',
    '</head><body>',
    `<h1>${escapeHtml(`Chaos run: ${systemLabel(o)}`)}</h1>`,
    `<p>Verdict: <b>${escapeHtml(r.check.verdict)}</b>. ${r.counts.ok} ok, ${r.counts.fail} fail, ${r.counts.unknown} unknown operations; ${r.counts.notSent} not sent.</p>`,
    '<h2>Latency</h2>',
    latencySvg(history, r),
    '<p>Each dot is an operation at its start, its height its latency (log scale): green ok, grey failed; red ticks at the top are unknown outcomes. Shaded: faults.</p>',
    '<h2>Report</h2>',
    `<pre>${escapeHtml(markdown)}</pre>`,
    '</body></html>',
  ].join('\n');
}

function latencySvg(history: readonly TimedOperation[], r: ChaosResult): string {
  const width = 1000;
  const height = 300;
  const top = 20;
  // A loop, not Math.max(...): spreading a long history (past some 120,000 operations) overflows the stack.
  let end = 1;
  for (const e of r.events) if (Number.isFinite(e.endMs)) end = Math.max(end, e.endMs);
  for (const op of history) end = Math.max(end, op.invokedAt);
  const x = (ms: number): number => (ms / end) * width;
  // Latency from 1 ms to 10 s on a log scale.
  const y = (ms: number): number => top + (height - top) * (1 - Math.min(1, Math.max(0, Math.log10(Math.max(1, ms)) / 4)));
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 20}" style="border:1px solid #ccc">`];
  for (const e of r.events) {
    const to = Number.isFinite(e.endMs) ? e.endMs : end;
    parts.push(`<rect x="${x(e.startMs).toFixed(1)}" y="0" width="${Math.max(1, x(to) - x(e.startMs)).toFixed(1)}" height="${height}" fill="${FAULT_COLOURS[e.kind]}"><title>${escapeHtml(e.what)}</title></rect>`);
  }
  const step = Math.max(1, Math.ceil(history.length / MAX_DRAWN_OPERATIONS));
  for (let i = 0; i < history.length; i += step) {
    const op = history[i]!;
    if (op.outcome === 'unknown') {
      parts.push(`<line x1="${x(op.invokedAt).toFixed(1)}" x2="${x(op.invokedAt).toFixed(1)}" y1="0" y2="${top - 4}" stroke="#c00"/>`);
      continue;
    }
    parts.push(`<circle cx="${x(op.invokedAt).toFixed(1)}" cy="${y(op.completedAt - op.invokedAt).toFixed(1)}" r="1.5" fill="${op.outcome === 'ok' ? '#2a8' : '#999'}"/>`);
  }
  for (const [label, ms] of [['1 ms', 1], ['10 ms', 10], ['100 ms', 100], ['1 s', 1000], ['10 s', 10_000]] as const) {
    parts.push(`<text x="2" y="${(y(ms) - 2).toFixed(1)}" font-size="10" fill="#555">${label}</text>`);
  }
  parts.push(`<text x="${width - 60}" y="${height + 15}" font-size="11">${(end / 1000).toFixed(0)} s</text>`, '</svg>');
  return parts.join('\n');
}
