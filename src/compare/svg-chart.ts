/**
 * A line chart as inline SVG, by hand: axes with ticks and labels, a title, one polyline per line
 * (point markers optional), a legend. No chart library: the page must stay self-contained and the
 * project takes no dependencies. Inline SVG in HTML needs no xmlns, so the page names no URL.
 */
import { escapeHtml as esc } from '../core/html.js';
import { formatTrimmed } from './format.js';

export interface ChartLine {
  readonly label: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface ChartSpec {
  /** Which chart this is (a data-chart attribute, so a reader or a test can tell them apart). */
  readonly kind: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly lines: readonly ChartLine[];
  /** A log x axis (the caller decides: latencies spanning several decades). */
  readonly xLog?: boolean;
  /** Fixed y range (a CDF's 0–100 %); otherwise 0 to the largest y. */
  readonly yRange?: readonly [number, number];
  /** Whether x starts at 0 rather than at the smallest x. */
  readonly xFromZero?: boolean;
  readonly markers?: boolean;
  readonly yUnit?: string;
}

/** Ten colours that stay apart from each other (Tableau 10); past ten, they repeat dashed, then dotted. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'] as const;
const DASHES = ['', '6 3', '2 3'] as const;

const WIDTH = 640;
const HEIGHT = 320;
const PAD = { left: 72, right: 16, top: 32, bottom: 48 } as const;
const LEGEND_WIDTH = 230;
const LEGEND_ROW = 16;
/** Legend labels are cut to this many characters (the whole label shows on hover). */
const LEGEND_CHARS = 30;

export function lineStyle(i: number): { colour: string; dash: string } {
  return { colour: PALETTE[i % PALETTE.length]!, dash: DASHES[Math.floor(i / PALETTE.length) % DASHES.length]! };
}

/** The chart, or undefined when no line has a point to draw (the caller says "no data" instead). */
export function lineChart(spec: ChartSpec): string | undefined {
  const lines = spec.lines.map((l) => ({
    label: l.label,
    points: l.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!spec.xLog || p.x > 0)),
  }));
  const all = lines.flatMap((l) => l.points);
  if (all.length === 0) return undefined;
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const x = spec.xLog
    ? logScale(Math.min(...xs), Math.max(...xs), PAD.left, WIDTH - PAD.right)
    : linearScale(spec.xFromZero ? Math.min(0, ...xs) : Math.min(...xs), Math.max(...xs), PAD.left, WIDTH - PAD.right);
  const [y0, y1] = spec.yRange ?? [Math.min(0, ...ys), Math.max(...ys)];
  const y = linearScale(y0, y1, HEIGHT - PAD.bottom, PAD.top);
  const height = Math.max(HEIGHT, PAD.top + lines.length * LEGEND_ROW + 8);
  const out: string[] = [
    `<svg data-chart="${esc(spec.kind)}" width="${WIDTH + LEGEND_WIDTH}" height="${height}" viewBox="0 0 ${WIDTH + LEGEND_WIDTH} ${height}" role="img" aria-label="${esc(spec.title)}">`,
    `<text class="title" x="${PAD.left}" y="18">${esc(spec.title)}</text>`,
  ];
  out.push(...axes(spec, x, y));
  lines.forEach((l, i) => {
    if (l.points.length === 0) return;
    const { colour, dash } = lineStyle(i);
    const at = l.points.map((p) => [r(x.at(p.x)), r(y.at(p.y))] as const);
    out.push(`<g><title>${esc(l.label)}</title><polyline fill="none" stroke="${colour}" stroke-width="1.5"${dash === '' ? '' : ` stroke-dasharray="${dash}"`} points="${at.map(([cx, cy]) => `${cx},${cy}`).join(' ')}"/>`);
    if (spec.markers) for (const [cx, cy] of at) out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${colour}"/>`);
    out.push('</g>');
  });
  out.push(...legend(lines));
  out.push('</svg>');
  return out.join('\n');
}

interface Scale {
  readonly at: (v: number) => number;
  readonly ticks: readonly number[];
  readonly label: (v: number) => string;
}

