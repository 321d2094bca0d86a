/**
 * The simulator for Byzantine-fault-tolerant protocols (PBFT). It shares the event queue, the
 * seeded PRNG, the model network's faults (latency and jitter, drops, duplicates, partitions,
 * pauses, clock drift), the register workload, the history format and the linearizability
 * checker with the crash-fault simulator, and differs where BFT differs:
 *
 * - clients are BFT clients: a signed request to the primary, then to every replica, and a result
 *   is accepted only on f + 1 matching replies (2f + 1 for read-only requests), where the generic
 *   simulator's client trusts the one node it asked;
 * - up to `byzantineCount` replicas are Byzantine, driven by the adversary in byzantine.ts;
 * - the invariants are BFT's: no two honest replicas execute different batches at one sequence
 *   number, and no client accepts a result that no honest replica produced.
 *
 * It is a separate driver rather than hooks inside simulation.ts because the generic one's
 * client, leader tracking and log invariants are built on a leader that answers alone.
 *
 * Crashes hit honest replicas only (a Byzantine one is faulty already). An honest replica writes
 * what PBFT must keep to a model disk before its messages leave; one that crashes loses what was
 * not synced (and, with the `disk` fault, may keep a torn prefix of it), restarts from the disk,
 * and must then be indistinguishable from a slow honest replica: the f budget stays with the
 * Byzantine ones.
 */
import type { Operation } from '../check/history.js';
import type { Authenticator } from '../core/authenticator.js';
import type { RestoredState } from '../core/replica.js';
import { ModelDisk } from './disk.js';
import { encodeCommand, RegisterKv, type RegisterOp, type RegisterResult, type SessionCommand } from '../statemachine/register-kv.js';
import { pack, unpack } from '../core/codec.js';
import { nodeId, type NodeId } from '../core/ids.js';
import { Prng, type Random } from '../core/prng.js';
import { byzantineFaults } from '../core/quorum.js';
import { PbftReplica, toHex, type CommittedBatch, type PbftHardState, type PbftMessage, type PbftOptions, type PbftReply } from '../protocols/pbft/index.js';
import { Adversary, type ByzantineKind } from './byzantine.js';
import { BftClient } from '../protocols/pbft/client.js';
import { EventQueue } from './event-queue.js';
import { SafetyViolation } from './invariants.js';
import type { SimOptions } from './options.js';
import { PbftHost, type ExecutedRequest } from '../protocols/pbft/host.js';
import { SimKeyring } from './sim-authenticator.js';
import type { RunOutcome, RunResult } from './simulation.js';
import { LinkFaults } from './link-faults.js';
import { SimTrace } from './trace.js';
import { randomRegisterOp, recordedOperation } from './workload.js';

export interface BftSimOptions extends SimOptions {
  readonly byzantine: ReadonlySet<ByzantineKind>;
  /** How many replicas lie (default f; f + 1 demonstrates the bound). */
  readonly byzantineCount?: number;
  /** Pre-set tuning of the PBFT cores (tests, measurements). */
  readonly pbft?: Partial<Omit<PbftOptions, 'id' | 'membership' | 'random' | 'authenticator'>>;
  /** Place the Byzantine replicas here instead of at random. */
  readonly byzantineIds?: readonly string[];
}

type Event =
  | { readonly kind: 'tick'; readonly node: NodeId }
  | { readonly kind: 'deliver'; readonly msg: PbftMessage }
  | { readonly kind: 'client-next'; readonly client: number }
  | { readonly kind: 'client-timeout'; readonly client: number; readonly attempt: number }
  | { readonly kind: 'nemesis' }
  | { readonly kind: 'heal-links' }
  | { readonly kind: 'unpause'; readonly node: NodeId }
  | { readonly kind: 'restart'; readonly node: NodeId }
  | { readonly kind: 'heal-all' };

interface Node {
  readonly id: NodeId;
  readonly index: number;
  host: PbftHost<RegisterResult>;
  readonly auth: Authenticator;
  readonly disk: ModelDisk<PbftHardState>;
  readonly byzantine: boolean;
  /** False between a crash and its restart. */
  up: boolean;
  paused: boolean;
  rate: number;
  readonly parked: PbftMessage[];
  /** A Byzantine replica's inner core may trip over what it is fed; then it just stops. */
  broken: boolean;
}

interface Client {
  readonly num: number;
  readonly bft: BftClient;
  op: { readonly op: RegisterOp; readonly invokedAt: number; readOnly: boolean } | null;
  attempt: number;
  attempts: number;
  completedAfterHeal: boolean;
}

