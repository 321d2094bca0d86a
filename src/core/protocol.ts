/**
 * One protocol surface. A protocol is a folder under src/protocols/ and one line in the
 * registry; its `ProtocolDefinition` says everything a driver needs to run it, so that no file
 * outside the protocol's folder names it (a lint checks this):
 *
 * - the core factory and the names of its options, with the mapping from wall-clock timing
 *   (etcd's flags, the simulator's tick) to the core's ticks;
 * - the variants the simulator draws per run (so every configuration a user may choose is tested),
 *   its mutants and its safety monitor;
 * - how committed entries reach the state machine (`host`), and how a client is answered: by the
 *   one leader it asked (crash faults) or by f + 1 matching replies (Byzantine faults);
 * - the Byzantine behaviours its adversary can take, and whether members need keys;
 * - the durable state a member restored from a snapshot file starts with.
 *
 * Optional abilities (membership changes, leadership transfer, a readable log) are named, typed
 * members of the definition rather than methods sniffed on a core at run time: a driver sees at
 * compile time what it may ask of a protocol, and a protocol that lacks one says so by omission.
 */
import type { Authenticator, Principal } from './authenticator.js';
import type { Index, NodeId, Term } from './ids.js';
import type { Random } from './prng.js';
import type { MessageValidator } from './validate.js';
import type {
  Envelope, LogEntry, MonitorOptions, MutantInfo, Persist, ProposeResult, Ready, Replica, ReplicaOptions,
  SafetyMonitor, Snapshot, StateMachine,
} from './replica.js';

/** Wall-clock timing a driver runs a protocol with; each protocol maps it to its own ticks. */
export interface Timing {
  /** Length of one tick (the driver calls tick() this often). */
  readonly tickMs: number;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
}

/** Where the state machine stands: the last entry applied to it. */
export interface AppliedPosition {
  readonly index: Index;
  readonly term: Term;
}

/** A snapshot being installed in slices (ReplicaHost.beginInstall). */
export interface SnapshotInstall {
  /** Restore about `budgetBytes` more; where the state machine stands once the install is done, else null. */
  step(budgetBytes: number): AppliedPosition | null;
}

/** A received snapshot being decoded as a check, apart from the state (ReplicaHost.beginCheck). */
export interface SnapshotCheck {
  /** Decode about `budgetBytes` more: true once all of it decoded, false if it cannot be (corrupt, unknown format), else null. */
  step(budgetBytes: number): boolean | null;
}

/**
 * A snapshot of the state machine that a host began in apply() for its own core (see
 * ReplicaHost.encodingInFlight), encoded a slice at a time.
 */
export interface HostEncoding {
  /** Encode about `budgetBytes` more; true once it is done (the host has handed the bytes to its core). */
  step(budgetBytes: number): boolean;
}

/** What applying the committed part of one Ready produced, collected by the driver. */
export interface ApplyOutput<M, R> {
  /**
   * The entry at (index, term) was applied: `result` is the state machine's answer to a command
   * (undefined for a no-op or a configuration entry). Whoever proposed at that index waits for it.
   */
  applied(index: Index, term: Term, result: R | undefined): void;
  /** A membership change entry was applied (the state machine has seen it). */
  configApplied(): void;
  /**
   * A client request was executed (or, `readOnly`, answered from the current state) with this
   * result (Byzantine protocols: the member's own clients wait for it).
   */
  executed(client: Principal, timestamp: number, result: R | undefined, readOnly: boolean, at: Index): void;
  /** A message to send once the Ready's persist is durable (a reply to a client). */
  send(msg: M): void;
}

/**
 * How committed entries reach the state machine. Crash-fault protocols use the driver's default
 * (one command per `command` entry, answered by index and term); a protocol whose entries are
 * batches of signed client requests (PBFT) brings its own.
 */
