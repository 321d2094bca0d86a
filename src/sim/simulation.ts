/**
 * One deterministic simulation run: the real protocol cores, driven on a virtual clock with a
 * model network, model disks, a nemesis and simulated clients. One seeded PRNG drives every
 * choice, so a seed reproduces the run event for event.
 */
import type { Operation } from '../check/history.js';
import { QuorateError } from '../core/errors.js';
import { nodeId, type Index, type NodeId, type Term } from '../core/ids.js';
import { Prng, type Random } from '../core/prng.js';
import { InvariantViolation, type Envelope, type Membership, type ProtocolDefinition, type Ready, type Replica, type SafetyMonitor } from '../core/replica.js';
import { encodeCommand, RegisterKv, type RegisterOp, type RegisterResult } from '../statemachine/register-kv.js';
import { ModelDisk } from './disk.js';
import { LinkFaults } from './link-faults.js';
import { randomRegisterOp, recordedOperation } from './workload.js';
import { EventQueue } from './event-queue.js';
import { hasLogView, Invariants, SafetyViolation, type LogView } from './invariants.js';
import type { FaultKind, SimOptions } from './options.js';
import { SimTrace } from './trace.js';

type Event =
  | { readonly kind: 'tick'; readonly node: NodeId; readonly incarnation: number }
  | Delivery
  | { readonly kind: 'synced'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'client-next'; readonly client: number }
  | { readonly kind: 'request'; readonly client: number; readonly attempt: number; readonly node: NodeId }
  | { readonly kind: 'response'; readonly client: number; readonly attempt: number; readonly answer: Answer }
  | { readonly kind: 'client-timeout'; readonly client: number; readonly attempt: number }
  | { readonly kind: 'nemesis' }
  | { readonly kind: 'heal-link-faults' }
  | { readonly kind: 'restart'; readonly node: NodeId }
  | { readonly kind: 'unpause'; readonly node: NodeId }
  | { readonly kind: 'unskew'; readonly node: NodeId }
  | { readonly kind: 'heal-all' };

/**
 * A message on its way. `lost` is set when its sender crashed in the same step that sent it: the
 * node runtime coalesces a turn's messages into one socket write at the end of the turn, so a
 * process killed mid-turn never sends them.
 */
interface Delivery {
  readonly kind: 'deliver';
  readonly msg: Envelope;
  lost: boolean;
}

type Answer =
  | { readonly type: 'result'; readonly result: RegisterResult }
  | { readonly type: 'redirect'; readonly hint: NodeId | null }
  | { readonly type: 'dropped' };

interface SimNode {
  readonly id: NodeId;
  /** 1-based position in the cluster (a cheap number for the trace hash). */
  readonly index: number;
  replica: Replica<Envelope, unknown>;
  sm: RegisterKv;
  readonly disk: ModelDisk<unknown>;
  up: boolean;
  incarnation: number;
  paused: boolean;
  /** Ticks per virtual tickMs (clock drift): 1 = true time. */
  rate: number;
  /** A Ready waiting for its fsync; nothing of it has been sent or applied yet. */
  syncing: Ready<Envelope, unknown> | null;
  lastApplied: number;
  appliedSinceCompact: number;
  lastCommit: number;
  lastTerm: number;
  wasLeader: boolean;
  /** Proposals this node accepted from clients: index → who to answer, if it commits with `term`. */
  readonly proposals: Map<number, { term: Term; client: number; attempt: number }>;
  /** Messages and client requests that arrived while paused, processed in order on resume. */
  readonly parked: Event[];
  /** ReadIndex requests from clients, by request id. */
  readonly reads: Map<string, { client: number; attempt: number; key: string }>;
  /** Read points granted, waiting for the state machine to reach them. */
  readonly readPoints: { requestId: string; index: number }[];
  /** Messages sent in the current step (lost if the node crashes before the step ends). */
  readonly sentThisStep: Delivery[];
}

interface SimClient {
  readonly id: number;
  seq: number;
  attempt: number;
  attempts: number;
  guess: NodeId;
  op: { readonly op: RegisterOp; readonly invokedAt: number; readonly seq: number; readonly readIndex: boolean } | null;
  completedAfterHeal: boolean;
}

/** Chance, per durable write that sent messages, of a crash right after it (during the fault window). */
export const CRASH_AFTER_SYNC_PROBABILITY = 0.002;
/** Share of client reads served by ReadIndex (the rest go through the log). */
export const READ_INDEX_SHARE = 0.8;
/**
 * Crash, and restart within a few ms, right after a node sent something that rests on a durable
 * promise it just made (a vote, a new term): the window in which a node that sent the promise
 * without really making it durable forgets it and promises again.
 */
