/**
 * The node runtime: drives a pure protocol core with real time (a tick timer), a real write-ahead
 * log (fsync before anything that depends on it leaves the node) and real TCP. It is protocol
 * neutral: it sees only the Replica contract, and looks the protocol up by name.
 *
 * The Ready loop, one Ready at a time:
 *   1. send what the core marks as independent of this Ready's persist (a leader's appends);
 *      apply committed entries in order, answer proposals and reads waiting on them (they are
 *      durable on a quorum already; if the Ready installs a snapshot, this waits for step 3);
 *   2. persist (group-committed: while one fsync is in flight, new input accumulates in the core
 *      and becomes the next, larger Ready);
 *   3. send the rest (only now: a vote or an append acknowledgement must never leave before it
 *      is durable);
 *   4. advance; take a state machine snapshot every `snapshotEveryEntries`.
 */
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { assert } from '../core/assert.js';
import { NotLeader, ProposalDropped, QuorateError, TooManyRequests } from '../core/errors.js';
import type { Index, NodeId, Term } from '../core/ids.js';
import { Prng } from '../core/prng.js';
import type {
  Envelope, LogEntry, Membership, ProtocolDefinition, ReadState, Ready, Replica, ReplicaStatus, StateMachine,
} from '../core/replica.js';
import { closeAsync, nodeFileSystem, openDurableStorage, saveAsync, saveSnapshotAsync, type DurableStorage } from '../storage/index.js';
import { PeerTransport, type PeerAddress, type PeerTls } from '../transport/index.js';
import { DEFAULT_RUNTIME_LIMITS, silentLogger, type Logger, type MemberAddresses, type RuntimeLimits } from './config.js';
import { Waiters } from './waiters.js';
import type { ForwardProposal, ForwardResult, NodeMessage } from './wire.js';

export class NodeStopped extends QuorateError {
  override readonly name = 'NodeStopped';
  constructor() {
    super('STOPPED', 'the node is stopped');
  }
}

export interface ReplicatedNodeOptions<R> {
  readonly id: NodeId;
  /** Every node of one cluster must use the same id; peers of another cluster are refused. */
  readonly clusterId: string;
  readonly dataDir: string;
  /** Where this node listens for peers. */
  readonly listen: PeerAddress;
  /** The initial cluster, this node included (used to bootstrap; later membership is in the log). */
  readonly members: readonly MemberAddresses[];
  /** Learners in the initial cluster (they must also appear in `members`). */
  readonly learners?: readonly NodeId[];
  readonly stateMachine: StateMachine<R>;
  readonly protocol: ProtocolDefinition;
  /** Protocol-specific tuning passed through to the core (e.g. electionTimeoutTicks). */
  readonly protocolOptions?: Readonly<Record<string, unknown>>;
  readonly limits?: Partial<RuntimeLimits>;
  readonly logger?: Logger;
  /** Seed for the core's randomness (election timeouts). Default: a random one. */
  readonly seed?: number;
  /** Mutual TLS between peers; plain TCP when absent. */
  readonly peerTls?: PeerTls | null;
}

/** Optional abilities a protocol core may have beyond the Replica contract. */
interface MembershipCapable {
  proposeConfigChange(change: unknown): { index: Index; term: Term };
  transferLeadership(target: NodeId): void;
}

function hasMembership(r: object): r is MembershipCapable {
  return typeof (r as Partial<MembershipCapable>).proposeConfigChange === 'function';
}

export interface NodeEvents {
  /** The known leader or term changed. */
  leader: [status: ReplicaStatus];
  /** A fatal I/O error stopped the node (e.g. fsync failed): the process should exit. */
  fatal: [err: Error];
  /** A membership change entry was applied here (the configuration after it). */
  membership: [membership: Membership];
  /** One Ready's write reached the WAL and was fsynced, in this many seconds. */
  'wal-fsync': [seconds: number];
  /** One Ready's committed entries were applied to the state machine, in this many seconds. */
  'apply-batch': [seconds: number, entries: number];
}