export interface BftRunStats {
  readonly byzantine: readonly string[];
  readonly behaviours: readonly string[];
  readonly invalidAuthenticators: number;
  readonly viewChanges: number;
  readonly stateTransfers: number;
  /** Crashes of honest replicas (each restarted from its disk). */
  readonly crashes: number;
  /** Requests executed (counted once, at the honest replica that executed most). */
  readonly requestsExecuted: number;
  /** Messages delivered between replicas (protocol messages), and by type. */
  readonly replicaMessages: number;
  readonly messagesByType: Readonly<Record<string, number>>;
}

export interface BftRunResult extends RunResult {
  readonly bft: BftRunStats;
}

/** Client attempt timeout and attempts per operation, at least (the defaults of the crash-fault simulator are shorter). */
export const BFT_CLIENT_TIMEOUT_MS = 600;
export const BFT_CLIENT_ATTEMPTS = 8;
/**
 * Chance that a partition is one-way: one replica hears everyone but nobody hears it (an
 * asymmetric link failure). What it prepares then reaches no one, and the others may change view
 * without it: the window where a request is prepared at only some replicas.
 */
export const ONE_WAY_PARTITION_CHANCE = 0.3;
/**
 * Chance, per step of an honest replica that sends something during the fault window, that it
 * crashes right there: before its disk synced (the step's records and messages are lost) or
 * just after (only the messages are). It restarts within RESTART_AFTER_STEP_CRASH_MS.
 */
export const CRASH_IN_STEP_PROBABILITY = 0.0005;
/**
 * Chance of a crash just after a step whose messages include this replica's COMMIT: it has
 * promised a prepared certificate, which a VIEW-CHANGE must still carry once it is back. The
 * window where losing the disk (or writing it after sending) breaks safety.
 */
export const CRASH_AFTER_COMMIT_PROBABILITY = 0.01;
export const RESTART_AFTER_STEP_CRASH_MS = 50;

export class BftSimulation {
  private readonly rng: Random;
  private readonly queue = new EventQueue<Event>();
  private readonly nodes = new Map<NodeId, Node>();
  private readonly ids: NodeId[];
  private readonly clients: Client[] = [];
  private readonly adversary: Adversary;
  private readonly history: Operation[] = [];
  private readonly trace: SimTrace;
  private now = 0;
  private events = 0;
  private delivered = 0;
  private dropped = 0;
  private replicaMessages = 0;
  private readonly byType: Record<string, number> = {};
  private faultsInjected = 0;
  private readonly links = new LinkFaults();
  private healed = false;
  private readonly endMs: number;
  private readonly f: number;
  /** seq → description of the batch the first honest replica executed there. */
  private readonly executedAt = new Map<number, string>();
  /** client|timestamp|readOnly → results honest replicas replied with. */
  private readonly honestReplies = new Map<string, Set<string>>();
  private checks = 0;

  private readonly o: BftSimOptions;
  private readonly tuning: Partial<PbftOptions>;
  private crashes = 0;