export const CRASH_AFTER_PROMISE_PROBABILITY = 0.25;
/**
 * Crash a leader right after it applied newly committed entries, before its followers may have
 * heard of them: the window in which a leader that committed something it should not have
 * leaves it half-replicated, for a later leader to overwrite.
 */
export const CRASH_AFTER_APPLY_PROBABILITY = 0.02;
/**
 * Crash, and restart at once, a node that is not leading and sent messages before its write was
 * durable: the window in which an acknowledgement that ran ahead of its fsync is forgotten.
 * Correct cores only send early as a leader, so this fires only for broken ones; it draws from
 * its own random stream, so it leaves other runs unchanged.
 */
export const CRASH_BEFORE_SYNC_PROBABILITY = 0.25;
/**
 * Like CRASH_AFTER_APPLY_PROBABILITY, when what a leader just applied includes an entry of an
 * earlier term: the window in which a leader that committed such an entry by counting replicas
 * (Figure 8) dies before an entry of its own term reaches a majority, leaving a rival with a
 * newer conflicting entry electable.
 */
export const CRASH_AFTER_OLD_TERM_APPLY_PROBABILITY = 0.9;
/** Share of runs that are a storm of short faults (see Simulation.churn). */
export const CHURN_RUN_SHARE = 0.3;
/**
 * Cut a newly elected leader off from everyone right away (a link failure just after an
 * election): it keeps entries of its term that nobody else has, which is the rival of Figure 8.
 */
export const ISOLATE_NEW_LEADER_PROBABILITY = 0.3;

export interface RunStats {
  readonly seed: number;
  readonly messagesDelivered: number;
  readonly messagesDropped: number;
  readonly operations: number;
  readonly simulatedMs: number;
  readonly events: number;
  readonly invariantChecks: number;
  readonly faultsInjected: number;
}

export type RunOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'safety'; readonly invariant: string; readonly message: string; readonly atMs: number }
  | { readonly kind: 'liveness'; readonly message: string };

export interface RunResult {
  readonly outcome: RunOutcome;
  readonly history: Operation[];
  readonly stats: RunStats;
  readonly trace: string[];
  /** FNV-1a over the event trace: equal for equal seeds and options. */
  readonly traceHash: string;
}

export class Simulation {
  private readonly rng: Random;
  private readonly queue = new EventQueue<Event>();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly ids: NodeId[];
  private readonly clients: SimClient[] = [];
  private readonly invariants = new Invariants();
  /** The protocol's own safety checks, if it has any (see ProtocolDefinition.createMonitor). */
  private readonly monitor: SafetyMonitor | null;
  /** Random stream for faults that must not perturb the main stream (CRASH_BEFORE_SYNC). */
  private readonly buggify: Random;
  private readonly history: Operation[] = [];
  private readonly trace: SimTrace;
  private now = 0;
  private events = 0;
  private delivered = 0;
  private dropped = 0;
  private faultsInjected = 0;
  private readonly links = new LinkFaults();
  /** The node whose messages `sentThisStep` holds (one node acts per step). */
  private stepSender: SimNode | null = null;
  private readonly membership: Membership;
  private healed = false;
  /**
   * After the faults heal: 'drain' lets every client finish what it is doing, then 'reads'
   * fails the leader over once more and clients only read (Jepsen's final reads). An idle
   * cluster that just changed leader must still answer a linearizable read within the bound.
   */
  private phase: 'faults' | 'drain' | 'reads' = 'faults';
  private readonly endMs: number;
  /** Small batches in some runs let old-term entries travel apart from a new leader's entries. */
  private readonly maxEntriesPerMessage: number;
  /** Each run also picks a protocol variant, so every configuration a user may choose is tested. */
  private readonly variant: { preVote: boolean; checkQuorum: boolean; electionTimeoutTicks: number };
  /**
   * Some runs are a storm of short faults (leaders come and go every few hundred ms), the
   * weather in which half-replicated entries of several terms pile up in different logs.
   */
  private readonly churn: boolean;

