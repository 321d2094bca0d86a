/**
 * The report's three kinds of chart (latency distributions, messages per operation against
 * cluster size, throughput against operations in flight), drawn with ./svg-chart.ts. Each returns
 * HTML: the SVG charts, or a short "no data" note where there is nothing to draw.
 */
import type { CompareReport, LatencySeries } from './report.js';
import { escapeHtml as esc } from '../core/html.js';
import { lineChart, type ChartLine } from './svg-chart.js';

/** Points a latency CDF is drawn with at most: 2,000 samples per line would weigh the page down for nothing the eye can see. */
export const MAX_CDF_POINTS = 200;
/** Latencies spanning more decades than this (largest / smallest) get a log axis. */
const LOG_DECADES = 2;

/** One distribution chart per model, in the order the report lists its models. */
export function latencyCharts(report: CompareReport): string {
  const series = report.charts.latency;
  if (series.length === 0) return noData('latency distributions');
  const byModel = new Map<string, LatencySeries[]>();
  for (const m of report.models) byModel.set(m.name, []);
  for (const s of series) {
    let list = byModel.get(s.model);
    if (list === undefined) byModel.set(s.model, (list = []));
    list.push(s);
  }
  const out: string[] = [];
  for (const [model, list] of byModel) {
    if (list.length === 0) continue;
    const lines: ChartLine[] = list.map((s) => ({ label: s.label, points: cdfPoints(s.samplesMs) }));
    const xs = lines.flatMap((l) => l.points.map((p) => p.x));
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    const title = `Client write latency, ${model} model (cumulative)`;
    const svg = lineChart({
      kind: 'latency',
      title,
      xLabel: 'latency (ms)',
      yLabel: 'writes completed within (%)',
      yUnit: '%',
      lines,
      xLog: lo > 0 && hi / lo > 10 ** LOG_DECADES,
      yRange: [0, 100],
    });
    out.push(svg ?? noData(title));
  }
  return out.join('\n');
}

/**
 * The empirical CDF of sorted samples: at most MAX_CDF_POINTS, evenly spaced in rank, with the
 * tail's quantiles kept (even spacing alone would leave the p99 region two points).
 */
export function cdfPoints(samplesMs: readonly number[]): { x: number; y: number }[] {
  const sorted = samplesMs.filter((v) => Number.isFinite(v));
  // The model says sorted; a measurement that is not should still draw a CDF, not a scribble.
  for (let i = 1; i < sorted.length; i++) if (sorted[i]! < sorted[i - 1]!) { sorted.sort((a, b) => a - b); break; }
  const n = sorted.length;
  if (n === 0) return [];
  const ranks = new Set<number>();
  const even = MAX_CDF_POINTS - 6;
  if (n <= MAX_CDF_POINTS) for (let i = 0; i < n; i++) ranks.add(i);
  else {
    for (let k = 0; k < even; k++) ranks.add(Math.round((k * (n - 1)) / (even - 1)));
    for (const q of [0.95, 0.99, 0.995, 0.999, 0.9999]) ranks.add(Math.min(n - 1, Math.ceil(q * n) - 1));
  }
  return [...ranks].sort((a, b) => a - b).map((i) => ({ x: sorted[i]!, y: ((i + 1) / n) * 100 }));
}

export function messagesChart(report: CompareReport): string {
  const title = 'Messages per operation against cluster size';
  const svg = lineChart({
    kind: 'messages',
    title,
    xLabel: 'nodes',
    yLabel: 'messages per operation',
    markers: true,
    lines: report.charts.messagesVsNodes.map((s) => ({
      label: s.protocol,
      points: [...s.points].sort((a, b) => a.nodes - b.nodes).map((p) => ({ x: p.nodes, y: p.messagesPerOp })),
    })),
  });
  return svg ?? noData(title);
}

export function throughputChart(report: CompareReport): string {
  const title = 'Throughput against operations in flight (the simulator charges no CPU: latency-bound)';
  const svg = lineChart({
    kind: 'throughput',
    title,
    xLabel: 'operations in flight (clients)',
    yLabel: 'operations per simulated second',
    markers: true,
    xFromZero: true,
    lines: report.charts.throughputVsInFlight.map((s) => ({
      label: `${s.protocol} n=${s.nodes}`,
      points: [...s.points].sort((a, b) => a.inFlight - b.inFlight).map((p) => ({ x: p.inFlight, y: p.opsPerSecond })),
    })),
  });
  return svg ?? noData(title);
}

function noData(what: string): string {
  return `<p class="nodata">${esc(what)}: no data.</p>`;
}
