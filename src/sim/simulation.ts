/**
 * One deterministic simulation run, for every protocol: the shipped driver on model ports (see
 * sim-node.ts) for each member, a model network, the one nemesis, clients of the protocol's
 * client model, and the checks: the protocol's safety monitor, the generic invariants (commit
 * and term never go back, one leader per term, the same command at each index on every honest
 * member, leader completeness and log matching where the core shows its log), no client of a
 * Byzantine protocol accepting a result no honest replica produced, liveness after the faults
 * heal, and (by the caller) linearizability of the history. One seeded PRNG drives every choice.
 */
import type { Operation } from '../check/history.js';
import { principalMember, type Authenticator } from '../core/authenticator.js';
import { QuorateError } from '../core/errors.js';
import { nodeId, type NodeId } from '../core/ids.js';
import { Prng, type Random } from '../core/prng.js';
import type { Adversary, ProtocolDefinition, Timing } from '../core/protocol.js';
import { byzantineFaults } from '../core/quorum.js';
import { InvariantViolation, toldMembership, type Envelope, type LogEntry, type Membership, type SafetyMonitor } from '../core/replica.js';
import type { DriverEvents } from '../driver/driver.js';
import type { NodeMessage } from '../driver/wire.js';
import type { StoragePort } from '../driver/ports.js';
import { QuorumSimClient, READER_CLIENT_SHARE, SessionClient, type ClientSite, type QuorumClientSite } from './clients.js';
import { Invariants, SafetyViolation, type LogView } from './invariants.js';
import { wireBytesUpTo } from './wire-size.js';
import { Observer, type Observations } from './observer.js';
import { runScriptStep, type ScriptSite } from './script.js';
import { toHex } from '../core/bytes.js';
import { LinkFaults } from './link-faults.js';
import { MemberDisk } from './member-disk.js';
import { HURRIED_REPLACE_SHARE, Nemesis, REPLACE_FIRST_AT_MS, REJECTING_PARTITION_SHARE, REPLACE_RUN_SHARE, SPARE_MEMBERS, STORM_RUN_SHARE, type AdminChange, type NemesisSite, type ReplacementSite } from './nemesis.js';
import { SIM_COMPACT_INTERVALS, TWINS, type FaultKind, type SimOptions } from './options.js';
import { objectArray } from './shapes.js';
import { RemovedMembers } from '../transport/removed-members.js';
import { SimKeyring } from './sim-authenticator.js';
import { STALE_LEADER_MIN_MEMBERS, STALE_LEADER_RUN_SHARE, StaleLeaderScenario } from './stale-leader.js';
import { SimNode, type NodeEnvironment, type SimDisk } from './sim-node.js';
import { CallEvent, MemberCrashed, type CustomEvent, type TurnOwner, type WorldHandler } from './world.js';
import { World } from './world.js';
import { EtcdWorkload } from './workloads/etcd.js';
import { AUTH_RUN_SHARE } from './workloads/etcd-auth.js';
import { RegisterWorkload } from './workloads/register.js';
import type { Workload, WorkloadOp } from './workloads/workload.js';

/** Chance, per durable write after which a member sent messages (during the fault window), of a crash right after it. */
export const CRASH_AFTER_SYNC_PROBABILITY = 0.002;
/**
 * Crash, and restart within a few ms, right after a member sent something that rests on a
 * durable promise it just made (a vote, a new term): the window in which a member that sent the
 * promise without really making it durable forgets it and promises again.
 */
export const CRASH_AFTER_PROMISE_PROBABILITY = 0.25;
/**
 * Crash a leader right after it applied newly committed entries, in the same turn (what it queued
 * has not left): the window in which a leader that committed something it should not have leaves
 * it half-replicated, for a later leader to overwrite.
 */
export const CRASH_AFTER_APPLY_PROBABILITY = 0.02;
/** Like CRASH_AFTER_APPLY_PROBABILITY, when what a leader applied includes an earlier term's entry (Figure 8's window). */
export const CRASH_AFTER_OLD_TERM_APPLY_PROBABILITY = 0.9;
/**
 * Power loss, and restart at once, of a member that is not leading and sent messages while its
 * write was not yet durable: the window in which an acknowledgement that ran ahead of its fsync
 * is forgotten. A correct driver and core send early only as a leader, so this fires only for
 * broken ones; it draws from its own random stream, so it leaves other runs unchanged.
 */
export const POWER_LOSS_BEFORE_SYNC_PROBABILITY = 0.25;
/**
 * Power loss of a member while it writes a snapshot it installs (state transfer from a leader):
 * the window in which a driver that persists the snapshot apart from the rest of the Ready's
 * state leaves its disk with a commit index beyond its log.
 */
export const POWER_LOSS_DURING_INSTALL_PROBABILITY = 0.3;
/**
 * Share of runs that aim crashes and cuts at new leaders (crash after applying, isolate right
 * after an election): the Figure 8 weather. The other runs keep their leaders longer, the weather
 * in which a deposed leader goes on serving the clients bound to it.
 */
export const AIMED_RUN_SHARE = 0.5;
/** Share of runs whose register state machine persists itself as it applies (and keeps it across a process crash). */
export const DURABLE_STATE_MACHINE_RUN_SHARE = 0.5;
/**
 * Power loss of a member while it writes a checkpoint it keeps (PBFT's stable checkpoints, every
 * few sequence numbers): the window in which records written beyond the old window could outlive
 * the checkpoint that allows them.
 */
export const POWER_LOSS_WHILE_KEEPING_PROBABILITY = 0.05;
/**
 * Cut a newly elected leader off from everyone (see Nemesis.isolate): right away in some runs
 * (what it appended alone must not survive), or at a random point of its first election
 * timeouts (a deposed leader's lease and check-quorum must run out before a successor serves).
 */
export const ISOLATE_NEW_LEADER_PROBABILITY = 0.3;
/** The latest point of a leader's term the aimed isolation strikes at, in election timeouts. */
export const ISOLATE_LEADER_MAX_DELAY_ELECTION_TIMEOUTS = 3;
/** A Byzantine client waits through a view change before it gives up on an attempt. */
export const QUORUM_CLIENT_TIMEOUT_MS = 600;
export const QUORUM_CLIENT_ATTEMPTS = 8;
/** Under a Byzantine protocol, the share of clients that call a member (which orders through its own quorum clients, as the server does). */
export const MEMBER_CLIENT_SHARE = 0.5;
/** Chance, in a run with twins enabled, that the liars are twinned (two copies each, with the same keys). */
export const TWINS_RUN_SHARE = 0.5;
/** Share of runs that take only a few of the fault kinds asked for (one to three, drawn). */
export const FAULT_SUBSET_RUN_SHARE = 0.5;
/** Share of runs that fail the leader over once more after the heal, before the final reads. */
export const FINAL_FAILOVER_SHARE = 0.5;
/**
 * Chance to crash a member the moment an installed snapshot is durable (before the leader's next
 * append rewrites what follows it): the window in which a stale log tail left on disk returns.
 */
export const CRASH_AFTER_INSTALL_PROBABILITY = 0.5;
/**
 * Snapshot bytes a run may send per byte it owed (the protocol's snapshotBytesSent and
 * snapshotBytesOwed counters: each transfer's size, plus what loss made it send again — a chunk
 * a follower reported missing, what a stalled transfer had sent). An honest sender sends nothing
 * unasked; one that repeats its window on every heartbeat does. Some slack for a transfer cut
 * short or reports crossing a resend.
 */
export const MAX_SNAPSHOT_AMPLIFICATION = 1.25;
/** Snapshot bytes owed before the amplification bound applies. */
export const SNAPSHOT_AMPLIFICATION_MIN_BYTES = 128;
/**
 * Events (deliveries, timers, disk completions) a run may take per simulated millisecond. A
 * healthy run takes a few; a message storm (two members answering each other at once, forever)
 * would otherwise run for ever without simulated time passing.
 */
export const MAX_EVENTS_PER_SIMULATED_MS = 500;
/**
 * How long before the end of a run every honest member must have reached what the cluster had
 * committed (at most half the liveness bound). Some seven STATUS, heartbeat or retransmission
 * rounds: a member that is merely slow catches up in that time; one left behind (alone in a
 * view change, restarted into a quiet cluster) does not. Measured from the end rather than the
 * heal, so that writes still draining after the heal count too.
 */
export const CATCH_UP_ALLOWANCE_MS = 1_500;
/**
 * Under a quorum-model protocol, the run ends with this long a stretch in which no client asks
 * anything (a member's own requests time out within its proposal timeout, 2 s): afterwards every
 * honest member must have executed as far as the furthest. A replica with something pending asks
 * the others for what it lacks; one in a quiet cluster must still catch up (it holds one of the
 * copies the next fault may need).
 */
export const QUIET_STRETCH_MS = 3_000;
/** The last fault's member comes back this long into the quiet stretch (the others' last requests are ordered by then)... */
export const QUIET_RESTART_AFTER_MS = 300;
/** ...and its messages are lost for up to this long after it starts, while its connections come up. */
export const QUIET_RESTART_CONNECT_MAX_MS = 50;
/**
 * Message sizes. Every protocol runs with a payload budget of SIM_MESSAGE_BUDGET_BYTES per
 * message (messageBudgetOptions), and a frame an honest member sends above SIM_MAX_FRAME_BYTES
 * fails the run: a real transport refuses it (its maxFrameBytes), so a batch that outgrows its
 * budget stalls replication for good. The budget (or one command, if larger) must fit the frame.
 */
export const SIM_MESSAGE_BUDGET_BYTES = 256 * 1024;
export const SIM_MAX_FRAME_BYTES = 512 * 1024;
/** Share of runs whose clients write large values often (see LARGE_WRITES_RUN_WRITE_SHARE in register.ts). */
export const LARGE_WRITES_RUN_SHARE = 0.25;

/**
 * The driver's timeouts in the simulator (a client gives up much earlier and retries), and a
 * snapshot slice small enough that a state machine encoding in slices (the etcd one) spans
 * several turns, with writes applied in between, as hundreds of MiB do in production.
 */