  constructor(private readonly protocol: ProtocolDefinition, private readonly o: SimOptions) {
    this.trace = new SimTrace(o.trace);
    this.rng = new Prng(o.seed);
    this.ids = Array.from({ length: o.nodes }, (_, i) => nodeId(`n${i + 1}`));
    this.membership = { voters: this.ids, outgoingVoters: [], learners: [] };
    this.endMs = o.faultWindowMs + o.livenessBoundMs;
    this.maxEntriesPerMessage = this.rng.pick([1, 2, 4, 64]);
    // A short election timeout (few distinct random timeouts) makes rival candidates of one
    // term common: the situation in which a forgotten vote elects two leaders.
    this.variant = {
      preVote: this.rng.chance(0.5),
      checkQuorum: this.rng.chance(0.5),
      electionTimeoutTicks: this.rng.chance(0.5) ? o.electionTimeoutTicks : Math.max(4, Math.ceil(o.electionTimeoutTicks / 2)),
    };
    this.buggify = new Prng(o.seed ^ 0x5eed);
    this.monitor = protocol.createMonitor?.({ membership: this.membership, protocolOptions: this.protocolOptions() }) ?? null;
    this.churn = this.rng.chance(CHURN_RUN_SHARE);
    for (const [i, id] of this.ids.entries()) {
      const disk = new ModelDisk<unknown>();
      const node: SimNode = {
        id, index: i + 1, replica: this.createReplica(id, disk, 0), sm: new RegisterKv(), disk, up: true,
        incarnation: 0, paused: false, rate: 1, syncing: null, lastApplied: 0, appliedSinceCompact: 0, lastCommit: 0,
        lastTerm: 0, wasLeader: false, proposals: new Map(), parked: [], reads: new Map(), readPoints: [], sentThisStep: [],
      };
      this.nodes.set(id, node);
      this.queue.push(this.rng.int(0, o.tickMs - 1), { kind: 'tick', node: id, incarnation: 0 });
    }
    for (let c = 0; c < o.clients; c++) {
      this.clients.push({ id: c + 1, seq: 0, attempt: 0, attempts: 0, guess: this.rng.pick(this.ids), op: null, completedAfterHeal: false });
      this.queue.push(this.rng.int(0, 50), { kind: 'client-next', client: c + 1 });
    }
    if (o.faults.size > 0) this.queue.push(this.rng.int(200, 800), { kind: 'nemesis' });
    this.queue.push(o.faultWindowMs, { kind: 'heal-all' });
  }

  run(): RunResult {
    let outcome: RunOutcome = { kind: 'ok' };
    try {
      for (;;) {
        const next = this.queue.pop();
        if (next === undefined || next.at > this.endMs) break;
        this.now = next.at;
        this.events++;
        this.handle(next.event);
      }
      this.checkLogs();
      outcome = this.checkLiveness();
    } catch (err) {
      if (!(err instanceof InvariantViolation) && !isAssertion(err)) throw err;
      const invariant = err instanceof InvariantViolation ? err.invariant : 'protocol assertion';
      outcome = { kind: 'safety', invariant, message: (err as Error).message, atMs: this.now };
    }
    // Operations still in flight at the end have unknown outcomes.
    for (const c of this.clients) if (c.op !== null) this.record(c, 'unknown', undefined);
    return {
      outcome,
      history: this.history,
      trace: this.trace.lines,
      traceHash: this.trace.hash,
      stats: {
        seed: this.o.seed, messagesDelivered: this.delivered, messagesDropped: this.dropped, operations: this.history.length,
        simulatedMs: this.now, events: this.events, invariantChecks: this.invariants.checks, faultsInjected: this.faultsInjected,
      },
    };
  }

  // ---- events ------------------------------------------------------------------------------

  private handle(e: Event): void {
    this.stepSender = null;
    switch (e.kind) {
      case 'tick': return this.onTick(e.node, e.incarnation);
      case 'deliver': return this.onDeliver(e);
      case 'synced': return this.onSynced(e.node, e.incarnation);
      case 'client-next': return this.onClientNext(e.client);
      case 'request': return this.onRequest(e.client, e.attempt, e.node);
      case 'response': return this.onResponse(e.client, e.attempt, e.answer);
      case 'client-timeout': return this.onClientTimeout(e.client, e.attempt);
      case 'nemesis': return this.onNemesis();
      case 'heal-link-faults': return this.healLinks();
      case 'restart': return this.restart(e.node);
      case 'unpause': return this.unpause(e.node);
      case 'unskew': {
        const n = this.nodes.get(e.node)!;
        n.rate = 1;
        return;
      }
      case 'heal-all': return this.healAll();
    }
  }

  private note(line: string): void {
    this.trace.note(this.now, line);
  }

  private onTick(id: NodeId, incarnation: number): void {
    const n = this.nodes.get(id)!;
    if (!n.up || n.incarnation !== incarnation) return;
    this.queue.push(this.now + this.o.tickMs / n.rate, { kind: 'tick', node: id, incarnation });
    if (n.paused) return;
    n.replica.tick();
    this.drive(n);
  }

