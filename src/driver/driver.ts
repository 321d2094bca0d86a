/**
 * The one driver: the only code that handles a protocol core's `Ready`. The node runtime is this
 * driver with real ports (files, TCP, timers); the simulator is this driver with model ports
 * (a model file system under the same WAL code, a model network, virtual time). So a bug the
 * simulator finds here is a bug in the code that ships.
 *
 * The Ready loop, one Ready at a time:
 *   1. send what the core marks as independent of this Ready's persist (a leader's appends);
 *      apply committed entries (they are durable on a quorum already) and answer the proposals
 *      and reads waiting on them — unless the Ready installs a snapshot, which must be durable
 *      and restored first;
 *   2. persist through the storage port (group-committed: while one fsync is in flight, new input
 *      accumulates in the core and becomes the next, larger Ready);
 *   3. once durable: restore an installed snapshot, send the rest (a vote or an acknowledgement
 *      never leaves before it is durable), send replies the apply produced, keep a snapshot the
 *      Ready asks to keep;
 *   4. advance; snapshot the state machine every `snapshotEveryEntries` applied entries.
 *
 * A host that installs a received snapshot in slices (ReplicaHost.beginInstall) restores it over
 * later turns while the member goes on talking: the Ready that carries it is sent and advanced
 * once the snapshot is durable, and later Readies are persisted, sent and advanced as usual. What
 * reads the state machine waits for the install's end: their committed entries are held, in
 * order, and applied onto the installed state after it (see `held`; their read points, confirmed
 * already, wait for the state machine's position as any read point does); no snapshot of our own
 * is taken meanwhile.
 *
 * Every port completes through callbacks (never Promises) so the simulator can run all of it on
 * its own clock. The node runtime wraps the callbacks in Promises for its callers.
 */
import { assert } from '../core/assert.js';
import { principalMember, type Authenticator, type Principal } from '../core/authenticator.js';
import { QuorateError } from '../core/errors.js';
import type { Index, NodeId, Term } from '../core/ids.js';
import type { Random } from '../core/prng.js';
import type { AppliedPosition, ApplyOutput, DurableStateMachine, ProtocolDefinition, ReplicaHost } from '../core/protocol.js';
import type { Envelope, LogEntry, Membership, Persist, ReadState, Ready, Replica, ReplicaStatus, Snapshot, SnapshotEncoding, SnapshotMeta, StateMachine } from '../core/replica.js';
import { CheckedReplica } from './checked-replica.js';
import { CommandHost } from './command-host.js';
import { SliceLoop } from './slice-loop.js';
import { LeaderProposals, type Leadership } from './leader-proposals.js';
import { driverLimits, type DriverLimits } from './limits.js';
import { isDriverMutant, type DriverMutant } from './mutants.js';
import { silentLogger, type ClockPort, type Logger, type NetworkPort, type StoragePort } from './ports.js';
import { QuorumProposals } from './quorum-proposals.js';
import type { Reply } from './waiters.js';
import { wireValidator, type NodeMessage } from './wire.js';
import { InvalidMessage, type MessageValidator } from '../core/validate.js';

export class NodeStopped extends QuorateError {
  override readonly name = 'NodeStopped';
  constructor() {
    super('STOPPED', 'the node is stopped');
  }
}

/** What the driver tells the runtime around it (metrics, the server, the simulator's checks). */
export interface DriverEvents<R> {
  /** The known leader or term changed. */
  leader?(status: ReplicaStatus): void;
  /** A membership change was applied here, or a snapshot installed (the configuration after it). */
  membership?(membership: Membership): void;
  /** One Ready's committed entries were applied to the state machine, in this many seconds. */
  applyBatch?(seconds: number, entries: number): void;
  /** A storage failure stopped the driver (the process should exit). */
  fatal?(err: Error): void;
  /**
   * A Ready's persist is being written; `sentBeforeDurable` of its messages have already left
   * (a leader's appends may; anything else that does is a bug the simulator aims its faults at).
   */
  persisting?(persist: Persist<unknown>, sentBeforeDurable: number): void;
  /**
   * `messages` left through Replica.takeEarly while a Ready's persist was being written (a
   * leader's, and a Multi-Paxos follower's forwarded reads, may; anything else that does is a bug
   * the simulator aims its faults at, as for `persisting`).
   */
  sentWhileSaving?(messages: number): void;
  /** A snapshot the protocol asks to keep (its stable checkpoint) is being written. */
  keeping?(snapshot: Snapshot): void;
  /** Committed entries applied here, in order. */
  appliedEntries?(entries: readonly LogEntry[]): void;
  /** A client request executed here at log position `at` (quorum client model). */
  executed?(client: Principal, timestamp: number, result: R | undefined, readOnly: boolean, at: Index): void;
  /** A frame failed the message schema and was dropped (counted in `invalidMessages`). */
  refused?(frame: unknown, reason: string): void;
}

export interface DriverOptions<R> {
  readonly id: NodeId;
  readonly protocol: ProtocolDefinition;
  readonly storage: StoragePort<unknown>;
  readonly network: NetworkPort<NodeMessage>;
  readonly clock: ClockPort;
  readonly stateMachine: StateMachine<R>;
  /** Deterministic encoding of a result (compared across replicas' replies under the quorum model). */
  readonly encodeResult: (result: R) => Uint8Array;
  /** The bootstrap configuration; ignored once the log or a snapshot holds one. */
  readonly membership: Membership;
  /** The protocol's own options (timing, variant, tuning), passed to its core. */
  readonly protocolOptions?: Readonly<Record<string, unknown>>;
  readonly random: Random;
  /** Byzantine protocols: the authenticator of a principal this member holds keys for (itself, its clients). */
  readonly authenticatorFor?: (principal: Principal) => Authenticator;
  /** Quorum client model: timestamps of this incarnation's clients start above this (it must grow across restarts). */
  readonly firstClientTimestamp?: number;
  /**
   * Names this incarnation of the member (request ids carry it). The node runtime passes one
   * from the system's randomness: the seeded `random` repeats itself for a repeated seed. Absent
   * (the simulator), it is drawn from `random`, so a seed reproduces a run exactly.
   */
  readonly incarnation?: string;
  readonly limits?: Partial<DriverLimits>;
  readonly logger?: Logger;
  readonly events?: DriverEvents<R>;
  /**
   * The state machine persists itself as it applies (etcd's backend and its consistent index;
   * also when it implements DurableStateMachine). The driver then applies a Ready's entries only
   * once the Ready's own persist is durable: a state machine that kept an entry the local log
   * lost in a power loss would start ahead of its own log.
   */
  readonly stateMachineDurable?: boolean;
  /**
   * Where a durable state machine stands after a restart; absent: it asks the state machine
   * (DurableStateMachine).
   */
  readonly stateMachineApplied?: AppliedPosition | null;
  /**
   * Milliseconds per protocol tick. Given, the driver accounts for clock time: each `tick()` of
   * the runtime's ticker covers one tick, and before every input the driver hands the core any
   * whole ticks of `clock.now()` no tick covered (Replica.elapse). A process that stalled (a GC
   * pause, SIGSTOP, a loaded event loop) then acts on nothing before its core knows the time it
   * lost: a leader's lease has run out before it serves a read. Its timers still take one step
   * per tick (no burst of elections, heartbeats or retransmissions after a stall). The clock must
   * be monotonic; time a host spends suspended is not counted by CLOCK_MONOTONIC. Absent (unit
   * tests), each `tick()` is one tick and nothing else.
   */
  readonly tickMs?: number;
  /** Test-only: a mutant of the protocol (passed to its core) or of the driver (DRIVER_MUTANTS). */
  readonly mutant?: string;
  /**
   * Refuse a protocol frame whose message names a sender its frame's sender does not host
   * (default true; see WireValidatorOptions.senderHostsMessage). The simulator turns it off to
   * let its liars' forged names reach the cores that must catch them.
   */
  readonly senderHostsMessage?: boolean;
}