export interface ReplicaHost<M extends Envelope, H, R> {
  /**
   * The replica restarted with `restored` durable state: bring the state machine to the
   * snapshot it restarted from. Returns where the state machine then stands (null: the initial
   * state). `durableApplied` is set when the state machine persisted itself further (see
   * DurableStateMachine); the host keeps it and returns it.
   */
  restart(snapshot: Snapshot | null, durableApplied: AppliedPosition | null): AppliedPosition | null;
  /** The Ready installs `snapshot` (state transfer): its persist is durable, restore from it. */
  install(snapshot: Snapshot): AppliedPosition;
  /**
   * Optional: install(), in slices the driver steps on later turns (a large snapshot decoded in
   * one turn holds back heartbeats and elections). The host stands at the snapshot's position from
   * now on; nothing may be applied until the install's last step. Null: this one installs whole.
   */
  beginInstall?(snapshot: Snapshot): SnapshotInstall | null;
  /**
   * Optional: decode a snapshot received from a leader, in slices, without touching the state
   * machine (Ready.checkSnapshot), so that the core acknowledges only one that decodes. The host
   * may keep what it decoded for the install of the same snapshot (a swap then, not a second
   * decode). Null: this host cannot decode apart from installing (the core is not asked to check).
   */
  beginCheck?(snapshot: Snapshot): SnapshotCheck | null;
  /**
   * Quorum client model: the last timestamp executed per client in `snapshot` (the replicated
   * client table). A request at or below it ran in the range the install skipped, so this member
   * will never execute it itself; the driver settles whoever waits on it.
   */
  executedClients?(snapshot: Snapshot): ReadonlyMap<Principal, number>;
  /** Apply the committed part of `ready` (in log order) and report what happened to `out`. */
  apply(ready: Ready<M, H>, out: ApplyOutput<M, R>): AppliedPosition | null;
  /**
   * Optional: a snapshot of the state machine that apply() began and that the host hands to its
   * core itself once encoded (PBFT's checkpoint: the state as of a checkpoint's sequence number,
   * encoded while later batches execute, so a large state does not hold the event loop). Null:
   * none in flight. The driver steps it a snapshotSliceBytes slice per turn, the first in the turn
   * that applied, until it is done, and drops it with abandonEncoding when the node stops; the host
   * drops it itself when install() replaces the state it reads. At most one is in flight (the host
   * says what it does when apply reaches the next while one is).
   */
  encodingInFlight?(): HostEncoding | null;
  /** Drop the encoding in flight, if any (the node stops): its bytes never reach the core. */
  abandonEncoding?(): void;
  /** A snapshot the Ready asks to keep (the state machine is already past it): PBFT's stable checkpoints. */
  snapshotToKeep(ready: Ready<M, H>): Snapshot | null;
  /** True when the driver should snapshot the state machine every N applied entries and compact the log. */
  readonly driverSnapshots: boolean;
}

export interface HostContext<M extends Envelope, H, R> {
  readonly replica: Replica<M, H>;
  readonly stateMachine: StateMachine<R>;
  /** Encodes a result deterministically (compared across replicas' replies). */
  readonly encodeResult: (result: R) => Uint8Array;
  /** Byzantine protocols: the replica's own authenticator (to MAC its replies). */
  readonly authenticator: Authenticator | null;
}

/** A client of a Byzantine protocol: it accepts a result once enough replicas sent matching replies. */
export interface QuorumClient<M extends Envelope> {
  readonly id: Principal;
  /** The timestamp the next begin() uses (a client's timestamps increase across restarts). */
  readonly nextTimestamp: number;
  /** Start an operation; returns the messages to send. */
  begin(op: Uint8Array, readOnly: boolean): M[];
  /** No accepted result yet: ask every replica again (a read-only request becomes an ordered one). */
  retry(): M[];
  /** A reply arrived; returns the accepted result once enough replicas agree on it. */
  onReply(msg: M): { readonly timestamp: number; readonly result: Uint8Array; readonly readOnly: boolean } | null;
}

/**
 * How a client learns a result. `leader`: it asks one replica, which proposes (or forwards to the
 * leader) and answers once the command is applied at the index and term it was appended at (a
 * session makes retries exactly-once). `quorum`: it sends a signed request to the replicas and
 * accepts a result on `f + 1` matching replies, since up to f replicas may lie.
 */
export type ClientModel<M extends Envelope> =
  | { readonly kind: 'leader' }
  | {
    readonly kind: 'quorum';
    /**
     * `mutant`: a test-only mutant of the protocol, if its client has one. `maxCommandBytes`: the
     * member's command limit (ReplicaOptions.maxCommandBytes), which the client refuses above.
     */
    createClient(auth: Authenticator, replicas: readonly NodeId[], firstTimestamp: number, mutant?: string, maxCommandBytes?: number): QuorumClient<M>;
  };

