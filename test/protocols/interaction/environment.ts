/**
 * The interaction environment: a cluster of replicas behind the `Replica` contract, a network
 * delivered by hand, and for each node a durable store and a state machine fed by its Readys
 * exactly as a driver feeds them (persist, then send, apply, advance). Commands (commands.ts)
 * move it one step at a time and print what the protocol did; the adapter says how the
 * protocol's messages read and adds what only it has.
 */
import { AssertionFailure } from '../../../src/core/assert.js';
import { QuorateError } from '../../../src/core/errors.js';
import { nodeId, type NodeId } from '../../../src/core/ids.js';
import {
  InvariantViolation, type Envelope, type LogEntry, type Ready, type ReadState, type Replica, type SafetyMonitor,
} from '../../../src/core/replica.js';
import type { Adapter, ClusterSpec, Command, DriverIO } from './adapter.js';
import { AppliedLog } from './applied-log.js';
import type { CommandRunner, Directive } from './datadriven.js';
import { DurableStore } from './durable-store.js';
import { Network } from './network.js';
import { Printer } from './printer.js';
import { SafetyRecord } from './safety.js';

/** A command used wrongly (a mistake in the scenario file, not in the protocol). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Stabilizing stops here: a protocol that never goes quiet (a livelock) is a finding of its own, printed. */
export const MAX_STABILIZE_ROUNDS = 1_000;
/** Rounds of a stabilize that never goes quiet still printed in full. */
const SHOWN_ROUNDS = 5;

export class EnvNode<M extends Envelope, H> {
  /** Null while the node is down. */
  replica: Replica<M, H> | null = null;
  readonly machine = new AppliedLog();
  readonly readStates: ReadState[] = [];
  /** `hold-sync`: the node's writes are not synced until `release-sync`. */
  holdSync = false;
  /** A Ready whose persist is written but not synced: its `send`, `apply` and advance wait. */
  held: Ready<M, H> | null = null;
  /** The adapter's summary as last printed. */
  summary = '';

  constructor(readonly id: NodeId, readonly store: DurableStore<H>, public mutant: string | undefined) {}

  get up(): boolean {
    return this.replica !== null;
  }

  live(): Replica<M, H> {
    if (this.replica === null) throw new UsageError(`${this.id} is down`);
    return this.replica;
  }
}

export class Environment<M extends Envelope, H> implements CommandRunner {
  readonly nodes = new Map<NodeId, EnvNode<M, H>>();
  readonly network: Network<M>;
  safety = new SafetyRecord();
  readonly out = new Printer();
  private monitor: SafetyMonitor<M> | null = null;
  private readonly commands = new Map<string, Command<M, H>>();

  constructor(readonly adapter: Adapter<M, H>, generic: Readonly<Record<string, Command<M, H>>>) {
    this.network = new Network<M>((m) => adapter.messageType(m));
    for (const [name, c] of Object.entries(generic)) this.commands.set(name, c);
    for (const [name, c] of Object.entries(adapter.commands ?? {})) {
      if (this.commands.has(name)) throw new Error(`adapter command '${name}' shadows a generic one`);
      this.commands.set(name, c);
    }
  }

  commandNames(): string[] {
    return [...this.commands.keys()].sort();
  }

  run(d: Directive): string {
    const command = this.commands.get(d.command);
    if (command === undefined) throw new UsageError(`unknown command '${d.command}'; known: ${this.commandNames().join(', ')}`);
    try {
      command(d, this);
      this.checkCluster();
    } catch (err) {
      if (err instanceof QuorateError) this.out.always(`error ${err.code}${err.name === 'QuorateError' ? '' : ` (${err.name})`}: ${err.message}`);
      // A protocol core's own assertion is a bug report: show it as the scenario's outcome.
      else if (err instanceof AssertionFailure || err instanceof InvariantViolation) this.out.always(`panic: ${err.message}`);
      else throw err;
    }
    return this.out.take();
  }

  // ---- the cluster ---------------------------------------------------------------------------