/** Mixed into the seed for the auth stream of etcd runs (see authStream). */
const AUTH_STREAM_SALT = 0xa075;
/** Mixed into the seed for the stale-leader scenario's stream (see staleLeaderScenario). */
const STALE_LEADER_STREAM_SALT = 0x57a1e;
/** Mixed into the seed for the stream of runs that replace members (see REPLACE_RUN_SHARE). */
const REPLACE_STREAM_SALT = 0x4e91;
/** Mixed into the seed for the stream of connection resets (see Simulation.resetRng). */
const RESET_STREAM_SALT = 0x2e5e7;
/** Mixed into the seed for the joiners' stream of replacing runs (see Simulation.joinerRng). */
const JOINER_STREAM_SALT = 0x10e5;
/** Mixed into the seed for each member's stream of older-segment cuts (see MemberDisk.cutOlderSegment). */
const OLDER_SEGMENT_CUT_SALT = 0xc07;
/** Apart in the seed between members' streams of their own (a prime, so members' streams do not line up). */
const MEMBER_STREAM_STRIDE = 7919;
/**
 * Share of replacing runs in which the first members snapshot late (every
 * LATE_SNAPSHOT_EVERY_ENTRIES applied entries), so that spares join before the leader's first
 * snapshot and are sent the log from slot 1, and the spares snapshot often (every
 * SPARE_SNAPSHOT_EVERY_ENTRIES: an operator's --snapshot-count differs from member to member), so
 * that a joiner takes snapshots while its applied index is below its since.
 */
const JOIN_FROM_SLOT_ONE_SHARE = 0.5;
const LATE_SNAPSHOT_EVERY_ENTRIES = 300;
const SPARE_SNAPSHOT_EVERY_ENTRIES = 2;
/**
 * A joiner that saved a snapshot of its own below its told since restarts at once with this
 * probability: the restart that must find the configuration of that snapshot at the index it
 * holds at (it crash-looped when the snapshot recorded it as that of its own index).
 */
const RESTART_AFTER_SNAPSHOT_BELOW_SINCE_PROBABILITY = 0.5;
/**
 * Chance, per member's first open (a fresh data directory: the first members, a spare), in runs
 * with crash faults, that its process is killed while the open's startup job is still making the
 * directories it created durable (FIRST_OPEN_CRASH_AFTER_MS), and restarted. The next
 * open cannot tell that the first created them: only fsyncing every directory above the data
 * directory keeps a later power loss from taking the whole directory, acknowledged saves and all.
 */
const FIRST_OPEN_CRASH_PROBABILITY = 0.25;
/** At once: the open's first directory fsync (the outermost directory it created) is still in flight. */
const FIRST_OPEN_CRASH_AFTER_MS = 0;
/** Mixed into the seed for each member's stream of power losses in large writes (see MemberDisk.aimAtLargeWrite). */
const LARGE_WRITE_STREAM_SALT = 0x1a4e;
/** Mixed into the seed for each member's first-open stream (see memberStream). */
const FIRST_OPEN_STREAM_SALT = 0xf1a5;
/** Mixed into the seed for the adversary's later stream (see AdversaryContext.laterRandom). */
const ADVERSARY_LATER_STREAM_SALT = 0x1a7e;

const SIM_DRIVER_LIMITS = { proposalTimeoutMs: 2_000, readTimeoutMs: 2_000, quorumClientRetryMs: 200, snapshotSliceBytes: 512 };

export interface RunStats {
  readonly seed: number;
  readonly messagesDelivered: number;
  readonly messagesDropped: number;
  readonly operations: number;
  readonly simulatedMs: number;
  readonly events: number;
  readonly invariantChecks: number;
  readonly faultsInjected: number;
  /** Byzantine runs: who lied and how (empty otherwise). */
  readonly byzantine: readonly string[];
  readonly behaviours: readonly string[];
  /** Processes that are a second copy of a liar (Twins). */
  readonly twins: number;
  /** Messages delivered between members, by the protocol message's type. */
  readonly messagesByType: Readonly<Record<string, number>>;
  /** Crashes and power losses of honest members (each restarted from its disk). */
  readonly crashes: number;
  /** Members that refused to start because their disk was damaged. */
  readonly refusedToStart: number;
  /** The protocol's own counters (ReplicaStatus.counters), summed over honest members at the end. */
  readonly counters: Readonly<Record<string, number>>;
  /** Client requests honest replicas executed in order (quorum client model; 0 otherwise). */
  readonly requestsExecuted: number;
}

export type RunOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'safety'; readonly invariant: string; readonly message: string; readonly atMs: number }
  | { readonly kind: 'liveness'; readonly message: string };

export interface RunResult {
  readonly outcome: RunOutcome;
  /** A measuring run's counts (SimOptions.observe). */
  readonly observations?: Observations;
  readonly history: Operation[];
  readonly stats: RunStats;
  readonly trace: string[];
  /** FNV-1a over the event trace: equal for equal seeds and options. */
  readonly traceHash: string;
}

interface Delivery extends CustomEvent {
  readonly frame: NodeMessage;
  readonly target: SimNode<unknown>;
  readonly fromKey: string;
  /** Sent by a member (not by one of the simulation's own clients): counted by type. */
  readonly fromMember: boolean;
}

type AnyClient = SessionClient<unknown> | QuorumSimClient<Envelope, unknown>;

/** A run that can no longer make progress worth simulating (a message storm). */
class LivenessFailure extends Error {}

/** A member's transport, as the simulator models it (Simulation.peerViews). */
interface PeerView {
  readonly incarnation: number;
  /** The members its node showed when last looked at (itself too, when shown). */
  shown: Set<NodeId>;
  /** Members that left `shown` and did not come back: refused, never dialled (the transport's own rule). */
  readonly removed: RemovedMembers;
  /** Members that delivered a frame to this incarnation: it answers them at the address their hello named. */
  readonly dialledBy: Set<NodeId>;
}

export class Simulation implements WorldHandler<Delivery> {
  private readonly world: World<Delivery>;
  private readonly rng: Random;
  /** Faults aimed at windows only broken code opens draw from their own stream, leaving other runs unchanged. */
  private readonly buggify: Random;
  private readonly ids: NodeId[];
  private readonly nodes: SimNode<unknown>[] = [];
  private readonly instances = new Map<NodeId, SimNode<unknown>[]>();
  private readonly disks = new Map<SimNode<unknown>, MemberDisk>();
  private readonly clients: AnyClient[] = [];
  private readonly quorumClients = new Map<string, QuorumSimClient<Envelope, unknown>>();
  private readonly invariants = new Invariants();
  private readonly monitor: SafetyMonitor | null;
  private readonly history: Operation[] = objectArray();
  private readonly links = new LinkFaults();
  private readonly nemesis: Nemesis;
  /** A measuring run's counts (SimOptions.observe), else null. */
  private readonly observer: Observer | null;
  /** The stale-leader scenario, in the runs that play it (see stale-leader.ts). */
  private readonly staleLeader: StaleLeaderScenario | null;
  private readonly workload: Workload<WorkloadOp, unknown>;
  private readonly membership: Membership;
  private readonly protocolOptions: Readonly<Record<string, unknown>>;
  private readonly adversary: Adversary<Envelope> | null = null;
  private readonly keyring: SimKeyring | null = null;
  private readonly byzantine: ReadonlySet<NodeId>;
  private readonly endMs: number;
  private readonly crashFaults: boolean;
  /** This run aims crashes and cuts at new leaders (see AIMED_RUN_SHARE). */
  private readonly aimed: boolean;
  /** The state machine persists itself as it applies (see DURABLE_STATE_MACHINE_RUN_SHARE). */
  private readonly durableStateMachine: boolean;
  private delivered = 0;
  private dropped = 0;
  private faultsInjected = 0;
  /**
   * Deliveries by message type: the types in the order first delivered, and a count for each.
   * Not an object (its keys would change its shape run after run) nor a Map: a protocol has a
   * dozen or two types, and a look along them was cheaper than a Map's get and set per delivery.
   */
  private readonly typeNames: string[] = objectArray();
  private readonly typeCounts: number[] = [];
  /** Results honest replicas executed, by client|timestamp|readOnly (quorum model). */
  private readonly honestResults = new Map<string, Set<string>>();
  private healed = false;
  /** The faults of this run: SimOptions.faults, or some of them (see FAULT_SUBSET_RUN_SHARE). */
  private readonly faults: ReadonlySet<FaultKind>;
  /** The compaction interval of this run (SimOptions.compactEvery, or drawn). */
  private readonly compactEvery: number;
  /** The highest commit index honest members reached CATCH_UP_ALLOWANCE_MS before the end: every member must apply it by the end. */
  private convergeTarget = 0;
  /** When the final reads began, and the members that answered a session client's operation since. */
  private readsStartedAt: number | null = null;
  private readonly servedInReads = new Set<SimNode<unknown>>();
  private get catchUpAllowanceMs(): number {
    return Math.min(CATCH_UP_ALLOWANCE_MS, this.o.livenessBoundMs / 2);
  }
  /** The highest commit index any honest member has reached so far: every entry up to it is committed. */
  private committedAnywhere = 0;
  /** The message-storm guard's bound for this run (see MAX_EVENTS_PER_SIMULATED_MS). */
  private maxEvents = Infinity;
  /** This run fails the leader over after the heal (see FINAL_FAILOVER_SHARE). */
  private readonly finalFailover: boolean;
  /**
   * After the faults heal: 'drain' lets every client finish what it is doing, then 'reads' fails
   * the leader over once more and clients only read (Jepsen's final reads). An idle cluster that
   * just changed leader must still answer a linearizable read within the bound.
   */
  private phase: 'faults' | 'drain' | 'reads' = 'faults';
  /** Runs that replace members (see REPLACE_RUN_SHARE): their own random stream; null otherwise. */
  private readonly replaceRng: Random | null;
  /**
   * Connection resets (a process that died, a rejecting partition) draw from a stream of their own,
   * and only under a protocol whose cores take peerDown: the runs of the others stay as they were.
   */
  private readonly resetRng: Random;
  /**
   * Replacing runs: a stream of their own for the hazards aimed at joiners (their snapshot
   * interval, a restart after a snapshot below since, who answers a join), so that the
   * replacement's own draws stay as they were; null otherwise.
   */
  private readonly joinerRng: Random | null;
  /** The snapshot interval of spares (this run's, or SPARE_SNAPSHOT_EVERY_ENTRIES). */
  private readonly spareCompactEvery: number;
  /** Spares that joined, members removed from the configuration, and removed members stopped for good. */
  private readonly joined = new Set<SimNode<unknown>>();
  private readonly removedMembers = new Set<SimNode<unknown>>();
  private readonly retired = new Set<SimNode<unknown>>();
  /**
   * Spares proposed as voters before their process started (an add-voter whose answer may be lost:
   * it may commit all the same). Each is a voter down until it joins, so it counts against the
   * faults the protocol tolerates beside the damaged disks (see nemesisSite).
   */
  private readonly votersNotStarted = new Set<NodeId>();
  /** The members clients ask: the honest ones, those that joined included, those removed not. */
  private clientMembers: SimNode<unknown>[] = [];

