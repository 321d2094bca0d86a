/**
 * The dependency graph over transactions (by index into the history): labelled edges in flat
 * arrays, then a compressed adjacency for the searches. Edge kinds are bits, so a search can
 * walk any subset of them.
 */
export const WW = 1;
export const WR = 2;
export const RW = 4;
export const RT = 8;
export const ALL = WW | WR | RW | RT;

export class GraphBuilder {
  // Growable typed arrays (a realtime graph may hold tens of millions of edges).
  private from = new Int32Array(1024);
  private to = new Int32Array(1024);
  private kind = new Uint8Array(1024);
  /** The key index the edge is over, or -1 (realtime). */
  private key = new Int32Array(1024);
  private m = 0;

  constructor(readonly nodes: number) {}

  add(from: number, to: number, kind: number, key: number): void {
    if (this.m === this.from.length) this.grow();
    const e = this.m++;
    this.from[e] = from;
    this.to[e] = to;
    this.kind[e] = kind;
    this.key[e] = key;
  }

  private grow(): void {
    const size = this.from.length * 2;
    const widen = <A extends Int32Array | Uint8Array>(a: A, make: (n: number) => A): A => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.from = widen(this.from, (n) => new Int32Array(n));
    this.to = widen(this.to, (n) => new Int32Array(n));
    this.kind = widen(this.kind, (n) => new Uint8Array(n));
    this.key = widen(this.key, (n) => new Int32Array(n));
  }

  get edges(): number {
    return this.m;
  }

  build(): Graph {
    const n = this.nodes;
    const m = this.m;
    const start = new Int32Array(n + 1);
    for (let e = 0; e < m; e++) start[this.from[e]! + 1]!++;
    for (let v = 0; v < n; v++) start[v + 1]! += start[v]!;
    const fill = start.slice(0, n);
    const to = new Int32Array(m);
    const kind = new Uint8Array(m);
    const key = new Int32Array(m);
    const from = new Int32Array(m);
    for (let e = 0; e < m; e++) {
      const at = fill[this.from[e]!]!++;
      from[at] = this.from[e]!;
      to[at] = this.to[e]!;
      kind[at] = this.kind[e]!;
      key[at] = this.key[e]!;
    }
    return { nodes: n, start, from, to, kind, key };
  }
}

/** Edges of node v are start[v] … start[v + 1] - 1. */
export interface Graph {
  readonly nodes: number;
  readonly start: Int32Array;
  readonly from: Int32Array;
  readonly to: Int32Array;
  readonly kind: Uint8Array;
  readonly key: Int32Array;
}

/** Thrown by a search whose step budget ran out. */
export class BudgetExceeded extends Error {}

/** Thrown by a search that ran out of its own allowance (Budget.within), the whole budget left. */
export class AllowanceExceeded extends Error {}

/** A step budget shared by the searches (one step: one edge looked at). */
export class Budget {
  steps = 0;
  /** The step count past which the current search (Budget.within) gives up. */
  private allowance = Number.POSITIVE_INFINITY;
  constructor(readonly max: number, private readonly deadline: number, private readonly now: () => number) {}
  spend(n: number): void {
    this.steps += n;
    if (this.steps > this.max) throw new BudgetExceeded();
    if ((this.steps & 0xfff) < n && this.now() > this.deadline) throw new BudgetExceeded();
    if (this.steps > this.allowance) throw new AllowanceExceeded();
  }
  /** `search` with at most `steps` of the budget; null if it used them up. */
  within<T>(steps: number, search: () => T): T | null {
    const saved = this.allowance;
    this.allowance = Math.min(saved, this.steps + steps);
    try {
      return search();
    } catch (err) {
      if (err instanceof AllowanceExceeded && this.allowance !== saved) return null;
      throw err;
    } finally {
      this.allowance = saved;
    }
  }
}

/**
 * Searches over one graph, reusing arrays stamped with a generation number (so a search over a
 * small component costs the component, not the graph).
 */
export class Searcher {
  private gen = 0;
  private readonly stamp: Int32Array;
  private readonly num: Int32Array;
  private readonly low: Int32Array;
  private readonly onStack: Uint8Array;
  private readonly parentEdge: Int32Array;
  /** Membership tags: a search stays within nodes whose tag equals the one it is given. */
  readonly tag: Int32Array;
  private tagGen = 0;