  private onDeliver(d: Delivery): void {
    const { msg } = d;
    const n = this.nodes.get(msg.to);
    if (n === undefined || !n.up) return;
    if (d.lost) {
      this.dropped++;
      return;
    }
    // A link cut while a message was on it loses the message, as a real partition does.
    if (this.links.isCut(msg.from, msg.to)) {
      this.dropped++;
      return;
    }
    if (n.paused) {
      n.parked.push(d);
      return;
    }
    this.delivered++;
    if (this.o.trace) this.note(`deliver ${describe(msg)}`);
    else this.trace.mix(this.now, 0x64, this.nodes.get(msg.from)?.index ?? 0, n.index); // a delivery, from>to, without building a line
    n.replica.step(msg);
    this.drive(n);
  }

  /** Run a node's Ready loop until it has nothing to do or waits for an fsync. */
  private drive(n: SimNode): void {
    while (n.up && n.syncing === null && n.replica.hasReady()) {
      const rd = n.replica.ready();
      for (const m of rd.sendBeforePersist) this.send(m);
      if (rd.persist !== null) {
        n.disk.write(rd.persist);
        n.syncing = rd;
        this.queue.push(this.now + this.o.syncLatencyMs, { kind: 'synced', node: n.id, incarnation: n.incarnation });
        if (rd.sendBeforePersist.length > 0) this.crashBeforeSync(n);
        break;
      }
      this.finish(n, rd);
      if (this.crashAfterApply(n, rd)) return;
    }
    this.observe(n);
  }

  private onSynced(id: NodeId, incarnation: number): void {
    const n = this.nodes.get(id)!;
    if (!n.up || n.incarnation !== incarnation || n.syncing === null) return;
    n.disk.sync();
    const rd = n.syncing;
    n.syncing = null;
    if (rd.persist?.snapshot) {
      n.sm.restore(rd.persist.snapshot.data);
      n.lastApplied = rd.persist.snapshot.meta.index;
      n.appliedSinceCompact = 0;
    }
    this.finish(n, rd);
    if (this.crashAfterSync(n, rd) || this.crashAfterApply(n, rd)) return;
    this.drive(n);
  }

  /**
   * "Buggify" (as FoundationDB's simulator calls it): now and then, crash a node the moment it has
   * acted on a durable write — after its messages left — and restart it at once, like a process
   * killed and brought back by its supervisor. This is the window in which a protocol that
   * answered before its state was really durable forgets what it promised.
   */
  private crashAfterSync(n: SimNode, rd: Ready<Envelope, unknown>): boolean {
    if (!this.o.faults.has('crash') || this.healed || rd.send.length + rd.sendBeforePersist.length === 0) return false;
    const promised = rd.persist !== null && rd.persist.hardState !== null && rd.send.length > 0;
    if (!this.rng.chance(promised ? CRASH_AFTER_PROMISE_PROBABILITY : CRASH_AFTER_SYNC_PROBABILITY)) return false;
    this.crash(n.id);
    this.queue.push(this.now + (promised ? this.rng.int(0, 3) : this.rng.int(1, 15)), { kind: 'restart', node: n.id });
    return true;
  }

  private crashBeforeSync(n: SimNode): void {
    if (!this.o.faults.has('crash') || this.healed || n.replica.status().role === 'leader') return;
    if (!this.buggify.chance(CRASH_BEFORE_SYNC_PROBABILITY)) return;
    this.crash(n.id);
    this.queue.push(this.now + this.buggify.int(0, 3), { kind: 'restart', node: n.id });
  }

  private crashAfterApply(n: SimNode, rd: Ready<Envelope, unknown>): boolean {
    if (!this.o.faults.has('crash') || this.healed || rd.apply.length === 0) return false;
    const status = n.replica.status();
    if (status.role !== 'leader') return false;
    const oldTerm = rd.apply.some((e) => e.term < status.term);
    if (!this.rng.chance(oldTerm ? CRASH_AFTER_OLD_TERM_APPLY_PROBABILITY : CRASH_AFTER_APPLY_PROBABILITY)) return false;
    // Killed while applying, in the same turn of its event loop: what it queued has not left.
    this.loseUnsentMessages(n);
    this.crash(n.id);
    this.queue.push(this.now + this.rng.int(50, 500), { kind: 'restart', node: n.id });
    return true;
  }