  constructor(private readonly protocol: ProtocolDefinition, private readonly o: SimOptions) {
    this.settleShape();
    this.world = new World<Delivery>(o.trace, this);
    this.rng = new Prng(o.seed);
    this.buggify = new Prng(o.seed ^ 0x5eed);
    this.resetRng = new Prng(o.seed ^ RESET_STREAM_SALT);
    this.ids = Array.from({ length: o.nodes }, (_, i) => nodeId(`n${i + 1}`));
    this.membership = { voters: this.ids, outgoingVoters: [], learners: [] };
    this.endMs = o.faultWindowMs + o.livenessBoundMs;
    // Some runs take only some of the faults asked for: a partition alone, with nothing else
    // going on, is where a deposed leader's lease shows; all at once is where recovery bugs hide.
    const possible = protocol.membership === undefined ? new Set([...o.faults].filter((f) => f !== 'admin')) : o.faults;
    this.faults = possible.size > 1 && this.buggify.chance(FAULT_SUBSET_RUN_SHARE) ? this.faultSubset(possible) : possible;
    this.crashFaults = this.faults.has('crash') || this.faults.has('power-loss');
    this.replaceRng = this.replaceStream(protocol);
    this.joinerRng = this.replaceRng === null ? null : new Prng(o.seed ^ JOINER_STREAM_SALT);
    const timing: Timing = { tickMs: o.tickMs, electionTimeoutMs: o.electionTimeoutMs, heartbeatIntervalMs: o.heartbeatIntervalMs };
    this.protocolOptions = {
      ...protocol.timingOptions(timing), ...(o.variants === false ? {} : protocol.simVariant(this.rng, timing)), ...protocol.messageBudgetOptions(SIM_MESSAGE_BUDGET_BYTES), ...o.protocolOptions,
    };
    this.monitor = protocol.createMonitor?.({ membership: this.membership, protocolOptions: this.protocolOptions }) ?? null;
    this.workload = (o.stateMachine === 'etcd' ? new EtcdWorkload(o.keys, o.mutant, this.authStream(), protocol.faultModel === 'byzantine' ? byzantineFaults(o.nodes) + 1 : 1) : new RegisterWorkload(o.keys, o.mutant, this.largeWritesOf(o))) as Workload<WorkloadOp, unknown>;
    const compactEvery = o.compactEvery > 0 ? o.compactEvery : this.rng.pick(SIM_COMPACT_INTERVALS);
    const fromSlotOne = o.compactEvery === 0 && this.joinerRng?.chance(JOIN_FROM_SLOT_ONE_SHARE) === true;
    this.compactEvery = fromSlotOne ? LATE_SNAPSHOT_EVERY_ENTRIES : compactEvery;
    this.spareCompactEvery = fromSlotOne ? SPARE_SNAPSHOT_EVERY_ENTRIES : compactEvery;
    this.finalFailover = this.buggify.chance(FINAL_FAILOVER_SHARE);
    const storm = this.rng.chance(STORM_RUN_SHARE);
    this.aimed = this.rng.chance(AIMED_RUN_SHARE);
    // Half the runs model a register state machine that persists itself as it applies (like
    // etcd's backend with its consistent index): it keeps what it applied across a process crash.
    this.durableStateMachine = protocol.client.kind === 'leader' && o.stateMachine === 'register' && this.rng.chance(DURABLE_STATE_MACHINE_RUN_SHARE);

    // Byzantine protocols: keys, liars, twins and the adversary.
    let byzantine: NodeId[] = [];
    let twins = false;
    if (protocol.faultModel === 'byzantine') {
      this.keyring = new SimKeyring(this.rng.fork());
      const behaviours = o.byzantine ?? new Set<string>();
      const count = Math.min(behaviours.size === 0 ? 0 : (o.byzantineCount ?? byzantineFaults(o.nodes)), o.nodes);
      if (o.byzantineIds !== undefined) byzantine = o.byzantineIds.map(nodeId);
      else {
        // Half the runs put the first leader among the liars: equivocation and silence need one.
        const others = this.rng.shuffle(this.ids.filter((id) => id !== this.ids[0]));
        byzantine = count === 0 ? [] : this.rng.chance(0.5) ? [this.ids[0]!, ...others.slice(0, count - 1)] : others.slice(0, count);
      }
      twins = behaviours.has(TWINS) && byzantine.length > 0 && this.rng.chance(TWINS_RUN_SHARE);
      const own = new Set([...behaviours].filter((b) => b !== TWINS));
      if (byzantine.length > 0 && protocol.adversary !== undefined && (own.size > 0 || !twins)) {
        const keyring = this.keyring;
        this.adversary = protocol.adversary.create({
          random: this.rng.fork(), laterRandom: new Prng(o.seed ^ ADVERSARY_LATER_STREAM_SALT), enabled: own, byzantine: new Set(byzantine), replicas: this.ids,
          authenticators: new Map(byzantine.map((id) => [id, keyring.authenticatorFor(id)] as const)),
          maxDelayMs: Number(this.protocolOptions['requestTimeoutTicks'] ?? 30) * o.tickMs * 0.8,
          protocolOptions: this.protocolOptions,
          ...(this.workload.liarCommand === undefined ? {} : { liarCommand: (random: Random, seq: number) => this.workload.liarCommand!(random, seq) }),
        });
      }
    }
    this.byzantine = new Set(byzantine);

    for (const [i, id] of this.ids.entries()) {
      const liar = this.byzantine.has(id);
      const copies = liar && twins ? [id, `${id}'`] : [id];
      for (const key of copies) this.addNode(key, id, i + 1, liar);
    }
    this.observer = o.observe === true ? new Observer(this.ids) : null;
    this.nemesis = new Nemesis(this.nemesisSite(storm));
    this.staleLeader = this.staleLeaderScenario();
    this.clientMembers = this.nodes.filter((n) => !n.byzantine);
    this.makeClients();

    for (const n of this.nodes) this.world.at(this.rng.int(0, o.tickMs - 1), () => n.start(false));
    for (const c of this.clients) this.world.at(this.rng.int(0, 50), () => c.next());
    if (this.faults.size > 0) this.world.at(this.rng.int(200, 800), () => this.strike());
    if (this.faults.size !== o.faults.size) this.world.note(`faults this run: ${[...this.faults].join(',')}`);
    if (this.replaceRng !== null) {
      const r = this.replaceRng;
      const hurried = r.chance(HURRIED_REPLACE_SHARE);
      const count = hurried ? SPARE_MEMBERS : r.int(1, SPARE_MEMBERS);
      const slots = this.spareCompactEvery === this.compactEvery ? '' : `; members snapshot every ${this.compactEvery} entries, spares every ${this.spareCompactEvery}`;
      this.world.note(`this run replaces ${count} member(s)${hurried ? ', hurried' : ''}${slots}`);
      this.world.at(r.int(REPLACE_FIRST_AT_MS.min, Math.min(REPLACE_FIRST_AT_MS.max, o.faultWindowMs)), () => this.nemesis.replace(count, hurried));
    }
    this.world.at(o.faultWindowMs, () => this.healAll());
    if (this.observer !== null) this.observeRun(this.observer, o);
    this.world.at(this.endMs - this.catchUpAllowanceMs, () => { this.convergeTarget = this.highestCommit(); });
    const liars = byzantine.length === 0 ? 'none' : `${byzantine.join(',')}${twins ? ' (twinned)' : ''}`;
    if (protocol.faultModel === 'byzantine') this.world.note(`byzantine ${liars}: ${[...(this.adversary?.active ?? [])].join(',') || 'none'}`);
  }

  /**
   * An etcd run with auth (see AUTH_RUN_SHARE) gets a random stream of its own for it, drawn from
   * the seed apart from the run's: the runs without auth stay as they were.
   */
  private authStream(): Random | undefined {
    const auth = new Prng(this.o.seed ^ AUTH_STREAM_SALT);
    return auth.chance(AUTH_RUN_SHARE) ? auth : undefined;
  }

  /**
   * A share of the runs with partitions, under a leader-model protocol, play the stale-leader
   * scenario, drawn from a stream of its own: the other runs stay as they were.
   */
  private staleLeaderScenario(): StaleLeaderScenario | null {
    if (this.protocol.client.kind !== 'leader' || !this.faults.has('partition') || this.nodes.length < STALE_LEADER_MIN_MEMBERS) return null;
    const stream = new Prng(this.o.seed ^ STALE_LEADER_STREAM_SALT);
    if (!stream.chance(STALE_LEADER_RUN_SHARE)) return null;
    const sim = this; // for the getter below
    return new StaleLeaderScenario({
      links: this.links,
      nodes: this.nodes,
      get healed() { return sim.healed; },
      leader: () => this.currentLeader(),
      lastIndex: (n) => (n.up ? this.logOf(n)?.lastIndex() ?? null : null),
      after: (ms, fn) => void this.world.after(ms, fn),
      turnOf: (node, fn) => void this.world.after(0, fn, node),
      note: (line) => this.world.note(line),
    }, stream, this.o.faultWindowMs);
  }

  /**
   * Whether this run replaces members (see REPLACE_RUN_SHARE): drawn from a stream of its own, and
   * only for protocols with a membership ability under admin faults, so that every other run
   * draws what it drew before; that stream then drives the replacements.
   */
  private replaceStream(protocol: ProtocolDefinition): Random | null {
    if (protocol.membership === undefined || protocol.faultModel !== 'crash' || !this.faults.has('admin')) return null;
    // A fault window shorter than the first replacement's earliest time has no room for one (a
    // short --duration-ms): such a run replaces nobody.
    if (this.o.faultWindowMs <= REPLACE_FIRST_AT_MS.min) return null;
    const r = new Prng(this.o.seed ^ REPLACE_STREAM_SALT);
    return r.chance(REPLACE_RUN_SHARE) ? r : null;
  }

