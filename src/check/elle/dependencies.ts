/**
 * The dependency edges Elle infers from a list-append history (§4.3), between committed
 * transactions (ok, or unknown with an append some read saw):
 * - ww(k): T1 appended the value just before T2's in k's version order;
 * - wr(k): T2's read of k (its first touch of k) ended with a value T1 appended;
 * - rw(k): T1's read of k saw the state that T2's append directly follows (anti-dependency);
 * - to a committed append no read saw: ww from the last observed version's writer, rw from each
 *   read of the whole observed order (unobservedEdges);
 * - realtime: T1 completed before T2 was invoked (strict serializability).
 */
import type { Txn } from './history.js';
import { GraphBuilder, RT, RW, WR, WW, type Graph } from './graph.js';
import type { Observations } from './observe.js';

/** The graph, and whether realtime edges were left out because there were more than `maxEdges`. */
export function dependencyGraph(history: readonly Txn[], obs: Observations, realtime: boolean, maxEdges = Number.POSITIVE_INFINITY): { graph: Graph; truncated: boolean } {
  const g = new GraphBuilder(history.length);
  const { committed } = obs;
  for (let k = 0; k < obs.keys.length; k++) {
    const facts = obs.keys[k]!;
    const order = facts.order;
    if (order === null) continue;
    // The writer of each version (-1: not a committed transaction, e.g. an aborted one's).
    const writer = new Int32Array(order.length);
    for (let i = 0; i < order.length; i++) {
      const a = facts.appends.get(order[i]!);
      writer[i] = a !== undefined && committed[a.txn] === 1 ? a.txn : -1;
    }
    for (let i = 1; i < order.length; i++) {
      const a = writer[i - 1]!;
      const b = writer[i]!;
      if (a >= 0 && b >= 0 && a !== b) g.add(a, b, WW, k);
    }
    for (const r of facts.reads) {
      const read = obs.reads[r]!;
      if (!read.external) continue;
      const n = read.list.length;
      if (n > 0) {
        const a = writer[n - 1]!;
        if (a >= 0 && a !== read.txn) g.add(a, read.txn, WR, k);
      }
      if (n < order.length) {
        const b = writer[n]!;
        // Between two appends of one transaction: an intermediate read, reported as G1b.
        const intermediate = n > 0 && writer[n - 1] === b;
        if (b >= 0 && b !== read.txn && !intermediate) g.add(read.txn, b, RW, k);
      }
    }
    if (!unobservedEdges(obs, k, writer, g, maxEdges)) return { graph: g.build(), truncated: true };
  }
  const truncated = realtime ? !addRealtime(history, committed, g, maxEdges) : false;
  return { graph: g.build(), truncated };
}

/**
 * Edges to the committed transactions whose appends to key k no read saw: a committed append
 * that a read does not show came after the state the read saw (lists only grow). So the last
 * observed version's writer precedes it (ww), and each read of the whole observed order
 * anti-depends on it (rw); shorter reads reach it through the order. Without these, a write skew
 * whose appends nobody read again, or an unknown transaction seen on one key but missing from a
 * later read of another, shows no cycle. False (edges left out) past `maxEdges`.
 */
function unobservedEdges(obs: Observations, k: number, writer: Int32Array, g: GraphBuilder, maxEdges: number): boolean {
  const facts = obs.keys[k]!;
  const order = facts.order!;
  const unseen = new Set<number>();
  for (const a of facts.appends.values()) if (!a.observed && obs.committed[a.txn] === 1) unseen.add(a.txn);
  if (unseen.size === 0) return true;
  const n = order.length;
  const last = n > 0 ? writer[n - 1]! : -1;
  for (const u of unseen) {
    // The last observed version's writer appended again (its earlier append was read as its
    // last): an intermediate read, reported as G1b.
    if (u === last) continue;
    if (last >= 0) g.add(last, u, WW, k);
    for (const r of facts.reads) {
      const read = obs.reads[r]!;
      if (!read.external || read.list.length !== n || read.txn === u) continue;
      if (g.edges >= maxEdges) return false;
      g.add(read.txn, u, RW, k);
    }
  }
  return true;
}

/**
 * Realtime edges, transitively reduced as Elle does: sweeping events in time order, the
 * frontier holds the completed transactions not yet known to precede a later completed one;
 * each invocation gets an edge from every member of the frontier, and a completion drops from
 * the frontier those that precede the completing transaction (reachable through it now). So the
 * edges number about the transactions times the concurrency, and every "completed before
 * invoked" pair is connected by a path. The work is linear in the edges (a completion marks what
 * it drops rather than searching for it). False, with some edges left out, if the graph would
 * pass `maxEdges` (many long-running transactions concurrent with many others): a cycle found
 * is still one, but no cycle found proves nothing.
 */
function addRealtime(history: readonly Txn[], committed: Uint8Array, g: GraphBuilder, maxEdges: number): boolean {
  const events: number[] = [];
  for (let t = 0; t < history.length; t++) {
    if (committed[t] !== 1) continue;
    events.push(t * 2); // invocation
    if (Number.isFinite(history[t]!.completedAt)) events.push(t * 2 + 1); // completion
  }
  const time = (ev: number): number => (ev & 1 ? history[ev >> 1]!.completedAt : history[ev >> 1]!.invokedAt);
  // Ties: an invocation at the time of a completion is not after it (no edge).
  events.sort((a, b) => time(a) - time(b) || (a & 1) - (b & 1));
  let frontier: number[] = [];
  const preceded: (number[] | undefined)[] = new Array(history.length);
  // dropped[f] === t + 1: f is among those t's completion drops from the frontier.
  const dropped = new Int32Array(history.length);
  for (const ev of events) {
    const t = ev >> 1;
    if ((ev & 1) === 0) {
      if (g.edges + frontier.length > maxEdges) return false;
      for (const f of frontier) g.add(f, t, RT, -1);
      preceded[t] = frontier;
    } else {
      const before = preceded[t]!;
      preceded[t] = undefined;
      if (before.length === 0) {
        frontier = [...frontier, t];
        continue;
      }
      for (const f of before) dropped[f] = t + 1;
      frontier = frontier.filter((f) => dropped[f] !== t + 1).concat(t);
    }
  }
  return true;
}