/** Byzantine behaviours a protocol's adversary can take (the simulator drives them). */
export interface AdversaryModel<M extends Envelope> {
  /** Behaviour names and one-line descriptions, for `quorate sim --byzantine`. */
  readonly behaviours: readonly { readonly name: string; readonly description: string }[];
  create(context: AdversaryContext): Adversary<M>;
}

export interface AdversaryContext {
  readonly random: Random;
  /**
   * A second stream, apart from `random`, for behaviours added after others were pinned: what an
   * adversary draws from it for them (whether a run uses them) leaves every draw from `random`,
   * and so every run without them, as it was. Absent: the adversary makes one of its own.
   */
  readonly laterRandom?: Random;
  /** The behaviours enabled for this run (the adversary may use a subset). */
  readonly enabled: ReadonlySet<string>;
  readonly byzantine: ReadonlySet<NodeId>;
  readonly replicas: readonly NodeId[];
  /** Authenticators of the Byzantine identities only: it cannot sign as an honest replica. */
  readonly authenticators: ReadonlyMap<NodeId, Authenticator>;
  /** A delay the adversary may add to a message, at most (below the protocol's timeouts). */
  readonly maxDelayMs: number;
  readonly protocolOptions: Readonly<Record<string, unknown>>;
  /**
   * Commands the run's workload makes for a liar to order as its own client, with session
   * sequence number `seq` (null: none now): lies at the state machine's level, such as an etcd
   * auth change naming a user the liar's member never logged in as. Absent: the workload has none.
   */
  readonly liarCommand?: (random: Random, seq: number) => Uint8Array | null;
}

/** A message a Byzantine replica sends, after `delayMs` more than the network's latency. */
export interface AdversaryOutput<M> {
  readonly msg: M;
  readonly delayMs: number;
}

/**
 * One coordinator for every Byzantine replica (they collude). Each runs an honest core inside;
 * the adversary rewrites, drops, delays and injects what they send and may react to what they
 * receive.
 */
export interface Adversary<M extends Envelope> {
  /** The behaviours this run uses. */
  readonly active: ReadonlySet<string>;
  /** A Byzantine replica `by` received `msg`: what it sends in reaction (besides its core's output). */
  observe(msg: M, by: NodeId): AdversaryOutput<M>[];
  /** Whether the Byzantine replica `by` lets its core see `msg` (a liar may ignore what it receives). */
  admit(msg: M, by: NodeId): boolean;
  /**
   * Messages `by` kept from its core (admit said no) that its core takes in now, in the order they
   * arrived: a liar may hold back what it receives rather than ignore it. Asked after every
   * message `by` receives. Absent: what admit refuses is dropped.
   */
  release?(by: NodeId): M[];
  /** What a Byzantine replica's honest core wanted to send becomes this. */
  transform(msg: M): AdversaryOutput<M>[];
}

/**
 * Optional ability: membership changes and leadership transfer (Raft). Separate because a
 * protocol with a fixed membership (PBFT: 3f + 1 named replicas) has neither, and the server
 * answers those requests with a typed error instead.
 */
export interface MembershipAbility<Rep> {
  proposeConfigChange(replica: Rep, change: unknown): ProposeResult;
  transferLeadership(replica: Rep, target: NodeId): void;
}

/** A core whose log the simulator's invariants may read (log matching, leader completeness). */
export interface LogView {
  firstIndex(): Index;
  lastIndex(): Index;
  termAt(i: Index): Term | undefined;
  entryAt(i: Index): LogEntry | undefined;
}

/** Options every protocol's `create` gets besides its own (ReplicaOptions, and keys for BFT). */
export interface CreateOptions<H> extends ReplicaOptions<H> {
  /** Byzantine protocols: this replica's authenticator. */
  readonly authenticator?: Authenticator;
  /** The protocol's own options by name (see `optionNames`). */
  readonly [option: string]: unknown;
}