  /** A measuring run: who leads, every tick, and the script's faults (see SimOptions.observe). */
  private observeRun(observer: Observer, o: SimOptions): void {
    const sample = (): void => {
      const leader = this.currentLeader();
      observer.sampleLeader(this.world.now, leader?.key ?? null, leader?.driver?.status().term ?? 0);
      this.world.after(o.tickMs, sample);
    };
    this.world.at(0, sample);
    if (o.observeWindow !== undefined) {
      this.world.at(o.observeWindow.fromMs, () => observer.markWindow('from'));
      this.world.at(o.observeWindow.toMs, () => observer.markWindow('to'));
    }
    const site: ScriptSite = {
      nodes: this.nodes,
      leader: () => this.currentLeader(),
      crash: (n) => {
        n.stop(false);
        this.processDied(n);
      },
      cutBoth: (a, b) => void this.links.cutBoth(a, b),
      healLinks: () => this.links.heal(),
      note: (line) => this.world.note(line),
    };
    for (const step of o.script ?? []) this.world.at(step.atMs, () => observer.script.push(runScriptStep(site, step)));
  }

  /** Counters and flags that only faults change get their final kind now (see shapes.ts). */
  private settleShape(): void {
    const { dropped, faultsInjected, healed } = this;
    this.dropped = dropped + 1;
    this.faultsInjected = faultsInjected + 1;
    this.healed = !healed;
    this.dropped = dropped;
    this.faultsInjected = faultsInjected;
    this.healed = healed;
  }

  run(): RunResult {
    let outcome: RunOutcome = { kind: 'ok' };
    try {
      const quiet = this.protocol.client.kind === 'quorum' ? QUIET_STRETCH_MS : 0;
      this.maxEvents = Math.ceil((this.endMs + quiet) * MAX_EVENTS_PER_SIMULATED_MS);
      this.world.run(this.endMs);
      this.checkLogs();
      outcome = this.checkLiveness();
      if (outcome.kind === 'ok' && quiet > 0) outcome = this.checkQuietConvergence(quiet);
    } catch (err) {
      if (err instanceof LivenessFailure) outcome = { kind: 'liveness', message: err.message };
      else {
        if (!(err instanceof InvariantViolation) && !isAssertion(err)) throw err;
        const invariant = err instanceof InvariantViolation ? err.invariant : 'assertion';
        outcome = { kind: 'safety', invariant, message: (err as Error).message, atMs: this.world.now };
      }
    }
    // Operations still in flight at the end have unknown outcomes.
    for (const c of this.clients) c.abandon();
    return {
      outcome,
      ...(this.observer === null ? {} : { observations: this.observer.result(Object.fromEntries(this.clients.filter((c) => c instanceof SessionClient).map((c) => [c.id, c.home.key]))) }),
      history: this.history,
      trace: this.world.trace.lines,
      traceHash: this.world.trace.hash,
      stats: {
        seed: this.o.seed, messagesDelivered: this.delivered, messagesDropped: this.dropped, operations: this.history.length,
        simulatedMs: this.world.now, events: this.world.events, invariantChecks: this.invariants.checks, faultsInjected: this.faultsInjected,
        byzantine: [...this.byzantine], behaviours: [...(this.adversary?.active ?? [])], messagesByType: Object.fromEntries(this.typeNames.map((type, i) => [type, this.typeCounts[i]!])),
        twins: this.nodes.length - this.ids.length,
        crashes: this.nodes.reduce((n, x) => n + x.crashes, 0), refusedToStart: this.nodes.filter((x) => x.refused !== null).length,
        counters: this.counters(),
        requestsExecuted: [...this.honestResults.keys()].filter((k) => k.endsWith('|0')).length,
      },
    };
  }

  // ---- members -------------------------------------------------------------------------------

  /** Whether this run's register clients write large values often: drawn always, so the buggify stream is the same when an option decides. */
  private largeWritesOf(o: SimOptions): boolean {
    const drawn = this.buggify.chance(LARGE_WRITES_RUN_SHARE);
    return o.largeWrites ?? drawn;
  }

  private addNode(key: string, id: NodeId, index: number, liar: boolean, random: Random = this.rng.fork(), compactEvery = this.compactEvery): SimNode<unknown> {
    const cutRandom = this.memberStream(OLDER_SEGMENT_CUT_SALT, index);
    const largeWriteRandom = this.memberStream(LARGE_WRITE_STREAM_SALT, index);
    const disk = new MemberDisk(this.world as World<never>, random, { name: key, syncLatencyMs: this.o.syncLatencyMs, diskFaults: this.faults.has('disk'), mutant: this.o.mutant, cutRandom, largeWriteRandom, losePower: () => this.losePowerNow(node) });
    let opened = false;
    const aimed: SimDisk = {
      open: (ready) => {
        disk.open((storage) => ready(this.aimAtJoiner(node, this.aimAfterSync(node, storage))));
        if (!opened) this.crashInFirstOpen(node, index);
        opened = true;
      },
      crash: () => disk.crash(),
      powerLoss: (immediate) => disk.powerLoss(immediate),
    };
    const env = this.environment(index);
    const node: SimNode<unknown> = new SimNode<unknown>(key, id, index, liar, compactEvery === this.compactEvery ? env : { ...env, limits: { ...env.limits, snapshotEveryEntries: compactEvery } }, aimed);
    disk.owner = node;
    this.disks.set(node, disk);
    this.nodes.push(node);
    const list = this.instances.get(id) ?? [];
    list.push(node);
    this.instances.set(id, list);
    return node;
  }

  /**
   * What member `index` runs with. The simulated snapshots are small, under any
   * maxSnapshotBytesDecodedBeforeAck, so every other member takes each one as a larger one
   * (acknowledged once durable, decoded as it is installed, in slices): both ways run here.
   */
  private environment(index: number): NodeEnvironment<unknown> {
    const sim = this;
    const keyring = this.keyring;
    return {
      world: this.world as World<never>,
      protocol: this.protocol,
      membership: this.membership,
      protocolOptions: this.protocolOptions,
      limits: { ...SIM_DRIVER_LIMITS, snapshotEveryEntries: this.compactEvery, ...(index % 2 === 1 ? { maxSnapshotBytesDecodedBeforeAck: 0 } : {}) },
      tickMs: this.o.tickMs,
      mutant: this.o.mutant,
      durableStateMachine: this.durableStateMachine,
      createStateMachine: () => this.workload.createStateMachine(),
      encodeResult: (r) => this.workload.encodeResult(r),
      fork: () => this.rng.fork(),
      ...(keyring === null ? {} : { authenticatorFor: (p: string): Authenticator => keyring.authenticatorFor(p) }),
      release: (from, frames, count) => this.release(from, frames, count),
      events: (node) => sim.eventsOf(node),
      refusedToStart: (node) => sim.refusedToStart(node),
      processDied: (node) => sim.processDied(node),
    };
  }

  /**
   * A member's process died while up (a crash, a power loss): its kernel (or, for a power loss, the
   * peers' own timeouts and the reset of its next reply; modelled alike) closes its TCP connections,
   * and each live peer across a link that is not cut learns of it a network delay later, as its
   * transport would (Replica.peerDown through the driver). A partition is silent: nothing crosses
   * it. A peer that crashed meanwhile (another incarnation) held no such connection; a paused one
   * finds the close in its buffers when it resumes.
   */
  /** See NemesisSite.resetConnections: both ends of each reset connection learn of it, across the cut. */
  private resetConnections(a: readonly string[], b: readonly string[]): void {
    const inA = new Set(a);
    const inB = new Set(b);
    for (const x of this.nodes) {
      if (!x.up || !(inA.has(x.key) || inB.has(x.key))) continue;
      const other = inA.has(x.key) ? inB : inA;
      if (x.driver?.takesPeerDown !== true) continue;
      for (const y of this.nodes) {
        if (y === x || y.id === x.id || !y.up || !other.has(y.key)) continue;
        this.world.after(this.resetLatency(), () => {
          if (x.up) x.driver?.peerDown(y.id);
        }, x);
      }
    }
  }

  /** Whether the members' cores take peerDown (see resetRng). */
  private takesPeerDown(): boolean {
    return this.nodes.some((n) => n.driver?.takesPeerDown === true);
  }

  /** A reset's trip to a peer: the network's latency, drawn from the resets' own stream. */
  private resetLatency(): number {
    return this.o.latencyBaseMs + this.resetRng.float() * this.o.latencyJitterMs;
  }

  private processDied(dead: SimNode<unknown>): void {
    for (const peer of this.nodes) {
      if (peer === dead || peer.id === dead.id || !peer.up || peer.driver?.takesPeerDown !== true || this.links.isCut(dead.key, peer.key)) continue;
      this.world.after(this.resetLatency(), () => {
        if (!peer.up || this.links.isCut(dead.key, peer.key)) return;
        peer.driver?.peerDown(dead.id);
      }, peer);
    }
  }

  /**
   * "Buggify" (as FoundationDB's simulator calls it): now and then, crash a member the moment it
   * has acted on a durable write — after its messages left — and restart it at once, like a
   * process killed and brought back by its supervisor. This is the window in which a protocol that
   * answered before its state was really durable forgets what it promised.
   */
  private aimAfterSync(node: SimNode<unknown>, storage: StoragePort<unknown>): StoragePort<unknown> {
    return {
      restored: () => storage.restored(),
      saveSnapshot: (s, done) => storage.saveSnapshot(s, done),
      close: (done) => storage.close(done),
      stats: () => storage.stats(),
      save: (p, done) => storage.save(p, (err) => {
        done(err);
        if (err !== null || !node.up || node.byzantine || !this.crashFaults || this.healed) return;
        if (p.snapshot !== null) {
          // The buggify stream draws whatever the stale-leader scenario asks: runs without it stay as they were.
          const aimed = this.staleLeader?.crashAfterInstall(node) === true;
          if (!this.buggify.chance(CRASH_AFTER_INSTALL_PROBABILITY) && !aimed) return;
          this.faultsInjected++;
          node.crashAtEndOfTurn({ kind: 'crash', loseMessages: false, restartAfterMs: this.buggify.int(0, 3) });
          return;
        }
        if (node.sentThisTurn === 0) return;
        const promised = p.hardState !== null;
        if (!this.rng.chance(promised ? CRASH_AFTER_PROMISE_PROBABILITY : CRASH_AFTER_SYNC_PROBABILITY)) return;
        this.faultsInjected++;
        node.crashAtEndOfTurn({ kind: 'crash', loseMessages: false, restartAfterMs: promised ? this.rng.int(0, 3) : this.rng.int(1, 15) });
      }),
    };
  }