  /** After persist is durable: send, apply, advance. */
  private finish(n: SimNode, rd: Ready<Envelope, unknown>): void {
    for (const m of rd.send) this.send(m);
    const term = rd.apply.length > 0 ? n.replica.status().term : 0;
    for (const e of rd.apply) {
      this.invariants.applied(n.id, e, n.lastApplied, term);
      n.lastApplied = e.index;
      let result: RegisterResult | null = null;
      if (e.kind === 'command') result = n.sm.apply(e.data, e.index);
      const p = n.proposals.get(e.index);
      if (p !== undefined) {
        n.proposals.delete(e.index);
        const answer: Answer = p.term === e.term && result !== null ? { type: 'result', result } : { type: 'dropped' };
        this.respond(p.client, p.attempt, answer);
      }
      n.appliedSinceCompact++;
    }
    for (const r of rd.readStates) n.readPoints.push({ requestId: r.requestId, index: r.index });
    this.serveReads(n);
    n.replica.advance(rd);
    if (n.appliedSinceCompact >= this.o.compactEvery) {
      const data = n.sm.snapshot();
      const index = n.lastApplied as Index;
      n.replica.compact(index, data);
      const log = n.replica as unknown as Partial<LogView>;
      const term = (log.termAt?.(index) ?? 0) as Term;
      n.disk.saveSnapshot({ meta: { index, term, membership: n.replica.status().membership }, data });
      n.appliedSinceCompact = 0;
    }
  }

  private serveReads(n: SimNode): void {
    let kept = 0;
    for (const p of n.readPoints) {
      if (p.index > n.lastApplied) {
        n.readPoints[kept++] = p;
        continue;
      }
      const r = n.reads.get(p.requestId);
      if (r === undefined) continue;
      n.reads.delete(p.requestId);
      this.respond(r.client, r.attempt, { type: 'result', result: { ok: true, value: n.sm.get(r.key) } });
    }
    n.readPoints.length = kept;
  }

  /** Check per-node invariants after every step of the node. */
  private observe(n: SimNode): void {
    if (n.up) this.monitor?.observed(n.replica);
    const s = n.replica.status();
    if (s.commitIndex < n.lastCommit) {
      throw new SafetyViolation('commit monotonic', `${n.id} commit went from ${n.lastCommit} to ${s.commitIndex}`);
    }
    if (s.term < n.lastTerm) throw new SafetyViolation('term monotonic', `${n.id} term went from ${n.lastTerm} to ${s.term}`);
    n.lastCommit = s.commitIndex;
    n.lastTerm = s.term;
    const leading = s.role === 'leader';
    if (leading) {
      this.invariants.leaderSeen(n.id, s.term);
      if (!n.wasLeader) {
        this.note(`${n.id} leads term ${s.term}`);
        if (hasLogView(n.replica)) this.invariants.leaderComplete(n.id, s.term, n.replica);
        this.maybeIsolateNewLeader(n.id);
      }
    }
    n.wasLeader = leading;
  }

  private send(m: Envelope): void {
    this.monitor?.sent(m);
    if (this.links.loses(this.rng, m.from, m.to)) {
      this.dropped++;
      return;
    }
    const copies = this.links.copies(this.rng);
    const sender = this.nodes.get(m.from);
    if (sender !== undefined && this.stepSender !== sender) {
      if (this.stepSender !== null) this.stepSender.sentThisStep.length = 0;
      sender.sentThisStep.length = 0;
      this.stepSender = sender;
    }
    for (let i = 0; i < copies; i++) {
      const d: Delivery = { kind: 'deliver', msg: m, lost: false };
      sender?.sentThisStep.push(d);
      this.queue.push(this.now + this.latency(), d);
    }
  }

  /** A crash in the middle of a step: the node's messages of this step never left it. */
  private loseUnsentMessages(n: SimNode): void {
    if (this.stepSender !== n) return;
    for (const d of n.sentThisStep) d.lost = true;
    n.sentThisStep.length = 0;
  }

  private latency(): number {
    return this.o.latencyBaseMs + this.rng.float() * this.o.latencyJitterMs;
  }

  // ---- clients -------------------------------------------------------------------------------

  private onClientNext(id: number): void {
    const c = this.clients[id - 1]!;
    if (this.now >= this.endMs - this.o.clientTimeoutMs) return;
    if (this.phase === 'drain') {
      if (this.clients.every((other) => other.op === null)) this.startFinalReads();
      return;
    }
    const key = `k${this.rng.int(1, this.o.keys)}`;
    if (this.phase === 'reads') {
      c.seq++;
      c.op = { op: { f: 'get', key }, invokedAt: this.now, seq: c.seq, readIndex: true };
      c.attempts = 0;
      this.attempt(c);
      return;
    }
    const op = randomRegisterOp(this.rng, key);
    c.seq++;
    c.op = { op, invokedAt: this.now, seq: c.seq, readIndex: op.f === 'get' && this.rng.chance(READ_INDEX_SHARE) };
    c.attempts = 0;
    this.attempt(c);
  }