  constructor(private readonly g: Graph, readonly budget: Budget) {
    const n = g.nodes;
    this.stamp = new Int32Array(n);
    this.num = new Int32Array(n);
    this.low = new Int32Array(n);
    this.onStack = new Uint8Array(n);
    this.parentEdge = new Int32Array(n);
    this.tag = new Int32Array(n);
  }

  /** A fresh tag for a set of nodes (tag them, then search within them). */
  newTag(nodes: ArrayLike<number>): number {
    const t = ++this.tagGen;
    for (let i = 0; i < nodes.length; i++) this.tag[nodes[i]!] = t;
    return t;
  }

  /**
   * Tarjan's strongly connected components (iterative) of the nodes tagged `tag`, over edges of
   * the kinds in `mask`; only components of two or more nodes (no edge is a self-loop). Linear,
   * so the pass over the whole graph (`budgeted` false) spends no budget.
   */
  components(nodes: ArrayLike<number>, tag: number, mask: number, budgeted = true): number[][] {
    const { start, to, kind } = this.g;
    const gen = ++this.gen;
    const out: number[][] = [];
    const stack: number[] = [];
    const callNode: number[] = [];
    const callEdge: number[] = [];
    let counter = 0;
    for (let i = 0; i < nodes.length; i++) {
      const root = nodes[i]!;
      if (this.stamp[root] === gen) continue;
      this.stamp[root] = gen;
      this.num[root] = this.low[root] = counter++;
      stack.push(root);
      this.onStack[root] = 1;
      callNode.push(root);
      callEdge.push(start[root]!);
      while (callNode.length > 0) {
        const top = callNode.length - 1;
        const v = callNode[top]!;
        let e = callEdge[top]!;
        const end = start[v + 1]!;
        let descended = false;
        if (budgeted && e === start[v]) this.budget.spend(end - e);
        for (; e < end; e++) {
          if ((kind[e]! & mask) === 0) continue;
          const w = to[e]!;
          if (this.tag[w] !== tag) continue;
          if (this.stamp[w] !== gen) {
            callEdge[top] = e + 1;
            this.stamp[w] = gen;
            this.num[w] = this.low[w] = counter++;
            stack.push(w);
            this.onStack[w] = 1;
            callNode.push(w);
            callEdge.push(start[w]!);
            descended = true;
            break;
          }
          if (this.onStack[w] === 1 && this.num[w]! < this.low[v]!) this.low[v] = this.num[w]!;
        }
        if (descended) continue;
        callNode.pop();
        callEdge.pop();
        if (callNode.length > 0) {
          const parent = callNode[callNode.length - 1]!;
          if (this.low[v]! < this.low[parent]!) this.low[parent] = this.low[v]!;
        }
        if (this.low[v] === this.num[v]) {
          const comp: number[] = [];
          let w: number;
          do {
            w = stack.pop()!;
            this.onStack[w] = 0;
            comp.push(w);
          } while (w !== v);
          if (comp.length > 1) out.push(comp);
        }
      }
    }
    return out;
  }

  /**
   * The shortest path (as edge indices) from `source` to `target` over edges of `mask` within
   * nodes tagged `tag`, or null. With source === target: the shortest cycle through it.
   */
  path(source: number, target: number, tag: number, mask: number): number[] | null {
    const { start, to, kind } = this.g;
    const gen = ++this.gen;
    const queue: number[] = [source];
    this.stamp[source] = gen;
    for (let head = 0; head < queue.length; head++) {
      const v = queue[head]!;
      const end = start[v + 1]!;
      this.budget.spend(end - start[v]!);
      for (let e = start[v]!; e < end; e++) {
        if ((kind[e]! & mask) === 0) continue;
        const w = to[e]!;
        if (this.tag[w] !== tag) continue;
        if (w === target) {
          const edges = [e];
          for (let x = v; x !== source; x = this.g.from[this.parentEdge[x]!]!) edges.push(this.parentEdge[x]!);
          return edges.reverse();
        }
        if (this.stamp[w] === gen) continue;
        this.stamp[w] = gen;
        this.parentEdge[w] = e;
        queue.push(w);
      }
    }
    return null;
  }
}