  /** A random stream of member `index`'s own, for one kind of fault (`salt`): drawing from it changes no other stream. */
  private memberStream(salt: number, index: number): Random {
    return new Prng((this.o.seed ^ salt) + index * MEMBER_STREAM_STRIDE);
  }

  /** See FIRST_OPEN_CRASH_PROBABILITY. Drawn from a stream of the member's own: other runs stay as they were. */
  private crashInFirstOpen(node: SimNode<unknown>, index: number): void {
    if (!this.crashFaults || node.byzantine) return;
    const rng = this.memberStream(FIRST_OPEN_STREAM_SALT, index);
    if (!rng.chance(FIRST_OPEN_CRASH_PROBABILITY)) return;
    const restartAfterMs = rng.int(0, 50);
    this.world.after(FIRST_OPEN_CRASH_AFTER_MS, () => {
      if (!node.opening) return;
      this.faultsInjected++;
      node.stop(false);
      this.world.note(`nemesis crash ${node.key} in its first open`);
      this.world.after(restartAfterMs, () => this.restart(node, false));
    });
  }

  /**
   * A member that joined (replacing runs) and saved a snapshot of its own below the since it was
   * told restarts at once now and then (RESTART_AFTER_SNAPSHOT_BELOW_SINCE_PROBABILITY): the
   * restart that must find the snapshot's configuration at the index it holds at.
   */
  private aimAtJoiner(node: SimNode<unknown>, storage: StoragePort<unknown>): StoragePort<unknown> {
    const rng = this.joinerRng;
    if (rng === null || !this.joined.has(node)) return storage;
    return {
      restored: () => storage.restored(),
      save: (p, done) => storage.save(p, done),
      close: (done) => storage.close(done),
      stats: () => storage.stats(),
      saveSnapshot: (snapshot, done) => storage.saveSnapshot(snapshot, (err) => {
        done(err);
        if (err !== null || !node.up || !this.crashFaults || this.healed) return;
        if (snapshot.meta.index >= (node.told?.since ?? 0) || !rng.chance(RESTART_AFTER_SNAPSHOT_BELOW_SINCE_PROBABILITY)) return;
        this.faultsInjected++;
        this.world.note(`${node.key} restarts after its snapshot at ${snapshot.meta.index}, below its since ${node.told?.since ?? 0}`);
        node.crashAtEndOfTurn({ kind: 'crash', loseMessages: false, restartAfterMs: rng.int(0, 3) });
      }),
    };
  }

  /**
   * Whether an honest member may lose power now (see losePowerSoon): crash faults are on and the
   * faults have not healed. Asked first, so that the chance is worked out only then (the driver
   * tells of every save and of messages sent while saving: closures to defer it were garbage).
   */
  private mayLosePower(node: SimNode<unknown>): boolean {
    return !node.byzantine && this.crashFaults && !this.healed;
  }

  /**
   * A member that may lose power (see mayLosePower) loses it at the end of this turn (and
   * restarts within 3 ms) with probability `p`, drawn from the buggify stream (0: no draw).
   */
  private losePowerSoon(node: SimNode<unknown>, p: number): void {
    if (p === 0 || !this.buggify.chance(p)) return;
    this.faultsInjected++;
    node.crashAtEndOfTurn({ kind: 'power-loss', loseMessages: false, restartAfterMs: this.buggify.int(0, 3) });
  }

  /** An honest member loses power at the end of this turn, if crash faults are on and not healed (see MemberDiskOptions.losePower). */
  private losePowerNow(node: SimNode<unknown>): boolean {
    if (node.byzantine || !this.crashFaults || this.healed || !node.up || node.crashScheduled) return false;
    this.faultsInjected++;
    node.crashAtEndOfTurn({ kind: 'power-loss', loseMessages: false, restartAfterMs: this.buggify.int(0, 3) });
    return true;
  }

  /** The driver events the checks listen to. */
  private eventsOf(node: SimNode<unknown>): DriverEvents<unknown> {
    return {
      refused: (frame, reason) => {
        // Every honest member's (and client's) message must pass the schema: a refused one is a
        // validator that would drop real traffic.
        const from = (frame as { from?: unknown }).from;
        const sender = typeof from === 'string' ? this.instances.get(from as NodeId) : undefined;
        if (sender?.some((x) => x.byzantine) === true) return;
        throw new SafetyViolation('valid messages pass the schema', `${node.key} refused a message from ${String(from)}: ${reason}`);
      },
      appliedEntries: (entries) => this.applied(node, entries),
      keeping: () => {
        if (this.mayLosePower(node)) this.losePowerSoon(node, POWER_LOSS_WHILE_KEEPING_PROBABILITY);
      },
      persisting: (persist, sentBeforeDurable) => {
        if (!this.mayLosePower(node)) return;
        const early = sentBeforeDurable > 0 && node.driver?.status().leading === false;
        this.losePowerSoon(node, early ? POWER_LOSS_BEFORE_SYNC_PROBABILITY : persist.snapshot !== null ? POWER_LOSS_DURING_INSTALL_PROBABILITY : 0);
      },
      // As `persisting`'s early case: messages that left ahead of a write not yet durable, from a
      // member that is not leading, are what a power loss now must not be able to betray.
      sentWhileSaving: () => {
        if (this.mayLosePower(node)) this.losePowerSoon(node, node.driver?.status().leading === false ? POWER_LOSS_BEFORE_SYNC_PROBABILITY : 0);
      },
      executed: (client, timestamp, result, readOnly, at) => {
        if (node.byzantine) return;
        if (!readOnly) this.invariants.executedOnce(node.key, `${client}|${timestamp}`, at);
        const key = `${client}|${timestamp}|${readOnly ? 1 : 0}`;
        let set = this.honestResults.get(key);
        if (set === undefined) this.honestResults.set(key, set = new Set());
        set.add(toHex(result === undefined ? EMPTY : this.workload.encodeResult(result)));
      },
      fatal: (err) => {
        const disk = this.disks.get(node);
        if (disk?.ioErrorArmed !== true || !err.message.includes(disk.ioErrorCode)) throw new SafetyViolation('storage failure', `${node.key}: ${err.message}`);
        // The injected I/O error stopped the member, as it must. Its machine is power-cycled: the
        // page cache, which may still hold pages a failed datasync gave up on, is gone.
        disk.ioErrorArmed = false;
        this.world.note(`${node.key} stopped on its storage error: ${err.message}`);
        node.crashAtEndOfTurn({ kind: 'power-loss', loseMessages: false, restartAfterMs: this.buggify.int(20, 500) });
      },
    };
  }

  private restart(n: SimNode<unknown>, keepStateMachine: boolean): void {
    if (n.up || this.retired.has(n)) return;
    n.start(keepStateMachine && this.durableStateMachine);
    this.world.note(`restart ${n.key}`);
  }

  /**
   * A member refuses to start only when its disk was damaged since it last opened: after crashes
   * and power losses alone, a storage that cannot open has lost what it acknowledged.
   */
  private refusedToStart(n: SimNode<unknown>): void {
    if (this.disks.get(n)?.damagedSinceOpen === true) return;
    throw new SafetyViolation('durability', `${n.key} cannot restart after crashes and power losses alone: ${n.refused ?? ''}`);
  }

  // ---- the network -----------------------------------------------------------------------------

  private latency(): number {
    return this.o.latencyBaseMs + this.rng.float() * this.o.latencyJitterMs;
  }

  /** A turn of `from` ended: what it sent leaves (a liar's through its adversary). */
  private release(from: SimNode<unknown>, frames: readonly (NodeMessage | null)[], count: number): void {
    for (let i = 0; i < count; i++) {
      const frame = frames[i]!;
      const bytes = from.byzantine ? 0 : this.checkFrameSize(from, frame);
      if (this.observer !== null && this.instances.has(frame.to)) this.observer.sentFrame(from.index, from.byzantine ? wireBytesUpTo(frame, SIM_MAX_FRAME_BYTES) : bytes);
      if (frame.kind === 'protocol' && from.byzantine && this.adversary !== null) {
        for (const out of this.adversary.transform(frame.message)) this.sendMessage(from, out.msg, out.delayMs);
      } else {
        this.sendFrame(from, frame, 0);
      }
    }
  }

  /** An honest member's frame must fit a transport's frame limit (see SIM_MAX_FRAME_BYTES); returns its size. */
  private checkFrameSize(from: SimNode<unknown>, frame: NodeMessage): number {
    const bytes = wireBytesUpTo(frame, SIM_MAX_FRAME_BYTES);
    if (bytes <= SIM_MAX_FRAME_BYTES) return bytes;
    const type = frame.kind === 'protocol' ? String((frame.message as { type?: unknown }).type ?? 'protocol') : frame.kind;
    const what = frame.kind === 'protocol' ? `a ${type} message` : `a ${type} frame`;
    if (this.protocol.unboundedMessageTypes?.includes(type) === true) {
      this.world.note(`${from.key} sent ${what} of more than ${SIM_MAX_FRAME_BYTES} bytes (a known gap of this protocol: a transport would refuse it)`);
      return bytes;
    }
    throw new SafetyViolation('bounded messages', `${from.key} sent ${what} of more than ${SIM_MAX_FRAME_BYTES} bytes to ${frame.to} (message budget ${SIM_MESSAGE_BUDGET_BYTES}): a transport refuses it`);
  }

  /**
   * Runs that replace members: what each member's transport (transport.ts) would do, kept per
   * incarnation (a transport's sets live in memory). A server's transport is given the members its
   * node shows (status().membership: voters of both halves and learners; the membership runtime sets
   * them after every applied change): a member that leaves them is removed, refused at its handshake
   * and never dialled again; any other member is taken (it authenticates as a known one would),
   * known or not, and answered, a member not shown at the address its hello named (here: once it
   * delivered a frame to this incarnation). A protocol with per-member keys (byzantine) takes only
   * the members it shows (it has no key for another). Only runs that replace members look: in the
   * others every member shows every other for good, and their runs stay as they were.
   */
  private readonly peerViews = new Map<SimNode<unknown>, PeerView>();

