/**
 * A scenario harness for the Raft core: a handful of replicas, a network you deliver by hand,
 * a durable store per node that keeps only what each Ready persisted, and a state machine that
 * records what was applied where. Scenario tests read like the paper's figures:
 *
 *   const c = new Cluster('n1 n2 n3');
 *   c.elect('n1');  c.propose('n1', 'x');  c.deliverAll();
 *   c.partition(['n1'], ['n2', 'n3']);  c.tickUntilLeader(['n2', 'n3']);
 *   c.crash('n2');  c.restart('n2');
 */
import assert from 'node:assert/strict';
import { nodeId, Prng, type Index, type NodeId, type Term } from '../../../src/core/index.js';
import type { LogEntry, Membership, Snapshot } from '../../../src/core/replica.js';
import { RaftReplica, type RaftHardState, type RaftMessage, type RaftOptions } from '../../../src/protocols/raft/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Durable {
  hardState: RaftHardState | null;
  snapshot: Snapshot | null;
  entries: LogEntry[];
}

export type ClusterOptions = Partial<Omit<RaftOptions, 'id' | 'membership' | 'random' | 'restored'>> & {
  seed?: number;
  /** Learners of the initial configuration. */
  learners?: string[];
  /** Nodes that exist but are not in the initial configuration (to be added later). */
  spares?: string[];
  /** Initial log terms per node (entries get data "t{term}i{index}") and hard-state terms. */
  logs?: Record<string, number[]>;
  terms?: Record<string, number>;
};

export class Cluster {
  readonly ids: NodeId[];
  readonly nodes = new Map<NodeId, RaftReplica>();
  readonly durable = new Map<NodeId, Durable>();
  /** Per node: the commands applied, in order, as (index, data). */
  readonly applied = new Map<NodeId, { index: number; data: string }[]>();
  readonly readStates = new Map<NodeId, { requestId: string; index: number }[]>();
  /** (term → leader) for every leader ever seen: election safety is checked on every step. */
  readonly leaders = new Map<number, NodeId>();
  /** index → data applied there by anyone: state machine safety. */
  readonly appliedAt = new Map<number, string>();
  /** Messages sent and not yet delivered. */
  inFlight: RaftMessage[] = [];
  delivered: RaftMessage[] = [];
  private cut = new Set<string>();
  /** Optional rewrite/drop of messages in flight (return null to drop). */
  filter: ((m: RaftMessage) => RaftMessage | null) | null = null;
  private readonly random: Prng;
  readonly membership: Membership;

  constructor(names: string, private readonly options: ClusterOptions = {}) {
    this.random = new Prng(options.seed ?? 1);
    const all = names.split(/\s+/).filter(Boolean);
    const learners = new Set(options.learners ?? []);
    const spares = new Set(options.spares ?? []);
    this.ids = all.map(nodeId);
    this.membership = {
      voters: all.filter((n) => !learners.has(n) && !spares.has(n)).map(nodeId),
      outgoingVoters: [],
      learners: [...learners].map(nodeId),
    };
    for (const id of this.ids) {
      const terms = options.logs?.[id] ?? [];
      const entries: LogEntry[] = terms.map((t, i) => ({ index: (i + 1) as Index, term: t as Term, kind: 'command', data: enc.encode(`t${t}i${i + 1}`) }));
      const hardTerm = options.terms?.[id] ?? Math.max(0, ...terms);
      this.durable.set(id, { hardState: { term: hardTerm as Term, vote: null, commit: 0 as Index }, snapshot: null, entries });
      this.applied.set(id, []);
      this.readStates.set(id, []);
      this.start(id, 0);
    }
  }

  node(id: string): RaftReplica {
    const n = this.nodes.get(nodeId(id));
    assert.ok(n, `${id} is running`);
    return n;
  }

  private start(id: NodeId, applied: number, mutant = this.options.mutant): void {
    const d = this.durable.get(id)!;
    const { seed: _s, learners: _l, spares: _p, logs: _g, terms: _t, ...raftOptions } = this.options;
    this.nodes.set(id, new RaftReplica({
      ...raftOptions,
      ...(mutant === undefined ? {} : { mutant }),
      id,
      // A spare starts like a node joining an existing cluster: it knows the cluster's
      // configuration, which does not include it yet.
      membership: this.membership,
      random: this.random.fork(),
      restored: { hardState: d.hardState, snapshot: d.snapshot, entries: [...d.entries] },
      applied: applied as Index,
    }));
    // The state machine restarts from the durable snapshot (or empty).
    const snap = d.snapshot;
    const sm = snap === null ? [] : (JSON.parse(dec.decode(snap.data)) as { index: number; data: string }[]);
    this.applied.set(id, applied > (snap?.meta.index ?? 0) ? this.applied.get(id)!.filter((a) => a.index <= applied) : sm);
  }