  private attempt(c: SimClient): void {
    c.attempt++;
    c.attempts++;
    this.queue.push(this.now + this.latency(), { kind: 'request', client: c.id, attempt: c.attempt, node: c.guess });
    this.queue.push(this.now + this.o.clientTimeoutMs, { kind: 'client-timeout', client: c.id, attempt: c.attempt });
  }

  private onRequest(clientId: number, attempt: number, id: NodeId): void {
    const n = this.nodes.get(id)!;
    const c = this.clients[clientId - 1]!;
    if (n.paused) {
      // A stalled process still has the request in its socket buffer: it handles it on resume,
      // possibly still believing it leads (the classic stale-leader window of a pause).
      n.parked.push({ kind: 'request', client: clientId, attempt, node: id });
      return;
    }
    if (!n.up || c.op === null) return; // lost: the client times out
    try {
      if (c.op.op.f === 'get' && c.op.readIndex) {
        // A linearizable read without a log entry: wait for a read point, then read locally.
        const requestId = `${c.id}/${attempt}`;
        n.replica.readIndex(requestId);
        n.reads.set(requestId, { client: c.id, attempt, key: c.op.op.key });
        this.drive(n);
        return;
      }
      const cmd = encodeCommand({ client: c.id, seq: c.op.seq, op: c.op.op });
      const { index, term } = n.replica.propose(cmd);
      n.proposals.set(index, { term, client: c.id, attempt });
      this.drive(n);
    } catch (err) {
      if (!(err instanceof QuorateError)) throw err;
      const hint = (err as { leaderHint?: NodeId | null }).leaderHint ?? null;
      this.respond(clientId, attempt, { type: 'redirect', hint });
    }
  }

  private respond(client: number, attempt: number, answer: Answer): void {
    this.queue.push(this.now + this.latency(), { kind: 'response', client, attempt, answer });
  }

  private onResponse(clientId: number, attempt: number, answer: Answer): void {
    const c = this.clients[clientId - 1]!;
    if (c.op === null || attempt !== c.attempt) return; // an answer to an attempt we gave up on
    switch (answer.type) {
      case 'result': {
        const { op } = c.op;
        const r = answer.result;
        if (op.f === 'get') this.record(c, 'ok', r.value);
        else if (op.f === 'cas') this.record(c, r.ok ? 'ok' : 'fail', undefined);
        else this.record(c, 'ok', undefined);
        this.queue.push(this.now + this.o.clientThinkMs, { kind: 'client-next', client: c.id });
        return;
      }
      case 'redirect':
      case 'dropped':
        c.guess = answer.type === 'redirect' && answer.hint !== null ? answer.hint : this.rng.pick(this.ids);
        if (c.attempts >= this.o.clientAttempts) return this.giveUp(c);
        this.attempt(c);
        return;
    }
  }

  private onClientTimeout(clientId: number, attempt: number): void {
    const c = this.clients[clientId - 1]!;
    if (c.op === null || attempt !== c.attempt) return;
    c.guess = this.rng.pick(this.ids);
    if (c.attempts >= this.o.clientAttempts) return this.giveUp(c);
    this.attempt(c); // same (client, seq): the session makes the retry exactly-once
  }

  private giveUp(c: SimClient): void {
    this.record(c, 'unknown', undefined);
    this.queue.push(this.now + this.o.clientThinkMs, { kind: 'client-next', client: c.id });
  }

  private record(c: SimClient, outcome: Operation['outcome'], result: number | null | undefined): void {
    const pending = c.op;
    if (pending === null) return;
    const { op } = pending;
    const recorded = recordedOperation(this.history.length, c.id, op, outcome, pending.invokedAt, this.now, result);
    this.history.push(recorded);
    if (outcome === 'ok' && this.phase === 'reads') c.completedAfterHeal = true;
    this.note(`client ${c.id} ${op.f} ${op.key} → ${outcome}`);
    c.op = null;
  }

  // ---- the nemesis ------------------------------------------------------------------------------