export class Driver<R> {
  readonly id: NodeId;
  /** See DriverOptions.incarnation. */
  readonly incarnation: string;
  readonly limits: DriverLimits;
  /** Frames refused by the message schema (never stepped); see receive(). */
  invalidMessages = 0;
  private invalidUnlogged = 0;
  private invalidLoggedAtMs = -Infinity;
  private readonly validate: MessageValidator<NodeMessage>;
  private readonly core: CheckedReplica<Envelope, unknown>;
  private readonly host: ReplicaHost<Envelope, unknown, R>;
  private readonly leaderModel: LeaderProposals<R> | null;
  private readonly quorumModel: QuorumProposals<Envelope, R> | null;
  private readonly log: Logger;
  private readonly events: DriverEvents<R>;
  private readonly mutant: DriverMutant | null;
  private position: AppliedPosition;
  /** See DriverOptions.stateMachineDurable. */
  private readonly durableStateMachine: boolean;
  private entriesSinceSnapshot = 0;
  /** A Ready whose persist is being made durable; no other Ready is taken meanwhile. */
  private saving = false;
  /** That Ready, whether it was applied and sent before its persist. */
  private savingReady: Ready<Envelope, unknown> | null = null;
  private savingAppliedEarly = false;
  private savingSentEarly = false;
  private kicked = false;
  /** Readys handled so far (observers check invariants only after a step that handled one). */
  readies = 0;
  private noticedReadies = -1;
  private stopped = false;
  /** Membership changes applied here, answered once the core has advanced past them (see changeMembership). */
  private readonly repliesAfterAdvance: Reply<void>[] = [];
  private snapshotting = false;
  /** A snapshot being encoded in slices (snapshotting is true meanwhile), with the position it is of. */
  private encoding: { readonly source: SnapshotEncoding; readonly slices: SliceLoop<Uint8Array> } | null = null;
  /**
   * The host's own encoding being stepped a slice per turn (ReplicaHost.encodingInFlight: PBFT's
   * checkpoint); null while the host has none in flight, or it was dropped.
   */
  private hostEncoding: SliceLoop<true> | null = null;
  /**
   * A received snapshot being installed in slices (ReplicaHost.beginInstall). The Ready that
   * carries it was finished when the install began (its messages sent, the core advanced past it);
   * its committed part and every later Ready's wait in `held` until the install is done.
   */
  /** A received snapshot being decoded before the core acknowledges it (beginCheck). At most one. */
  private checking: { readonly meta: SnapshotMeta; readonly slices: SliceLoop<boolean> } | null = null;
  private installing: {
    readonly snapshot: Snapshot; readonly slices: SliceLoop<AppliedPosition>;
    /** The apply-while-installing mutant: `position` moved to the snapshot at the start, and nothing is held. */
    readonly early: boolean;
  } | null = null;
  /**
   * The committed part of the Readies finished while the state machine stands behind the core
   * (behindCore(): a sliced install runs, or what it held is being applied): their persists are
   * durable, their messages sent and the core advanced past them, but their entries must apply
   * onto the installed state, and the answers that rest on applies wait for that (their read
   * points, confirmed already, go to the proposals at once: see hold). Applied in order after
   * the install, a slice per turn (`draining`); until it is empty every later Ready's committed
   * part joins its end, so entries apply in the order they
   * would without slicing. Meanwhile `position` stays what the state machine holds, behind the
   * core's applied index. Bounded by maxEntriesHeldWhileInstalling / maxBytesHeldWhileInstalling
   * (see heldFull). Empty whenever the state machine is not behind the core.
   */
  private readonly held: Ready<Envelope, unknown>[] = [];
  /** Entries in `held` (a Ready holding none counts as one), and their bytes. */
  private heldEntries = 0;
  private heldBytes = 0;
  /** `held` being applied after an install, a snapshotSliceBytes slice per turn. */
  private draining: SliceLoop<true> | null = null;
  private snapshotWaiters: Reply<void>[] = [];
  /** Callers of snapshotNow() waiting for the snapshot being saved (a stop answers them too). */
  private readonly snapshotSaving: Reply<void>[] = [];
  /** Replies produced by applying a Ready before its persist is durable; they leave with `send`. */
  private heldReplies: Envelope[] = [];
  /** Leadership as last noticed (after a step that handed out a Ready). */
  private lastLeadership: Leadership = { leader: null, term: -1 as Term, leading: false };
  private membershipChanged = false;
  private readonly output: ApplyOutput<Envelope, R>;
  /** Clock time up to which ticks have run (tickMs given). */
  private tickedUntil: number;
  // The ports, kept in fields of the driver's own: callers build DriverOptions in different
  // shapes (optional fields present or not), and code reading the ports through it on the hot
  // path was thrown away each time an options object of another shape came along.
  private readonly clock: ClockPort;
  private readonly network: NetworkPort<NodeMessage>;
  private readonly storage: StoragePort<unknown>;
  private readonly protocol: ProtocolDefinition;
  private readonly stateMachine: StateMachine<R>;
  /** DriverOptions.tickMs, read before every input (so kept here for the reason above). */
  private readonly tickMs: number | undefined;