export class ReplicatedNode<R> extends EventEmitter<NodeEvents> {
  readonly id: NodeId;
  private readonly limits: RuntimeLimits;
  private readonly log: Logger;
  private readonly proposals: Waiters<number, R>;
  /** Term each waiting proposal was appended in: a different term at that index means it was lost. */
  private readonly proposalTerms = new Map<number, Term>();
  private readonly reads: Waiters<string, Index>;
  /** Read points confirmed by the protocol, waiting for the state machine to catch up. */
  private readonly readPoints: ReadState[] = [];
  private readonly forwarded: Waiters<number, R>;
  private nextRequestId = 1;
  private appliedIndex: Index;
  private appliedTerm: Term;
  private entriesSinceSnapshot = 0;
  private processing = false;
  private processScheduled = false;
  private stopped = false;
  private ticker: NodeJS.Timeout | null = null;
  private lastLeader: NodeId | null = null;
  /** Callers of snapshotNow() waiting for the next snapshot. */
  private snapshotWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private membershipChanged = false;
  private lastTerm = -1;

  private constructor(
    private readonly options: ReplicatedNodeOptions<R>,
    private readonly replica: Replica<Envelope, unknown>,
    private readonly storage: DurableStorage<unknown>,
    private transport: PeerTransport<NodeMessage> | null,
    applied: { index: Index; term: Term },
  ) {
    super();
    this.id = options.id;
    this.limits = { ...DEFAULT_RUNTIME_LIMITS, ...options.limits };
    this.log = options.logger ?? silentLogger;
    this.proposals = new Waiters('maxPendingProposals', this.limits.maxPendingProposals);
    this.forwarded = new Waiters('maxPendingProposals', this.limits.maxPendingProposals);
    this.reads = new Waiters('maxPendingReads', this.limits.maxPendingReads);
    this.appliedIndex = applied.index;
    this.appliedTerm = applied.term;
  }

  /** Open storage, restore the state machine, start the core, the transport and the ticker. */
  static async start<R>(options: ReplicatedNodeOptions<R>): Promise<ReplicatedNode<R>> {
    const log = options.logger ?? silentLogger;
    await mkdir(options.dataDir, { recursive: true });
    const storage = await openDurableStorage<unknown>(nodeFileSystem, join(options.dataDir, options.protocol.name), { logger: (msg: string) => log('warn', msg) });
    const restored = storage.restored();
    let applied = { index: 0 as Index, term: 0 as Term };
    if (restored.snapshot !== null) {
      options.stateMachine.restore(restored.snapshot.data);
      applied = { index: restored.snapshot.meta.index, term: restored.snapshot.meta.term };
      log('info', 'restored state machine from snapshot', { index: applied.index, term: applied.term });
    }
    const voters = options.members.map((m) => m.id).filter((id) => !(options.learners ?? []).includes(id));
    const membership: Membership = { voters, outgoingVoters: [], learners: [...(options.learners ?? [])] };
    const replica = options.protocol.create({
      ...(options.protocolOptions ?? {}),
      id: options.id,
      membership,
      random: new Prng(options.seed ?? randomInt(0, 2 ** 31)),
      restored,
      applied: applied.index,
    });
    const node = new ReplicatedNode<R>(options, replica, storage, null, applied);
    node.transport = await PeerTransport.start<NodeMessage>(
      {
        clusterId: options.clusterId,
        self: options.id,
        listen: options.listen,
        peers: new Map(options.members.filter((m) => m.id !== options.id).map((m) => [m.id, m.peer])),
        logger: (level, msg, fields) => log(level, msg, fields),
        tls: options.peerTls ?? null,
      },
      (msg) => node.receive(msg),
    );
    node.ticker = setInterval(() => node.tick(), node.limits.tickMs);
    log('info', 'node started', {
      id: options.id, restoredEntries: restored.entries.length, applied: applied.index,
      peerAddress: node.transport.address(),
    });
    node.scheduleProcess();
    return node;
  }

  status(): ReplicaStatus {
    return this.replica.status();
  }

  /** False once stop() was called or a fatal error stopped the node. */
  get running(): boolean {
    return !this.stopped;
  }

  /** The protocol core, for introspection (status, progress). Do not drive it directly. */
  get core(): Replica<Envelope, unknown> {
    return this.replica;
  }

  transportStats(): ReturnType<PeerTransport<NodeMessage>['stats']> | null {
    return this.transport?.stats() ?? null;
  }

  storageStats(): ReturnType<DurableStorage<unknown>['stats']> {
    return this.storage.stats();
  }