  /** Start a new cluster (the previous one, if any, is gone). */
  startCluster(spec: ClusterSpec): void {
    this.nodes.clear();
    this.network.heal();
    this.network.clearRules();
    this.network.discard(() => true);
    this.safety = new SafetyRecord();
    const { initial, monitor } = this.adapter.configure(spec);
    this.monitor = monitor;
    for (const id of spec.ids) {
      const init = initial.get(id);
      const mutant = spec.nodeOptions.get(id)?.get('mutant') ?? spec.options.get('mutant');
      this.addNode(id, init === undefined ? new DurableStore<H>() : DurableStore.holding(init), mutant);
    }
  }

  /** A node with an empty disk (or `store`), started at once. */
  addNode(id: NodeId, store: DurableStore<H> = new DurableStore<H>(), mutant?: string): EnvNode<M, H> {
    if (this.nodes.has(id)) throw new UsageError(`${id} exists already`);
    const node = new EnvNode<M, H>(id, store, mutant);
    this.nodes.set(id, node);
    this.start(node, 0);
    return node;
  }

  node(name: string): EnvNode<M, H> {
    const n = this.nodes.get(nodeId(name));
    if (n === undefined) throw new UsageError(`no node '${name}'; nodes: ${[...this.nodes.keys()].join(' ')}`);
    return n;
  }

  /** `names`, or every node for `all` (or for none at all when `emptyIsAll`). */
  pick(names: readonly string[], emptyIsAll = false): EnvNode<M, H>[] {
    if ((names.length === 0 && emptyIsAll) || (names.length === 1 && names[0] === 'all')) return [...this.nodes.values()];
    if (names.length === 0) throw new UsageError('name the nodes (or all)');
    return names.map((n) => this.node(n));
  }

  private start(node: EnvNode<M, H>, applied: number): void {
    node.replica = this.adapter.create(node.id, node.store.restore(), { applied, mutant: node.mutant });
    node.summary = this.adapter.summary(node.replica);
    this.safety.resumeAt(node.id, applied);
    this.observe(node);
  }

  /** The node stops: what it had not synced is lost, and so are the messages in flight to and from it. */
  crash(node: EnvNode<M, H>): void {
    if (!node.up) throw new UsageError(`${node.id} is down already`);
    node.replica = null;
    node.held = null;
    node.holdSync = false;
    const lost = node.store.loseUnsynced();
    if (lost > 0) this.out.event(`${node.id} lost ${lost} unsynced write${lost === 1 ? '' : 's'}`);
    const dropped = this.network.discard((m) => m.to === node.id || m.from === node.id);
    if (dropped > 0) this.out.event(`dropped ${dropped} message${dropped === 1 ? '' : 's'} in flight to or from ${node.id}`);
  }

  /**
   * Start the node again from its disk. Its state machine holds `applied` when given; else
   * what it held (if the adapter says state machines survive restarts), else what the durable
   * snapshot holds.
   */
  restart(node: EnvNode<M, H>, applied: number | undefined, mutant: string | undefined): void {
    if (node.up) this.crash(node);
    if (mutant !== undefined) node.mutant = mutant;
    const snapshot = node.store.restore().snapshot;
    const keep = applied ?? (this.adapter.stateMachineSurvivesRestart ? node.machine.through() : (snapshot?.meta.index ?? 0));
    if (applied === undefined && !this.adapter.stateMachineSurvivesRestart && snapshot !== null) {
      node.machine.restore(snapshot.data, snapshot.meta.index);
    }
    node.machine.keepThrough(keep);
    this.start(node, keep);
  }

  // ---- observation and checks ------------------------------------------------------------------

  violation(rule: string, detail: string): void {
    const v = this.safety.violate(rule, detail);
    if (v !== null) this.out.always(`!! ${v}`);
  }

  /** After anything happened at `node`: print a role change, check election safety, tell the monitor. */
  observe(node: EnvNode<M, H>): void {
    const r = node.replica;
    if (r === null) return;
    const summary = this.adapter.summary(r);
    if (summary !== node.summary) {
      node.summary = summary;
      this.out.event(`~ ${node.id} becomes ${summary}`);
    }
    const term = this.adapter.leaderTerm(r);
    if (term !== null) {
      const v = this.safety.leads(node.id, term);
      if (v !== null) this.out.always(`!! ${v}`);
    }
    this.guard(() => this.monitor?.observed(r as Replica<M, unknown>));
  }

