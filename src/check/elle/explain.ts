/**
 * Anomalies as text, the way Elle prints them: a cycle as "T1 -ww(x)-> T2 -rw(y)-> T1", then
 * each transaction with its micro-ops.
 */
import type { Anomaly, CycleStep, MicroOp, Txn } from './history.js';

export function formatOp(op: MicroOp): string {
  if (op[0] === 'append') return `[append ${op[1]} ${op[2]}]`;
  return `[r ${op[1]} ${op[2] === null ? 'nil' : `[${op[2].join(' ')}]`}]`;
}

export function formatTxn(t: Txn): string {
  const done = Number.isFinite(t.completedAt) ? String(t.completedAt) : '?';
  return `T${t.id} (client ${t.client}, ${t.outcome}, ${t.invokedAt}..${done}): ${t.ops.map(formatOp).join(' ')}`;
}

export function formatCycle(cycle: readonly CycleStep[]): string {
  if (cycle.length === 0) return '';
  let out = `T${cycle[0]!.from.id}`;
  for (const step of cycle) out += ` -${step.kind}${step.key === undefined ? '' : `(${step.key})`}-> T${step.to.id}`;
  return out;
}

/** An anomaly as lines: its name and what was seen (the cycle), then its transactions indented. */
export function formatAnomaly(a: Anomaly): string[] {
  const head = a.cycle !== undefined ? `${a.type}: ${formatCycle(a.cycle)}` : `${a.type}: ${a.message}`;
  return [head, ...a.txns.map((t) => `  ${formatTxn(t)}`)];
}