  /** Proposals made here (or forwarded from here) still waiting for their result. */
  pendingProposals(): number {
    return this.proposals.size + this.forwarded.size;
  }

  isLeader(): boolean {
    const s = this.replica.status();
    return s.leader === this.id && s.role === 'leader';
  }

  /**
   * Replicate a command; resolves with the state machine's result once it has been applied
   * here. On a follower the command is forwarded to the leader.
   */
  async propose(command: Uint8Array): Promise<R> {
    if (this.stopped) throw new NodeStopped();
    if (command.byteLength > this.limits.maxCommandBytes) {
      throw new QuorateError('REQUEST_TOO_LARGE', `command of ${command.byteLength} bytes exceeds maxCommandBytes=${this.limits.maxCommandBytes}`);
    }
    const s = this.replica.status();
    if (s.leader === this.id) return this.proposeHere(command);
    if (s.leader === null) throw new NotLeader(null);
    return this.forward(s.leader, command);
  }

  /**
   * A linearizable read barrier: resolves once this node's state machine reflects every write
   * committed before the call. Read the state machine right after it resolves.
   */
  async readBarrier(): Promise<void> {
    if (this.stopped) throw new NodeStopped();
    const requestId = `${this.id}/${this.nextRequestId++}`;
    const promise = this.reads.wait(requestId, this.limits.readTimeoutMs, 'linearizable read');
    try {
      this.replica.readIndex(requestId);
    } catch (err) {
      this.reads.reject(requestId, err as Error);
    }
    this.scheduleProcess();
    await promise;
  }

  /** Membership change through the protocol (Raft: single-server or joint). Leader only. */
  async changeMembership(change: unknown): Promise<void> {
    if (!hasMembership(this.replica)) throw new QuorateError('INVALID_CONFIG_CHANGE', `protocol ${this.options.protocol.name} does not support membership changes`);
    const { index, term } = this.replica.proposeConfigChange(change);
    const done = this.proposals.wait(index, this.limits.proposalTimeoutMs, 'membership change');
    this.proposalTerms.set(index, term);
    this.scheduleProcess();
    await done;
  }

  transferLeadership(target: NodeId): void {
    if (!hasMembership(this.replica)) throw new QuorateError('INVALID_ARGUMENT', `protocol ${this.options.protocol.name} does not support leadership transfer`);
    this.replica.transferLeadership(target);
    this.scheduleProcess();
  }

  /**
   * Take a state machine snapshot now and compact the log behind it (what an operator's
   * defragment asks for); resolves once the snapshot is durable.
   */
  snapshotNow(): Promise<void> {
    if (this.stopped) return Promise.reject(new NodeStopped());
    const done = new Promise<void>((resolve, reject) => this.snapshotWaiters.push({ resolve, reject }));
    this.scheduleProcess();
    return done;
  }

  /** Answer joining members' questions on the peer port (see transport/join.ts). */
  setJoinQueryHandler(handler: ((query: unknown) => unknown) | null): void {
    if (this.transport !== null) this.transport.joinQueryHandler = handler;
  }

  /** Peers joined or left: update where the transport dials. */
  setPeerAddresses(members: readonly MemberAddresses[]): void {
    this.transport?.setPeers(new Map(members.filter((m) => m.id !== this.id).map((m) => [m.id, m.peer])));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    const err = new NodeStopped();
    this.proposals.rejectAll(err);
    this.forwarded.rejectAll(err);
    this.reads.rejectAll(err);
    for (const w of this.snapshotWaiters.splice(0)) w.reject(err);
    // Let an in-flight Ready finish persisting, so a clean stop never tears the WAL.
    while (this.processing) await new Promise((r) => setTimeout(r, 5));
    await this.transport?.close();
    await closeAsync(this.storage);
    this.log('info', 'node stopped');
  }

  // ---- internals -------------------------------------------------------------------------

  private proposeHere(command: Uint8Array): Promise<R> {
    // Check the bound before appending: a command in the log whose caller was turned away
    // would still commit, which is confusing for the caller's retry logic.
    if (this.proposals.size >= this.limits.maxPendingProposals) throw new TooManyRequests('maxPendingProposals', this.limits.maxPendingProposals);
    const { index, term } = this.replica.propose(command);
    const done = this.proposals.wait(index, this.limits.proposalTimeoutMs, 'proposal');
    this.proposalTerms.set(index, term);
    this.scheduleProcess();
    return done;
  }