  constructor(options: BftSimOptions) {
    // A BFT client waits through a view change (request timeout plus view-change timeout) before it gives up.
    const o: BftSimOptions = { ...options, clientTimeoutMs: Math.max(options.clientTimeoutMs, BFT_CLIENT_TIMEOUT_MS), clientAttempts: Math.max(options.clientAttempts, BFT_CLIENT_ATTEMPTS) };
    this.o = o;
    this.trace = new SimTrace(o.trace);
    this.rng = new Prng(o.seed);
    this.ids = Array.from({ length: o.nodes }, (_, i) => nodeId(`n${i + 1}`));
    this.f = byzantineFaults(o.nodes);
    this.endMs = o.faultWindowMs + o.livenessBoundMs;
    const keyring = new SimKeyring(this.rng.fork());
    const count = Math.min(o.byzantine.size === 0 ? 0 : (o.byzantineCount ?? this.f), o.nodes);
    let byz: NodeId[];
    if (o.byzantineIds !== undefined) byz = o.byzantineIds.map(nodeId);
    else {
      // Half the runs put the first primary among the liars: equivocation and silence need a primary.
      const others = this.rng.shuffle(this.ids.filter((id) => id !== this.ids[0]));
      byz = count === 0 ? [] : this.rng.chance(0.5) ? [this.ids[0]!, ...others.slice(0, count - 1)] : others.slice(0, count);
    }
    const byzSet = new Set(byz);
    const tuning = {
      requestTimeoutTicks: 30, viewChangeTimeoutTicks: 30, retransmitTicks: 10, announceTicks: 50,
      checkpointIntervalSeqs: this.rng.pick([4, 8, 16]), maxBatchRequests: this.rng.pick([1, 4, 16]),
      ...(o.protocolOptions as Partial<PbftOptions> | undefined), ...o.pbft,
    };
    this.tuning = tuning;
    for (const [i, id] of this.ids.entries()) {
      const auth = keyring.authenticatorFor(id);
      const disk = new ModelDisk<PbftHardState>();
      const byzantine = byzSet.has(id);
      const node: Node = { id, index: i + 1, host: this.createHost(id, auth, byzantine ? null : disk, null), auth, disk, byzantine, up: true, paused: false, rate: 1, parked: [], broken: false };
      if (!node.byzantine) node.host.onExecute = (batch, results) => this.onHonestExecute(node, batch, results);
      this.nodes.set(id, node);
      this.queue.push(this.rng.int(0, o.tickMs - 1), { kind: 'tick', node: id });
    }
    const byzAuths = new Map(byz.map((id) => [id, keyring.authenticatorFor(id)] as const));
    const someReplica = this.nodes.get(this.ids[0]!)!.host.replica;
    this.adversary = new Adversary(this.rng.fork(), o.byzantine, byzSet, this.ids, byzAuths, (b) => someReplica.batchDigest(b), tuning.requestTimeoutTicks * o.tickMs * 0.8);
    for (let c = 0; c < o.clients; c++) {
      this.clients.push({ num: c + 1, bft: new BftClient(keyring.authenticatorFor(`c${c + 1}`), this.ids), op: null, attempt: 0, attempts: 0, completedAfterHeal: false });
      this.queue.push(this.rng.int(0, 50), { kind: 'client-next', client: c + 1 });
    }
    if (o.faults.size > 0) this.queue.push(this.rng.int(200, 800), { kind: 'nemesis' });
    this.queue.push(o.faultWindowMs, { kind: 'heal-all' });
    this.note(`byzantine ${byz.join(',') || 'none'}: ${[...this.adversary.active].join(',') || 'none'}`);
  }

  /** A replica and its host on a fresh state machine; from `restored` after a restart. Honest replicas write to `disk`. */
  private createHost(id: NodeId, auth: Authenticator, disk: ModelDisk<PbftHardState> | null, restored: RestoredState<PbftHardState> | null): PbftHost<RegisterResult> {
    const replica = new PbftReplica({
      ...this.tuning, id, membership: { voters: this.ids, outgoingVoters: [], learners: [] }, random: this.rng.fork(), authenticator: auth,
      ...(this.o.mutant === undefined ? {} : { mutant: this.o.mutant }),
      ...(restored === null ? {} : { restored }),
    });
    const sm = new RegisterKv();
    const host = new PbftHost<RegisterResult>(replica, {
      sm,
      query: (op) => ({ ok: true, value: sm.get((unpack(op) as SessionCommand).op.key) }),
      encodeResult: (r) => pack(r),
    }, auth, restored?.snapshot ?? null);
    if (disk !== null) host.persister = { save: (p) => disk.write(p), saveCheckpoint: (c) => disk.saveSnapshot(c) };
    return host;
  }

  run(): BftRunResult {
    let outcome: RunOutcome = { kind: 'ok' };
    try {
      for (;;) {
        const next = this.queue.pop();
        if (next === undefined || next.at > this.endMs) break;
        this.now = next.at;
        this.events++;
        this.handle(next.event);
      }
      const stuck = this.clients.filter((c) => !c.completedAfterHeal).map((c) => c.num);
      if (stuck.length > 0) outcome = { kind: 'liveness', message: `clients ${stuck.join(',')} completed no operation within ${this.o.livenessBoundMs} ms after the faults healed` };
    } catch (err) {
      if (!(err instanceof SafetyViolation) && !(err instanceof Error && err.name === 'AssertionFailure')) throw err;
      const invariant = err instanceof SafetyViolation ? err.invariant : 'protocol assertion';
      outcome = { kind: 'safety', invariant, message: (err as Error).message, atMs: this.now };
    }
    for (const c of this.clients) if (c.op !== null) this.record(c, 'unknown', undefined);
    let invalid = 0;
    let viewChanges = 0;
    let transfers = 0;
    let executed = 0;
    for (const n of this.nodes.values()) {
      if (n.byzantine) continue;
      const s = n.host.replica.status();
      invalid += s.invalidAuthenticators;
      viewChanges = Math.max(viewChanges, s.view);
      transfers += s.stateTransfers;
    }
    for (const d of this.executedAt.values()) executed += d === 'null' ? 0 : d.split(',').length;
    return {
      outcome,
      history: this.history,
      trace: this.trace.lines,
      traceHash: this.trace.hash,
      stats: {
        seed: this.o.seed, messagesDelivered: this.delivered, messagesDropped: this.dropped, operations: this.history.length,
        simulatedMs: this.now, events: this.events, invariantChecks: this.checks, faultsInjected: this.faultsInjected,
      },
      bft: {
        byzantine: [...this.nodes.values()].filter((n) => n.byzantine).map((n) => n.id), behaviours: [...this.adversary.active],
        invalidAuthenticators: invalid, viewChanges, stateTransfers: transfers, crashes: this.crashes, requestsExecuted: executed,
        replicaMessages: this.replicaMessages, messagesByType: { ...this.byType },
      },
    };
  }