  constructor(private readonly o: DriverOptions<R>) {
    this.id = o.id;
    this.clock = o.clock;
    this.network = o.network;
    this.storage = o.storage;
    this.protocol = o.protocol;
    this.stateMachine = o.stateMachine;
    this.tickMs = o.tickMs;
    // Flags that only a stop or an installed snapshot change, written once now: V8 treats a field
    // never written after construction as a constant, and the first later write (often long into
    // a process running many simulations) threw away every piece of code optimized on that.
    this.stopped = true;
    this.membershipChanged = true;
    this.stopped = false;
    this.membershipChanged = false;
    this.limits = driverLimits(o.limits);
    this.log = o.logger ?? silentLogger;
    this.events = o.events ?? {};
    this.mutant = isDriverMutant(o.mutant) ? o.mutant : null;
    if (o.tickMs !== undefined && !(o.tickMs > 0)) throw new QuorateError('INVALID_ARGUMENT', `tickMs must be positive, got ${o.tickMs}`);
    this.tickedUntil = o.clock.now();
    const protocol = o.protocol;
    const self = this; // for the getters below: proposals ask whether the driver still runs
    // Drawn first, before the core takes its randomness: names this incarnation (see ProposalSite.incarnation).
    // (Drawn even when one is given, so the core's random stream does not depend on it.)
    const drawn = o.random.nextUint32().toString(36);
    const incarnation = o.incarnation ?? drawn;
    this.incarnation = incarnation;
    const restored = o.storage.restored();
    this.durableStateMachine = o.stateMachineDurable === true || isDurable(o.stateMachine);
    const durable = o.stateMachineApplied ?? (isDurable(o.stateMachine) ? o.stateMachine.durableApplied() : null);
    const snapshotIndex = restored.snapshot?.meta.index ?? 0;
    const applied = durable !== null && durable.index >= snapshotIndex ? durable.index : snapshotIndex;
    const authenticator = protocol.keys === 'per-member' ? this.authenticatorFor(o.id) : null;
    const coreMutant = o.mutant !== undefined && protocol.mutants.some((m) => m.name === o.mutant) ? o.mutant : undefined;
    const replica: Replica<Envelope, unknown> = protocol.create({
      maxCommandBytes: this.limits.maxCommandBytes,
      ...o.protocolOptions,
      id: o.id,
      membership: o.membership,
      random: o.random,
      restored,
      applied: applied as Index,
      // A received snapshot up to maxSnapshotBytesDecodedBeforeAck is decoded before the core
      // acknowledges it (Ready.checkSnapshot), when the default host can decode it apart from the
      // state (beginRestore).
      checkSnapshotsUpToBytes: protocol.createHost === undefined && o.stateMachine.beginRestore !== undefined && this.mutant !== 'ack-before-decode'
        ? this.limits.maxSnapshotBytesDecodedBeforeAck : 0,
      ...(coreMutant === undefined ? {} : { mutant: coreMutant }),
      ...(authenticator === null ? {} : { authenticator }),
    });
    this.core = new CheckedReplica(replica);
    this.validate = wireValidator({
      protocol: protocol.messageValidator(o.protocolOptions ?? {}) as MessageValidator<Envelope>,
      senderHostsMessage: o.senderHostsMessage ?? true,
    });
    this.host = protocol.createHost?.<R>({ replica, stateMachine: o.stateMachine, encodeResult: o.encodeResult, authenticator })
      ?? new CommandHost<Envelope, unknown, R>(o.stateMachine);
    this.position = this.host.restart(restored.snapshot, durable) ?? { index: 0 as Index, term: 0 as Term };
    if (protocol.client.kind === 'leader') {
      this.leaderModel = new LeaderProposals<R>({
        id: o.id,
        incarnation,
        get running() { return self.running; },
        leadership: () => {
          const s = this.core.status();
          return { leader: s.leader, leading: s.leading };
        },
        forwardsProposals: () => this.core.forwardsProposals(),
        appendToLog: (command) => this.core.propose(command),
        askReadIndex: (requestId) => this.core.readIndex(requestId),
        sendFrame: (frame) => this.sendFrame(frame),
        kick: () => this.kick(),
        appliedIndex: () => this.position.index,
        isCommand: (command) => this.stateMachine.isCommand?.(command) ?? true,
      }, o.clock, this.limits);
      this.quorumModel = null;
    } else {
      const client = protocol.client;
      const replicas = o.membership.voters;
      const first = o.firstClientTimestamp ?? 0;
      this.quorumModel = new QuorumProposals<Envelope, R>(
        { get running() { return self.running; }, sendMessage: (m) => this.sendMessage(m) },
        o.clock, this.limits, (principal) => client.createClient(this.authenticatorFor(principal), replicas, first, coreMutant, this.limits.maxCommandBytes), o.id,
        this.mutant === 'barrier-per-read',
      );
      this.leaderModel = null;
    }
    this.output = {
      applied: (index, term, result) => this.leaderModel?.applied(index, term, result),
      configApplied: () => {
        this.membershipChanged = true;
      },
      executed: (client, timestamp, result, readOnly, at) => {
        this.events.executed?.(client, timestamp, result, readOnly, at);
        if (!readOnly) this.quorumModel?.executed(client, timestamp, result);
      },
      send: (msg) => this.heldReplies.push(msg),
    };
    const fromLog = restored.hardState !== null || restored.snapshot !== null || restored.entries.length > 0;
    this.log('info', fromLog ? 'restarting from its log' : 'starting with an empty log', {
      id: o.id, protocol: protocol.name, snapshot: restored.snapshot?.meta.index ?? null, entries: restored.entries.length, applied: this.position.index,
    });
    this.kick();
  }

  // ---- inputs -------------------------------------------------------------------------------

  /** The runtime's ticker: one tick of the core's timers, and any time the ticker missed (see DriverOptions.tickMs). */
  tick(): void {
    if (this.stopped) return;
    this.core.tick();
    this.tickedUntil += this.tickMs ?? 0;
    this.catchUpTicks();
    this.kick();
  }

  /**
   * Tell the core about clock time no tick covered (see DriverOptions.tickMs and Replica.elapse):
   * before every input, so that nothing is decided on a clock that stalled.
   */
  private catchUpTicks(): void {
    const tickMs = this.tickMs;
    if (tickMs === undefined || this.mutant === 'tick-by-timer') return;
    // A hair of tolerance: a timer set for one tick may read a clock a rounding error short of it.
    const missed = Math.floor((this.clock.now() - this.tickedUntil) / tickMs + 1e-9);
    if (missed <= 0) return;
    this.tickedUntil += missed * tickMs;
    this.core.elapse(missed);
  }