  /** Run every node's Ready loop: persist, queue sends, apply, advance. */
  process(): void {
    for (const [id, n] of this.nodes) {
      while (n.hasReady()) {
        const rd = n.ready();
        const d = this.durable.get(id)!;
        if (rd.persist !== null) {
          const p = rd.persist;
          if (p.snapshot !== null) {
            d.snapshot = p.snapshot;
            d.entries = d.entries.filter((e) => e.index > p.snapshot!.meta.index);
            this.applied.set(id, JSON.parse(dec.decode(p.snapshot.data)) as { index: number; data: string }[]);
          }
          if (p.entries.length > 0) {
            const first = p.entries[0]!.index;
            d.entries = [...d.entries.filter((e) => e.index < first), ...p.entries];
          }
          if (p.hardState !== null) d.hardState = p.hardState;
        }
        for (const m of [...rd.sendBeforePersist, ...rd.send]) this.inFlight.push(m);
        const log = this.applied.get(id)!;
        for (const e of rd.apply) {
          const last = log[log.length - 1]?.index ?? (d.snapshot?.meta.index ?? 0);
          assert.ok(e.index > last, `${id} applies in order: ${e.index} after ${last}`);
          const data = e.kind === 'command' ? dec.decode(e.data) : `${e.kind}@t${e.term}`;
          log.push({ index: e.index, data });
          const seen = this.appliedAt.get(e.index);
          assert.ok(seen === undefined || seen === data, `state machine safety: index ${e.index} applied as '${seen}' and '${data}'`);
          this.appliedAt.set(e.index, data);
        }
        for (const r of rd.readStates) this.readStates.get(id)!.push(r);
        n.advance(rd);
      }
      const s = n.status();
      if (s.role === 'leader') {
        const prev = this.leaders.get(s.term);
        assert.ok(prev === undefined || prev === id, `election safety: ${prev} and ${id} both lead term ${s.term}`);
        this.leaders.set(s.term, id);
      }
    }
  }

  /** Deliver messages until none are left (or `maxRounds` delivery rounds). */
  deliverAll(maxRounds = 1000): number {
    let count = 0;
    this.process();
    for (let round = 0; round < maxRounds && this.inFlight.length > 0; round++) {
      const batch = this.inFlight;
      this.inFlight = [];
      for (const m of batch) if (this.deliver(m)) count++;
      this.process();
    }
    return count;
  }

  private deliver(m: RaftMessage): boolean {
    if (this.cut.has(`${m.from}>${m.to}`)) return false;
    const to = this.nodes.get(m.to);
    if (to === undefined) return false;
    const msg = this.filter === null ? m : this.filter(m);
    if (msg === null) return false;
    this.delivered.push(msg);
    to.step(msg);
    return true;
  }

  tick(id: string, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).tick();
    this.process();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) n.tick();
      this.deliverAll();
    }
  }

  /** Tick everyone (delivering as we go) until one of `among` leads; returns it. */
  tickUntilLeader(among: string[] = this.ids, maxTicks = 500): NodeId {
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader(among);
      if (l !== null) return l;
      this.tickAll();
    }
    assert.fail(`no leader among ${among.join(',')} after ${maxTicks} ticks`);
  }

  /** The node among `among` that believes it leads with the highest term, if any. */
  leader(among: string[] = this.ids): NodeId | null {
    let best: { id: NodeId; term: number } | null = null;
    for (const id of among) {
      const n = this.nodes.get(nodeId(id));
      if (n === undefined) continue;
      const s = n.status();
      if (s.role === 'leader' && (best === null || s.term > best.term)) best = { id: nodeId(id), term: s.term };
    }
    return best?.id ?? null;
  }

  /** Make `id` leader: campaign and deliver. */
  elect(id: string): void {
    this.node(id).campaign();
    this.deliverAll();
    assert.equal(this.node(id).status().role, 'leader', `${id} won the election`);
  }

  propose(id: string, data: string): { index: number; term: number } {
    const r = this.node(id).propose(enc.encode(data));
    this.process();
    return r;
  }

  /** Cut all links between the groups (both directions). Nodes in no group keep their links. */
  partition(...groups: string[][]): void {
    for (const a of groups) for (const b of groups) {
      if (a === b) continue;
      for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`);
    }
  }

  cutOneWay(from: string, to: string): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Crash: volatile state and messages to it are lost; what was persisted stays. */
  crash(id: string): void {
    this.nodes.delete(nodeId(id));
    this.inFlight = this.inFlight.filter((m) => m.to !== id && m.from !== id);
  }

  /** Restart from durable state; `applied` models a state machine that persisted itself. */
  restart(id: string, opts: { applied?: number; mutant?: string } = {}): void {
    const d = this.durable.get(nodeId(id))!;
    this.start(nodeId(id), opts.applied ?? (d.snapshot?.meta.index ?? 0), opts.mutant ?? this.options.mutant);
    this.process();
  }

  /** The state machine snapshot the harness's nodes take: the applied list as JSON. */
  compact(id: string): void {
    const n = this.node(id);
    const applied = n.status().appliedIndex;
    const data = enc.encode(JSON.stringify(this.applied.get(nodeId(id))!.filter((a) => a.index <= applied)));
    n.compact(applied, data);
    const d = this.durable.get(nodeId(id))!;
    d.snapshot = { meta: { index: applied, term: n.termAt(applied) ?? (0 as Term), membership: n.status().membership }, data };
    d.entries = d.entries.filter((e) => e.index > applied);
  }

  /** Terms of a node's log entries from its first index, e.g. [1,1,4,4,5]. */
  logTerms(id: string): number[] {
    const n = this.node(id);
    const out: number[] = [];
    for (let i = n.firstIndex(); i <= n.lastIndex(); i++) out.push(n.termAt(i as Index) ?? -1);
    return out;
  }

  appliedData(id: string): string[] {
    return this.applied.get(nodeId(id))!.map((a) => a.data);
  }

  commands(id: string): string[] {
    return this.appliedData(id).filter((d) => !d.startsWith('noop@') && !d.startsWith('config@'));
  }

  countDelivered(type: RaftMessage['type']): number {
    return this.delivered.filter((m) => m.type === type).length;
  }
}