  private handle(e: Event): void {
    switch (e.kind) {
      case 'tick': return this.onTick(e.node);
      case 'deliver': return this.onDeliver(e.msg);
      case 'client-next': return this.onClientNext(e.client);
      case 'client-timeout': return this.onClientTimeout(e.client, e.attempt);
      case 'nemesis': return this.onNemesis();
      case 'heal-links': return this.healLinks();
      case 'unpause': return this.unpause(e.node);
      case 'restart': return this.restart(e.node);
      case 'heal-all': return this.healAll();
    }
  }

  private note(line: string): void {
    this.trace.note(this.now, line);
  }

  // ---- replicas -------------------------------------------------------------------------------

  private onTick(id: NodeId): void {
    const n = this.nodes.get(id)!;
    this.queue.push(this.now + this.o.tickMs / n.rate, { kind: 'tick', node: id });
    if (n.paused || n.broken || !n.up) return;
    this.guard(n, () => n.host.replica.tick());
  }

  /** Run `fn` on a replica's core, then send what it produced. A Byzantine core that trips just stops. */
  private guard(n: Node, fn: () => void): void {
    try {
      fn();
      const msgs = n.host.process();
      if (!n.byzantine) {
        // Persist, then send: a crash before the sync loses the step's records and its messages.
        if (this.crashInStep(n, msgs.length, CRASH_IN_STEP_PROBABILITY)) return;
        n.disk.sync();
        const committing = msgs.some((m) => m.type === 'commit' && m.retransmitted !== true);
        if (this.crashInStep(n, msgs.length, committing ? CRASH_AFTER_COMMIT_PROBABILITY : CRASH_IN_STEP_PROBABILITY)) return;
      }
      this.emit(n, msgs);
    } catch (err) {
      if (!n.byzantine) throw err;
      n.broken = true;
      this.note(`byzantine ${n.id} stopped: ${(err as Error).message}`);
    }
  }

  private onDeliver(msg: PbftMessage): void {
    if (msg.type === 'reply') return this.onReply(msg);
    const n = this.nodes.get(msg.to);
    if (n === undefined) return;
    if (!n.up) {
      this.dropped++;
      return;
    }
    if (n.paused) {
      n.parked.push(msg);
      return;
    }
    this.delivered++;
    if (this.nodes.has(msg.from)) {
      this.replicaMessages++;
      this.byType[msg.type] = (this.byType[msg.type] ?? 0) + 1;
    }
    if (this.o.trace) this.note(`deliver ${msg.type} ${msg.from}>${msg.to}`);
    else this.trace.mix(this.now, n.index, msg.type.length);
    if (n.broken) return;
    if (n.byzantine) for (const o of this.adversary.observe(msg, n.id)) this.send(o.msg, o.delayMs);
    this.guard(n, () => n.host.replica.step(msg));
  }

  private emit(n: Node, msgs: PbftMessage[]): void {
    for (const m of msgs) {
      if (m.type === 'reply' && !n.byzantine) this.honestReply(m);
      if (n.byzantine) {
        for (const o of this.adversary.transform(m)) this.send(o.msg, o.delayMs);
      } else {
        this.send(m, 0);
      }
    }
  }

  private send(m: PbftMessage, extraMs: number): void {
    if (this.links.loses(this.rng, m.from, m.to)) {
      this.dropped++;
      return;
    }
    const copies = this.links.copies(this.rng);
    for (let i = 0; i < copies; i++) this.queue.push(this.now + extraMs + this.latency(), { kind: 'deliver', msg: m });
  }