  /**
   * A decoded frame from a peer (or, in the simulator, from a client). Whatever the peer sent, it
   * is checked against the wire's and the protocol's message schema first: a frame that fails is
   * dropped, counted (`invalidMessages`) and logged (rate-limited), and never reaches the core.
   */
  receive(input: unknown): void {
    if (this.stopped) return;
    const frame = this.validate(input);
    if (frame instanceof InvalidMessage) return this.refuse(input, frame.reason);
    this.catchUpTicks();
    if (frame.kind === 'protocol') {
      this.deliver(frame.message);
      return;
    }
    if (this.leaderModel === null || !this.leaderModel.receive(frame)) {
      this.log('warn', 'ignored a peer frame this protocol does not use', { kind: frame.kind });
    }
  }

  private refuse(input: unknown, reason: string): void {
    this.invalidMessages++;
    this.invalidUnlogged++;
    this.events.refused?.(input, reason);
    const now = this.clock.now();
    if (now - this.invalidLoggedAtMs < this.limits.invalidMessageLogIntervalMs) return;
    const from = (input as { from?: unknown } | null)?.from;
    this.log('warn', `dropped an invalid peer message: ${reason}`, {
      from: typeof from === 'string' ? from.slice(0, 64) : null, refusedSinceLastLog: this.invalidUnlogged, refusedTotal: this.invalidMessages,
    });
    this.invalidLoggedAtMs = now;
    this.invalidUnlogged = 0;
  }

  /**
   * The runtime saw every connection to peer `id` close after its handshake (its process exited,
   * its host reset the connection): the core is told (Replica.peerDown, when it has it), then the
   * Ready loop runs as for any input. A hint for an early election; nothing safe rests on it.
   */
  peerDown(id: NodeId): void {
    if (this.stopped || id === this.id) return;
    this.catchUpTicks();
    this.core.peerDown(id);
    this.kick();
  }

  /**
   * Replicate a command; `reply` gets the state machine's result once it has been applied here.
   * Under the leader model a follower forwards it to the leader.
   */
  propose(command: Uint8Array, reply: Reply<R>): void {
    if (this.stopped) return reply(new NodeStopped());
    this.catchUpTicks();
    // Refused before the log (the state machines answer anything that does get there, but a
    // command nobody can mean should not cost a round of replication).
    if (!(command instanceof Uint8Array) || command.byteLength === 0) {
      return reply(new QuorateError('INVALID_ARGUMENT', 'a command is a non-empty byte array'));
    }
    if (command.byteLength > this.limits.maxCommandBytes) {
      return reply(new QuorateError('REQUEST_TOO_LARGE', `command of ${command.byteLength} bytes exceeds maxCommandBytes=${this.limits.maxCommandBytes}`));
    }
    if (this.leaderModel !== null) this.leaderModel.propose(command, reply);
    else this.quorumModel!.propose(command, reply as Reply<R | undefined>);
  }

  /**
   * `reply` once this node's state machine reflects every write committed before the call, or
   * with a timeout after `timeoutMs` (default: the read timeout), when it leaves the queue.
   */
  readBarrier(reply: Reply<void>, timeoutMs = this.limits.readTimeoutMs): void {
    if (this.stopped) return reply(new NodeStopped());
    this.catchUpTicks();
    if (this.leaderModel !== null) this.leaderModel.readBarrier(reply, timeoutMs);
    else this.quorumModel!.readBarrier(reply, timeoutMs);
  }

  /** A membership change through the protocol (leader only). */
  changeMembership(change: unknown, reply: Reply<void>): void {
    if (this.stopped) return reply(new NodeStopped());
    this.catchUpTicks();
    const ability = this.protocol.membership;
    if (ability === undefined || this.leaderModel === null) {
      return reply(new QuorateError('INVALID_CONFIG_CHANGE', `protocol ${this.protocol.name} runs a fixed membership: membership changes are not supported`));
    }
    // The entry is applied (and its caller answered) before the core advances past the Ready
    // that carried it, and the core takes the new configuration only then: answer after that
    // advance, so the caller's next look at the membership (MemberAdd answers with the member
    // list) already shows the change.
    const answer = (err: Error | null): void => {
      if (err !== null || this.mutant === 'reply-before-config-applied') reply(err);
      else this.repliesAfterAdvance.push(reply);
    };
    this.leaderModel.proposeHere(new Uint8Array(0), answer, () => this.core.drive((core) => ability.proposeConfigChange(core, change)));
  }

  transferLeadership(target: NodeId): void {
    const ability = this.protocol.membership;
    if (ability === undefined) throw new QuorateError('INVALID_ARGUMENT', `protocol ${this.protocol.name} has no leadership transfer`);
    this.catchUpTicks();
    this.core.drive((core) => ability.transferLeadership(core, target));
    this.kick();
  }

  /** Snapshot the state machine now and compact the log behind it (an operator's defragment). */
  snapshotNow(reply: Reply<void>): void {
    if (this.stopped) return reply(new NodeStopped());
    if (!this.host.driverSnapshots) return reply(null); // the protocol snapshots on its own schedule
    this.snapshotWaiters.push(reply);
    this.kick();
  }

  /** Stop cleanly: answer every waiter, let the write in flight finish, close the storage. */
  stop(done: (err: Error | null) => void): void {
    if (this.stopped) return done(null);
    this.halt();
    // The storage finishes the saves already made before it closes: a clean stop never tears the log.
    this.storage.close(done);
  }

  /**
   * The process died (the simulator's crash): drop everything at once. Nothing more is written,
   * sent or applied, and no storage callback is acted on; callers still waiting are told STOPPED,
   * as a client of a dead process sees its connection fail, rather than left hanging.
   */
  kill(): void {
    if (this.stopped) return;
    this.halt();
  }

  // ---- introspection ------------------------------------------------------------------------

  get running(): boolean {
    return !this.stopped;
  }

  status(): ReplicaStatus {
    const s = this.core.status();
    // While a sliced install runs (or what it held is applied) the core has advanced past entries
    // the state machine has not applied yet: report the state machine's applied index, and with
    // the core's configuration the index it holds at (a join answer built from this status would
    // otherwise tell that configuration as the one of the lower index: see toldMembership).
    if (this.behindCore() && s.appliedIndex !== this.position.index) {
      const since = Math.max(s.appliedIndex, s.membership.since ?? 0);
      return { ...s, appliedIndex: this.position.index, membership: { ...s.membership, since } };
    }
    return s;
  }

