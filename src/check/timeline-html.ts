/**
 * A history's verdict drawn as one self-contained HTML page (`quorate check --html`), as
 * Porcupine's visualiser draws one: a lane per client, each operation a bar from its invocation
 * to its completion, the longest order the search could linearize numbered and coloured, and the
 * operation it could not place next marked. No script: hovering a bar shows its details.
 */
import { escapeHtml as esc } from '../core/html.js';
import type { Operation, Value, Verdict } from './history.js';
import { formatOperation, type Explanation } from './linearizability.js';

/** Operations drawn at most; past it, those nearest the point where the search stopped. */
export const MAX_TIMELINE_OPERATIONS = 2_000;

const LANE_PX = 30;
const BAR_PX = 20;
const STEP_PX = 24;
/** About how wide a character of the bars' labels is (11px monospace): a label that does not fit its bar is cut to its number. */
const CHAR_PX = 7;
const LEFT_PX = 90;
const TOP_PX = 24;

export interface TimelineInput {
  readonly file: string;
  readonly verdict: Verdict;
  readonly explanation: Explanation;
}

export function timelineHtml(input: TimelineInput): string {
  const { explanation: x } = input;
  const order = new Map<Operation, number>();
  const stateAfter = new Map<Operation, Value>();
  x.linearized.forEach((l, k) => {
    order.set(l.op, k + 1);
    stateAfter.set(l.op, l.stateAfter);
  });
  const shown = nearestOperations(x);
  const svg = drawLanes(shown, order, stateAfter, x.stuck);
  const title = `${input.file === '-' ? 'standard input' : input.file}: ${verdictText(input.verdict)}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:18px}
.legend span{display:inline-block;padding:2px 8px;margin-right:8px;border-radius:3px}
.lin{fill:#9fd8a4}.stuck{fill:#f08080}.other{fill:#ddd}.open{fill-opacity:.5;stroke-dasharray:4 3}
rect{stroke:#555;stroke-width:1}
svg text{font:11px ui-monospace,monospace;pointer-events:none}
table{border-collapse:collapse;margin-top:12px}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;font:12px ui-monospace,monospace}
.scroll{overflow-x:auto;border:1px solid #eee}
</style></head><body>
<h1>${esc(title)}</h1>
<p>${esc(summary(input, shown.length))}</p>
<p class="legend"><span style="background:#9fd8a4">linearized, in the order numbered</span><span style="background:#f08080">could not be placed next</span><span style="background:#ddd">not reached</span><span style="border:1px dashed #555">never completed (may take effect any time after its call, or never)</span></p>
<div class="scroll">${svg}</div>
${linearizationTable(x, new Set(shown), input.verdict)}
</body></html>
`;
}

function verdictText(v: Verdict): string {
  return v === 'not-linearizable' ? 'not linearizable' : v;
}

function summary(input: TimelineInput, shown: number): string {
  const x = input.explanation;
  const key = x.key === '' ? '' : ` on key ${x.key}`;
  const total = x.operations.length;
  const drawn = shown < total ? ` The ${shown} nearest where the search stopped are drawn.` : '';
  if (input.verdict === 'linearizable') return `All ${total} operations${key} take effect in the order numbered, each between its call and its return.${drawn}`;
  const stuck = x.stuck === undefined ? '' : ` After them, no operation can go next: the one marked red must take effect before its return, and no order of those left allows it (${formatOperation(x.stuck).trim()}).`;
  const gaveUp = input.verdict === 'unknown' ? ' The search ran out of budget (verdict unknown).' : '';
  return `The search linearized at most ${x.linearized.length} of the ${total} operations${key}, in the order numbered.${stuck}${gaveUp}${drawn}`;
}

/** At most MAX_TIMELINE_OPERATIONS, nearest (by invocation order) to where the search stopped. */
function nearestOperations(x: Explanation): readonly Operation[] {
  const ops = [...x.operations].sort((a, b) => a.invokedAt - b.invokedAt || a.id - b.id);
  if (ops.length <= MAX_TIMELINE_OPERATIONS) return ops;
  const focus = x.stuck ?? x.linearized[x.linearized.length - 1]?.op ?? ops[0]!;
  const at = ops.indexOf(focus);
  const from = Math.max(0, Math.min(at - MAX_TIMELINE_OPERATIONS / 2, ops.length - MAX_TIMELINE_OPERATIONS));
  return ops.slice(from, from + MAX_TIMELINE_OPERATIONS);
}