function linearScale(lo: number, hi: number, from: number, to: number): Scale {
  if (hi <= lo) {
    // One value: a range around it, so the point sits mid-axis rather than dividing by zero.
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.5;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep((hi - lo) / 5);
  // Widened to whole steps, so the axis ends on a labelled tick rather than just past the last one.
  lo = Math.floor(lo / step + 1e-9) * step;
  hi = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let k = 0; lo + k * step <= hi + step * 1e-9; k++) {
    const t = lo + k * step;
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  }
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return { at: (v) => from + ((v - lo) / (hi - lo)) * (to - from), ticks, label: (v) => tickLabel(v, Math.min(decimals, 6), Math.max(Math.abs(lo), Math.abs(hi))) };
}

/** Short tick labels (15k, 2.5M) so the y axis's fit in its margin; one unit for the whole axis, set by its largest tick. */
function tickLabel(v: number, decimals: number, largest: number): string {
  if (v === 0) return '0';
  if (largest >= 1e6) return `${formatTrimmed(v / 1e6, 2)}M`;
  if (largest >= 1e4) return `${formatTrimmed(v / 1e3, 1)}k`;
  return formatTrimmed(v, decimals);
}

/** Decades of the data, widened to whole decades; 2 and 5 between them when there are few. */
function logScale(lo: number, hi: number, from: number, to: number): Scale {
  const a = Math.floor(Math.log10(lo));
  const b = Math.max(a + 1, Math.ceil(Math.log10(hi)));
  const ticks: number[] = [];
  for (let k = a; k <= b; k++) for (const m of b - a <= 3 ? [1, 2, 5] : [1]) if (k < b || m === 1) ticks.push(m * 10 ** k);
  return {
    at: (v) => from + ((Math.log10(v) - a) / (b - a)) * (to - from),
    ticks,
    label: (v) => tickLabel(v, Math.max(0, -Math.floor(Math.log10(v))), 10 ** b),
  };
}

/** 1, 2 or 5 times a power of ten: ticks a reader can add up. */
function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function axes(spec: ChartSpec, x: Scale, y: Scale): string[] {
  const left = PAD.left;
  const right = WIDTH - PAD.right;
  const top = PAD.top;
  const bottom = HEIGHT - PAD.bottom;
  const out = [`<path class="axis" d="M${left},${top}V${bottom}H${right}"/>`];
  for (const t of x.ticks) {
    const px = r(x.at(t));
    out.push(`<path class="grid" d="M${px},${top}V${bottom}"/><text x="${px}" y="${bottom + 16}" text-anchor="middle">${esc(x.label(t))}</text>`);
  }
  for (const t of y.ticks) {
    const py = y.at(t);
    out.push(`<path class="grid" d="M${left},${r(py)}H${right}"/><text x="${left - 6}" y="${r(py + 4)}" text-anchor="end">${esc(y.label(t))}${esc(spec.yUnit ?? '')}</text>`);
  }
  out.push(`<text x="${(left + right) / 2}" y="${HEIGHT - 10}" text-anchor="middle">${esc(spec.xLabel)}${spec.xLog ? ', log scale' : ''}</text>`);
  out.push(`<text transform="translate(14,${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`);
  return out;
}

function legend(lines: readonly ChartLine[]): string[] {
  const x0 = WIDTH + 8;
  return lines.map((l, i) => {
    const { colour, dash } = lineStyle(i);
    const y = PAD.top + i * LEGEND_ROW;
    const empty = l.points.length === 0;
    const text = `${l.label}${empty ? ' (no data)' : ''}`;
    const shown = text.length > LEGEND_CHARS ? `${text.slice(0, LEGEND_CHARS - 1)}…` : text;
    return `<g><title>${esc(text)}</title><line x1="${x0}" y1="${y + 6}" x2="${x0 + 18}" y2="${y + 6}" stroke="${empty ? '#bbb' : colour}" stroke-width="2"${dash === '' ? '' : ` stroke-dasharray="${dash}"`}/><text x="${x0 + 24}" y="${y + 10}">${esc(shown)}</text></g>`;
  });
}

function r(v: number): string {
  return String(Math.round(v * 10) / 10);
}
