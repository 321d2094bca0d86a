/**
 * A small, fully scripted Multi-Paxos cluster for scenario tests: the test decides which node
 * ticks, which links are cut, which node crashes and whose fsync is held back, then delivers
 * messages until the network is quiet. Each node has a model disk (what was not synced is lost
 * on a crash), and a PaxosMonitor watches every message sent, as in the simulator.
 */
import { nodeId, type Index, type NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import type { LogEntry, Ready } from '../../../src/core/replica.js';
import {
  MultiPaxosReplica, PaxosMonitor, type MultiPaxosOptions, type PaxosHardState, type PaxosMessage,
} from '../../../src/protocols/paxos/index.js';
import { ModelDisk } from '../../../src/sim/disk.js';

export interface PaxosNode {
  readonly id: NodeId;
  replica: MultiPaxosReplica;
  readonly disk: ModelDisk<PaxosHardState>;
  up: boolean;
  /** Commands applied here, by slot (the node's state machine). */
  readonly applied: Map<number, LogEntry>;
  appliedThrough: number;
  /** A Ready whose fsync is held back (`holdSync`): its `send` waits, nothing is advanced. */
  held: Ready<PaxosMessage, PaxosHardState> | null;
  readonly reads: string[];
}

export type ClusterOptions = Partial<Omit<MultiPaxosOptions, 'id' | 'membership' | 'random' | 'restored'>>;

const text = new TextEncoder();
const untext = new TextDecoder();

export const cmd = (s: string): Uint8Array => text.encode(s);

export class PaxosCluster {
  readonly ids: NodeId[];
  readonly nodes = new Map<NodeId, PaxosNode>();
  readonly monitor: PaxosMonitor;
  private queue: PaxosMessage[] = [];
  private readonly cut = new Set<string>();
  private readonly holdSync = new Set<NodeId>();
  private seed = 1;
  delivered = 0;

  constructor(n: number, private readonly options: ClusterOptions = {}) {
    this.ids = Array.from({ length: n }, (_, i) => nodeId(`n${i + 1}`));
    const membership = { voters: this.ids, outgoingVoters: [], learners: [] };
    this.monitor = new PaxosMonitor({ membership, protocolOptions: options as Record<string, unknown> });
    for (const id of this.ids) {
      const disk = new ModelDisk<PaxosHardState>();
      const node: PaxosNode = { id, replica: this.create(id, disk, 0), disk, up: true, applied: new Map(), appliedThrough: 0, held: null, reads: [] };
      this.nodes.set(id, node);
      this.monitor.observed(node.replica);
    }
  }

  node(name: string): PaxosNode {
    const n = this.nodes.get(nodeId(name));
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  replica(name: string): MultiPaxosReplica {
    return this.node(name).replica;
  }

  /** Tick `name` until it starts phase 1, then deliver until quiet. */
  campaign(name: string): void {
    const r = this.replica(name);
    for (let i = 0; i < 1000 && r.status().role === 'follower'; i++) r.tick();
    this.process(name);
    this.deliverAll();
  }

  tick(name: string, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.replica(name).tick();
      this.process(name);
    }
  }

  /** Tick every node that is up `times` times (heartbeats, timeouts), delivering as we go. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) if (n.up) this.tick(n.id);
      this.deliverAll();
    }
  }

  propose(name: string, command: string): { index: Index } {
    const r = this.replica(name).propose(cmd(command));
    this.process(name);
    return r;
  }

  read(name: string, requestId: string): void {
    this.replica(name).readIndex(requestId);
    this.process(name);
  }

  /** Cut both directions between `a` and every node in `others`. */
  isolate(a: string, ...others: string[]): void {
    for (const b of others) {
      this.cut.add(`${a}>${b}`);
      this.cut.add(`${b}>${a}`);
    }
  }

  /** Cut only messages from `a` to `b`. */
  cutOneWay(a: string, b: string): void {
    this.cut.add(`${a}>${b}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** `name`'s fsyncs do not complete until releaseSync: messages it sends early still leave. */
  holdSyncOf(name: string): void {
    this.holdSync.add(nodeId(name));
  }

  releaseSync(name: string): void {
    this.holdSync.delete(nodeId(name));
    const n = this.node(name);
    if (n.held !== null) {
      const rd = n.held;
      n.held = null;
      n.disk.sync();
      this.finish(n, rd);
    }
    this.process(name);
  }

  /** Crash: the node stops, and whatever it had not synced is lost. */
  crash(name: string): void {
    const n = this.node(name);
    n.up = false;
    n.held = null;
    this.holdSync.delete(n.id);
    n.disk.crash(new Prng(this.seed++), false);
  }

  restart(name: string): void {
    const n = this.node(name);
    n.up = true;
    n.replica = this.create(n.id, n.disk, n.appliedThrough);
    this.monitor.observed(n.replica);
    this.process(name);
  }

  /** Deliver messages (in order, respecting cuts and crashed nodes) until none are left. */
  deliverAll(limit = 100_000): void {
    for (let i = 0; i < limit && this.queue.length > 0; i++) {
      const m = this.queue.shift()!;
      const to = this.nodes.get(m.to);
      if (to === undefined || !to.up || this.cut.has(`${m.from}>${m.to}`)) continue;
      this.delivered++;
      to.replica.step(m);
      this.process(to.id);
    }
  }

  /** Drop everything in flight (a network that lost it). */
  dropInFlight(): void {
    this.queue = [];
  }

  /** Run a node's Ready loop: early messages, persist (synced at once unless held), send, apply. */
  process(name: NodeId | string): void {
    const n = this.nodes.get(name as NodeId)!;
    while (n.up && n.held === null && n.replica.hasReady()) {
      const rd = n.replica.ready();
      for (const m of rd.sendBeforePersist) this.send(m);
      if (rd.persist !== null) {
        n.disk.write(rd.persist);
        if (this.holdSync.has(n.id)) {
          n.held = rd;
          break;
        }
        n.disk.sync();
      }
      this.finish(n, rd);
    }
    if (n.up) this.monitor.observed(n.replica);
  }

  /** Values applied at `slot` on every node that applied it (as strings; no-ops as "noop"). */
  appliedAt(slot: number): Map<string, string> {
    const out = new Map<string, string>();
    for (const n of this.nodes.values()) {
      const e = n.applied.get(slot);
      if (e !== undefined) out.set(n.id, e.kind === 'command' ? untext.decode(e.data) : e.kind);
    }
    return out;
  }

  leader(): string | null {
    for (const n of this.nodes.values()) if (n.up && n.replica.status().role === 'leader') return n.id;
    return null;
  }

  private finish(n: PaxosNode, rd: Ready<PaxosMessage, PaxosHardState>): void {
    for (const m of rd.send) this.send(m);
    if (rd.persist?.snapshot) n.appliedThrough = rd.persist.snapshot.meta.index;
    for (const e of rd.apply) {
      if (e.index !== n.appliedThrough + 1) throw new Error(`${n.id} applied ${e.index} after ${n.appliedThrough}`);
      n.applied.set(e.index, e);
      n.appliedThrough = e.index;
    }
    for (const r of rd.readStates) n.reads.push(r.requestId);
    n.replica.advance(rd);
  }

  private send(m: PaxosMessage): void {
    this.monitor.sent(m);
    this.queue.push(m);
  }

  private create(id: NodeId, disk: ModelDisk<PaxosHardState>, applied: number): MultiPaxosReplica {
    return new MultiPaxosReplica({
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 1,
      ...this.options,
      id,
      membership: { voters: this.ids, outgoingVoters: [], learners: [] },
      random: new Prng(this.seed++),
      restored: disk.restore(),
      applied: applied as Index,
    });
  }
}