  checkCluster(): void {
    if (this.adapter.checkCluster === undefined) return;
    const live = new Map<NodeId, Replica<M, H>>();
    for (const n of this.nodes.values()) if (n.replica !== null) live.set(n.id, n.replica);
    for (const [rule, detail] of this.adapter.checkCluster(live)) this.violation(rule, detail);
  }

  /** Run a monitor call; an InvariantViolation it throws is recorded, not fatal. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof InvariantViolation)) throw err;
      this.violation(err.invariant, err.message.slice(err.invariant.length + 2));
    }
  }

  // ---- the driver --------------------------------------------------------------------------------

  storedEntry(e: LogEntry): string {
    return this.adapter.formatStoredEntry?.(e) ?? this.adapter.formatEntry(e);
  }

  fmt(m: M): string {
    return this.adapter.formatMessage(m);
  }

  /** A message leaves `from`'s driver: the monitor sees it, then the network's rules. */
  send(m: M, label: string): void {
    this.out.full(`  ${label}: ${this.fmt(m)}`);
    const refused = this.network.refusedBy(m);
    if (refused !== null) {
      // As the driver does with a message its transport would not take: the core is told.
      const sender = this.nodes.get(m.from)?.replica ?? null;
      this.out.full(`    refused by the transport (rule '${refused}')${sender?.sendFailed === undefined ? '' : `: ${m.from} is told`}`);
      sender?.sendFailed?.(m);
      return;
    }
    this.guard(() => this.monitor?.sent(m));
    const { onWire, changedBy } = this.network.send(m);
    if (changedBy === null) return;
    if (onWire.length === 0) this.out.full(`    dropped by rule '${changedBy}'`);
    for (const x of onWire) this.out.full(`    rule '${changedBy}' sends instead: ${this.fmt(x)}`);
  }

  /** Whether the node has a Ready to handle now. */
  ready(node: EnvNode<M, H>): boolean {
    return node.replica !== null && node.held === null && node.replica.hasReady();
  }

  /** Handle every Ready the node has, as its driver would. Returns whether there was one. */
  processReady(node: EnvNode<M, H>): boolean {
    if (!this.ready(node)) return false;
    if (this.adapter.handleReadys !== undefined) {
      this.out.full(`> ${node.id} ready`);
      this.adapter.handleReadys(node, this.driverIO(node));
      this.observe(node);
      return true;
    }
    for (let i = 0; this.ready(node); i++) {
      if (i > 1000) throw new Error(`${node.id} keeps producing Readys`);
      this.handleOne(node);
    }
    return true;
  }

  private driverIO(node: EnvNode<M, H>): DriverIO<M> {
    return {
      print: (line) => this.out.full(`  ${line}`),
      send: (m, label) => this.send(m, label),
      applied: (index, text) => this.applyEntry(node, index, text),
      restoredTo: (index) => {
        node.machine.replaceThrough(index);
        this.safety.resumeAt(node.id, index);
      },
      violation: (rule, detail) => this.violation(rule, detail),
    };
  }

  private handleOne(node: EnvNode<M, H>): void {
    const r = node.live();
    const rd = r.ready();
    this.out.full(`> ${node.id} ready`);
    // Messages that do not wait for this Ready's persist leave first (a leader replicating
    // while its own fsync runs).
    for (const m of rd.sendBeforePersist) this.send(m, 'send before persist');
    const p = rd.persist;
    if (p !== null) {
      if (p.snapshot !== null) this.out.full(`  persist snapshot: ${p.snapshot.meta.index}/${p.snapshot.meta.term} (${p.snapshot.data.byteLength} bytes)`);
      const first = p.entries[0]?.index ?? null;
      if (p.truncateFrom !== undefined && p.truncateFrom !== null && p.truncateFrom !== first) this.out.full(`  persist truncate from: ${p.truncateFrom}`);
      for (const e of p.entries) this.out.full(`  persist entry: ${this.storedEntry(e)}`);
      if (p.hardState !== null) this.out.full(`  persist hard state: ${this.adapter.formatHardState(p.hardState)}`);
      node.store.write(p);
      if (node.holdSync) {
        node.held = rd;
        this.out.full(`  (written, not synced: the rest of this Ready waits for release-sync ${node.id})`);
        return;
      }
      node.store.sync();
    }
    this.finish(node, rd);
  }