  /** Whether the core takes peerDown (Replica.peerDown): a runtime need not report closed connections to one that does not. */
  get takesPeerDown(): boolean {
    return this.core.inner.peerDown !== undefined;
  }

  /** The core, for introspection and the simulator's invariants. Do not drive it directly. */
  get replica(): Replica<Envelope, unknown> {
    return this.core.inner;
  }

  isLeader(): boolean {
    const s = this.core.status();
    return s.leading && s.leader === this.id;
  }

  appliedPosition(): AppliedPosition {
    return this.position;
  }

  pendingProposals(): number {
    return this.leaderModel?.pending ?? this.quorumModel!.pending;
  }

  // ---- the Ready loop --------------------------------------------------------------------------

  private deliver(msg: Envelope): void {
    if (msg.to === this.id) {
      this.core.step(msg);
      this.kick();
    } else if (this.quorumModel === null || !this.quorumModel.receive(msg)) {
      this.log('debug', 'dropped a message for a principal this member does not host', { to: msg.to });
    }
  }

  private kick(): void {
    if (this.kicked || this.stopped) return;
    this.kicked = true;
    this.clock.defer(this.kicked$);
  }

  /** The deferred half of kick(), made once (a kick per input is the hot path). */
  private readonly kicked$ = (): void => {
    this.kicked = false;
    this.process();
  };

  private process(): void {
    // A snapshot being saved does not hold Readies back: the storage writes in the order it is
    // asked (saves made now land after the snapshot's restatement), and a leader's messages go
    // before its persist, so its heartbeats do not wait for a compaction's fsyncs. Neither does a
    // snapshot being installed in slices, unless the committed entries held behind it are at
    // their bound (heldFull): then the next Ready waits for the install to end and them to apply.
    while (!this.stopped && !this.saving && !this.heldBySnapshot() && !this.heldFull() && this.core.hasReady()) this.handle(this.core.ready());
    if (this.stopped) return;
    // No Ready can be taken now (a save in flight, perhaps behind a snapshot's fsyncs): what the
    // core marks as resting on nothing undurable (a primary's heartbeats) leaves now, not after it.
    // (The hold-readies-while-snapshotting mutant holds them too: nothing left while it wrote.)
    if (!this.heldBySnapshot()) {
      const early = this.core.takeEarly();
      if (early.length > 0) {
        if (this.saving) this.events.sentWhileSaving?.(early.length);
        this.sendAll(early);
      }
    }
    if (this.saving || this.heldBySnapshot()) return;
    // A snapshot of our own reads the state machine: not while it stands behind the core.
    if (this.snapshotWaiters.length > 0 && !this.snapshotting && !this.behindCore()) {
      if (this.entriesSinceSnapshot > 0) this.takeSnapshot();
      else for (const w of this.snapshotWaiters.splice(0)) w(null);
    }
    // Leader, term and configuration change only in a step that hands out a Ready (the
    // configuration also at the end of a sliced install, which no Ready marks).
    if (this.readies !== this.noticedReadies || this.membershipChanged) {
      this.noticedReadies = this.readies;
      this.noticeChanges();
    }
  }

  private handle(rd: Ready<Envelope, unknown>): void {
    this.readies++;
    const check = rd.checkSnapshot ?? null;
    if (check !== null) this.beginCheck(check);
    this.sendAll(rd.sendBeforePersist);
    // A snapshot the Ready asks to keep (PBFT's stable checkpoint) goes to storage before the
    // Ready's records: a core that moved its window forward on that checkpoint may already hold
    // records beyond the old window, and those must never be durable without it (saves complete
    // in order). A restarted replica would otherwise hold certificates its checkpoint cannot back.
    const keep = this.host.snapshotToKeep(rd);
    if (keep !== null && this.mutant !== 'checkpoint-after-records') this.keepSnapshot(keep);
    const persist = rd.persist;
    const installs = persist !== null && persist.snapshot !== null;
    // Committed entries are durable on a quorum already, so they are applied (and their callers
    // answered) while this Ready's own write is in flight. Only a snapshot this Ready installs
    // must be durable and restored first (its entries follow it), and a state machine that
    // persists itself must never hold an entry its own log may still lose. While the state
    // machine stands behind the core (a sliced install), entries wait for it (see `held`).
    const appliedEarly = !installs && !this.durableStateMachine && !this.behindCore();
    if (appliedEarly) this.applyCommitted(rd);
    if (persist === null) {
      this.finish(rd, appliedEarly, false);
      return;
    }
    this.saving = true;
    const sentEarly = this.mutant === 'ack-before-fsync';
    if (sentEarly) this.sendAll(rd.send);
    this.events.persisting?.(persist, rd.sendBeforePersist.length + (sentEarly ? rd.send.length : 0));
    this.savingReady = rd;
    this.savingAppliedEarly = appliedEarly;
    this.savingSentEarly = sentEarly;
    if (installs && this.mutant === 'apply-before-snapshot-persist') this.saveSnapshotApart(persist, this.saved$);
    else this.storage.save(persist, this.saved$);
  }

  /**
   * The storage's answer for the Ready being saved (one at a time: see `saving`), made once: a
   * closure per Ready was a large share of the driver's garbage.
   */
  private readonly saved$ = (err: Error | null): void => {
    const rd = this.savingReady;
    assert(rd !== null, 'a save completes for the Ready being saved');
    this.savingReady = null;
    this.saving = false;
    if (this.stopped) return;
    if (err !== null) return this.fail(err);
    // Finishing may answer reads (a lease read waiting for the first commit): on the time now.
    this.catchUpTicks();
    this.finish(rd, this.savingAppliedEarly, this.savingSentEarly);
    this.process();
  };

  /** The apply-before-snapshot-persist mutant: everything but the snapshot first, the snapshot in a second write. */
  private saveSnapshotApart(persist: Persist<unknown>, done: (err: Error | null) => void): void {
    this.storage.save({ ...persist, snapshot: null }, (err) => {
      if (err !== null || this.stopped) return done(err);
      const second = { hardState: null, entries: [], snapshot: persist.snapshot, truncateFrom: null };
      this.events.persisting?.(second, 0);
      this.storage.save(second, done);
    });
  }