export interface ProtocolDefinition<M extends Envelope = Envelope, H = unknown, Rep extends Replica<M, H> = Replica<M, H>> {
  readonly name: string;
  /** One line for usage texts and `quorate help`. */
  readonly summary: string;
  readonly faultModel: 'crash' | 'byzantine';
  /**
   * The claims of the book's table (docs/book-claims.md, by number) that are about this protocol
   * in particular: `quorate compare` measures each on the protocols that name it.
   */
  readonly bookClaims?: readonly number[];
  /**
   * Protocol options a claim compares against the defaults, by claim number (e.g. the election
   * guards turned off, for the claim that partial partitions make unguarded leaders flap).
   */
  readonly bookClaimOptions?: Readonly<Record<number, Readonly<Record<string, unknown>>>>;
  readonly mutants: readonly MutantInfo[];
  /** The protocol-specific options `create` reads (tuning and limits), by name: what a driver may pass through. */
  readonly optionNames: readonly string[];
  /** The core's options for wall-clock `timing` (the millisecond-to-tick mapping). */
  timingOptions(timing: Timing): Readonly<Record<string, unknown>>;
  /**
   * Options the simulator draws for one run, on top of `timingOptions` (e.g. pre-vote on or off):
   * every configuration a user may choose gets tested. Draws come from `random` only.
   */
  simVariant(random: Random, timing: Timing): Readonly<Record<string, unknown>>;
  /**
   * The options that bound every message this protocol sends to `bytes` of payload plus one
   * command (batches stop growing there): the simulator runs each protocol with a small budget
   * and refuses any frame far above it, as a transport refuses frames over its maxFrameBytes.
   */
  messageBudgetOptions(bytes: number): Readonly<Record<string, unknown>>;
  /**
   * Message types the budget does not bound yet: a known gap, declared so that the simulator
   * notes their oversized frames in the trace instead of failing the run on them.
   */
  readonly unboundedMessageTypes?: readonly string[];
  create(options: CreateOptions<H>): Rep;
  /**
   * The schema of this protocol's messages, for a core created with `options` (its own limits
   * raise the bounds on arrays): a pure, total check of every field's type and range. Drivers run
   * it on every message a peer (or a client) sends, so a core only ever steps messages of the
   * shape its types promise; what it refuses is dropped and counted, never stepped.
   */
  messageValidator(options: Readonly<Record<string, unknown>>): MessageValidator<M>;
  /**
   * Optional: a checker of the protocol's own safety invariants, for drivers that see every
   * message and every replica (the simulator). It throws an InvariantViolation when one breaks.
   */
  createMonitor?(options: MonitorOptions): SafetyMonitor<M>;
  /** How committed entries reach the state machine; absent: one command per `command` entry. */
  createHost?<R>(context: HostContext<M, H, R>): ReplicaHost<M, H, R>;
  readonly client: ClientModel<M>;
  /** Byzantine protocols: what a lying replica can do (the simulator's adversary). */
  readonly adversary?: AdversaryModel<M>;
  /** Whether each member needs its own keys (signatures, MACs). */
  readonly keys: 'none' | 'per-member';
  /**
   * The durable state of a member restored from a state machine snapshot file (`quorate snapshot
   * restore`): every member of the new cluster starts from `snapshot` at the same log position.
   */
  bootstrap(snapshot: Snapshot): Persist<H>;
  readonly membership?: MembershipAbility<Rep>;
  /**
   * The largest clock-rate error (as a fraction of true time) a core created with `options`
   * tolerates; null when its safety does not rest on clocks. Lease reads rest on them: the
   * simulator's clock skew then stays within the bound, as the operator promises it will.
   */
  clockDriftBound?(options: Readonly<Record<string, unknown>>): number | null;
  /**
   * Optional (crash-fault cores): how many of `voters` may be down, or have lost their disk, while
   * the quorums a core created with `options` needs stay reachable; a majority's complement,
   * floor((voters - 1) / 2), when absent. Flexible quorums tolerate fewer: with |Q1| = 4 of 5 a
   * second member down leaves no phase-1 quorum, and no leader can ever be elected. The simulator
   * keeps its damaged disks within it.
   */
  faultsTolerated?(voters: number, options: Readonly<Record<string, unknown>>): number;
  /** Optional: the core's log, for the simulator's log invariants. */
  logView?(replica: Rep): LogView;
}

/** A state machine that persists itself as it applies (etcd's backend and its consistent index). */
export interface DurableStateMachine {
  /** The last entry applied and durable in the state machine itself (null: none). */
  durableApplied(): AppliedPosition | null;
}