  private onNemesis(): void {
    if (this.now >= this.o.faultWindowMs) return;
    this.queue.push(this.now + (this.churn ? this.rng.int(60, 400) : this.rng.int(300, 1500)), { kind: 'nemesis' });
    const kinds = [...this.o.faults].filter((k) => k !== 'disk');
    if (kinds.length === 0) return;
    const fault = this.rng.pick(kinds) as FaultKind;
    this.faultsInjected++;
    const lasting = this.churn ? this.rng.int(50, 600) : this.rng.int(300, 2500);
    switch (fault) {
      case 'partition': return this.partition(lasting);
      case 'crash': {
        const up = this.ids.filter((id) => this.nodes.get(id)!.up);
        if (up.length === 0) return;
        const id = this.rng.pick(up);
        this.crash(id);
        // Sometimes a supervisor restarts it at once; sometimes it stays down for a while.
        const downMs = this.rng.chance(0.3) ? this.rng.int(1, 20) : this.rng.int(50, 2000);
        this.queue.push(this.now + downMs, { kind: 'restart', node: id });
        return;
      }
      case 'drop':
        this.note(`nemesis ${this.links.makeLossy(this.rng)}`);
        this.queue.push(this.now + lasting, { kind: 'heal-link-faults' });
        return;
      case 'skew': {
        const id = this.rng.pick(this.ids);
        this.nodes.get(id)!.rate = 0.5 + this.rng.float() * 1.5;
        this.note(`nemesis skew ${id}`);
        this.queue.push(this.now + lasting, { kind: 'unskew', node: id });
        return;
      }
      case 'pause': {
        const id = this.rng.pick(this.ids);
        this.nodes.get(id)!.paused = true;
        this.note(`nemesis pause ${id}`);
        this.queue.push(this.now + lasting, { kind: 'unpause', node: id });
        return;
      }
      case 'disk':
        return;
    }
  }

  private partition(lasting: number): void {
    const shuffled = this.rng.shuffle([...this.ids]);
    const style = this.rng.pick(['majority-minority', 'isolate', 'isolate-leader', 'bridge', 'one-way'] as const);
    const cutBoth = (a: NodeId[], b: NodeId[]) => this.links.cutBoth(a, b);
    switch (style) {
      case 'majority-minority': {
        const k = Math.floor(this.ids.length / 2);
        cutBoth(shuffled.slice(0, k), shuffled.slice(k));
        break;
      }
      case 'isolate':
        cutBoth(shuffled.slice(0, 1), shuffled.slice(1));
        break;
      case 'isolate-leader': {
        // As Jepsen's nemeses do: cut off whoever leads now; clients that know it keep using it.
        const leader = this.currentLeader() ?? shuffled[0]!;
        cutBoth([leader], this.ids.filter((id) => id !== leader));
        break;
      }
      case 'bridge': {
        // Two halves that cannot talk, and one node that talks to both.
        const k = Math.floor((this.ids.length - 1) / 2);
        cutBoth(shuffled.slice(1, 1 + k), shuffled.slice(1 + k));
        break;
      }
      case 'one-way': {
        this.links.cutOneWay(shuffled[0]!, shuffled.slice(1));
        break;
      }
    }
    this.note(`nemesis partition ${style} ${shuffled.join(',')}`);
    this.queue.push(this.now + lasting, { kind: 'heal-link-faults' });
  }

  private maybeIsolateNewLeader(id: NodeId): void {
    if (!this.o.faults.has('partition') || this.healed || !this.rng.chance(ISOLATE_NEW_LEADER_PROBABILITY)) return;
    this.links.cutBoth([id], this.ids.filter((other) => other !== id));
    this.faultsInjected++;
    this.note(`nemesis isolate new leader ${id}`);
    this.queue.push(this.now + this.rng.int(100, 600), { kind: 'heal-link-faults' });
  }

  /** The node that leads the highest term, if any node is leading. */
  private currentLeader(): NodeId | null {
    let best: { id: NodeId; term: number } | null = null;
    for (const n of this.nodes.values()) {
      const st = n.up ? n.replica.status() : null;
      if (st !== null && st.role === 'leader' && (best === null || st.term > best.term)) best = { id: n.id, term: st.term };
    }
    return best?.id ?? null;
  }

  private healLinks(): void {
    this.links.heal();
    this.note('nemesis heal links');
  }

  private crash(id: NodeId): void {
    const n = this.nodes.get(id)!;
    if (!n.up) return;
    n.up = false;
    n.incarnation++;
    n.syncing = null;
    n.proposals.clear();
    n.parked.length = 0;
    n.reads.clear();
    n.readPoints.length = 0;
    n.disk.crash(this.rng, this.o.faults.has('disk'));
    this.note(`nemesis crash ${id}`);
  }