  /**
   * The Ready's persist is durable (or it had none): install, send, apply, advance. A host that
   * installs in slices (beginInstall) is stepped a slice per turn on later turns; the Ready goes
   * on at once (its acknowledgements rest on the snapshot being durable, which it now is), but its
   * committed part, and that of every Ready after it, is held until the install is done.
   */
  private finish(rd: Ready<Envelope, unknown>, appliedEarly: boolean, sentEarly: boolean): void {
    const snapshot = rd.persist?.snapshot ?? null;
    if (snapshot !== null) this.installSnapshot(snapshot);
    if (!sentEarly) this.sendAll(rd.send);
    if (!appliedEarly) {
      if (this.behindCore()) this.hold(rd);
      else this.applyCommitted(rd);
    }
    if (this.heldReplies.length > 0) this.sendAll(this.heldReplies.splice(0));
    if (this.mutant === 'checkpoint-after-records') {
      const keep = this.host.snapshotToKeep(rd);
      if (keep !== null) this.keepSnapshot(keep);
    }
    this.core.advance(rd);
    this.answerAfterAdvance();
    this.maybeSnapshot();
  }

  /** Answer the membership changes applied so far (the core has advanced past them). */
  private answerAfterAdvance(): void {
    // Nearly always none: no empty array per Ready.
    if (this.repliesAfterAdvance.length === 0) return;
    for (const r of this.repliesAfterAdvance.splice(0)) r(null);
  }

  /** Restore a snapshot a Ready installs (its persist is durable): whole now, or in slices from the next turn on. */
  private installSnapshot(snapshot: Snapshot): void {
    // A snapshot of our own still being encoded reads the state this one replaces.
    this.abandonEncoding();
    // An install still in progress, or entries held behind one: this snapshot covers them.
    this.supersedeHeld(snapshot);
    const sliced = this.host.beginInstall?.(snapshot) ?? null;
    if (sliced === null) {
      this.position = this.host.install(snapshot);
      this.snapshotInstalled(snapshot);
      // Read points held behind a superseded install (kept by supersedeHeld, without entries):
      // the state machine is at the snapshot now, where they wait as after any apply.
      for (const rd of this.held.splice(0)) this.applyCommitted(rd);
      this.heldEntries = 0;
      return;
    }
    const early = this.mutant === 'apply-while-installing';
    const install = {
      snapshot, early,
      slices: new SliceLoop<AppliedPosition>(this.clock, () => sliced.step(this.limits.snapshotSliceBytes), (position) => this.installed(install, position)),
    };
    this.installing = install;
    install.slices.runLater();
    if (early) {
      // The mutant: go on as if it were installed; later Readies apply onto the old state meanwhile.
      this.position = { index: snapshot.meta.index, term: snapshot.meta.term };
      this.snapshotInstalled(snapshot);
    }
  }

  /**
   * Decode a snapshot the core received, in slices on later turns, apart from the state (the host
   * keeps the decoding for its install), and tell the core whether it decoded: it acknowledges only
   * one that did. A newer check replaces one in progress (the core waits on the newest only).
   */
  private beginCheck(snapshot: Snapshot): void {
    this.checking?.slices.cancel();
    this.checking = null;
    assert(snapshot.data.byteLength <= this.limits.maxSnapshotBytesDecodedBeforeAck, () => `a core asks to check only snapshots of at most maxSnapshotBytesDecodedBeforeAck=${this.limits.maxSnapshotBytesDecodedBeforeAck} bytes, got ${snapshot.data.byteLength}`);
    const check = this.host.beginCheck?.(snapshot) ?? null;
    assert(check !== null, 'a core asks to check a received snapshot only when its host can (checkSnapshotsUpToBytes)');
    const job = {
      meta: snapshot.meta,
      slices: new SliceLoop<boolean>(this.clock, () => check.step(this.limits.snapshotSliceBytes), (ok) => this.checked(job, ok)),
    };
    this.checking = job;
    job.slices.runLater();
  }

  /** A received snapshot's check is over: the core adopts it (and acknowledges it once durable) or refuses it. */
  private checked(job: NonNullable<Driver<R>['checking']>, ok: boolean): void {
    assert(this.checking === job, 'the check that ends is the one in progress (a dropped one is never done: SliceLoop.cancel)');
    this.checking = null;
    if (!ok) {
      this.log('warn', 'refused a snapshot from the leader: it does not decode (corrupt, or a format this member cannot read); the state is unchanged and the leader sends it again', {
        index: job.meta.index, term: job.meta.term,
      });
    }
    this.core.snapshotChecked(job.meta, ok);
    this.kick();
  }

  /** The snapshot being installed in slices is in: apply what was held behind it. */
  private installed(i: NonNullable<Driver<R>['installing']>, position: AppliedPosition): void {
    assert(this.installing === i, 'the install that ends is the one in progress (a dropped one is never done: SliceLoop.cancel)');
    this.installing = null;
    if (i.early) return; // the mutant went on long ago
    assert(position.index === i.snapshot.meta.index, () => `an install ends at its snapshot's index (${position.index}, snapshot ${i.snapshot.meta.index})`);
    assert(position.index >= this.position.index, () => `an installed snapshot is ahead of the state it replaces (${this.position.index} → ${position.index})`);
    this.position = position;
    this.snapshotInstalled(i.snapshot);
    this.catchUpTicks();
    // Forwarded proposals and read points the snapshot covers are answered from here on.
    this.leaderModel?.releaseApplied();
    this.applyHeld();
  }

  /** The state machine stands behind the core: a sliced install runs, or what it held is being applied. */
  private behindCore(): boolean {
    return (this.installing !== null && !this.installing.early) || this.draining !== null;
  }

  /** The committed part of a Ready finished while the state machine is behind the core (see `held`). */
  private hold(ready: Ready<Envelope, unknown>): void {
    // Read points confirmed by the protocol are confirmed now, whatever the state machine holds:
    // they go to the proposals at once, to wait there for the state machine to reach their index
    // (a state at or past it answers them; the old state stays readable until the install swaps
    // the new one in). Held here instead, a leader change before the install ends answered their
    // callers LeaderChanged, as if their point had never been confirmed.
    let rd = ready;
    if (this.leaderModel !== null && rd.readStates.length > 0) {
      this.leaderModel.readPointsConfirmed(rd.readStates);
      rd = { ...rd, readStates: NO_READ_STATES };
    }
    // Nothing in it reads the state machine (the quorum model's host may answer read-only requests with none).
    if (rd.apply.length === 0 && rd.readStates.length === 0 && this.quorumModel === null) return;
    const last = this.held[this.held.length - 1]?.apply;
    const after = last === undefined || last.length === 0 ? undefined : last[last.length - 1]!.index;
    assert(after === undefined || rd.apply.length === 0 || rd.apply[0]!.index === after + 1, () => `held entries follow each other (${after} → ${rd.apply[0]?.index})`);
    // Only what applying needs: the persist's entries and the messages are done with.
    this.held.push(rd.persist === null && rd.send.length === 0 && rd.sendBeforePersist.length === 0 ? rd : { ...rd, persist: null, send: NO_ENVELOPES, sendBeforePersist: NO_ENVELOPES });
    this.heldEntries += Math.max(1, rd.apply.length);
    for (const e of rd.apply) this.heldBytes += e.data.byteLength;
  }