  /** `member`'s transport model, brought up to what its node shows now (null: its driver is not running). */
  private peerView(member: SimNode<unknown>): PeerView | null {
    const d = member.runningDriver;
    if (d === null) return null;
    let v = this.peerViews.get(member);
    if (v === undefined || v.incarnation !== member.incarnation) {
      v = { incarnation: member.incarnation, shown: new Set(), removed: new RemovedMembers(), dialledBy: new Set() };
      this.peerViews.set(member, v);
    }
    const m = d.status().membership;
    v.shown = new Set<NodeId>([...m.voters, ...m.outgoingVoters, ...m.learners]);
    // As the node's setPeers hands it to its transport: the others, and whether it is shown itself.
    v.removed.update([...v.shown].filter((id) => id !== member.id), v.shown.has(member.id));
    return v;
  }

  /** Whether `member`'s transport takes frames from `peer` (see peerViews). */
  private transportTakes(member: SimNode<unknown>, peer: NodeId): boolean {
    const v = this.peerView(member);
    if (v === null || v.shown.has(peer)) return true;
    return this.protocol.faultModel !== 'byzantine' && !v.removed.has(peer) && this.o.mutant !== 'refuse-unknown-peers';
  }

  /** Whether `member`'s transport has an address for `peer` (see peerViews). */
  private transportDials(member: SimNode<unknown>, peer: NodeId): boolean {
    const v = this.peerView(member);
    if (v === null || v.shown.has(peer)) return true;
    return !v.removed.has(peer) && v.dialledBy.has(peer) && this.protocol.faultModel !== 'byzantine';
  }

  private sendMessage(from: SimNode<unknown>, msg: Envelope, extraMs: number): void {
    this.sendFrame(from, { kind: 'protocol', from: from.id, to: principalMember(msg.to) as NodeId, message: msg }, extraMs);
  }

  private sendFrame(from: SimNode<unknown>, frame: NodeMessage, extraMs: number): void {
    if (frame.kind === 'protocol') this.monitor?.sent(frame.message);
    const targets = this.instances.get(frame.to);
    if (targets === undefined) {
      // A reply to one of the simulation's own quorum clients.
      const client = frame.kind === 'protocol' ? this.quorumClients.get(frame.message.to) : undefined;
      if (client === undefined || (this.links.loses(this.rng, from.key, frame.to))) {
        this.dropped++;
        return;
      }
      const msg = (frame as { message: Envelope }).message;
      this.world.after(extraMs + this.latency(), () => client.receive(msg));
      return;
    }
    // A server's transport dials only the members it has an address for (see peerViews).
    if (this.replaceRng !== null && !this.transportDials(from, frame.to)) {
      this.dropped++;
      return;
    }
    for (let t = 0; t < targets.length; t++) {
      const target = targets[t]!;
      if (this.links.loses(this.rng, from.key, target.key)) {
        this.dropped++;
        continue;
      }
      const copies = this.links.copies(this.rng);
      for (let i = 0; i < copies; i++) {
        const at = this.world.now + extraMs + this.latency() + this.links.extraDelay(this.rng, from.key, target.key);
        this.world.schedule(at, { kind: 'custom', frame, target, fromKey: from.key, fromMember: true });
      }
    }
  }

  /** A request from one of the simulation's quorum clients to a replica. */
  private sendFromClient(client: string, msg: Envelope): void {
    const frame: NodeMessage = { kind: 'protocol', from: client as NodeId, to: principalMember(msg.to) as NodeId, message: msg };
    for (const target of this.instances.get(frame.to) ?? []) {
      if (this.links.loses(this.rng, client, target.key)) {
        this.dropped++;
        continue;
      }
      this.world.schedule(this.world.now + this.latency(), { kind: 'custom', frame, target, fromKey: client, fromMember: false });
    }
  }

  /** The world's handler: a message arrives (see WorldHandler). */
  onEvent(d: Delivery): void {
    const n = d.target;
    // A link cut while a message was on it loses the message, as a real partition does.
    if (!n.up || this.links.isCut(d.fromKey, n.key)) {
      this.dropped++;
      return;
    }
    // A server's transport takes frames only from members it does not know to be removed (see peerViews).
    if (d.fromMember && this.replaceRng !== null) {
      if (!this.transportTakes(n, d.frame.from)) {
        this.dropped++;
        return;
      }
      this.peerViews.get(n)?.dialledBy.add(d.frame.from);
    }
    if (n.paused) {
      n.park(new CallEvent(() => this.deliverNow(d), n, n.incarnation));
      return;
    }
    this.world.enter(n);
    try {
      this.deliverNow(d);
    } catch (err) {
      if (!n.failed(err)) throw err instanceof InvariantViolation ? err : new MemberCrashed(n, err);
    }
  }

  /** One more delivery of a message of `type` (see typeNames). */
  private countDelivery(type: string): void {
    const names = this.typeNames;
    let i = 0;
    while (i < names.length && names[i] !== type) i++;
    if (i === names.length) {
      names.push(type);
      this.typeCounts.push(0);
    }
    this.typeCounts[i]!++;
  }

  private deliverNow(d: Delivery): void {
    const n = d.target;
    this.delivered++;
    const frame = d.frame;
    const type = frame.kind === 'protocol' ? ((frame.message as { type?: string }).type ?? 'message') : frame.kind;
    if (d.fromMember) {
      this.countDelivery(type);
      this.observer?.receivedFrame(n.index);
    }
    // The same hash with or without readable lines: a trace asked for reproduces the run it explains.
    this.world.trace.mix(this.world.now, 0x64, n.index, type.length);
    if (this.o.trace) this.world.trace.keep(this.world.now, `deliver ${type} ${d.fromKey}>${n.key}`);
    if (n.byzantine && frame.kind === 'protocol' && this.adversary !== null && !n.broken) {
      for (const out of this.adversary.observe(frame.message, n.id)) this.sendMessage(n, out.msg, out.delayMs);
      const admitted = this.adversary.admit(frame.message, n.id);
      // What the liar held back and now lets its core see: as if it arrived now, from its sender.
      const released = this.adversary.release?.(n.id) ?? [];
      const driver = n.driver;
      if (!n.up || driver === null) return;
      if (admitted) driver.receive(frame);
      for (const m of released) driver.receive({ kind: 'protocol', from: principalMember(m.from) as NodeId, to: n.id, message: m });
      return;
    }
    const driver = n.driver;
    if (n.up && driver !== null) driver.receive(frame);
  }

  // ---- clients -------------------------------------------------------------------------------

  private makeClients(): void {
    const clientTimeoutMs = this.protocol.client.kind === 'quorum' ? Math.max(this.o.clientTimeoutMs, QUORUM_CLIENT_TIMEOUT_MS) : this.o.clientTimeoutMs;
    // Every attempt sets one, and nearly all go stale: they wait in a lane of their own.
    this.world.useLaneFor(clientTimeoutMs);
    const site: ClientSite<unknown> = {
      rng: this.rng,
      workload: this.workload,
      clientTimeoutMs,
      clientAttempts: this.protocol.client.kind === 'quorum' ? Math.max(this.o.clientAttempts, QUORUM_CLIENT_ATTEMPTS) : this.o.clientAttempts,
      clientThinkMs: this.o.clientThinkMs,
      readerShare: this.o.readerShare ?? READER_CLIENT_SHARE,
      now: () => this.world.now,
      latency: () => this.latency(),
      after: (ms, fn) => void this.world.after(ms, fn),
      afterOn: (node, ms, fn) => void this.world.after(ms, fn, node),
      armTimeout: (fn) => this.world.afterInLane(clientTimeoutMs, fn),
      disarmTimeout: (handle) => this.world.supersede(clientTimeoutMs, handle),
      mayStart: () => this.world.now < this.endMs - this.o.clientTimeoutMs && this.phase !== 'drain',
      readsOnly: () => this.phase === 'reads',
      sessionsPerMember: this.protocol.client.kind === 'quorum',
      // A Byzantine protocol's state machines learn which member ordered a command (its quorum clients' principal).
      commandOrigin: (n) => (this.protocol.faultModel === 'byzantine' ? n.id : ''),
      members: () => this.clientMembers,
      record: (ops, label, by, client, ok) => {
        // Operations made with nextOperationId() already carry their place in the history.
        for (const op of ops) this.history.push(op.id === this.history.length ? op : { ...op, id: this.history.length });
        // The line `client ${client} ${label}[ @${by}] → ok|unknown`, hashed without being built.
        this.world.noteParts('client ', String(client), ' ', label, by === '' ? '' : ' @', by, ok ? ' → ok' : ' → unknown');
      },
      nextOperationId: () => this.history.length,
      idle: () => this.maybeStartFinalReads(),
      served: (n) => {
        if (this.phase === 'reads') this.servedInReads.add(n);
      },
      readAsked: () => {
        if (this.protocol.client.kind !== 'leader') return () => {};
        const committed = this.committedAnywhere;
        return (n) => {
          const at = n.driver?.appliedPosition().index ?? 0;
          if (at < committed) {
            throw new SafetyViolation('fresh read', `${n.key} served a linearizable read at applied index ${at}, but ${committed} was committed before the read was asked`);
          }
        };
      },
    };
    const client = this.protocol.client;
    for (let c = 1; c <= this.o.clients; c++) {
      if (client.kind === 'quorum' && !this.rng.chance(MEMBER_CLIENT_SHARE)) {
        const keyring = this.keyring!;
        const principal = `c${c}`;
        const qsite: QuorumClientSite<Envelope, unknown> = {
          ...site,
          sendFromClient: (msg) => this.sendFromClient(principal, msg),
          honestResult: (cl, ts, ro, result) => this.honestResults.get(`${cl}|${ts}|${ro ? 1 : 0}`)?.has(toHex(result)) ?? false,
          forged: (detail) => {
            throw new SafetyViolation('client accepted a forged result', detail);
          },
        };
        const qc = new QuorumSimClient<Envelope, unknown>(c, client.createClient(keyring.authenticatorFor(principal), this.ids, 0, this.o.mutant), qsite);
        this.quorumClients.set(principal, qc);
        this.clients.push(qc);
        this.workload.useClient?.(c, 'quorum');
      } else {
        this.clients.push(new SessionClient<unknown>(c, site));
        this.workload.useClient?.(c, 'member');
      }
    }
  }

  // ---- checks ------------------------------------------------------------------------------------

  /** The world's handler: after a turn, the members it touched are checked (see observe). */
  afterTurn(owner: TurnOwner): void {
    if (this.world.events > this.maxEvents) throw new LivenessFailure(`message storm: ${this.world.events} events by ${this.world.now.toFixed(1)} ms (bound ${MAX_EVENTS_PER_SIMULATED_MS} per simulated ms)`);
    this.observe(owner as SimNode<unknown>);
  }