  private forward(leader: NodeId, command: Uint8Array): Promise<R> {
    const requestId = this.nextRequestId++;
    const done = this.forwarded.wait(requestId, this.limits.proposalTimeoutMs, 'forwarded proposal');
    const msg: ForwardProposal = { kind: 'forward-proposal', from: this.id, to: leader, requestId, command };
    if (this.transport === null || !this.transport.send(msg)) {
      this.forwarded.reject(requestId, new QuorateError('UNAVAILABLE', `cannot reach the leader ${leader}; retry`));
    }
    return done;
  }

  private receive(msg: NodeMessage): void {
    if (this.stopped) return;
    switch (msg.kind) {
      case 'protocol':
        this.replica.step(msg.message);
        this.scheduleProcess();
        return;
      case 'forward-proposal':
        this.answerForwarded(msg);
        return;
      case 'forward-result':
        if (msg.ok) this.forwarded.resolve(msg.requestId, msg.result as R);
        else this.forwarded.reject(msg.requestId, reviveError(msg.error));
        return;
      default: {
        const unknownKind: never = msg;
        this.log('warn', 'ignored a peer message of unknown kind', { kind: (unknownKind as { kind?: unknown }).kind });
      }
    }
  }

  private answerForwarded(msg: ForwardProposal): void {
    const reply = (fields: Pick<ForwardResult, 'ok' | 'result' | 'error'>) => {
      const out: ForwardResult = { kind: 'forward-result', from: this.id, to: msg.from, requestId: msg.requestId, ...fields };
      this.transport?.send(out);
    };
    let result: Promise<R>;
    try {
      if (!this.isLeader()) throw new NotLeader(this.replica.status().leader);
      result = this.proposeHere(msg.command);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (value) => reply({ ok: true, result: value }),
      (err: unknown) => reply({ ok: false, error: toForwardedError(err) }),
    );
  }

  private tick(): void {
    if (this.stopped) return;
    this.replica.tick();
    this.scheduleProcess();
  }

  private scheduleProcess(): void {
    if (this.processScheduled || this.stopped) return;
    this.processScheduled = true;
    setImmediate(() => {
      this.processScheduled = false;
      void this.process();
    });
  }