  /** Whether the held entries reached their bound (no further Ready is taken until they are applied). */
  private heldFull(): boolean {
    return this.heldEntries >= this.limits.maxEntriesHeldWhileInstalling || this.heldBytes >= this.limits.maxBytesHeldWhileInstalling;
  }

  /** Apply what was held behind an install, a slice per turn (this turn first), then take what waited for it. */
  private applyHeld(): void {
    assert(this.draining === null && this.installing === null, 'held entries are applied once, after the install');
    if (this.held.length === 0) return this.caughtUp();
    const draining = new SliceLoop<true>(this.clock, () => this.applyHeldSlice(), () => {
      this.draining = null;
      this.caughtUp();
    });
    this.draining = draining;
    draining.runNow();
  }

  /** Apply held Readies, in order, until about snapshotSliceBytes of entries are; true once none is left. */
  private applyHeldSlice(): true | null {
    this.catchUpTicks();
    let bytes = 0;
    let taken = 0;
    while (taken < this.held.length && bytes < this.limits.snapshotSliceBytes && !this.stopped) {
      const rd = this.held[taken++]!;
      let readyBytes = 0;
      for (const e of rd.apply) readyBytes += e.data.byteLength;
      bytes += readyBytes;
      this.heldEntries -= Math.max(1, rd.apply.length);
      this.heldBytes -= readyBytes;
      this.applyCommitted(rd);
    }
    this.held.splice(0, taken);
    if (this.stopped) return null;
    assert(this.held.length > 0 || (this.heldEntries === 0 && this.heldBytes === 0), 'the held counts are of what is held');
    if (this.heldReplies.length > 0) this.sendAll(this.heldReplies.splice(0));
    // The core advanced past these Readies long ago: answer membership changes applied now.
    this.answerAfterAdvance();
    // Room again for a Ready that waited at the bound (heldFull).
    this.kick();
    return this.held.length === 0 ? true : null;
  }

  /** The state machine reached the core again: what waited for it (snapshots of our own) goes on. */
  private caughtUp(): void {
    this.maybeSnapshot();
    this.process();
  }

  /**
   * A snapshot being installed in slices (or entries held behind one) when a later Ready installs
   * another: the install is dropped (nothing of the state changed before its last step) and the
   * held entries with it, all of which the new snapshot covers (a core hands out a snapshot only
   * ahead of what it knows committed). Held read points stay, to be answered once the state
   * machine reaches them.
   */
  private supersedeHeld(snapshot: Snapshot): void {
    this.cancelInstall();
    if (this.held.length === 0) return;
    const kept: Ready<Envelope, unknown>[] = [];
    for (const rd of this.held) {
      const last = rd.apply[rd.apply.length - 1];
      assert(last === undefined || last.index <= snapshot.meta.index, () => `a newer snapshot (${snapshot.meta.index}) covers the entries held behind an install (up to ${last!.index})`);
      if (rd.readStates.length > 0 || this.quorumModel !== null) kept.push(rd.apply.length === 0 ? rd : { ...rd, apply: NO_ENTRIES });
    }
    this.held.length = 0;
    this.held.push(...kept);
    this.heldEntries = kept.length;
    this.heldBytes = 0;
  }

  /** Drop an install in progress and the applying of what it held (the node stops, or a newer snapshot comes). */
  private cancelInstall(): void {
    const i = this.installing;
    if (i !== null) {
      this.installing = null;
      i.slices.cancel();
    }
    const d = this.draining;
    if (d !== null) {
      this.draining = null;
      d.cancel();
    }
  }

  private snapshotInstalled(snapshot: Snapshot): void {
    // Requests that ran in the range this install skipped will not execute here: settle their callers.
    this.quorumModel?.stateInstalled(this.host.executedClients?.(snapshot) ?? null);
    this.entriesSinceSnapshot = 0;
    this.membershipChanged = true; // the snapshot carries its own configuration
    this.log('info', 'installed snapshot from leader', { index: snapshot.meta.index, term: snapshot.meta.term });
  }

  /** Snapshot the state machine if `snapshotEveryEntries` were applied since the last (not while it is behind the core). */
  private maybeSnapshot(): void {
    if (this.host.driverSnapshots && !this.snapshotting && !this.behindCore() && this.entriesSinceSnapshot >= this.limits.snapshotEveryEntries) this.takeSnapshot();
  }

  private applyCommitted(rd: Ready<Envelope, unknown>): void {
    if (rd.apply.length > 0) {
      // Timed only for a listener (the simulator has none): reading the clock is not free.
      const timed = this.events.applyBatch !== undefined;
      const t0 = timed ? this.clock.now() : 0;
      const before = this.position.index;
      const pos = this.host.apply(rd, this.output);
      if (pos !== null) {
        assert(pos.index >= before, () => `applied index never goes backwards (${before} → ${pos.index})`);
        this.entriesSinceSnapshot += pos.index - before;
        this.position = pos;
      }
      this.events.appliedEntries?.(rd.apply);
      // (Called only if still there: the events object is the caller's, and a listener may unhook itself during the apply.)
      if (timed) this.events.applyBatch?.((this.clock.now() - t0) / 1000, rd.apply.length);
      this.encodeForHost();
    } else {
      this.host.apply(rd, this.output); // read-only requests and replies to repeat (quorum model)
    }
    if (this.leaderModel !== null) {
      if (rd.readStates.length > 0) this.leaderModel.readPointsConfirmed(rd.readStates);
      else this.leaderModel.releaseApplied();
    }
  }

  /** The hold-readies-while-snapshotting mutant: no Ready while a snapshot is written. */
  private heldBySnapshot(): boolean {
    return this.snapshotting && this.mutant === 'hold-readies-while-snapshotting';
  }