  /** After every turn of a member: its commit and term never go back, one leader per term, the protocol's own monitor. */
  private observe(n: SimNode<unknown>): void {
    const d = n.driver;
    if (!n.up || d === null || n.byzantine) return;
    // A core's term, commit and leadership change only in a step that hands out a Ready.
    if (d.readies === n.observedReadies) return;
    n.observedReadies = d.readies;
    this.monitor?.observed(d.replica);
    const s = d.status();
    if (s.commitIndex < n.lastCommit) throw new SafetyViolation('commit monotonic', `${n.key} commit went from ${n.lastCommit} to ${s.commitIndex}`);
    if (s.term < n.lastTerm) throw new SafetyViolation('term monotonic', `${n.key} term went from ${n.lastTerm} to ${s.term}`);
    n.lastCommit = s.commitIndex;
    if (s.commitIndex > this.committedAnywhere) this.committedAnywhere = s.commitIndex;
    n.lastTerm = s.term;
    this.staleLeader?.observed(n, s);
    if (s.leading) {
      this.invariants.leaderSeen(n.id, s.term);
      if (!n.wasLeader) {
        this.world.note(`${n.key} leads term ${s.term}`);
        const log = this.logOf(n);
        if (log !== null) this.invariants.leaderComplete(n.id, s.term, log);
        if (this.aimed && this.faults.has('partition') && !this.healed && this.rng.chance(ISOLATE_NEW_LEADER_PROBABILITY)) {
          this.faultsInjected++;
          const incarnation = n.incarnation;
          const delay = this.buggify.chance(0.5) ? 0 : this.buggify.int(1, ISOLATE_LEADER_MAX_DELAY_ELECTION_TIMEOUTS * this.o.electionTimeoutMs);
          if (delay === 0) this.nemesis.isolate(n);
          else this.world.after(delay, () => { if (!this.healed && n.up && n.incarnation === incarnation && n.driver?.status().leading === true) this.nemesis.isolate(n); });
        }
      }
    }
    n.wasLeader = s.leading;
  }

  /** Committed entries applied by an honest member: the same command at each index everywhere; and the Figure 8 window. */
  private applied(n: SimNode<unknown>, entries: readonly LogEntry[]): void {
    if (n.byzantine) return;
    const d = n.driver;
    if (d === null) return;
    const s = d.status();
    for (const e of entries) this.invariants.appliedCommand(n.id, e, s.term);
    if (!this.aimed || !this.crashFaults || this.healed || this.protocol.client.kind !== 'leader') return;
    if (!s.leading) return;
    const oldTerm = entries.some((e) => e.term < s.term);
    if (!this.rng.chance(oldTerm ? CRASH_AFTER_OLD_TERM_APPLY_PROBABILITY : CRASH_AFTER_APPLY_PROBABILITY)) return;
    // Killed while applying, in the same turn of its event loop: what it queued has not left.
    this.faultsInjected++;
    n.crashAtEndOfTurn({ kind: 'crash', loseMessages: true, restartAfterMs: this.rng.int(50, 500) });
  }

  private counters(): Record<string, number> {
    const sum: Record<string, number> = {};
    for (const n of this.nodes) {
      if (n.byzantine) continue;
      for (const [k, v] of Object.entries(n.driver?.status().counters ?? {})) sum[k] = (sum[k] ?? 0) + v;
    }
    return sum;
  }

  private logOf(n: SimNode<unknown>): LogView | null {
    const d = n.driver;
    return d === null || this.protocol.logView === undefined ? null : this.protocol.logView(d.replica);
  }

  private checkLogs(): void {
    const logs = new Map<NodeId, LogView>();
    for (const n of this.nodes) {
      if (!n.up || n.byzantine) continue;
      const log = this.logOf(n);
      if (log !== null) logs.set(n.id, log);
    }
    this.invariants.logMatching(logs);
  }

  private checkLiveness(): RunOutcome {
    if (this.protocol.client.kind === 'leader') {
      const leaders = this.nodes.filter((n) => n.up && n.driver?.status().leading === true);
      if (leaders.length === 0) return { kind: 'liveness', message: `no leader ${this.o.livenessBoundMs} ms after the faults healed` };
    }
    // A session client whose home member's disk the nemesis damaged (it refuses to start, down for
    // good) starts every operation there and finds the living members only by its retries' random
    // picks, which may keep landing on members that are down for good (seed 576 of Multi-Paxos: two
    // of five); it is a Jepsen worker bound to a dead node, not a stuck cluster.
    const homeless = (c: (typeof this.clients)[number]): boolean => c instanceof SessionClient && this.nemesisCorrupted.has(c.home) && !c.home.up;
    const stuck = this.clients.filter((c) => !c.completedAfterHeal && !homeless(c)).map((c) => c.id);
    if (stuck.length > 0) {
      return { kind: 'liveness', message: `clients ${stuck.join(',')} completed no operation within ${this.o.livenessBoundMs} ms after the faults healed` };
    }
    // Every honest member catches up, not only a quorum: a follower left behind for good (a window
    // of lost appends never freed, a snapshot never completed, a PBFT replica restarted into a
    // quiet cluster, or one alone in a view change) is one failure away from unavailability.
    const where = this.behind(this.convergeTarget);
    if (where !== null) {
      return { kind: 'liveness', message: `members behind after the faults healed: ${where}; ${this.catchUpAllowanceMs} ms earlier the cluster had committed ${this.convergeTarget}` };
    }
    const silent = this.silentHomes();
    if (silent.length > 0) {
      return { kind: 'liveness', message: `members served no operation in the ${Math.round(this.endMs - this.readsStartedAt!)} ms of final reads: ${silent.map((n) => n.key).join(', ')}` };
    }
    const counters = this.counters();
    const owed = counters['snapshotBytesOwed'] ?? 0;
    const sent = counters['snapshotBytesSent'] ?? 0;
    if (owed >= SNAPSHOT_AMPLIFICATION_MIN_BYTES && sent > owed * MAX_SNAPSHOT_AMPLIFICATION) {
      return { kind: 'liveness', message: `snapshot transfers sent ${sent} bytes where ${owed} were owed (${(sent / owed).toFixed(1)}x, bound ${MAX_SNAPSHOT_AMPLIFICATION}x)` };
    }
    return { kind: 'ok' };
  }

  /** One to three of `faults`, drawn. */
  private faultSubset(faults: ReadonlySet<FaultKind>): ReadonlySet<FaultKind> {
    const kinds = this.buggify.shuffle([...faults]);
    return new Set(kinds.slice(0, this.buggify.int(1, Math.min(3, kinds.length))));
  }

  /**
   * Every honest member serves its callers after the heal, as a Jepsen check asks of every node:
   * each member a session client calls home must answer at least one operation in the final
   * reads (when they last long enough to catch up in). A member that stays up and current in its
   * log but can serve nothing (a PBFT replica alone in a view change, which executes only what
   * state transfer brings, so every read barrier it orders lands above what it has) fails here.
   */
  private silentHomes(): SimNode<unknown>[] {
    if (this.readsStartedAt === null || this.endMs - this.readsStartedAt < 2 * this.catchUpAllowanceMs) return [];
    const homes = new Set<SimNode<unknown>>(this.protocol.client.kind === 'quorum' ? this.nodes.filter((n) => !n.byzantine) : []);
    for (const c of this.clients) if (c instanceof SessionClient) homes.add(c.home);
    const up = new Set(this.honestUp());
    return [...homes].filter((n) => up.has(n) && !this.servedInReads.has(n) && n.driver!.status().membership.voters.includes(n.id) && this.inConfiguration(n));
  }

  /**
   * Under a quorum-model protocol only some clients are a member's callers, so not every member is
   * some session client's home: ask each honest member for a read barrier until it serves one.
   */
  private probe(n: SimNode<unknown>): void {
    if (this.servedInReads.has(n) || this.world.now >= this.endMs) return;
    this.world.after(this.o.latencyBaseMs, () => n.runningDriver?.readBarrier((err) => {
      if (err === null) this.servedInReads.add(n);
    }), n);
    this.world.after(QUORUM_CLIENT_TIMEOUT_MS, () => this.probe(n));
  }

  /**
   * Stop every client, let the cluster be quiet for `quietMs`, then ask that every honest member
   * caught up. In half the runs one last fault opens the stretch: a member is down while the
   * others order a few more requests, then comes back into the quiet cluster with its first
   * messages lost while its connections come up (what restarted PBFT members met in the process
   * tests: the STATUS that would have told the others what it lacks never arrived).
   */
  private checkQuietConvergence(quietMs: number): RunOutcome {
    for (const c of this.clients) c.abandon();
    this.world.note('quiet stretch');
    const honest = this.honestUp();
    if (this.crashFaults && honest.length > 1 && this.rng.chance(0.5)) {
      const victim = this.rng.pick(honest);
      victim.stop(false);
      this.world.note(`quiet stretch: crash ${victim.key}`);
      for (const n of honest) if (n !== victim) this.world.after(this.o.latencyBaseMs, () => n.runningDriver?.readBarrier(() => {}), n);
      this.world.after(QUIET_RESTART_AFTER_MS, () => {
        const token = this.links.cutOneWay(victim.key, this.nodes.map((n) => n.key));
        this.restart(victim, true);
        this.world.after(this.rng.int(1, QUIET_RESTART_CONNECT_MAX_MS), () => this.links.healFault('cut', token));
      });
    }
    this.world.run(this.endMs + quietMs);
    this.checkLogs();
    const furthest = Math.max(0, ...this.honestUp().map((n) => n.driver!.status().appliedIndex));
    const where = this.behind(furthest);
    if (where === null) return { kind: 'ok' };
    return { kind: 'liveness', message: `members behind after ${quietMs} ms of quiet: ${where}; another had executed ${furthest}` };
  }

  /** The highest commit index among the honest members that are up. */
  private highestCommit(): number {
    let max = 0;
    for (const n of this.honestUp()) max = Math.max(max, n.driver!.status().commitIndex);
    return max;
  }

  /** Honest members that are up with a running driver. */
  private honestUp(): SimNode<unknown>[] {
    return this.nodes.filter((n) => n.up && !n.byzantine && n.driver !== null);
  }

