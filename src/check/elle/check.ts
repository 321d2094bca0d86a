/**
 * The list-append checker's entry point: is a history strictly serializable, as far as its reads
 * show? (Elle, Kingsbury & Alvaro, VLDB 2020.) The anomalies it names:
 * - cycles in the dependency graph (cycles.ts): G0, G1c, G-single, G2 and, when the cycle needs
 *   a realtime edge, G0-realtime … G2-realtime;
 * - G1a (aborted read): a read saw a value a failed transaction appended;
 * - G1b (intermediate read): a read ended with a value its writer followed with another append
 *   to the key;
 * - internal: a transaction's read disagrees with its own earlier read and appends;
 * - incompatible-order: two reads of a key of which neither is a prefix of the other;
 * - duplicate-elements: a read with a value twice;
 * - garbage-read: a read of a value no transaction appended;
 * - lost: an ok append no read saw, though a read of its key began after it completed (only
 *   under strict serializability: realtime true).
 *
 * Time and memory are linear in the history's size (plus the reads' lengths) and the graph's
 * edges, which are bounded (maxEdges: realtime edges grow with the concurrency); the cycle
 * searches in an invalid history are bounded by a step budget. Past either bound a history with
 * no anomaly found is unknown.
 */
import type { Anomaly, CycleStep, ListAppendVerdict, Txn } from './history.js';
import { Budget, Searcher, RT, RW, WR, WW } from './graph.js';
import { AnomalySink, observe } from './observe.js';
import { dependencyGraph } from './dependencies.js';
import { findCycles } from './cycles.js';
import { formatCycle, formatTxn } from './explain.js';

/** The checker's limits, by default. */
export const LIST_APPEND_LIMITS = {
  /** Past this many transactions the verdict is unknown (memory: a few hundred bytes each). */
  maxTransactions: 2_000_000,
  /** Cycles reported: one per strongly connected component, at most this many components searched. */
  maxCycles: 32,
  /** Other anomalies reported per type (all are counted). */
  maxPerType: 32,
  /** Edges the cycle searches may look at before giving up (verdict unknown unless something was found). */
  maxSteps: 50_000_000,
  /**
   * Edges of the dependency graph (about 26 bytes each while it is built). Realtime edges number
   * about the transactions times the concurrency, and the edges to appends no read saw the reads
   * of the whole order times those appends; past this many some are left out, and a history with
   * no anomaly found gets the verdict unknown.
   */
  maxEdges: 20_000_000,
} as const;

export interface ListAppendOptions {
  readonly maxTransactions?: number;
  readonly maxCycles?: number;
  readonly maxPerType?: number;
  readonly maxSteps?: number;
  readonly maxEdges?: number;
  /** Wall-clock budget for the cycle searches, ms (0 or absent: none). */
  readonly timeoutMs?: number;
  /** Count realtime edges (strict serializability; the default). False: serializability. */
  readonly realtime?: boolean;
}

export interface ListAppendResult {
  readonly verdict: ListAppendVerdict;
  /** Reported anomalies: non-cycle ones first, then cycles. */
  readonly anomalies: readonly Anomaly[];
  /** Every anomaly type found, sorted, with how many of each (including those not reported). */
  readonly counts: Readonly<Record<string, number>>;
  readonly transactions: number;
  /** Transactions taken as committed (ok, or unknown with an append seen). */
  readonly committed: number;
  readonly edges: number;
  /** Strongly connected components of the dependency graph (each holds a cycle). */
  readonly components: number;
  /** Why the verdict is unknown, or why an invalid one may not report every cycle. */
  readonly reason?: string;
}

const KIND = new Map<number, CycleStep['kind']>([[WW, 'ww'], [WR, 'wr'], [RW, 'rw'], [RT, 'realtime']]);