  private restart(id: NodeId): void {
    const n = this.nodes.get(id)!;
    if (n.up) return;
    n.up = true;
    n.paused = false;
    n.wasLeader = false;
    const restored = n.disk.restore();
    // Half the restarts model a state machine that persisted itself as it applied (like etcd's
    // backend and its consistent index): it keeps what it applied, and says so through `applied`.
    // The others rebuild the state machine from the last snapshot.
    if (!this.rng.chance(0.5) || n.lastApplied < (restored.snapshot?.meta.index ?? 0)) {
      n.sm = new RegisterKv();
      if (restored.snapshot !== null) n.sm.restore(restored.snapshot.data);
      n.lastApplied = restored.snapshot?.meta.index ?? 0;
    }
    n.appliedSinceCompact = 0;
    n.lastCommit = 0;
    n.replica = this.createReplica(id, n.disk, n.lastApplied);
    n.lastTerm = n.replica.status().term;
    this.note(`restart ${id} term ${n.lastTerm}`);
    this.queue.push(this.now + this.o.tickMs / n.rate, { kind: 'tick', node: id, incarnation: n.incarnation });
    this.drive(n);
  }

  private unpause(id: NodeId): void {
    const n = this.nodes.get(id)!;
    if (!n.paused) return;
    n.paused = false;
    this.note(`resume ${id}`);
    const parked = n.parked.splice(0);
    for (const e of parked) this.handle(e);
  }

  /** The last failover (when crashes are among the faults): crash the leader of an idle cluster, restart it soon; then only reads. */
  private startFinalReads(): void {
    this.phase = 'reads';
    const leader = this.o.faults.has('crash') ? this.currentLeader() : null;
    if (leader !== null) {
      this.crash(leader);
      this.queue.push(this.now + this.rng.int(5, 50), { kind: 'restart', node: leader });
    }
    this.note('final reads');
    for (const c of this.clients) this.queue.push(this.now + this.rng.int(0, this.o.clientThinkMs), { kind: 'client-next', client: c.id });
  }

  private healAll(): void {
    this.healed = true;
    this.phase = 'drain';
    if (this.clients.every((c) => c.op === null)) this.startFinalReads();
    this.healLinks();
    for (const id of this.ids) {
      const n = this.nodes.get(id)!;
      n.rate = 1;
      if (n.paused) this.unpause(id);
      if (!n.up) this.restart(id);
    }
    this.note('heal all');
  }

  // ---- end of run ---------------------------------------------------------------------------------

  private checkLogs(): void {
    const logs = new Map<NodeId, LogView>();
    for (const n of this.nodes.values()) if (n.up && hasLogView(n.replica)) logs.set(n.id, n.replica);
    this.invariants.logMatching(logs);
  }

  private checkLiveness(): RunOutcome {
    const leaders = [...this.nodes.values()].filter((n) => n.up && n.replica.status().role === 'leader');
    if (leaders.length === 0) return { kind: 'liveness', message: `no leader ${this.o.livenessBoundMs} ms after the faults healed` };
    const stuck = this.clients.filter((c) => !c.completedAfterHeal).map((c) => c.id);
    if (stuck.length > 0) {
      return { kind: 'liveness', message: `clients ${stuck.join(',')} completed no operation within ${this.o.livenessBoundMs} ms after the faults healed` };
    }
    return { kind: 'ok' };
  }

  private createReplica(id: NodeId, disk: ModelDisk<unknown>, applied: number): Replica<Envelope, unknown> {
    return this.protocol.create({
      id,
      membership: this.membership,
      random: this.rng.fork(),
      restored: disk.restore(),
      applied: applied as Index,
      ...(this.o.mutant === undefined ? {} : { mutant: this.o.mutant }),
      ...this.protocolOptions(),
    });
  }

  /** Protocol-specific tuning for this run (each core reads the names it knows). */
  private protocolOptions(): Readonly<Record<string, unknown>> {
    return {
      electionTimeoutTicks: this.variant.electionTimeoutTicks,
      heartbeatIntervalTicks: this.o.heartbeatIntervalTicks,
      maxEntriesPerMessage: this.maxEntriesPerMessage,
      preVote: this.variant.preVote,
      checkQuorum: this.variant.checkQuorum,
      ...this.o.protocolOptions,
    };
  }
}

function describe(m: Envelope): string {
  const r = m as Envelope & { type?: string; term?: number; entries?: unknown[] };
  return `${r.type ?? 'msg'} ${m.from}>${m.to} t${r.term ?? '?'}${r.entries && r.entries.length > 0 ? ` +${r.entries.length}` : ''}`;
}

function isAssertion(err: unknown): boolean {
  return err instanceof Error && err.name === 'AssertionFailure';
}