  private async process(): Promise<void> {
    if (this.processing) return; // the running loop picks new work up before it exits
    this.processing = true;
    try {
      while (!this.stopped && this.replica.hasReady()) {
        const ready = this.replica.ready();
        await this.handleReady(ready);
      }
      if (this.snapshotWaiters.length > 0 && !this.stopped) {
        const waiters = this.snapshotWaiters.splice(0);
        if (this.entriesSinceSnapshot > 0) await this.takeSnapshot();
        for (const w of waiters) w.resolve();
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.processing = false;
    }
    this.noticeLeaderChange();
    if (this.membershipChanged) {
      this.membershipChanged = false;
      this.emit('membership', this.replica.status().membership);
    }
  }

  private async handleReady(ready: Ready<Envelope, unknown>): Promise<void> {
    this.sendAll(ready.sendBeforePersist);
    // Committed entries are already durable on a quorum, so they are applied (and their callers
    // answered) while this Ready's own write is in flight, rather than one fsync later. Only a
    // snapshot this Ready installs must be in place first.
    const installsSnapshot = ready.persist !== null && ready.persist.snapshot !== null;
    if (!installsSnapshot) this.applyCommitted(ready);
    if (ready.persist !== null) {
      const t0 = performance.now();
      await saveAsync(this.storage, ready.persist);
      this.emit('wal-fsync', (performance.now() - t0) / 1000);
      if (ready.persist.snapshot !== null) {
        const snap = ready.persist.snapshot;
        this.options.stateMachine.restore(snap.data);
        this.membershipChanged = true; // the snapshot carries its own configuration
        this.appliedIndex = snap.meta.index;
        this.appliedTerm = snap.meta.term;
        this.entriesSinceSnapshot = 0;
        this.log('info', 'installed snapshot from leader', { index: snap.meta.index, term: snap.meta.term });
      }
    }
    if (this.stopped) return;
    this.sendAll(ready.send);
    if (installsSnapshot) this.applyCommitted(ready);
    this.replica.advance(ready);
    if (this.entriesSinceSnapshot >= this.limits.snapshotEveryEntries) await this.takeSnapshot();
  }

  private applyCommitted(ready: Ready<Envelope, unknown>): void {
    const t0 = performance.now();
    for (const entry of ready.apply) this.applyEntry(entry);
    if (ready.apply.length > 0) this.emit('apply-batch', (performance.now() - t0) / 1000, ready.apply.length);
    for (const rs of ready.readStates) this.readPoints.push(rs);
    this.releaseReads();
  }

  private sendAll(messages: readonly Envelope[]): void {
    for (const m of messages) this.transport?.send({ kind: 'protocol', from: m.from, to: m.to, message: m });
  }

  private applyEntry(entry: LogEntry): void {
    assert(entry.index === this.appliedIndex + 1, () => `apply in order: got ${entry.index} after ${this.appliedIndex}`);
    let result: R | undefined;
    if (entry.kind === 'command') result = this.options.stateMachine.apply(entry.data, entry.index);
    else if (entry.kind === 'config') {
      this.options.stateMachine.applyConfig?.(entry.data, entry.index);
      this.membershipChanged = true;
    }
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    this.entriesSinceSnapshot++;
    const proposedTerm = this.proposalTerms.get(entry.index);
    if (proposedTerm === undefined) return;
    this.proposalTerms.delete(entry.index);
    if (proposedTerm === entry.term) this.proposals.resolve(entry.index, result as R);
    else this.proposals.reject(entry.index, new ProposalDropped('leadership changed before the command committed'));
  }

  private releaseReads(): void {
    // Read points arrive in increasing index order per leader term; serve those now reached.
    let kept = 0;
    for (const rs of this.readPoints) {
      if (rs.index <= this.appliedIndex) this.reads.resolve(rs.requestId, rs.index);
      else this.readPoints[kept++] = rs;
    }
    this.readPoints.length = kept;
  }

  private async takeSnapshot(): Promise<void> {
    const data = this.options.stateMachine.snapshot();
    const meta = { index: this.appliedIndex, term: this.appliedTerm, membership: this.replica.status().membership };
    await saveSnapshotAsync(this.storage, { meta, data });
    this.replica.compact(meta.index, data);
    this.entriesSinceSnapshot = 0;
    this.log('info', 'snapshot taken', { index: meta.index, bytes: data.byteLength });
  }

  private noticeLeaderChange(): void {
    const s = this.replica.status();
    if (s.leader !== this.lastLeader || s.term !== this.lastTerm) {
      if (s.leader !== this.lastLeader) {
        this.log('info', s.leader === null ? 'no leader' : `leader is ${s.leader}`, { term: s.term });
        // Proposals forwarded to, and reads waiting on, the old leader would otherwise wait out
        // their whole timeout (longer than a short lease's TTL); fail them now so callers retry
        // at the new leader. A retried proposal carries the same session tag: at most once.
        if (this.lastLeader !== null && this.lastLeader !== this.id) {
          const err = new QuorateError('UNAVAILABLE', `leader ${this.lastLeader} is gone; retry`);
          this.forwarded.rejectAll(err);
          this.reads.rejectAll(err);
        }
      }
      this.lastLeader = s.leader;
      this.lastTerm = s.term;
      this.emit('leader', s);
    }
  }

  private fail(err: Error): void {
    // An fsync or write failure leaves the log in an unknown state: stop rather than guess
    // (retrying fsync after a failure can silently lose data).
    this.log('error', 'fatal: stopping node', { error: err.message });
    void this.stop();
    this.emit('fatal', err);
  }
}

function toForwardedError(err: unknown): { code: QuorateError['code']; message: string; leaderHint: NodeId | null } {
  if (err instanceof NotLeader) return { code: err.code, message: err.message, leaderHint: err.leaderHint };
  if (err instanceof QuorateError) return { code: err.code, message: err.message, leaderHint: null };
  return { code: 'UNAVAILABLE', message: err instanceof Error ? err.message : String(err), leaderHint: null };
}

function reviveError(e: ForwardResult['error']): Error {
  if (e === undefined) return new QuorateError('UNAVAILABLE', 'forwarded proposal failed without a reason');
  if (e.code === 'NOT_LEADER') return new NotLeader(e.leaderHint);
  return new QuorateError(e.code, e.message);
}