export function checkListAppend(history: readonly Txn[], options: ListAppendOptions = {}): ListAppendResult {
  const maxTransactions = options.maxTransactions ?? LIST_APPEND_LIMITS.maxTransactions;
  const realtime = options.realtime ?? true;
  if (history.length > maxTransactions) {
    return { verdict: 'unknown', anomalies: [], counts: {}, transactions: history.length, committed: 0, edges: 0, components: 0, reason: `${history.length} transactions, more than the ${maxTransactions} allowed` };
  }
  const sink = new AnomalySink(options.maxPerType ?? LIST_APPEND_LIMITS.maxPerType);
  const obs = observe(history, sink, realtime);
  const maxEdges = options.maxEdges ?? LIST_APPEND_LIMITS.maxEdges;
  const { graph: g, truncated } = dependencyGraph(history, obs, realtime, maxEdges);
  const nodes: number[] = [];
  for (let t = 0; t < history.length; t++) if (obs.committed[t] === 1) nodes.push(t);
  const timeoutMs = options.timeoutMs ?? 0;
  const now = (): number => performance.now();
  const budget = new Budget(options.maxSteps ?? LIST_APPEND_LIMITS.maxSteps, timeoutMs > 0 ? now() + timeoutMs : Number.POSITIVE_INFINITY, now);
  const found = findCycles(g, new Searcher(g, budget), nodes, realtime, options.maxCycles ?? LIST_APPEND_LIMITS.maxCycles);
  const keyName = (k: number): string | undefined => (k < 0 ? undefined : obs.keys[k]!.name);
  const cycleAnomalies: Anomaly[] = found.cycles.map((c) => {
    const steps: CycleStep[] = c.edges.map((e) => {
      const key = keyName(g.key[e]!);
      return { from: history[g.from[e]!]!, kind: KIND.get(g.kind[e]!)!, ...(key === undefined ? {} : { key }), to: history[g.to[e]!]! };
    });
    return { type: c.type, txns: steps.map((s) => s.from), cycle: steps, message: `a cycle of ${steps.length} transactions` };
  });
  const counts: Record<string, number> = {};
  for (const [type, n] of sink.counts) counts[type] = n;
  for (const c of found.cycles) counts[c.type] = (counts[c.type] ?? 0) + 1;
  const anomalies = [...sink.list, ...cycleAnomalies];
  const sorted: Record<string, number> = {};
  for (const type of Object.keys(counts).sort()) sorted[type] = counts[type]!;
  const base = { anomalies, counts: sorted, transactions: history.length, committed: nodes.length, edges: g.to.length, components: found.components };
  const why: string[] = [];
  if (truncated) why.push(`the dependency graph would pass the ${maxEdges} edges allowed (too many transactions concurrent, or many reads of a key with many appends no read saw): some edges were left out`);
  if (found.exceeded) why.push(`the cycle search ran out of budget (${budget.max} steps${timeoutMs > 0 ? ` or ${timeoutMs} ms` : ''}): some components were not searched`);
  const exceeded = why.length > 0 ? { reason: why.join('; ') } : {};
  if (anomalies.length > 0) return { verdict: 'invalid', ...base, ...exceeded };
  if (why.length > 0) return { verdict: 'unknown', ...base, ...exceeded };
  return { verdict: 'valid', ...base };
}

/** The result as text lines: the verdict, then each anomaly with its cycle and transactions. */
export function formatListAppendResult(r: ListAppendResult): string[] {
  const lines: string[] = [];
  const types = Object.entries(r.counts).map(([t, n]) => `${t} ×${n}`).join(', ');
  if (r.verdict === 'invalid') lines.push(`anomalies: ${types}`);
  if (r.reason !== undefined) lines.push(r.reason);
  for (const a of r.anomalies) {
    lines.push(a.cycle !== undefined ? `${a.type}: ${formatCycle(a.cycle)}` : `${a.type}: ${a.message}`);
    for (const t of dedupe(a.txns)) lines.push(`  ${formatTxn(t)}`);
  }
  return lines;
}

function dedupe(txns: readonly Txn[]): Txn[] {
  return [...new Set(txns)];
}