  /**
   * Snapshot the state machine at the applied index and let the core compact its log behind it.
   * A state machine that encodes in slices (beginSnapshot) is encoded a slice per turn while
   * later entries apply; the snapshot is still of this index (see SnapshotEncoding).
   */
  private takeSnapshot(): void {
    const meta = { index: this.position.index, term: this.position.term, membership: this.core.status().membership };
    this.entriesSinceSnapshot = 0;
    this.snapshotting = true;
    this.snapshotSaving.push(...this.snapshotWaiters.splice(0));
    if (this.stateMachine.beginSnapshot === undefined) return this.snapshotEncoded(meta, this.stateMachine.snapshot());
    const source = this.stateMachine.beginSnapshot();
    const slices = new SliceLoop<Uint8Array>(this.clock, () => source.step(this.limits.snapshotSliceBytes), (data) => {
      this.encoding = null;
      this.snapshotEncoded(meta, data);
    });
    this.encoding = { source, slices };
    slices.runNow();
  }

  /**
   * Step the encoding the host began in apply (ReplicaHost.encodingInFlight), a snapshotSliceBytes
   * slice per turn, the first in this one, with the SliceLoop the driver's own snapshots use. Each
   * slice asks the host for what is in flight then: one the host finished at once (the next
   * checkpoint came first) is followed by the next, one dropped by an install by nothing. The host
   * hands the bytes to the core itself; the core's CHECKPOINT leaves in the next Ready.
   */
  private encodeForHost(): void {
    const host = this.host;
    if (this.hostEncoding !== null || host.encodingInFlight === undefined || host.encodingInFlight() === null) return;
    const slices = new SliceLoop<true>(this.clock, () => {
      const e = host.encodingInFlight!();
      return e === null || this.core.drive(() => e.step(this.limits.snapshotSliceBytes)) ? true : null;
    }, () => {
      this.hostEncoding = null;
      this.kick();
    });
    this.hostEncoding = slices;
    slices.runNow();
  }

  /** A snapshot being encoded is dropped (a snapshot is being installed, or the node stops); its waiters wait for the next. */
  private abandonEncoding(): void {
    const e = this.encoding;
    if (e === null) return;
    this.encoding = null;
    e.slices.cancel();
    e.source.abandon();
    this.snapshotting = false;
    this.snapshotWaiters.push(...this.snapshotSaving.splice(0));
  }

  private snapshotEncoded(meta: SnapshotMeta, data: Uint8Array): void {
    this.core.compact(meta.index, data, meta.membership);
    this.storage.saveSnapshot({ meta, data }, (err) => {
      this.snapshotting = false;
      if (this.stopped) return; // its waiters were told STOPPED
      const waiters = this.snapshotSaving.splice(0);
      if (err !== null) {
        for (const w of waiters) w(err);
        return this.fail(err);
      }
      this.log('info', 'snapshot taken', { index: meta.index, bytes: data.byteLength });
      for (const w of waiters) w(null);
      this.process();
    });
  }

  /** A snapshot the protocol asks to keep (its state machine is already past it). */
  private keepSnapshot(snapshot: Snapshot): void {
    this.events.keeping?.(snapshot);
    this.storage.saveSnapshot(snapshot, (err) => {
      if (err !== null && !this.stopped) this.fail(err);
    });
  }

  private sendAll(messages: readonly Envelope[]): void {
    for (let i = 0; i < messages.length; i++) this.sendMessage(messages[i]!);
  }

  /** Send a protocol message to the member that hosts its addressee (this one included). */
  private sendMessage(m: Envelope): void {
    const member = principalMember(m.to) as NodeId;
    if (member === this.id) {
      // A replica's reply to this member's own client, or a client's request to this replica.
      this.clock.defer(() => {
        if (!this.stopped) this.deliver(m);
      });
      return;
    }
    // A message the transport would not take (no connection, its queue full) is lost: a core
    // that sends optimistically backs off now rather than on a timeout (Replica.sendFailed).
    if (!this.network.send({ kind: 'protocol', from: this.id, to: member, message: m })) this.core.sendFailed(m);
  }

  private sendFrame(frame: NodeMessage): boolean {
    return this.network.send(frame);
  }

  private noticeChanges(): void {
    const s = this.core.status();
    const before = this.lastLeadership;
    if (s.leader !== before.leader || s.term !== before.term || s.leading !== before.leading) {
      if (s.leader !== before.leader) this.log('info', s.leader === null ? 'no leader' : `leader is ${s.leader}`, { term: s.term });
      this.lastLeadership = { leader: s.leader, term: s.term, leading: s.leading };
      this.leaderModel?.leadershipChanged(before, this.lastLeadership);
      if (s.leader !== before.leader || s.term !== before.term) this.events.leader?.(s);
    }
    if (this.membershipChanged) {
      this.membershipChanged = false;
      this.events.membership?.(s.membership);
    }
  }

  private authenticatorFor(principal: Principal): Authenticator {
    const f = this.o.authenticatorFor;
    if (f === undefined) throw new QuorateError('BAD_KEYS', `protocol ${this.protocol.name} needs each member's keys: no authenticator was given for '${principal}'`);
    return f(principal);
  }

  /** Stop taking input and answer every waiter. */
  private halt(): void {
    this.stopped = true;
    this.abandonEncoding();
    this.hostEncoding?.cancel();
    this.hostEncoding = null;
    this.host.abandonEncoding?.();
    this.cancelInstall();
    // A check is never dropped while the node runs (the core waits on its answer), only at a stop.
    this.checking?.slices.cancel();
    this.checking = null;
    this.held.length = 0;
    this.heldEntries = 0;
    this.heldBytes = 0;
    const err = new NodeStopped();
    this.leaderModel?.stop(err);
    this.quorumModel?.stop(err);
    for (const w of this.snapshotWaiters.splice(0)) w(err);
    for (const w of this.snapshotSaving.splice(0)) w(err);
    for (const w of this.repliesAfterAdvance.splice(0)) w(err);
  }

  private fail(err: Error): void {
    // A failed write or fsync leaves the log in an unknown state: stop rather than guess
    // (retrying fsync after a failure can silently lose data).
    this.log('error', 'fatal: stopping node', { error: err.message });
    this.halt();
    this.storage.close(() => {});
    this.events.fatal?.(err);
  }
}

const NO_ENVELOPES: readonly Envelope[] = [];
const NO_ENTRIES: readonly LogEntry[] = [];
const NO_READ_STATES: readonly ReadState[] = [];

function isDurable(sm: object): sm is DurableStateMachine {
  return typeof (sm as Partial<DurableStateMachine>).durableApplied === 'function';
}