  private latency(): number {
    return this.o.latencyBaseMs + this.rng.float() * this.o.latencyJitterMs;
  }

  // ---- invariants -----------------------------------------------------------------------------

  private onHonestExecute(n: Node, batch: CommittedBatch, _results: readonly ExecutedRequest<RegisterResult>[]): void {
    this.checks++;
    const what = batch.requests.map((r) => `${r.client}:${r.timestamp}`).join(',') || 'null';
    const seen = this.executedAt.get(batch.seq);
    if (seen !== undefined && seen !== what) {
      throw new SafetyViolation('agreement', `${n.id} executed [${what}] at sequence ${batch.seq}, another honest replica executed [${seen}]`);
    }
    this.executedAt.set(batch.seq, what);
  }

  private honestReply(m: PbftReply): void {
    const key = `${m.client}|${m.timestamp}|${m.readOnly ? 1 : 0}`;
    let set = this.honestReplies.get(key);
    if (set === undefined) {
      set = new Set();
      this.honestReplies.set(key, set);
    }
    set.add(toHex(m.result));
  }

  // ---- clients ------------------------------------------------------------------------------

  private onClientNext(num: number): void {
    const c = this.clients[num - 1]!;
    if (this.now >= this.endMs - this.o.clientTimeoutMs) return;
    const key = `k${this.rng.int(1, this.o.keys)}`;
    const op = randomRegisterOp(this.rng, key);
    c.op = { op, invokedAt: this.now, readOnly: op.f === 'get' && this.rng.chance(0.5) };
    c.attempts = 0;
    this.begin(c);
  }

  private begin(c: Client): void {
    const op = c.op!;
    c.attempt++;
    c.attempts++;
    const cmd = encodeCommand({ client: c.num, seq: c.bft.nextTimestamp, op: op.op });
    for (const m of c.bft.begin(cmd, op.readOnly)) this.send(m, 0);
    this.queue.push(this.now + this.o.clientTimeoutMs, { kind: 'client-timeout', client: c.num, attempt: c.attempt });
  }

  private onClientTimeout(num: number, attempt: number): void {
    const c = this.clients[num - 1]!;
    if (c.op === null || attempt !== c.attempt) return;
    if (c.attempts >= this.o.clientAttempts) {
      this.record(c, 'unknown', undefined);
      this.queue.push(this.now + this.o.clientThinkMs, { kind: 'client-next', client: c.num });
      return;
    }
    if (c.op.readOnly) {
      // No 2f + 1 matching read-only replies: ask again as an ordered request.
      c.op.readOnly = false;
      this.begin(c);
      return;
    }
    c.attempt++;
    c.attempts++;
    for (const m of c.bft.retry()) this.send(m, 0);
    this.queue.push(this.now + this.o.clientTimeoutMs, { kind: 'client-timeout', client: c.num, attempt: c.attempt });
  }

  private onReply(m: PbftReply): void {
    const c = this.clients.find((x) => x.bft.id === m.client);
    if (c === undefined || c.op === null) return;
    const accepted = c.bft.onReply(m);
    if (accepted === null) return;
    this.checks++;
    const key = `${m.client}|${accepted.timestamp}|${accepted.readOnly ? 1 : 0}`;
    if (!(this.honestReplies.get(key)?.has(toHex(accepted.result)) ?? false)) {
      throw new SafetyViolation('client accepted a forged result', `client ${m.client} accepted a result for timestamp ${accepted.timestamp} that no honest replica produced`);
    }
    const r = unpack(accepted.result) as RegisterResult;
    const { op } = c.op;
    if (op.f === 'get') this.record(c, 'ok', r.value);
    else if (op.f === 'cas') this.record(c, r.ok ? 'ok' : 'fail', undefined);
    else this.record(c, 'ok', undefined);
    this.queue.push(this.now + this.o.clientThinkMs, { kind: 'client-next', client: c.num });
  }

  private record(c: Client, outcome: Operation['outcome'], result: number | null | undefined): void {
    const pending = c.op;
    if (pending === null) return;
    const { op } = pending;
    const recorded = recordedOperation(this.history.length, c.num, op, outcome, pending.invokedAt, this.now, result);
    this.history.push(recorded);
    if (outcome === 'ok' && this.healed) c.completedAfterHeal = true;
    this.note(`client ${c.num} ${op.f} ${op.key} → ${outcome}`);
    c.op = null;
  }

