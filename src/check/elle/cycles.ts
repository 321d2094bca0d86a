/**
 * Cycles in the dependency graph, found and named as Elle does: Tarjan's strongly connected
 * components, then in each component a short cycle (breadth-first search) of the weakest kind
 * there is, tried in order:
 *   G0 (ww only), G1c (ww and wr), G-single (exactly one rw), G2 (two or more rw),
 * then the same with realtime edges allowed (-realtime: a cycle only strict serializability
 * forbids). One cycle is reported per component, named by the edges it actually has.
 */
import type { AnomalyType } from './history.js';
import { ALL, RT, RW, WR, WW, BudgetExceeded, type Graph, type Searcher } from './graph.js';

export interface FoundCycle {
  readonly type: AnomalyType;
  /** Edge indices into the graph, in order; the last returns to the first's source. */
  readonly edges: readonly number[];
}

/** The name of a cycle from the kinds of its edges. */
export function classify(g: Graph, edges: readonly number[]): AnomalyType {
  let rw = 0;
  let wr = 0;
  let rt = 0;
  for (const e of edges) {
    const k = g.kind[e]!;
    if (k === RW) rw++;
    else if (k === WR) wr++;
    else if (k === RT) rt++;
  }
  const base = rw === 0 ? (wr === 0 ? 'G0' : 'G1c') : rw === 1 ? 'G-single' : 'G2';
  return (rt > 0 ? `${base}-realtime` : base) as AnomalyType;
}

/** A shortest cycle within a component over `mask` edges, through its first node that has one. */
function cycleIn(s: Searcher, comp: readonly number[], mask: number): number[] | null {
  for (const sub of s.components(comp, s.newTag(comp), mask)) {
    const tag = s.newTag(sub);
    const c = s.path(sub[0]!, sub[0]!, tag, mask);
    if (c !== null) return c;
  }
  return null;
}

/** A cycle of exactly one rw edge and otherwise edges of `mask`: an rw edge a → b, then b ⇝ a. */
function singleRw(s: Searcher, g: Graph, comp: readonly number[], mask: number): number[] | null {
  const tag = s.newTag(comp);
  for (const v of comp) {
    for (let e = g.start[v]!; e < g.start[v + 1]!; e++) {
      if (g.kind[e] !== RW || s.tag[g.to[e]!] !== tag) continue;
      const back = s.path(g.to[e]!, v, tag, mask);
      if (back !== null) return [e, ...back];
    }
  }
  return null;
}

/** A one-rw search may take this fraction of the whole step budget (1/SINGLE_SHARE). */
const SINGLE_SHARE = 10;

/** The searches, weakest first: each is a mask, or a mask for a one-rw search. */
const SEARCHES: readonly { readonly mask: number; readonly single?: true }[] = [
  { mask: WW },
  { mask: WW | WR },
  { mask: WW | WR, single: true },
  { mask: WW | WR | RW },
  { mask: WW | RT },
  { mask: WW | WR | RT },
  { mask: WW | WR | RT, single: true },
  { mask: ALL },
];

/**
 * Cycles of the graph over the committed transactions (`nodes`), at most `maxCycles`. `exceeded`
 * when the step budget ran out before every component was searched.
 */
export function findCycles(g: Graph, s: Searcher, nodes: readonly number[], realtime: boolean, maxCycles: number): { cycles: FoundCycle[]; components: number; exceeded: boolean } {
  const cycles: FoundCycle[] = [];
  const singleAllowance = Math.max(1, Math.floor(s.budget.max / SINGLE_SHARE));
  const components = s.components(nodes, s.newTag(nodes), realtime ? ALL : WW | WR | RW, false);
  try {
    for (const comp of components) {
      if (cycles.length >= maxCycles) break;
      for (const search of SEARCHES) {
        if (!realtime && (search.mask & RT) !== 0) continue;
        // The one-rw search runs a breadth-first search per rw edge: in a large component it
        // may take too long, and the next search finds a cycle all the same (named by its edges).
        const edges = search.single ? s.budget.within(singleAllowance, () => singleRw(s, g, comp, search.mask)) : cycleIn(s, comp, search.mask);
        if (edges !== null) {
          cycles.push({ type: classify(g, edges), edges });
          break;
        }
      }
    }
  } catch (err) {
    if (err instanceof BudgetExceeded) return { cycles, components: components.length, exceeded: true };
    throw err;
  }
  return { cycles, components: components.length, exceeded: false };
}