function drawLanes(ops: readonly Operation[], order: Map<Operation, number>, stateAfter: Map<Operation, Value>, stuck: Operation | undefined): string {
  // Time compressed to the order of events: only order matters to linearizability.
  const times = [...new Set(ops.flatMap((o) => (Number.isFinite(o.completedAt) ? [o.invokedAt, o.completedAt] : [o.invokedAt])))].sort((a, b) => a - b);
  const rank = new Map(times.map((t, i) => [t, i]));
  const { row, firstRow, rows } = laneRows(ops);
  const right = LEFT_PX + (times.length + 1) * STEP_PX;
  const width = right + STEP_PX;
  const height = TOP_PX + rows * LANE_PX + 8;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`];
  for (const [c, r] of firstRow) out.push(`<text x="4" y="${TOP_PX + r * LANE_PX + BAR_PX / 2 + 4}">client ${esc(String(c))}</text>`);
  for (const o of ops) {
    const x0 = LEFT_PX + rank.get(o.invokedAt)! * STEP_PX;
    const open = !Number.isFinite(o.completedAt);
    const x1 = open ? right : LEFT_PX + rank.get(o.completedAt)! * STEP_PX + STEP_PX / 2;
    const y = TOP_PX + row.get(o)! * LANE_PX;
    const n = order.get(o);
    const cls = o === stuck ? 'stuck' : n !== undefined ? 'lin' : 'other';
    const tip = `${formatOperation(o).trim()}${n === undefined ? '' : `\nlinearized #${n}; the state after it: ${valueText(stateAfter.get(o))}`}${o === stuck ? '\ncould not be placed next' : ''}`;
    out.push(`<g><title>${esc(tip)}</title><rect class="${cls}${open ? ' open' : ''}" x="${x0}" y="${y}" width="${Math.max(4, x1 - x0)}" height="${BAR_PX}" rx="3"/>`);
    const barPx = Math.max(4, x1 - x0);
    const full = `${n === undefined ? '' : `#${n} `}${shortText(o)}`;
    const label = full.length * CHAR_PX + 6 <= barPx ? full : n === undefined ? '' : `#${n}`;
    out.push(`<text x="${x0 + 3}" y="${y + 14}">${esc(label)}</text></g>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

/**
 * The row each operation is drawn in: a lane per client, and within it as many rows as its
 * operations overlap (a client has one operation in flight, but a history may say otherwise, and
 * one that never returned overlaps all it did after).
 */
function laneRows(ops: readonly Operation[]): { row: Map<Operation, number>; firstRow: Map<number, number>; rows: number } {
  const byClient = new Map<number, Operation[]>();
  for (const o of ops) {
    let list = byClient.get(o.client);
    if (list === undefined) byClient.set(o.client, (list = []));
    list.push(o);
  }
  const row = new Map<Operation, number>();
  const firstRow = new Map<number, number>();
  let rows = 0;
  for (const c of [...byClient.keys()].sort((a, b) => a - b)) {
    firstRow.set(c, rows);
    const ends: number[] = []; // per row of this lane: where its last bar ends
    for (const o of byClient.get(c)!.sort((a, b) => a.invokedAt - b.invokedAt || a.id - b.id)) {
      let r = ends.findIndex((end) => end < o.invokedAt);
      if (r < 0) r = ends.push(o.completedAt) - 1;
      else ends[r] = o.completedAt;
      row.set(o, rows + r);
    }
    rows += ends.length;
  }
  return { row, firstRow, rows };
}

/** The linearization as a table: the rows of the operations drawn (as many at most). */
function linearizationTable(x: Explanation, drawn: ReadonlySet<Operation>, verdict: Verdict): string {
  if (x.operations.length === 0) return '<p>No operation constrains the history (failed reads and writes did not happen).</p>';
  if (x.linearized.length === 0) return verdict === 'linearizable' ? '' : '<p>No operation could be linearized first.</p>';
  const rows: string[] = [];
  let left = 0;
  x.linearized.forEach((l, k) => {
    if (drawn.has(l.op)) rows.push(`<tr><td>${k + 1}</td><td>${esc(formatOperation(l.op).trim())}</td><td>${esc(valueText(l.stateAfter))}</td></tr>`);
    else left++;
  });
  const note = left === 0 ? '' : `<p>${left} linearized operations that are not drawn are left out of the table.</p>`;
  const stuck = x.stuck === undefined ? '' : `<tr><td>—</td><td>${esc(formatOperation(x.stuck).trim())}</td><td>cannot go next</td></tr>`;
  return `${note}<table><tr><th>#</th><th>operation</th><th>state after</th></tr>\n${rows.join('\n')}\n${stuck}</table>`;
}

function shortText(o: Operation): string {
  switch (o.kind) {
    case 'read': return `r→${o.outcome === 'ok' ? valueText(o.result) : '?'}`;
    case 'write': return `w ${valueText(o.value)}`;
    case 'cas': return `cas ${valueText(o.expected)}→${valueText(o.value)}${o.outcome === 'fail' ? ' ✗' : ''}`;
    case 'delete': return 'del';
  }
}

function valueText(v: Value | undefined): string {
  return v === undefined || v === null ? 'nil' : String(v);
}