  /** The persist is durable: send, install a snapshot, apply, hand over read states, advance. */
  finish(node: EnvNode<M, H>, rd: Ready<M, H>): void {
    const r = node.live();
    for (const m of rd.send) this.send(m, 'send');
    const snap = rd.persist?.snapshot ?? null;
    if (snap !== null) {
      node.machine.restore(snap.data, snap.meta.index);
      this.safety.resumeAt(node.id, snap.meta.index);
      this.out.full(`  restore state machine from snapshot: through ${snap.meta.index}`);
    }
    for (const e of rd.apply) this.applyEntry(node, e.index, this.adapter.formatEntry(e));
    for (const s of rd.readStates) {
      node.readStates.push(s);
      this.out.full(`  read state: ${s.requestId} at index ${s.index}`);
    }
    for (const [rule, detail] of this.adapter.checkReady?.(r, rd) ?? []) this.violation(rule, detail);
    r.advance(rd);
    this.observe(node);
  }

  private applyEntry(node: EnvNode<M, H>, index: number, text: string): void {
    this.out.full(`  apply: ${text}`);
    node.machine.apply(index, text);
    for (const v of this.safety.applied(node.id, index, text)) this.out.always(`!! ${v}`);
  }

  /** Step one message into its addressee (or drop it: cut link, node down, no such node). */
  deliver(m: M, show: 'delivered' | 'drops'): void {
    const to = this.nodes.get(m.to);
    if (to === undefined) {
      const events = this.adapter.deliverElsewhere?.(m);
      if (events === undefined) throw new UsageError(`message to unknown node ${m.to}: ${this.fmt(m)}`);
      if (show === 'delivered') this.out.full(this.fmt(m));
      for (const e of events) this.out.event(e);
      return;
    }
    if (this.network.isCut(m.from, m.to)) {
      this.out.full(`dropped (link cut): ${this.fmt(m)}`);
      return;
    }
    if (to.replica === null) {
      this.out.full(`dropped (${m.to} is down): ${this.fmt(m)}`);
      return;
    }
    if (show === 'delivered') this.out.full(this.fmt(m));
    to.replica.step(m);
    this.observe(to);
  }

  /**
   * Process and deliver until no node has a Ready and nothing is in flight. Returns whether
   * that happened; a cluster still busy after MAX_STABILIZE_ROUNDS is reported, not waited for.
   */
  stabilize(): boolean {
    let mark = this.out.mark();
    let busyNodes: NodeId[] = [];
    for (let round = 0; round < MAX_STABILIZE_ROUNDS; round++) {
      // A livelock prints the same rounds over and over: keep the first few only.
      if (round === SHOWN_ROUNDS) mark = this.out.mark();
      busyNodes = [];
      for (const n of this.nodes.values()) if (this.processReady(n)) busyNodes.push(n.id);
      const msgs = this.network.take({ from: new Set(), to: new Set(), types: new Set(), notTypes: new Set() });
      for (const m of msgs) this.deliver(m, 'drops');
      if (busyNodes.length === 0 && msgs.length === 0) return true;
    }
    const elided = this.out.cut(mark, (line) => line.includes('!! '));
    if (elided > 0) this.out.full(`... (${elided} more lines of the same rounds)`);
    this.out.always(`not quiet after ${MAX_STABILIZE_ROUNDS} rounds of process and deliver (a livelock): ${busyNodes.join(', ')} still had Readys`);
    return false;
  }

  /** One tick for every live node (in order). */
  tickAll(): void {
    for (const n of this.nodes.values()) {
      if (n.replica === null) continue;
      n.replica.tick();
      this.observe(n);
    }
  }
}