  /** Honest members that are up below applied index `target`, and where they are; null if none. */
  private behind(target: number): string | null {
    const behind = this.honestUp().filter((n) => n.driver!.status().appliedIndex < target && this.inConfiguration(n));
    return behind.length === 0 ? null : behind.map((n) => `${n.key} at ${n.driver!.status().appliedIndex}`).join(', ');
  }

  /**
   * Whether `n` is a member of the configuration whoever leads has applied. A removal whose answer
   * was lost (its leader crashed) may still be chosen later: the member it removed, which may
   * never learn it, is not expected to keep up or answer. Every member is, in runs that replace
   * nobody.
   */
  private inConfiguration(n: SimNode<unknown>): boolean {
    if (this.replaceRng === null) return true;
    const leader = this.currentLeader();
    const m = leader?.runningDriver?.status().membership;
    if (m === undefined) return true;
    return m.voters.includes(n.id) || m.outgoingVoters.includes(n.id) || m.learners.includes(n.id);
  }

  // ---- the nemesis ------------------------------------------------------------------------------

  /** Members whose disks the nemesis damaged (see NemesisSite.corrupted). */
  private readonly nemesisCorrupted = new Set<SimNode<unknown>>();

  private nemesisSite(storm: boolean): NemesisSite {
    // A member that refuses to start counts against the faults the protocol tolerates, beside the
    // liars: tolerated by the fewest voters a configuration of the run may have (demotions shrink it).
    const tolerated = (voters: number) => (this.protocol.faultModel === 'byzantine'
      ? byzantineFaults(voters)
      : this.protocol.faultsTolerated?.(voters, this.protocolOptions) ?? Math.floor((voters - 1) / 2));
    const sim = this; // for the getters below
    let fewestVoters = this.ids.length;
    return {
      get healed() { return sim.healed; },
      get maxCorruptedMembers() { return Math.max(0, tolerated(fewestVoters) - sim.byzantine.size - sim.votersNotStarted.size); },
      mayAddVoterNotStarted: (id) => this.votersNotStarted.has(id) || tolerated(fewestVoters) - this.byzantine.size - this.votersNotStarted.size > this.nemesisCorrupted.size,
      rng: this.rng,
      links: this.links,
      faults: this.faults,
      nodes: this.nodes,
      storm,
      clockDriftBound: this.protocol.clockDriftBound?.(this.protocolOptions) ?? null,
      leader: () => this.currentLeader(),
      resetConnections: (a, b) => this.resetConnections(a, b),
      rejectingPartition: () => this.takesPeerDown() && this.resetRng.chance(REJECTING_PARTITION_SHARE),
      after: (ms, fn) => void this.world.after(ms, fn),
      note: (line) => this.world.note(line),
      restart: (n, keep) => this.restart(n, keep),
      corrupt: (n) => this.disks.get(n)?.corrupt() ?? null,
      armIoError: (n) => this.disks.get(n)?.armIoError() ?? null,
      transferLeadership: (leader, target) => {
        if (!leader.up || leader.driver === null) return false;
        try {
          leader.driver.transferLeadership(target.id);
          return true;
        } catch (err) {
          if (err instanceof QuorateError) return false; // not the leader any more, or cannot
          throw err;
        }
      },
      membership: (leader) => (leader.up && leader.driver !== null ? leader.driver.status().membership : null),
      changeMembership: (leader, change, done) => {
        if (!leader.up || leader.driver === null) return done(new QuorateError('STOPPED', 'the leader is down'));
        // Counted before it is proposed: once proposed it may commit, whatever this member hears.
        if (change.kind === 'joint') fewestVoters = Math.min(fewestVoters, change.voters.length);
        if (change.kind === 'remove') fewestVoters = Math.min(fewestVoters, leader.driver.status().membership.voters.filter((v) => v !== change.node).length);
        // A voter with no process yet is down until it joins: counted before it is proposed, as above.
        if (change.kind === 'add-voter' && this.instances.get(change.node) === undefined) this.votersNotStarted.add(change.node);
        // So is a learner not started yet that a joint change promotes (the admin cycle's promotion of every learner).
        if (change.kind === 'joint') for (const v of change.voters) if (this.instances.get(v) === undefined) this.votersNotStarted.add(v);
        const driver = leader.driver;
        driver.changeMembership(change, (err) => {
          if (err === null) checkMembershipShown(leader.key, driver.status().membership, change);
          done(err);
        });
      },
      // Demote only as far as the disks already damaged (and the voters not started yet) leave a quorum of the smaller voter set.
      demotable: (voters) => {
        let k = 0;
        while (k < voters - 1 && tolerated(voters - k - 1) - this.byzantine.size >= this.nemesisCorrupted.size + this.votersNotStarted.size) k++;
        return k;
      },
      corrupted: this.nemesisCorrupted,
      replacement: this.replaceRng === null || this.joinerRng === null ? null : this.replacementSite(this.replaceRng, this.joinerRng),
    };
  }

  /** See ReplacementSite. */
  private replacementSite(rng: Random, joinerRng: Random): ReplacementSite {
    const spares = Array.from({ length: SPARE_MEMBERS }, (_, i) => nodeId(`n${this.ids.length + i + 1}`));
    const originals = new Set(this.ids);
    return {
      rng,
      joinerRng,
      spare: () => spares.shift() ?? null,
      original: (id) => originals.has(id),
      joinAnswer: (member) => {
        const d = member.runningDriver;
        if (d === null) return null;
        return toldMembership(d.status());
      },
      join: (id, told) => {
        const already = this.instances.get(id)?.[0];
        if (already !== undefined) return already;
        // A spare's disk draws from the replacement stream: the run's own stream is left as it was.
        const n = this.addNode(id, id, this.nodes.length + 1, false, rng.fork(), this.spareCompactEvery);
        n.told = told;
        this.joined.add(n);
        this.votersNotStarted.delete(id);
        this.clientMembers = this.nodes.filter((x) => !x.byzantine && !this.removedMembers.has(x));
        this.world.note(`${id} joins: voters=(${told.voters.join(',')}) learners=(${told.learners.join(',')}) since=${told.since ?? 0}`);
        n.start(false);
        return n;
      },
      node: (id) => this.instances.get(id)?.[0] ?? null,
      removed: (n) => {
        this.removedMembers.add(n);
        this.clientMembers = this.nodes.filter((x) => !x.byzantine && !this.removedMembers.has(x));
        this.world.note(`${n.key} removed (stays up for now)`);
      },
      retire: (n) => this.retire(n),
      committedAtVoters: (index) => {
        const m = this.currentLeader()?.runningDriver?.status().membership;
        if (m === undefined) return false;
        return [...m.voters, ...m.outgoingVoters].every((v) => {
          const d = this.instances.get(v)?.[0]?.runningDriver;
          return d === null || d === undefined || d.status().commitIndex >= index;
        });
      },
    };
  }

  /** Stop a removed member for good (see ReplacementSite.retire). */
  private retire(n: SimNode<unknown>): void {
    if (this.retired.has(n)) return;
    this.retired.add(n);
    n.retired = true;
    n.stop(false);
    this.world.note(`${n.key} stopped for good (removed)`);
  }

  private strike(): void {
    if (this.world.now >= this.o.faultWindowMs) return;
    this.faultsInjected++;
    const next = this.nemesis.strike();
    this.world.after(next, () => this.strike());
  }

  /** The member leading the highest term, if one is. */
  private currentLeader(): SimNode<unknown> | null {
    let best: { n: SimNode<unknown>; term: number } | null = null;
    for (const n of this.nodes) {
      const s = n.up ? n.driver?.status() : undefined;
      if (s !== undefined && s.leading && (best === null || s.term > best.term)) best = { n, term: s.term };
    }
    return best?.n ?? null;
  }

  private healAll(): void {
    this.healed = true;
    this.phase = 'drain';
    this.nemesis.healAll();
    this.maybeStartFinalReads();
  }

  /** Once every client is idle after the heal: one more failover (if crashes are among the faults), then only reads. */
  private maybeStartFinalReads(): void {
    if (this.phase !== 'drain' || this.clients.some((c) => c.busy)) return;
    this.phase = 'reads';
    this.readsStartedAt = this.world.now;
    // Half the runs fail over once more; the others keep the leader that saw the faults, so that
    // what it left behind (a follower it stopped sending to) is still there to be seen.
    const leader = this.crashFaults && this.protocol.client.kind === 'leader' && this.finalFailover ? this.currentLeader() : null;
    if (leader !== null) {
      leader.stop(false);
      this.world.note(`final failover: crash ${leader.key}`);
      this.world.after(this.rng.int(5, 50), () => this.restart(leader, true));
    }
    this.world.note('final reads');
    if (this.protocol.client.kind === 'quorum') for (const n of this.nodes) if (!n.byzantine) this.probe(n);
    for (const c of this.clients) this.world.after(this.rng.int(0, this.o.clientThinkMs), () => c.next());
  }
}

const EMPTY = new Uint8Array(0);

/**
 * An operator told that a membership change succeeded reads the member list next (etcd's
 * MemberAdd and MemberRemove answer with it): the member that answered must already show the
 * change: the new voters of a joint configuration, or none outgoing once it is left.
 */
function checkMembershipShown(member: string, m: Membership, change: AdminChange): void {
  const same = (a: readonly NodeId[], b: readonly NodeId[]): boolean => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
  // (A voter demoted in a joint configuration becomes a learner only when it is left, as in etcd.)
  let shown: boolean;
  let what: string;
  switch (change.kind) {
    case 'joint':
      shown = same(m.voters, change.voters);
      what = `joint voters=(${change.voters.join(',')})`;
      break;
    case 'leave-joint':
      shown = m.outgoingVoters.length === 0;
      what = 'leave-joint';
      break;
    case 'add-voter':
      shown = m.voters.includes(change.node);
      what = `add-voter ${change.node}`;
      break;
    case 'add-learner':
      // (adding a voter as a learner is refused; a learner already there stays one)
      shown = m.learners.includes(change.node);
      what = `add-learner ${change.node}`;
      break;
    case 'remove':
      shown = !m.voters.includes(change.node) && !m.learners.includes(change.node);
      what = `remove ${change.node}`;
      break;
  }
  if (!shown) {
    throw new InvariantViolation('membership-answer', `${member} answered ${what} as done while its membership still reads voters=(${m.voters.join(',')}) outgoing=(${m.outgoingVoters.join(',')}) learners=(${m.learners.join(',')})`);
  }
}

function isAssertion(err: unknown): boolean {
  return err instanceof Error && err.name === 'AssertionFailure';
}