  // ---- the nemesis (network faults; Byzantine replicas stay Byzantine) ---------------------------

  private onNemesis(): void {
    if (this.now >= this.o.faultWindowMs) return;
    this.queue.push(this.now + this.rng.int(300, 1500), { kind: 'nemesis' });
    const kinds = [...this.o.faults].filter((k) => k === 'partition' || k === 'drop' || k === 'pause' || k === 'skew' || k === 'crash');
    if (kinds.length === 0) return;
    const fault = this.rng.pick(kinds);
    this.faultsInjected++;
    const lasting = this.rng.int(300, 2500);
    switch (fault) {
      case 'partition': {
        if (this.rng.chance(ONE_WAY_PARTITION_CHANCE)) {
          // PBFT's adversary schedules the network too: it mutes an honest replica when it has one.
          const honest = this.ids.filter((id) => !this.nodes.get(id)!.byzantine);
          const mute = this.rng.pick(honest.length > 0 ? honest : this.ids);
          this.links.cutOneWay(mute, this.ids);
          this.note(`nemesis one-way partition: ${mute} is not heard`);
          this.queue.push(this.now + lasting, { kind: 'heal-links' });
          return;
        }
        const shuffled = this.rng.shuffle([...this.ids]);
        const k = this.rng.int(1, Math.floor(this.ids.length / 2));
        this.links.cutBoth(shuffled.slice(0, k), shuffled.slice(k));
        this.note(`nemesis partition ${shuffled.slice(0, k).join(',')} | ${shuffled.slice(k).join(',')}`);
        this.queue.push(this.now + lasting, { kind: 'heal-links' });
        return;
      }
      case 'drop':
        this.note(`nemesis ${this.links.makeLossy(this.rng)}`);
        this.queue.push(this.now + lasting, { kind: 'heal-links' });
        return;
      case 'pause': {
        const id = this.rng.pick(this.ids);
        this.nodes.get(id)!.paused = true;
        this.note(`nemesis pause ${id}`);
        this.queue.push(this.now + lasting, { kind: 'unpause', node: id });
        return;
      }
      case 'skew': {
        const id = this.rng.pick(this.ids);
        this.nodes.get(id)!.rate = 0.5 + this.rng.float() * 1.5;
        this.note(`nemesis skew ${id}`);
        return;
      }
      case 'crash': {
        const up = this.ids.map((id) => this.nodes.get(id)!).filter((n) => !n.byzantine && n.up);
        if (up.length === 0) return;
        const n = this.rng.pick(up);
        this.crash(n);
        this.queue.push(this.now + this.rng.int(20, lasting), { kind: 'restart', node: n.id });
        return;
      }
      default:
        return;
    }
  }

  // ---- crashes (honest replicas only) --------------------------------------------------------------

  /** Now and then, crash an honest replica in the middle of a step that sends (see CRASH_IN_STEP_PROBABILITY). */
  private crashInStep(n: Node, sending: number, probability: number): boolean {
    if (!this.o.faults.has('crash') || this.healed || sending === 0 || !this.rng.chance(probability)) return false;
    this.faultsInjected++;
    this.crash(n);
    this.queue.push(this.now + this.rng.int(0, RESTART_AFTER_STEP_CRASH_MS), { kind: 'restart', node: n.id });
    return true;
  }

  private crash(n: Node): void {
    n.up = false;
    n.paused = false;
    n.parked.length = 0;
    n.disk.crash(this.rng, this.o.faults.has('disk'));
    this.crashes++;
    this.note(`nemesis crash ${n.id}`);
  }

  private restart(id: NodeId): void {
    const n = this.nodes.get(id)!;
    if (n.up) return;
    n.up = true;
    n.host = this.createHost(n.id, n.auth, n.disk, n.disk.restore());
    n.host.onExecute = (batch, results) => this.onHonestExecute(n, batch, results);
    this.note(`restart ${id} view ${n.host.replica.status().view}`);
    this.guard(n, () => {});
  }

  private healLinks(): void {
    this.links.heal();
    this.note('nemesis heal links');
  }

  private unpause(id: NodeId): void {
    const n = this.nodes.get(id)!;
    if (!n.paused) return;
    n.paused = false;
    for (const m of n.parked.splice(0)) this.onDeliver(m);
  }

  private healAll(): void {
    this.healed = true;
    this.healLinks();
    for (const n of this.nodes.values()) {
      n.rate = 1;
      this.restart(n.id);
      this.unpause(n.id);
    }
    this.note('heal all');
  }
}
