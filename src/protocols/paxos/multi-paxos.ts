/**
 * Multi-Paxos (van Renesse & Altinbuken, "Paxos Made Moderately Complex"), as one replica that
 * is proposer, acceptor and learner at once, behind the same Replica contract as Raft.
 *
 * - A distinguished leader runs phase 1 once, for every slot from its first unchosen one on,
 *   then phase 2 per slot: proposals are batched into Accept messages (maxEntriesPerMessage)
 *   and pipelined (up to maxInflightSlots unchosen slots).
 * - On winning phase 1 the leader learns every slot any acceptor of its quorum accepted,
 *   re-proposes the value of the highest ballot per slot and fills holes with no-ops, then adds
 *   a no-op of its own: reads wait until that is chosen.
 * - Leader stickiness (stickyLeader, with checkQuorum): an acceptor that heard from its leader
 *   within an election timeout refuses any other node's Prepare (a Nack naming the leader), and
 *   a leader refused in phase 2 by a higher promise runs phase 1 again above it, staying leader.
 * - Leaders are detected by heartbeats (empty Accepts) and timeouts in ticks; the commit point
 *   piggybacks on every Accept. A lagging acceptor is sent the slots it misses, or a snapshot
 *   when they were compacted.
 * - Acceptors persist promises and acceptances before replying (Ready.send). A leader's own
 *   Accepts do not wait for its own write (Ready.sendBeforePersist); it counts itself only once
 *   that write is durable.
 * - ReadIndex: a read point is the commit index once a phase-2 quorum has confirmed the ballot
 *   after the request arrived.
 *
 * Entries carry the ballot that first proposed the value as `term` (the value's identity, the
 * same on every replica) and the ballot this replica accepted it in as `acceptedBallot`.
 *
 * Membership changes (membership.ts has the configurations, ranks and quorums):
 * - Ranks are fixed: a member's ballot rank is given when it joins and never reused, so two
 *   proposers never own one ballot, also when one of them was removed and does not know it.
 * - Configuration entries are slots of the log, carrying the whole configuration they lead to.
 *   The configuration of slot s is the one the last configuration entry chosen below s brings.
 *   A leader proposes a configuration entry only once every slot below it is chosen, and nothing
 *   above it until it is chosen (the pipeline drains around a reconfiguration: Lamport's α = 1;
 *   client proposals get ProposalDropped meanwhile). So every slot's phase 2 runs in the
 *   configuration its leader holds at its commit point: a slot is chosen by a phase-2 quorum of it
 *   (both halves while joint; learners never count).
 * - Phase 1 across configurations: a candidate starts from the configuration at its commit point
 *   and needs a phase-1 quorum of it and of every configuration the configuration entries among
 *   its promises' highest-ballot values bring (asking the members it learns of there); what it
 *   recovers above such an entry is re-proposed only once that entry is chosen (see
 *   maybeWinPhase1 for why no chosen value is missed).
 * - A leader that is not a voter of the configuration a chosen entry brings steps down; learners
 *   and removed members never campaign, and an acceptor refuses to promise a learner or a member
 *   its configuration removed (checkQuorum, prePrepare, reads and catch-up all count the current
 *   configuration). A joint configuration with autoLeave is left by the leader on its own.
 * - Flexible quorum sizes are for a fixed membership: with them set, every change is refused.
 * - Leadership transfer: the leader stops proposing, brings the target up to date and tells it to
 *   run phase 1 at once (TimeoutNow), past the acceptors' leases; abandoned after an election timeout.
 */
import { assert, unreachable } from '../../core/assert.js';
import { concatBytes } from '../../core/bytes.js';
import { peerDownJitterTicks } from '../../core/peer-down.js';
import { NotLeader, ProposalDropped, QuorateError, TooManyRequests } from '../../core/errors.js';
import type { Index, NodeId } from '../../core/ids.js';
import type { Random } from '../../core/prng.js';
import type {
  LogEntry, Membership, Persist, ProposeResult, ReadState, Ready, Replica, ReplicaOptions, ReplicaStatus, Snapshot, SnapshotMeta,
} from '../../core/replica.js';
import { ballotRank, NO_BALLOT, nextBallot, type Ballot } from './ballot.js';
import {
  DEFAULT_PAXOS_LIMITS, ENTRY_OVERHEAD_BYTES, GAP_REPORTS_BEFORE_RESEND, MAX_ACKED_AHEAD_SLOTS, MAX_ENTRIES_PER_PROMISE_PART, MAX_SNAPSHOT_BYTES, MAX_SNAPSHOT_CHUNKS_AHEAD, quorumSizes,
  SILENT_HEARTBEATS_BEFORE_TRANSFER_RESTART,
  type PaxosLimits, type QuorumSizes,
} from './config.js';
import { snapshotDigest } from './digest.js';
import { configOfEntry, encodeConfigEntry, InvalidConfigChange, isMembership, MAX_CONFIG_ENTRY_BYTES, PaxosConfig, type PaxosConfigChange } from './membership.js';
import type { PaxosMutant } from './mutants.js';
import { servePull, SnapshotPull } from './snapshot-pull.js';
import type {
  Accept, Accepted, InstallSnapshot, Nack, PaxosHardState, PaxosMessage, PrePrepare, Prepare, PrePromise, PromiseMsg, Slot, SnapshotAck, SnapshotPiece, SnapshotPullRequest, TimeoutNow,
} from './types.js';

export type MultiPaxosOptions = ReplicaOptions<PaxosHardState> & Partial<PaxosLimits> & {
  /** Flexible Paxos: promises needed in phase 1 (default: a majority). */
  readonly phase1QuorumSize?: number;
  /** Flexible Paxos: acceptances that choose a value (default: a majority). */
  readonly phase2QuorumSize?: number;
};

/** A pre-candidate asks whether a phase-1 quorum would promise its ballot (PrePrepare) before it campaigns. */
export type MultiPaxosRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export interface MultiPaxosStatus extends ReplicaStatus {
  readonly role: MultiPaxosRole;
  readonly promised: Ballot;
  readonly lastSlot: Slot;
  readonly quorums: QuorumSizes;
  /** Leader: each member's match (every slot up to it accepted in this ballot, or known chosen), as Raft's progress; empty otherwise. */
  readonly progress: ReadonlyMap<NodeId, { readonly match: number }>;
}

interface PromiseInfo {
  readonly accepted: readonly LogEntry[];
  readonly chosenThrough: Slot;
  readonly snapshot: Snapshot | null;
}

interface PendingRead {
  readonly requestId: string;
  /** The follower that forwarded the request, or null for our own. */
  readonly forwardedBy: NodeId | null;
  readonly index: Index;
  readonly round: number;
  readonly acks: Set<NodeId>;
}

/**
 * Leader: a snapshot transfer to one acceptor. `sent` bytes have gone (the window's end so far),
 * `acked` the acceptor holds in order; `ackedAtHeartbeat` tells a stalled transfer (resent from
 * `acked`, or from `lastHeard`, what the acceptor said last, when that is less: see heartbeat).
 */
interface SnapshotTransfer {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
  /** The digest of `data`: every chunk carries it (the acceptor joins chunks of one digest only). */
  readonly digest: string;
  /** Heartbeats in a row the acceptor answered nothing at: past SILENT_HEARTBEATS_BEFORE_TRANSFER_RESTART an older snapshot is let go. */
  silentHeartbeats: number;
  sent: number;
  acked: number;
  finalSent: boolean;
  ackedAtHeartbeat: number;
  lastHeard: number;
  /** The last gap the acceptor reported (the offset of its missing chunk) and how often: its chunk goes again once. */
  gapAt: number;
  gapReports: number;
}

/**
 * Acceptor: the snapshot being received (one leader's transfer: its meta and the digest its chunks
 * carry), its chunks in order, and chunks held beyond a gap by offset.
 */
interface IncomingSnapshot {
  readonly meta: SnapshotMeta;
  readonly digest: string | undefined;
  /** The highest ballot whose leader sent chunks of it. */
  ballot: Ballot;
  readonly chunks: Uint8Array[];
  received: number;
  readonly ahead: Map<number, InstallSnapshot>;
  aheadBytes: number;
}

interface Outstanding {
  readonly promised: Ballot;
  readonly chosenMark: Slot;
  readonly entries: readonly LogEntry[];
  readonly appliedTo: Slot;
}

const NO_MESSAGES: readonly PaxosMessage[] = [];
const NO_PROGRESS: ReadonlyMap<NodeId, { readonly match: number }> = new Map();
const EMPTY = new Uint8Array(0);

export class MultiPaxosReplica implements Replica<PaxosMessage, PaxosHardState, MultiPaxosStatus> {
  readonly id: NodeId;
  /**
   * The configuration in force for every slot above the commit point: the last configuration entry
   * chosen (or the snapshot's, or the bootstrap one). Changes only as the commit point passes a
   * configuration entry or a snapshot is installed.
   */
  private config: PaxosConfig;
  /**
   * The configurations since the snapshot point, by the slot of the entry that brought each (the
   * first: the snapshot's or bootstrap one): status() shows the one at the applied slot and a
   * snapshot records the one at its index. Trimmed at every compaction; one entry per configuration
   * change chosen since, which the drain rule below makes at most one per unchosen slot.
   */
  private configHistory: { at: Slot; config: PaxosConfig }[];
  /**
   * Whether `config` is the configuration at the commit point. Not yet for a joining member started
   * from the configuration it was told (Membership.since): that one holds from about the join on,
   * while its commit point is below, where older configurations chose the slots. Phase 1 starts
   * from the configuration at the commit point (maybeWinPhase1), so such a member does not
   * campaign until a chosen configuration entry or a snapshot gave it that configuration: with the
   * told one, a quorum of it whose logs lack the first slots (lost Accepts) could make it the
   * leader and fill chosen slots with no-ops.
   */
  private configKnown: boolean;
  /**
   * The slot the first configuration of configHistory holds at, when that is above the slot it is
   * recorded at (Membership.since): a member that joined starts from the configuration it was told,
   * that of the answering member's log at since, and a snapshot it takes below since records that
   * configuration with this since, so that restored from it (a restart, an acceptor it is sent to)
   * it is not taken for the configuration of the snapshot's slot (configKnown stays false). 0 for
   * every member that did not join, and once a configuration entry chosen or a snapshot at or
   * above since replaced that configuration. Changes only where configHistory's first entry is
   * replaced (construction, compaction, an installed snapshot).
   */
  private configSince: Slot;
  /** status().membership while it shows a since (cached: status() is polled after every step). */
  private membershipWithSince: { of: Membership; value: Membership } | null = null;
  /** Every member but this one, of the configuration and of one being decided (the leader sends to all). */
  private peers: readonly NodeId[] = [];
  private readonly limits: PaxosLimits;
  /** Flexible Paxos sizes (fixed membership only: membership changes are refused with them). */
  private readonly flexible: { readonly phase1?: number; readonly phase2?: number };
  private readonly random: Random;
  private readonly mutant: PaxosMutant | null;

  // ---- acceptor state (durable: promised in the hard state, accepted slots as entries) ----
  private promised: Ballot;
  private persistedPromised: Ballot;
  /** The commit point when it last passed a configuration entry (PaxosHardState.chosen), and what of it is durable. */
  private chosenMark: Slot;
  private persistedChosenMark: Slot;
  private readonly log = new Map<number, LogEntry>();
  private snapshot: Snapshot | null;
  private snapshotIndex: Slot;
  private lastSlot: Slot;
  /**
   * Leader: the last slot it proposed in its ballot (<= lastSlot: above it the log may still hold
   * values of older ballots that phase 1 recovered and that wait for a configuration entry to be
   * chosen; they are not sent, and stay to be reported in a promise should this node step down).
   */
  private lastProposed: Slot = 0 as Slot;

  // ---- learner state ----
  private commitIndex: Slot;
  /** Highest slot handed out in a Ready.apply (or covered by a snapshot). */
  private applyCursor: Slot;
  private appliedIndex: Slot;

  // ---- proposer state ----
  private role: MultiPaxosRole = 'follower';
  /** The ballot this node campaigns or leads in (candidate/leader only). */
  private ballot: Ballot = NO_BALLOT;
  /** The highest ballot seen anywhere: the next campaign goes above it. */
  private highestSeen: Ballot;
  private leaderId: NodeId | null = null;
  private electionElapsed = 0;
  private randomizedTimeout = 0;
  /**
   * Follower told that its leader's connections closed (peerDown): ticks until it campaigns, ahead
   * of its election timer (null: not armed).
   */
  private peerDownCampaignInTicks: number | null = null;
  /**
   * peerDownCampaigns: elections started early because the leader's connections closed (peerDown);
   * peerDownCampaignElapsedTicks: the ticks the election timer had run at each (the runtime logs them).
   */
  private readonly counters = { peerDownCampaigns: 0, peerDownCampaignElapsedTicks: 0 };
  private heartbeatElapsed = 0;
  private promises = new Map<NodeId, PromiseInfo>();
  /** Pre-candidate: nodes (self included) that would promise its ballot. */
  private preGrants = new Set<NodeId>();
  /** Candidate: acceptors that refused its Prepare because they compacted slots it lacks. */
  private behindRefusals = new Set<NodeId>();
  /** Candidate: acceptors that refused its Prepare because they hold a live leader's lease. */
  private leaseRefusals = new Set<NodeId>();
  /** Candidate: a leader refused in phase 2 by a higher promise runs phase 1 again; it keeps its lease meanwhile. */
  private rerunningPhase1 = false;
  /** Parts of promises not yet complete, by acceptor and first slot (see PromiseMsg). */
  private promisePartsFrom = new Map<NodeId, Map<Slot, PromiseMsg>>();
  private fromSlot: Slot = 0 as Slot;
  /** Leader: acceptors (self included once durable) that accepted each unchosen slot in `ballot`. */
  private acks = new Map<number, Set<NodeId>>();
  private next = new Map<NodeId, number>();
  private match = new Map<NodeId, number>();
  private matchAtHeartbeat = new Map<NodeId, number>();
  /**
   * Leader: slots above an acceptor's match it acknowledged (past a lost Accept), at most
   * MAX_ACKED_AHEAD_SLOTS each: a heartbeat resends only the slots it has not.
   */
  private ackedAhead = new Map<NodeId, Set<number>>();
  /**
   * Leader: acceptors in probe state (as Raft's progress): stalled and silent for a heartbeat, they
   * get one slot per heartbeat and nothing in between; their next answer puts them back to
   * replicating (every new slot as it comes) and brings what they miss.
   */
  private probing = new Set<NodeId>();
  /** Leader: snapshot transfers under way, by acceptor. */
  private snapshotSends = new Map<NodeId, SnapshotTransfer>();
  /**
   * Leader: the digest of `snapshot`, computed once for every transfer of it; known by its index
   * (a replica's snapshot index only grows), so that no older snapshot's data is kept alive here.
   */
  private snapshotDigestOf: { readonly index: Index; readonly digest: string } | null = null;
  private incoming: IncomingSnapshot | null = null;
  /** Leader: acceptors that answered (an Accepted in this ballot) since the last heartbeat. */
  private answeredSinceHeartbeat = new Set<NodeId>();
  private heardFrom = new Set<NodeId>();
  /** Leader: reads wait until this slot (the leader's own no-op) is chosen. */
  private readFloor: Slot = 0 as Slot;
  private readRound = 0;
  private pendingReads: PendingRead[] = [];
  private readsBelowFloor: { requestId: string; forwardedBy: NodeId | null }[] = [];
  private appendsDirty = false;
  /**
   * Leader: the slot of its configuration entry not yet chosen (0: none). Nothing is proposed above
   * it until it is chosen (the pipeline drains around a reconfiguration: Lamport's α = 1).
   */
  private pendingConfigSlot: Slot = 0 as Slot;
  /**
   * Leader: a configuration entry waiting for every slot below it to be chosen before it is
   * proposed (client proposals are refused meanwhile, so its slot stays the next one).
   */
  private queuedConfig: LogEntry | null = null;
  /**
   * Leader, after phase 1: the values it recovered above the first configuration entry it
   * re-proposes, with its own no-op last. They are proposed once that entry is chosen, up to and
   * including the next configuration entry among them, and so on (the same drain rule).
   */
  private recovering: LogEntry[] = [];
  /** Candidate: the acceptors sent its Prepare (a configuration learned from promises adds members). */
  private prepared = new Set<NodeId>();
  /** Candidate: this campaign is a leadership transfer's (its Prepares say so). */
  private transferCampaign = false;
  /** Leader: a leadership transfer to this voter under way (proposals are refused meanwhile), and its age in ticks. */
  private transferTarget: NodeId | null = null;
  private transferElapsed = 0;

  // ---- output ----
  private readonly unpersisted = new Map<number, LogEntry>();
  private pendingSnapshot: Snapshot | null = null;
  /** The driver decodes a received snapshot of at most this many bytes before it is installed (ReplicaOptions.checkSnapshotsUpToBytes; 0: none). */
  private readonly checkSnapshotsUpToBytes: number;
  /**
   * A leader's snapshot received whole (its digest checked), waiting for the driver's check
   * (Ready.checkSnapshot, snapshotChecked): neither installed nor acknowledged yet. With what the
   * last chunk said (its sender, ballot and commit point), and whether a Ready handed it out. At
   * most one: a newer transfer's replaces it.
   */
  private checking: {
    readonly snapshot: Snapshot; readonly digest: string | undefined; readonly leader: NodeId; readonly ballot: Ballot; readonly commit: Slot; handedOut: boolean;
    /** Pulled from an acceptor that refused our Prepare (see snapshot-pull.ts), not sent by a leader: nothing to acknowledge. */
    readonly pulled?: true;
  } | null = null;
  /** The snapshot this replica pulls from an acceptor that refused it for being behind (see snapshot-pull.ts), if any. */
  private pull: SnapshotPull | null = null;
  private msgs: PaxosMessage[] = [];
  private early: PaxosMessage[] = [];
  private readStates: ReadState[] = [];
  private outstanding: Outstanding | null = null;

  constructor(o: MultiPaxosOptions) {
    this.id = o.id;
    const memberLimit = o.maxCommandBytes === undefined ? {} : { maxProposalBytes: o.maxCommandBytes };
    this.limits = { ...DEFAULT_PAXOS_LIMITS, ...memberLimit, ...definedOnly(o) };
    this.flexible = {
      ...(o.phase1QuorumSize === undefined ? {} : { phase1: o.phase1QuorumSize }),
      ...(o.phase2QuorumSize === undefined ? {} : { phase2: o.phase2QuorumSize }),
    };
    this.random = o.random;
    this.checkSnapshotsUpToBytes = o.checkSnapshotsUpToBytes ?? 0;
    this.mutant = (o.mutant ?? null) as PaxosMutant | null;

    const r = o.restored;
    this.promised = r?.hardState?.promised ?? NO_BALLOT;
    this.persistedPromised = this.promised;
    this.chosenMark = (r?.hardState?.chosen ?? 0) as Slot;
    this.persistedChosenMark = this.chosenMark;
    this.highestSeen = this.promised;
    this.snapshot = r?.snapshot ?? null;
    this.snapshotIndex = (this.snapshot?.meta.index ?? 0) as Slot;
    // The configuration: the snapshot's (the bootstrap one without a snapshot), then every
    // configuration entry among the slots known chosen (applied) below.
    const fromSnapshot = this.snapshot !== null && isMembership(this.snapshot.meta.membership);
    const base = fromSnapshot ? this.snapshot!.meta.membership : o.membership;
    this.config = PaxosConfig.from(base);
    // The told configuration (a member that joined, before its first snapshot: the server keeps
    // the join answer for every restart), or a snapshot's, each with the slot it holds at.
    this.configSince = (fromSnapshot ? this.sinceOf(this.snapshot!.meta) : o.membership.since ?? 0) as Slot;
    assert(Number.isSafeInteger(this.configSince) && this.configSince >= 0, () => `since ${this.configSince} is a slot`);
    this.configKnown = (fromSnapshot ? this.configSince === 0 : o.membership.since === undefined) || this.mutant === 'told-config-campaigns';
    this.configHistory = [{ at: this.snapshotIndex, config: this.config }];
    let last = this.snapshotIndex as number;
    for (const e of r?.entries ?? []) {
      if (e.index <= this.snapshotIndex) continue;
      this.log.set(e.index, e);
      last = Math.max(last, e.index);
    }
    const applied = Math.max(this.snapshotIndex, o.applied ?? 0);
    // Chosen: what the state machine applied, and the slots held up to the durable mark (a state
    // machine that does not persist itself comes back at its snapshot; the mark brings the
    // configuration of the last configuration entry chosen, not slot 1's, and those slots apply again).
    let chosen = applied;
    while (chosen < this.chosenMark && this.log.has(chosen + 1)) chosen++;
    for (let s = this.snapshotIndex + 1; s <= chosen; s++) this.takeConfigAt(s as Slot);
    this.knowConfigPastSince(chosen as Slot);
    // Flexible sizes are checked against the voters now (and refuse every change later).
    if (this.flexible.phase1 !== undefined || this.flexible.phase2 !== undefined) quorumSizes(this.config.voters.size, this.flexible.phase1, this.flexible.phase2);
    this.refreshPeers();
    // Applied slots are chosen, and those up to the mark; anything else is learned again from the next leader.
    this.commitIndex = chosen as Slot;
    this.applyCursor = applied as Slot;
    this.appliedIndex = applied as Slot;
    this.lastSlot = Math.max(last, chosen) as Slot;
    this.resetElectionTimer();
  }

  // ---- the Replica contract ------------------------------------------------------------------

  tick(): void {
    this.electionElapsed++;
    if (this.pull !== null) this.pullTick();
    switch (this.role) {
      case 'follower':
      case 'pre-candidate':
      case 'candidate':
        if (this.peerDownCampaignInTicks !== null && --this.peerDownCampaignInTicks === 0) {
          this.peerDownCampaignInTicks = null;
          // Still without a leader (none was heard since, nor was another granted the place).
          if (this.role === 'follower' && this.leaderId === null && this.mayLead() && this.electionElapsed < this.randomizedTimeout) {
            this.counters.peerDownCampaigns++;
            this.counters.peerDownCampaignElapsedTicks += this.electionElapsed;
            return this.startElection();
          }
        }
        if (this.electionElapsed < this.randomizedTimeout) return;
        // A learner, or a member removed (that may not know it yet), never campaigns; nor a
        // member that joined, until it knows the configuration at its commit point (configKnown).
        if (this.mayLead()) return this.startElection();
        if (this.role !== 'follower') this.becomeFollower(null);
        this.leaderId = null;
        this.resetElectionTimer();
        return;
      case 'leader':
        if (++this.heartbeatElapsed >= this.limits.heartbeatIntervalTicks) {
          this.heartbeatElapsed = 0;
          this.heartbeat();
        }
        if (this.transferTarget !== null && ++this.transferElapsed >= this.limits.electionTimeoutTicks) {
          this.transferTarget = null; // abandoned: proposals resume, and a joint configuration left on its own is left now
          this.continueReconfiguration();
        }
        if (this.electionElapsed >= this.limits.electionTimeoutTicks) {
          this.electionElapsed = 0;
          if (this.limits.checkQuorum && !this.config.hasQuorum(new Set([...this.heardFrom, this.id]), this.flexible.phase2, this.learnersVote())) this.becomeFollower(null);
          this.heardFrom.clear();
        }
        return;
      default:
        unreachable(this.role, 'role');
    }
  }

  step(m: PaxosMessage): void {
    // Any sender: a member added after this replica's configuration (a leader it has not heard of
    // yet) must be heard. Who may make this replica promise is checked in onPrePrepare/onPrepare.
    if (m.to !== this.id || m.from === this.id) return;
    // (A PrePromise echoes the pre-candidate's own ballot: it says nothing about ballots in use.)
    if (m.ballot > this.highestSeen && m.type !== 'pre-promise') this.highestSeen = m.ballot;
    switch (m.type) {
      case 'prepare': return this.onPrepare(m);
      case 'promise': return this.onPromise(m);
      case 'nack': return this.onNack(m);
      case 'pre-prepare': return this.onPrePrepare(m);
      case 'pre-promise': return this.onPrePromise(m);
      case 'accept': return this.onAccept(m);
      case 'accepted': return this.onAccepted(m);
      case 'install-snapshot': return this.onInstallSnapshot(m);
      case 'snapshot-pull': return this.onSnapshotPull(m);
      case 'snapshot-piece': return this.onSnapshotPiece(m);
      case 'snapshot-ack': return this.onSnapshotAck(m);
      case 'read-index':
        if (this.role === 'leader' && this.pendingReads.length + this.readsBelowFloor.length < this.limits.maxPendingReads) this.requestRead(m.requestId, m.from);
        return;
      case 'read-index-response':
        if (m.from === this.leaderId) this.readStates.push({ requestId: m.requestId, index: m.index });
        return;
      case 'timeout-now': return this.onTimeoutNow(m);
      default: unreachable(m, 'message');
    }
  }

  propose(command: Uint8Array): ProposeResult {
    if (this.role !== 'leader') throw new NotLeader(this.leaderId);
    this.refuseWhileReconfiguring();
    if (this.lastProposed - this.commitIndex >= this.limits.maxInflightSlots) {
      throw new TooManyRequests('maxInflightSlots', this.limits.maxInflightSlots);
    }
    if (command.byteLength > this.limits.maxProposalBytes) {
      throw new QuorateError('REQUEST_TOO_LARGE', `proposal of ${command.byteLength} bytes exceeds maxProposalBytes=${this.limits.maxProposalBytes}`);
    }
    const slot = (this.lastProposed + 1) as Slot;
    this.acceptOwn({ index: slot, term: this.ballot, kind: 'command', data: command, acceptedBallot: this.ballot });
    this.appendsDirty = true;
    return { index: slot, term: this.ballot };
  }

  /**
   * Propose a membership change (see membership.ts). The entry goes in the next slot once every
   * slot below it is chosen (queued until then; client proposals are refused meanwhile), and
   * nothing is proposed above it until it is chosen. One change at a time.
   */
  proposeConfigChange(change: PaxosConfigChange): ProposeResult {
    if (this.role !== 'leader') throw new NotLeader(this.leaderId);
    if (this.flexible.phase1 !== undefined || this.flexible.phase2 !== undefined) {
      throw new InvalidConfigChange('flexible quorum sizes (phase1QuorumSize, phase2QuorumSize) are for a fixed membership; run without them to change the membership');
    }
    if (this.transferTarget !== null) throw new ProposalDropped(`leadership is being transferred to ${this.transferTarget}`);
    if (this.queuedConfig !== null || this.pendingConfigSlot > this.commitIndex || this.recovering.length > 0) {
      throw new QuorateError('CONFIG_CHANGE_IN_PROGRESS', 'a configuration change is still being decided; retry after it is chosen');
    }
    const next = this.config.apply(change);
    const data = encodeConfigEntry(change, next);
    if (data.byteLength > MAX_CONFIG_ENTRY_BYTES) throw new InvalidConfigChange(`the configuration entry takes ${data.byteLength} bytes, more than MAX_CONFIG_ENTRY_BYTES=${MAX_CONFIG_ENTRY_BYTES}`);
    const entry: LogEntry = { index: (this.lastProposed + 1) as Slot, term: this.ballot, kind: 'config', data, acceptedBallot: this.ballot };
    this.queuedConfig = entry;
    this.placeQueuedConfig();
    return { index: entry.index, term: entry.term };
  }

  /**
   * Hand leadership to `target` (a voter): proposals stop, the target is brought up to date, then
   * told to run phase 1 at once (TimeoutNow), past the acceptors' leases. Abandoned after an
   * election timeout.
   */
  transferLeadership(target: NodeId): void {
    if (this.role !== 'leader') throw new NotLeader(this.leaderId);
    if (target === this.id) return;
    if (!this.config.isVoter(target)) throw new QuorateError('INVALID_ARGUMENT', `${target} is not a voter`);
    if (this.queuedConfig !== null || this.pendingConfigSlot > this.commitIndex || this.recovering.length > 0) {
      throw new QuorateError('CONFIG_CHANGE_IN_PROGRESS', 'a configuration change is still being decided; retry after it is chosen');
    }
    this.transferTarget = target;
    this.transferElapsed = 0;
    this.maybeSendTimeoutNow();
  }

  /** The transfer's target holds every slot: it campaigns now. */
  private maybeSendTimeoutNow(): void {
    const t = this.transferTarget;
    if (t === null || this.role !== 'leader' || (this.match.get(t) ?? 0) < this.lastProposed) return;
    this.msgs.push({ type: 'timeout-now', from: this.id, to: t, ballot: this.ballot, through: this.lastProposed });
  }

  /** Our leader hands over: campaign at once, past the acceptors' leases (Prepare.transfer). */
  private onTimeoutNow(m: TimeoutNow): void {
    if (m.from !== this.leaderId || m.ballot !== this.promised || this.role !== 'follower' || !this.mayLead()) return;
    // Stale (delayed past an abandoned transfer): the leader proposed after it, so it took proposals again.
    if (m.through !== undefined && this.mutant !== 'stale-timeout-now') {
      for (let s = m.through + 1; s <= this.lastSlot; s++) if (this.log.get(s)?.acceptedBallot === m.ballot) return;
    }
    this.campaign(true);
  }

  /** Client proposals wait while the pipeline drains around a configuration entry or leadership is handed over. */
  private refuseWhileReconfiguring(): void {
    if (this.queuedConfig !== null || this.pendingConfigSlot > this.commitIndex || this.recovering.length > 0) {
      throw new ProposalDropped('a configuration change is being decided');
    }
    if (this.transferTarget !== null) throw new ProposalDropped(`leadership is being transferred to ${this.transferTarget}`);
  }

  readIndex(requestId: string): void {
    if (this.role === 'leader') {
      if (this.pendingReads.length + this.readsBelowFloor.length >= this.limits.maxPendingReads) {
        throw new TooManyRequests('maxPendingReads', this.limits.maxPendingReads);
      }
      this.requestRead(requestId, null);
      return;
    }
    if (this.leaderId === null || this.role !== 'follower') throw new NotLeader(this.leaderId);
    // Forwarded: the leader confirms its ballot and answers with a read point (or never).
    this.early.push({ type: 'read-index', from: this.id, to: this.leaderId, ballot: this.promised, requestId });
  }

  private requestRead(requestId: string, forwardedBy: NodeId | null): void {
    if (this.commitIndex < this.readFloor) this.readsBelowFloor.push({ requestId, forwardedBy });
    else this.startRead(requestId, forwardedBy);
  }

  compact(index: Index, data: Uint8Array, membership?: Membership): void {
    if (index <= this.snapshotIndex) return;
    assert(index <= this.appliedIndex, () => `compact(${index}) beyond the applied slot ${this.appliedIndex}`);
    const term = this.log.get(index)?.term ?? this.snapshot?.meta.term ?? NO_BALLOT;
    // The configuration at `index` from our own history (ranks included), not the driver's copy;
    // with the slot it holds at when that is later (a member that joined, still below its since,
    // that has not taken a chosen configuration entry at or below `index`): restored from this
    // snapshot, it must not be taken for the configuration of `index`.
    const config = this.configAfter(index as Slot);
    const since = this.configSince > index && config === this.configHistory[0]!.config ? this.configSince : 0;
    const shown = this.membershipAt(config, since);
    assert(membership === undefined || (membership.since ?? 0) <= index || membership.since === since, () => `compact(${index}): the configuration given holds at ${membership?.since}, ours at ${since}`);
    this.snapshot = { meta: { index, term, membership: shown }, data };
    this.snapshotIndex = index as Slot;
    for (const slot of [...this.log.keys()]) if (slot <= index) this.log.delete(slot);
    this.configHistory = [{ at: index as Slot, config }, ...this.configHistory.filter((h) => h.at > index)];
    this.configSince = since as Slot;
  }

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    return (
      this.appendsDirty ||
      this.msgs.length > 0 ||
      this.early.length > 0 ||
      this.readStates.length > 0 ||
      this.unpersisted.size > 0 ||
      this.pendingSnapshot !== null ||
      (this.checking !== null && !this.checking.handedOut) ||
      this.promised !== this.persistedPromised ||
      this.chosenMark !== this.persistedChosenMark ||
      this.commitIndex > this.applyCursor
    );
  }

  ready(): Ready<PaxosMessage, PaxosHardState> {
    assert(this.outstanding === null, 'ready() called again before advance()');
    if (this.appendsDirty) this.flushAccepts();
    const entries = [...this.unpersisted.values()].sort((a, b) => a.index - b.index);
    this.unpersisted.clear();
    const snapshot = this.pendingSnapshot;
    this.pendingSnapshot = null;
    const hardChanged = this.promised !== this.persistedPromised || this.chosenMark !== this.persistedChosenMark;
    let persist: Persist<PaxosHardState> | null = null;
    if (hardChanged || entries.length > 0 || snapshot !== null) {
      const hardState = hardChanged ? { promised: this.promised, ...(this.chosenMark > 0 ? { chosen: this.chosenMark } : {}) } : null;
      persist = { hardState, entries, snapshot, truncateFrom: null };
    }
    const applyFrom = this.applyCursor + 1;
    const applyTo = Math.min(this.commitIndex, applyFrom + this.limits.maxApplyPerReady - 1);
    const apply: LogEntry[] = [];
    for (let s = applyFrom; s <= applyTo; s++) {
      const e = this.log.get(s);
      assert(e !== undefined, () => `${this.id}: chosen slot ${s} is in the log (commit ${this.commitIndex}, snapshot ${this.snapshotIndex})`);
      apply.push(e);
    }
    if (applyTo >= applyFrom) this.applyCursor = applyTo as Slot;
    const check = this.checking !== null && !this.checking.handedOut ? this.checking.snapshot : null;
    if (check !== null) this.checking!.handedOut = true;
    const ready: Ready<PaxosMessage, PaxosHardState> = {
      persist,
      sendBeforePersist: this.early.length > 0 ? this.early : NO_MESSAGES,
      send: this.msgs.length > 0 ? this.msgs : NO_MESSAGES,
      apply,
      readStates: this.readStates,
      ...(check === null ? {} : { checkSnapshot: check }),
    };
    this.msgs = [];
    this.early = [];
    this.readStates = [];
    this.outstanding = { promised: this.promised, chosenMark: this.chosenMark, entries, appliedTo: this.applyCursor };
    return ready;
  }

  /**
   * The driver cannot take a Ready (one is being saved, perhaps behind a snapshot's fsyncs): the
   * messages ready() would send before its persist (a leader's Accepts and heartbeats, snapshot
   * chunks, read rounds) leave now. Without this a leader whose save waits behind a compaction
   * sends no heartbeat for that long, and on a slow disk its acceptors' timers run out (mutant
   * heartbeats-wait-for-save). Not while the ballot is not yet durable (the Ready being saved
   * writes it, or a later step changed it): they name it.
   */
  takeEarly(): readonly PaxosMessage[] {
    if (this.early.length === 0 || this.mutant === 'heartbeats-wait-for-save') return NO_MESSAGES;
    if (this.promised !== this.persistedPromised) return NO_MESSAGES;
    const out = this.early;
    this.early = [];
    return out;
  }

  advance(_ready: Ready<PaxosMessage, PaxosHardState>): void {
    const o = this.outstanding;
    assert(o !== null, 'advance() without an outstanding ready()');
    this.outstanding = null;
    assert(o.promised >= this.persistedPromised, 'a durable promise never goes backwards');
    this.persistedPromised = o.promised;
    this.persistedChosenMark = o.chosenMark;
    assert(o.appliedTo >= this.appliedIndex, 'the applied slot never goes backwards');
    this.appliedIndex = o.appliedTo;
    if (this.role === 'leader') {
      // The leader's own acceptances count only now that they are durable.
      for (const e of o.entries) if (e.acceptedBallot === this.ballot && this.log.get(e.index) === e) this.addAck(e.index, this.id);
    } else if (this.role === 'candidate' && this.persistedPromised === this.ballot && !this.promises.has(this.id)) {
      this.promises.set(this.id, { accepted: this.acceptedFrom(this.fromSlot), chosenThrough: this.commitIndex, snapshot: null });
      this.maybeWinPhase1();
    }
  }

  status(): MultiPaxosStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.promised,
      leader: this.leaderId,
      leading: this.role === 'leader',
      commitIndex: this.commitIndex,
      appliedIndex: this.appliedIndex,
      membership: this.statusMembership(),
      promised: this.promised,
      lastSlot: this.lastSlot,
      quorums: this.quorumSizes(),
      progress: this.role === 'leader' ? new Map(this.peers.map((p) => [p, { match: this.match.get(p) ?? 0 }])) : NO_PROGRESS,
      counters: { ...this.counters },
    };
  }

  // ---- introspection for monitors and tests (not part of the contract) ----------------------

  /** The ballot this acceptor accepted `slot` in, if it holds the slot. */
  acceptedBallotAt(slot: Slot): Ballot | undefined {
    return this.log.get(slot)?.acceptedBallot;
  }

  /** Slots at or below this are covered by the replica's snapshot. */
  compactedThrough(): Slot {
    return this.snapshotIndex;
  }

  /** The snapshot this replica holds (its data is what it sends a lagging acceptor). */
  heldSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  /**
   * The snapshot being received from a leader, if any: its index, the digest its chunks carry, the
   * latest ballot that sent some, and the bytes held in order and beyond a gap.
   */
  receivingSnapshot(): { readonly index: Slot; readonly digest: string | undefined; readonly ballot: Ballot; readonly received: number; readonly aheadBytes: number } | null {
    const inc = this.incoming;
    return inc === null ? null : { index: inc.meta.index as Slot, digest: inc.digest, ballot: inc.ballot, received: inc.received, aheadBytes: inc.aheadBytes };
  }

  /** The value chosen at `slot`, if this replica knows it. */
  chosenAt(slot: Slot): LogEntry | undefined {
    return slot <= this.commitIndex ? this.log.get(slot) : undefined;
  }

  // ---- configurations -----------------------------------------------------------------------------

  /** The configuration after every slot up to `slot` (status() shows it at the applied slot). */
  private configAfter(slot: Slot): PaxosConfig {
    let c = this.configHistory[0]!.config;
    for (const h of this.configHistory) if (h.at <= slot) c = h.config;
    return c;
  }

  /**
   * The configuration status() shows, that of the applied slot: with the slot it holds at while
   * that is above the applied slot (the told one, or a snapshot's with since: see configSince), so
   * that a join answer built from it (toldMembership) and the driver's snapshot of the applied slot
   * say so too.
   */
  private statusMembership(): Membership {
    const config = this.configAfter(this.appliedIndex);
    const since = this.configSince > this.appliedIndex && config === this.configHistory[0]!.config ? this.configSince : 0;
    return this.membershipAt(config, since);
  }

  /** `config` as a Membership, with `since` when it is above 0 (cached: status() is polled after every step). */
  private membershipAt(config: PaxosConfig, since: number): Membership {
    const m = config.toMembership();
    if (since === 0) return m;
    const cached = this.membershipWithSince;
    if (cached !== null && cached.of === m && cached.value.since === since) return cached.value;
    const value = { ...m, since };
    this.membershipWithSince = { of: m, value };
    return value;
  }

  /** The slot a snapshot's configuration holds at, when above the snapshot's slot (Membership.since); else 0. */
  private sinceOf(meta: SnapshotMeta): Slot {
    const since = meta.membership.since ?? 0;
    assert(Number.isSafeInteger(since) && since >= 0, () => `snapshot at ${meta.index}: since ${since} is a slot`);
    // The snapshot-forgets-since mutant takes the configuration for that of the snapshot's slot.
    return (since > meta.index && this.mutant !== 'snapshot-forgets-since' ? since : 0) as Slot;
  }

  /**
   * Every slot up to `chosen` is known chosen (and its configuration entries taken): once that
   * reaches the since of a configuration told or restored with one, that configuration, changed by
   * the entries taken since, is the one at the commit point (the told one is that of the slot
   * since, and no entry in between changed it, or configKnown is true already).
   */
  private knowConfigPastSince(chosen: Slot): void {
    if (!this.configKnown && this.configSince > 0 && chosen >= this.configSince) this.configKnown = true;
  }

  /**
   * `slot` is known chosen: a configuration entry there brings its configuration, unless the slot
   * is at or below the since of the configuration this replica holds (a member that joined, sent
   * the log from slot 1, or one restored from or sent a joiner's snapshot below its since): that
   * configuration is the one of slot since, every entry up to it is already in it, and taking an
   * older one would go back to members removed since and drop those added since, the leader among
   * them when it was itself added after those entries (it would no longer be a peer here, nor a
   * member the server's transport talks to, and the slots that bring it back would never come).
   * The configuration at the commit point is then known once the commit point reaches since
   * (knowConfigPastSince), as in Raft (configSince in raft.ts).
   */
  private takeConfigAt(slot: Slot): void {
    const e = this.log.get(slot);
    if (e === undefined || e.kind !== 'config') return;
    // The rejoin-takes-old-config mutant takes the entries below since too.
    if (this.configSince > 0 && slot <= this.configSince && this.mutant !== 'rejoin-takes-old-config') return;
    const next = configOfEntry(e.data);
    if (next === null) return; // not a configuration this core wrote (it changes nothing)
    this.config = next;
    this.configKnown = true;
    this.configHistory.push({ at: slot, config: next });
    this.refreshPeers();
  }

  /**
   * Peers: the configuration's members and, on a leader, those of the configuration entry it is
   * deciding or will re-propose (they take the log from the start).
   */
  private refreshPeers(): void {
    const ids = new Set(this.config.members());
    const pending = this.pendingConfigSlot > this.commitIndex ? this.log.get(this.pendingConfigSlot) : undefined;
    for (const e of [pending, this.queuedConfig, ...this.recovering]) {
      if (e === undefined || e === null || e.kind !== 'config') continue;
      for (const id of configOfEntry(e.data)?.members() ?? []) ids.add(id);
    }
    ids.delete(this.id);
    const peers = [...ids].sort();
    if (this.role === 'leader') {
      for (const p of peers) {
        if (this.next.has(p)) continue;
        // A member new to this leader: the whole log (a snapshot when it lacks compacted slots).
        this.next.set(p, 1);
        this.match.set(p, 0);
      }
    }
    this.peers = peers;
  }

  /** Quorum sizes of the configuration's voters (both halves count while joint; see membership.ts). */
  private quorumSizes(): QuorumSizes {
    const n = this.config.voters.size;
    if (this.flexible.phase1 !== undefined || this.flexible.phase2 !== undefined) return quorumSizes(n, this.flexible.phase1, this.flexible.phase2);
    return quorumSizes(n);
  }

  /** Leader: propose the queued configuration entry once every slot below it is chosen. */
  private placeQueuedConfig(): void {
    const e = this.queuedConfig;
    if (e === null || this.role !== 'leader' || this.commitIndex < this.lastProposed) return;
    assert(e.index === this.lastProposed + 1, () => `a queued configuration entry keeps the next slot (${e.index}, last ${this.lastProposed})`);
    this.queuedConfig = null;
    this.proposeConfigEntry(e);
  }

  /**
   * Leader: propose a configuration entry; nothing goes above it until it is chosen. A new entry
   * waits until every slot below it is chosen; one recovered in phase 1 goes with the recovered
   * slots below it, whose configuration is the same (the one at the commit point: see maybeWinPhase1).
   */
  private proposeConfigEntry(e: LogEntry, recovered = false): void {
    assert(recovered || this.commitIndex === e.index - 1, () => `a configuration entry at ${e.index} is proposed only when every slot below is chosen (commit ${this.commitIndex})`);
    assert(this.pendingConfigSlot <= this.commitIndex, 'one configuration entry is decided at a time');
    this.acceptOwn(e);
    this.pendingConfigSlot = e.index;
    this.appendsDirty = true;
    this.refreshPeers();
  }

  /**
   * Leader, once the commit point moved: the next step of a reconfiguration. Re-propose the next
   * part of what phase 1 recovered (up to its next configuration entry), then a queued entry, then
   * leave a joint configuration that leaves on its own.
   */
  private continueReconfiguration(): void {
    if (this.role !== 'leader' || this.pendingConfigSlot > this.commitIndex) return;
    this.pendingConfigSlot = 0 as Slot;
    if (this.recovering.length > 0) return this.proposeRecovered();
    if (this.queuedConfig !== null) return this.placeQueuedConfig();
    if (this.config.isJoint() && this.config.autoLeave && this.transferTarget === null) {
      // Left on its own: queued (client proposals wait) and proposed once the slots below are chosen.
      const leave: PaxosConfigChange = { kind: 'leave-joint' };
      const data = encodeConfigEntry(leave, this.config.apply(leave));
      this.queuedConfig = { index: (this.lastProposed + 1) as Slot, term: this.ballot, kind: 'config', data, acceptedBallot: this.ballot };
      this.placeQueuedConfig();
    }
  }

  /** Leader: re-propose recovered values in order, up to and including the next configuration entry among them. */
  private proposeRecovered(): void {
    while (this.recovering.length > 0) {
      const e = this.recovering.shift()!;
      if (e.kind === 'config') {
        this.proposeConfigEntry(e, true);
        return;
      }
      this.acceptOwn(e);
    }
    this.appendsDirty = true;
  }

  // ---- phase 1 ----------------------------------------------------------------------------------

  /**
   * Replica.peerDown: the runtime saw every connection to `peer` close. A voter following `peer`,
   * with prePrepare on, forgets it (so it no longer refuses others' pre-prepares as within its
   * leader's lease, and the other members told the same can elect one of them) and asks with a
   * pre-prepare within 1..J ticks (J: a tenth of the election timeout, at least 2, so that members
   * that saw the close at once rarely split the vote) rather than after its election timeout. As
   * Raft's (raft.ts): safe whatever the hint's truth, an early election being one a timer might have
   * started; only with prePrepare and checkQuorum, since a false hint (a reset under a live leader)
   * must not raise the ballot and depose that leader: a pre-prepare fails against acceptors that
   * still hear it within its lease, which only checkQuorum gives. The cost, as under Raft: a reset
   * of every connection of a leader that lives on (seen by every follower at once) costs one
   * election whenever a follower's pre-prepare beats the leader's next heartbeat.
   */
  peerDown(peer: NodeId): void {
    if (this.role !== 'follower' || this.leaderId !== peer || peer === this.id || !this.mayLead() || !this.limits.prePrepare || !this.limits.checkQuorum) return;
    this.leaderId = null;
    this.peerDownCampaignInTicks = this.random.int(1, peerDownJitterTicks(this.limits.electionTimeoutTicks));
  }

  /** The election timer ran out: ask first (prePrepare), or campaign at once. */
  private startElection(): void {
    this.peerDownCampaignInTicks = null;
    if (!this.limits.prePrepare) return this.campaign();
    this.role = 'pre-candidate';
    this.ballot = nextBallot(this.highestSeen > this.promised ? this.highestSeen : this.promised, this.ownRank());
    this.leaderId = null;
    this.preGrants = new Set([this.id]);
    this.promises = new Map();
    this.promisePartsFrom = new Map();
    this.dropLeaderState();
    this.resetElectionTimer();
    if (this.config.hasQuorum(this.preGrants, this.flexible.phase1)) return this.campaign();
    for (const p of this.voterPeers()) this.msgs.push({ type: 'pre-prepare', from: this.id, to: p, ballot: this.ballot });
  }

  /** A voter that knows the configuration at its commit point (see configKnown) may campaign. */
  private mayLead(): boolean {
    return this.configKnown && this.config.isVoter(this.id);
  }

  /** The learners-vote mutant: a learner's acceptance counts in phase 2 (and for checkQuorum) as a voter's. */
  private learnersVote(): boolean {
    return this.mutant === 'learners-vote';
  }

  /** This node's ballot rank (it campaigns only as a voter, which has one). */
  private ownRank(): number {
    const r = this.config.rankOf(this.id);
    assert(r !== undefined, () => `${this.id} campaigns only as a member with a rank`);
    return r;
  }

  /** The voters (both halves) but this node. */
  private voterPeers(): NodeId[] {
    return [...new Set([...this.config.voters, ...this.config.outgoing])].filter((v) => v !== this.id).sort();
  }

  /**
   * Whether `from` may make this acceptor promise (or pre-promise) `ballot`: a voter of our
   * configuration campaigning with its own rank, or a node ranked after our configuration was made
   * (added since: we lag). A learner, or a removed member (whose rank is below our nextRank and no
   * voter's), is refused: it could only disturb the members that decide.
   */
  private mayCampaign(from: NodeId, ballot: Ballot): boolean {
    // A member that joined and does not know the configuration at its commit point yet (see
    // configKnown) refuses no one by the one it was told: the candidate may be a voter of the
    // configuration of that commit point, removed since, and the only one able to lead (the
    // voters of the told configuration may all be such joiners, which do not campaign).
    if (!this.configKnown) return true;
    const rank = ballotRank(ballot);
    if (rank >= this.config.nextRank) return true;
    return this.config.isVoter(from) && this.config.rankOf(from) === rank;
  }

  /**
   * Would this acceptor promise `m.ballot`? Only if it is above its promise and no leader was heard
   * within an election timeout (a leader itself says no: it is that leader). Nothing changes here:
   * not the promise, not the election timer.
   *
   * The leader lease holds only with checkQuorum (as etcd's raft: `inLease` needs checkQuorum):
   * without it a leader that lost its phase-2 quorum never steps down, and the followers it still
   * reaches would refuse every other node forever.
   */
  private onPrePrepare(m: PrePrepare): void {
    const granted = m.ballot > this.promised && !this.leaseHeld() && this.mayCampaign(m.from, m.ballot);
    // It granted another the place: no early campaign of its own to split the vote.
    if (granted) this.peerDownCampaignInTicks = null;
    this.msgs.push({ type: 'pre-promise', from: this.id, to: m.from, ballot: m.ballot, granted, promised: this.promised });
  }

  /**
   * Whether this node holds a leader's lease: it leads (or, refused in phase 2, runs phase 1 again
   * as the leader it was), or it heard from its leader within an election timeout. Only with
   * checkQuorum (see onPrePrepare).
   */
  private leaseHeld(): boolean {
    if (!this.limits.checkQuorum) return false;
    if (this.role === 'leader') return true;
    if (this.role === 'candidate' && this.rerunningPhase1) return this.electionElapsed < this.limits.electionTimeoutTicks;
    return this.leaderId !== null && this.electionElapsed < this.limits.electionTimeoutTicks;
  }

  /** Leader stickiness is on (stickyLeader, unless the no-stickiness mutant). */
  private sticky(): boolean {
    return this.limits.stickyLeader && this.mutant !== 'no-stickiness';
  }

  private onPrePromise(m: PrePromise): void {
    if (m.promised > this.highestSeen) this.highestSeen = m.promised;
    if (this.role !== 'pre-candidate' || m.ballot !== this.ballot || !m.granted) return;
    this.preGrants.add(m.from);
    if (this.config.hasQuorum(this.preGrants, this.flexible.phase1)) this.campaign();
  }

  /** Run phase 1 with a new ballot; `transfer`: a leadership transfer's target, past the leases. */
  private campaign(transfer = false): void {
    const b = nextBallot(this.highestSeen > this.promised ? this.highestSeen : this.promised, this.ownRank());
    this.role = 'candidate';
    this.ballot = b;
    this.promised = b; // our own promise: durable before any Prepare leaves (Ready.send)
    this.highestSeen = b;
    this.leaderId = null;
    this.promises = new Map();
    this.promisePartsFrom = new Map();
    this.behindRefusals = new Set();
    this.leaseRefusals = new Set();
    this.rerunningPhase1 = false;
    this.fromSlot = (this.commitIndex + 1) as Slot;
    this.dropLeaderState();
    this.resetElectionTimer();
    this.prepared = new Set(this.voterPeers());
    this.transferCampaign = transfer;
    for (const p of this.prepared) this.msgs.push(this.prepare(p));
  }

  private prepare(to: NodeId): Prepare {
    return { type: 'prepare', from: this.id, to, ballot: this.ballot, fromSlot: this.fromSlot, ...(this.transferCampaign ? { transfer: true } : {}) };
  }

  private onPrepare(m: Prepare): void {
    if (m.ballot < this.promised) {
      this.nack(m);
      return;
    }
    if (m.ballot > this.promised && !this.mayCampaign(m.from, m.ballot)) return; // a learner's or a removed member's: ignored
    if (m.ballot > this.promised && m.from !== this.leaderId && m.transfer !== true && this.sticky() && this.leaseHeld()) {
      // Leader stickiness: a live leader holds our lease; its ballot stays ours. Refusing a promise
      // never costs safety, only liveness, and the lease runs out an election timeout after the
      // leader was last heard (a leader without a phase-2 quorum steps down as soon: checkQuorum).
      // Nothing changes here: not the promise, not the election timer.
      this.msgs.push({
        type: 'nack', from: this.id, to: m.from, ballot: m.ballot, promised: this.promised, compactedThrough: 0 as Slot, leader: this.leaderId ?? this.id,
      });
      return;
    }
    const compactedBeyond = this.snapshotIndex >= m.fromSlot;
    if (compactedBeyond && this.mutant !== 'promise-carries-snapshot') {
      // Slots from m.fromSlot to our snapshot are chosen, but their accepted values are gone from
      // here: a promise could only hand over the whole snapshot, which no message budget bounds.
      // Refuse, promising nothing (so our own campaign, whose timer keeps running, is not held
      // back). Some replica is never refused: nobody compacted beyond what the most advanced one
      // knows is chosen (snapshot <= applied <= commit), and it then brings the proposer's log up.
      this.msgs.push({ type: 'nack', from: this.id, to: m.from, ballot: m.ballot, promised: this.promised, compactedThrough: this.snapshotIndex });
      return;
    }
    if (m.ballot > this.promised) {
      // Our leader running phase 1 again while we hold its lease (refused in phase 2 by a higher
      // promise) keeps it. (A leader that stepped down campaigns an election timeout later at
      // least: by then its lease ran out here, and it gets none from campaigning.)
      const rerun = m.from === this.leaderId && this.sticky() && this.leaseHeld();
      this.promised = m.ballot;
      this.peerDownCampaignInTicks = null; // it promised another
      if (this.role !== 'follower') this.becomeFollower(null);
      if (!rerun) this.leaderId = null;
    }
    this.electionElapsed = 0; // give the proposer time to finish phase 1
    const parts = this.promiseParts(m.fromSlot);
    for (const [i, part] of parts.entries()) {
      this.msgs.push({
        type: 'promise', from: this.id, to: m.from, ballot: m.ballot, fromSlot: part.fromSlot, throughSlot: part.throughSlot,
        more: i < parts.length - 1, accepted: part.accepted, chosenThrough: this.commitIndex,
        snapshot: i === 0 && compactedBeyond ? this.snapshot : null,
      });
    }
  }

  /** What this acceptor accepted from `from` on, cut into parts within the message byte budget. */
  private promiseParts(from: Slot): { fromSlot: Slot; throughSlot: Slot; accepted: LogEntry[] }[] {
    const unbounded = this.mutant === 'unbounded-promises';
    const maxBytes = this.limits.maxBytesPerMessage;
    const parts = [{ fromSlot: from, throughSlot: (from - 1) as Slot, accepted: [] as LogEntry[] }];
    let bytes = 0;
    for (const e of this.acceptedFrom(from)) {
      let part = parts[parts.length - 1]!;
      bytes += e.data.byteLength + ENTRY_OVERHEAD_BYTES;
      if (!unbounded && part.accepted.length > 0 && (bytes > maxBytes || part.accepted.length >= MAX_ENTRIES_PER_PROMISE_PART)) {
        part = { fromSlot: (part.throughSlot + 1) as Slot, throughSlot: part.throughSlot, accepted: [] };
        parts.push(part);
        bytes = e.data.byteLength + ENTRY_OVERHEAD_BYTES;
      }
      part.accepted.push(e);
      part.throughSlot = e.index;
    }
    return parts;
  }

  private onPromise(m: PromiseMsg): void {
    if (this.role !== 'candidate' || m.ballot !== this.ballot || this.promises.has(m.from)) return;
    const parts = this.promisePartsFrom.get(m.from) ?? new Map<Slot, PromiseMsg>();
    if (parts.size >= this.limits.maxInflightSlots) return; // more parts than an honest acceptor holds slots
    parts.set(m.fromSlot, m);
    // Chain the parts from our fromSlot; the promise counts once the last part is reached.
    const accepted: LogEntry[] = [];
    let chosenThrough = 0 as Slot;
    let snapshot: Snapshot | null = null;
    for (let at = this.fromSlot, part = parts.get(at); ; at = (part.throughSlot + 1) as Slot, part = parts.get(at)) {
      // (A part that covers nothing yet says more follow would chain to itself: not an honest one.)
      if (part === undefined || part.throughSlot < at - 1 || (part.more && part.throughSlot < at)) {
        this.promisePartsFrom.set(m.from, parts);
        return;
      }
      accepted.push(...part.accepted);
      if (part.chosenThrough > chosenThrough) chosenThrough = part.chosenThrough;
      snapshot ??= part.snapshot;
      if (!part.more) break;
    }
    this.promisePartsFrom.delete(m.from);
    this.promises.set(m.from, { accepted, chosenThrough, snapshot });
    this.maybeWinPhase1();
  }

  private onNack(m: Nack): void {
    if (m.promised > this.highestSeen) this.highestSeen = m.promised;
    if ((this.role === 'candidate' || this.role === 'leader') && m.ballot === this.ballot && m.promised > this.ballot) {
      // A leader holding its lease runs phase 1 again above the acceptor's promise (a node that
      // raised its ballot while cut off, or a candidate refused by the others): it stays leader,
      // in a higher ballot, and its followers promise it (it is their leader). Without the lease
      // (checkQuorum off) two leaders doing so would duel for ever: it steps down instead.
      // An acceptor that follows another live leader names it: then this leader is the stale one
      // (cut off or paused, and not yet stepped down by checkQuorum) and steps down; running
      // phase 1 again above that leader's ballot would only make that leader run it again.
      const otherLeader = m.leader !== undefined && m.leader !== this.id && this.mutant !== 'rerun-against-live-leader';
      if (this.role === 'leader' && this.sticky() && this.leaseHeld() && !otherLeader) {
        this.campaign();
        this.rerunningPhase1 = true;
        return;
      }
      this.becomeFollower(null);
      return;
    }
    if (m.leader !== undefined) {
      // Refused for a live leader's lease: back off (no higher ballot would help) once the
      // acceptors left cannot make a phase-1 quorum. The lease runs out an election timeout after
      // that leader was last heard: a campaign after a random timeout then meets none.
      if (this.role !== 'candidate' || m.ballot !== this.ballot) return;
      this.leaseRefusals.add(m.from);
      if (!this.config.canReachQuorum(this.refusals(), this.flexible.phase1)) this.becomeFollower(null);
      return;
    }
    // Refused for being behind an acceptor's snapshot: stand down (a replica that knows more
    // should lead) once the acceptors left cannot make a phase-1 quorum. Not at the first such
    // refusal: the one that refuses may be unable to gather a quorum itself (cut off from the
    // others), while this candidate's quorum, of acceptors that compacted nothing it lacks, is safe.
    // Nor may the refuser be able to lead at all (a learner, demoted with the slots the voters left
    // lack, or the acceptors left short of a quorum without it): this candidate pulls its snapshot
    // (see snapshot-pull.ts) and campaigns from there next time.
    if (this.role !== 'candidate' || m.ballot !== this.ballot || m.compactedThrough < this.fromSlot) return;
    this.behindRefusals.add(m.from);
    if (this.pull === null && this.mutant !== 'behind-candidate-stays-behind') {
      this.pull = new SnapshotPull(m.from, this.snapshotWindowBytes());
      this.early.push(this.pull.request(this.id, this.promised));
    }
    if (!this.config.canReachQuorum(this.refusals(), this.flexible.phase1)) this.becomeFollower(null);
  }

  // ---- catch-up without a leader (see snapshot-pull.ts) ------------------------------------------

  /** An acceptor behind ours asks for our snapshot: a window of its chunks, from where it holds. */
  private onSnapshotPull(m: SnapshotPullRequest): void {
    if (this.snapshot === null || !this.peers.includes(m.from)) return;
    // Not while we follow a live leader: the requester is cut off from it (or would have been
    // refused by nobody), and once back it is brought up by that leader. Serving here would stream a
    // whole snapshot to it at each of its campaigns (checkQuorum off, a partial partition).
    if (this.role === 'follower' && this.leaderId !== null && this.electionElapsed < this.limits.electionTimeoutTicks) return;
    const pieces = servePull(m, this.snapshot, this.digestOfSnapshot(this.snapshot), this.promised, this.snapshotChunkBytes(), this.snapshotWindowBytes());
    this.early.push(...pieces);
  }

  private onSnapshotPiece(m: SnapshotPiece): void {
    const pull = this.pull;
    if (pull === null) return;
    const got = pull.take(m);
    if (got === null) return;
    if (got === 'more' || got === 'restart') {
      this.early.push(pull.request(this.id, this.promised));
      return;
    }
    this.pull = null;
    if (got.meta.index <= this.commitIndex || this.role === 'leader' || this.checking !== null) return;
    if (this.checkSnapshotsUpToBytes > 0 && got.data.byteLength <= this.checkSnapshotsUpToBytes) {
      this.checking = { snapshot: got, digest: m.digest, leader: m.from, ballot: this.promised, commit: got.meta.index as Slot, handedOut: false, pulled: true };
      return;
    }
    this.adoptPulled(got);
  }

  /** Install a pulled snapshot: whatever campaign was under way starts again from it, at its timeout. */
  private adoptPulled(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.commitIndex || this.role === 'leader') return;
    if (this.role !== 'follower') this.becomeFollower(null);
    this.installSnapshot(snapshot);
  }

  /** A pull that made no progress for a while asks again, and is given up after a while (the source may be down). */
  private pullTick(): void {
    const pull = this.pull!;
    if (this.role === 'leader' || (pull.index > 0 && pull.index <= this.commitIndex)) {
      this.pull = null; // leading, or caught up otherwise (a leader's Accepts or snapshot)
      return;
    }
    const again = pull.tick();
    if (again === null) this.pull = null;
    else if (again) this.early.push(pull.request(this.id, this.promised));
  }

  /** Acceptors that refused this candidate's Prepare, for being behind their snapshot or for a lease. */
  private refusals(): Set<NodeId> {
    return new Set([...this.behindRefusals, ...this.leaseRefusals]);
  }

  private nack(m: Prepare | Accept | InstallSnapshot): void {
    // Refusing a lower ballot while another live leader holds our lease: name that leader (see onNack).
    const leader = this.sticky() && this.leaseHeld() && this.leaderId !== null && this.leaderId !== m.from ? this.leaderId : null;
    this.msgs.push({
      type: 'nack', from: this.id, to: m.from, ballot: m.ballot, promised: this.promised, compactedThrough: 0 as Slot, ...(leader === null ? {} : { leader }),
    });
  }

  /**
   * Phase 1 is won once the promises hold a phase-1 quorum of every configuration a chosen value
   * could have been chosen in: the configuration at our commit point (K0) and each one the
   * configuration entries among the promises' highest-ballot values bring, in slot order (K1, K2,
   * ...; joint ones need both halves). Members we had not asked are sent the Prepare as they appear.
   *
   * Why no chosen value is missed. Let v be chosen at slot s >= fromSlot in a ballot below ours,
   * by a phase-2 quorum of the configuration of s: the one the configuration entries chosen below
   * s bring. Induction over those entries from fromSlot up: the first, at c1, was chosen by a K0
   * quorum, which our K0 quorum meets; the acceptor in both reports c1 in a ballot at or above the
   * one it was chosen in, and by P2c every value accepted at c1 in such a ballot is that entry, so
   * the highest-ballot value we take at c1 is it, and we ask a quorum of K1 too; and so on up to
   * the configuration of s, whose quorum we hold and which meets the one that chose v: we take v at
   * s. (A configuration from an entry that was never chosen only asks for more promises.) And a
   * value recovered above a configuration entry is proposed only once that entry is chosen (see
   * proposeRecovered), so every slot's phase 2 runs in the configuration of that slot.
   */
  private maybeWinPhase1(): void {
    if (this.role !== 'candidate' || !this.promises.has(this.id)) return;
    const b = this.ballot;
    // A peer compacted slots we have not learned: take its snapshot (those slots are chosen).
    let best: Snapshot | null = null;
    for (const p of this.promises.values()) {
      if (p.snapshot !== null && p.snapshot.meta.index > this.commitIndex && (best === null || p.snapshot.meta.index > best.meta.index)) best = p.snapshot;
    }
    const base = Math.max(this.commitIndex, best?.meta.index ?? 0);
    // For every slot above what we know is chosen: the value accepted in the highest ballot.
    const highest = new Map<number, LogEntry>();
    const ignoreOthers = this.mutant === 'ignore-prior-accepted';
    for (const [from, p] of this.promises) {
      if (ignoreOthers && from !== this.id) continue;
      for (const e of p.accepted) {
        if (e.index <= base) continue;
        const seen = highest.get(e.index);
        if (seen === undefined || acceptedIn(e) > acceptedIn(seen)) highest.set(e.index, e);
      }
    }
    // Every configuration in the chain needs a phase-1 quorum of the promises.
    const promisers = new Set(this.promises.keys());
    const chain = [best !== null && isMembership(best.meta.membership) ? PaxosConfig.from(best.meta.membership) : this.config];
    if (this.mutant !== 'phase1-ignores-new-config') {
      for (const s of [...highest.keys()].sort((x, y) => x - y)) {
        const e = highest.get(s)!;
        const c = e.kind === 'config' ? configOfEntry(e.data) : null;
        if (c !== null) chain.push(c);
      }
    }
    let won = true;
    for (const c of chain) {
      if (c.hasQuorum(promisers, this.flexible.phase1)) continue;
      won = false;
      for (const v of [...c.voters, ...c.outgoing]) {
        if (v === this.id || this.prepared.has(v)) continue;
        this.prepared.add(v);
        this.msgs.push(this.prepare(v));
      }
    }
    if (!won) return;
    if (best !== null) this.installSnapshot(best);
    assert(base === this.commitIndex, 'phase 1 recovers from the commit point');
    let maxSlot = base as number;
    for (const s of highest.keys()) maxSlot = Math.max(maxSlot, s);
    this.becomeLeader();
    const values: LogEntry[] = [];
    for (let s = base + 1; s <= maxSlot; s++) {
      const v = highest.get(s);
      values.push(v === undefined
        ? { index: s as Slot, term: b, kind: 'noop', data: EMPTY, acceptedBallot: b }
        : { index: s as Slot, term: v.term, kind: v.kind, data: v.data, acceptedBallot: b });
    }
    // Our own no-op: once it is chosen, everything chosen before this ballot is known here.
    this.readFloor = (maxSlot + 1) as Slot;
    values.push({ index: this.readFloor, term: b, kind: 'noop', data: EMPTY, acceptedBallot: b });
    for (const p of this.peers) {
      this.next.set(p, base + 1);
      this.match.set(p, base);
    }
    // Proposed up to the first configuration entry among them; the rest once it is chosen.
    this.recovering = values;
    this.proposeRecovered();
    this.refreshPeers();
    this.appendsDirty = true;
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate' && this.promised === this.ballot, () => `only a candidate whose ballot is its promise becomes leader (${this.role})`);
    // The acceptors that promised were heard in this election: they count for the first quorum
    // check. Without them, on disks slower than an election timeout every new leader stepped down
    // at its first check, before any Accepted could come back (seed 491: a leader elected, and
    // deposed by itself, a dozen times in 6 s).
    const promised = [...this.promises.keys()].filter((id) => id !== this.id);
    this.role = 'leader';
    this.leaderId = this.id;
    this.promises = new Map();
    this.promisePartsFrom = new Map();
    this.dropLeaderState();
    if (this.mutant !== 'forget-promisers') for (const id of promised) this.heardFrom.add(id);
    this.rerunningPhase1 = false;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.lastProposed = this.commitIndex;
  }

  private becomeFollower(leader: NodeId | null): void {
    this.role = 'follower';
    this.ballot = NO_BALLOT;
    this.rerunningPhase1 = false;
    this.leaderId = leader;
    this.promises = new Map();
    this.promisePartsFrom = new Map();
    this.dropLeaderState();
    this.resetElectionTimer();
  }

  private dropLeaderState(): void {
    this.acks = new Map();
    this.next = new Map();
    this.match = new Map();
    this.matchAtHeartbeat = new Map();
    this.ackedAhead = new Map();
    this.probing = new Set();
    this.snapshotSends = new Map();
    this.answeredSinceHeartbeat = new Set();
    this.heardFrom = new Set();
    this.pendingReads = [];
    this.readsBelowFloor = [];
    this.readFloor = 0 as Slot;
    this.appendsDirty = false;
    this.pendingConfigSlot = 0 as Slot;
    this.queuedConfig = null;
    this.recovering = [];
    this.transferTarget = null;
  }

  // ---- phase 2 ----------------------------------------------------------------------------------

  private onAccept(m: Accept): void {
    if (m.ballot < this.promised) {
      this.nack(m);
      return;
    }
    this.followLeader(m.ballot, m.from);
    const slots: Slot[] = [];
    for (const e of m.entries) {
      if (e.index > this.snapshotIndex) this.acceptSlot(e, m.ballot);
      slots.push(e.index);
    }
    this.learnCommit(m.commit, m.ballot);
    const reply: Accepted = {
      type: 'accepted', from: this.id, to: m.from, ballot: m.ballot, slots, match: this.matchIn(m.ballot), readRound: m.readRound,
    };
    // The accept-before-persist mutant answers before its acceptance is durable.
    if (this.mutant === 'accept-before-persist' && slots.length > 0) this.early.push(reply);
    else this.msgs.push(reply);
  }

  /**
   * A chunk of the leader's snapshot. The data is assembled in order: a chunk beyond what is held
   * in order (reordered, or sent after a lost one) is kept aside, within a bound, and the answer
   * names the gap, so that the leader resends the one chunk missing rather than all after it; a
   * duplicate is answered with what is held. The last one installs the snapshot (if it is still
   * ahead of what is known chosen); the Accepted that follows leaves after it is durable.
   */
  private onInstallSnapshot(m: InstallSnapshot): void {
    if (m.ballot < this.promised) {
      this.nack(m);
      return;
    }
    this.followLeader(m.ballot, m.from);
    const ack = (received: number, done: boolean, gap = false): void => {
      this.msgs.push({ type: 'snapshot-ack', from: this.id, to: m.from, ballot: m.ballot, index: m.meta.index as Slot, received, done, ...(gap ? { gap } : {}) });
    };
    if (m.meta.index <= this.commitIndex) {
      // Known chosen already (an earlier transfer finished, or the log caught up): nothing to take.
      // A newer snapshot being received stays: this is a late chunk of an older transfer.
      if (this.mutant === 'late-chunk-clears-incoming' || (this.incoming !== null && this.incoming.meta.index <= this.commitIndex)) this.incoming = null;
      this.learnCommit(m.commit, m.ballot);
      ack(0, true);
      this.msgs.push({ type: 'accepted', from: this.id, to: m.from, ballot: m.ballot, slots: [], match: this.matchIn(m.ballot), readRound: 0 });
      return;
    }
    // Chunks of the snapshot being checked (resent at a heartbeat while the check runs): nothing to
    // add, and nothing to say until the check is over.
    const c = this.checking;
    if (c !== null && c.snapshot.meta.index === m.meta.index && c.snapshot.meta.term === m.meta.term && c.digest === m.digest) return;
    let inc = this.incoming;
    const mixed = this.mutant === 'mixed-transfer-bytes';
    if (inc === null || inc.meta.index !== m.meta.index || inc.meta.term !== m.meta.term || (!mixed && inc.digest !== m.digest)) {
      // Another transfer replaces the one under way when it is of a newer snapshot, or comes from
      // a newer leader (from its first byte when its snapshot is older). A late chunk of an older
      // transfer of the same leader, which has moved on to a newer snapshot, must not throw away
      // this one's progress: it is ignored, whatever its offset. Another transfer of the same
      // index (another digest) comes from a leader at least as recent as the one under way (an
      // older one's chunks were refused above), whose encoding may differ: its bytes are never
      // joined to these, it starts over.
      const lateChunk = m.offset !== 0 || (m.ballot === inc?.ballot && this.mutant !== 'late-chunk-clears-incoming');
      if (inc !== null && m.meta.index < inc.meta.index && lateChunk) return;
      inc = this.incoming = { meta: m.meta, digest: m.digest, ballot: m.ballot, chunks: [], received: 0, ahead: new Map(), aheadBytes: 0 };
    }
    if (m.ballot > inc.ballot) inc.ballot = m.ballot;
    if (m.offset < inc.received) return ack(inc.received, false);
    if (m.offset > inc.received) {
      this.holdAhead(inc, m);
      return ack(inc.received, false, true);
    }
    const last = this.takeInOrder(inc, m);
    if (last === null) {
      this.incoming = null;
      return ack(0, false);
    }
    if (!last.done) return ack(inc.received, false, inc.ahead.size > 0);
    this.incoming = null;
    const data = concatBytes(inc.chunks, inc.received);
    // Bytes that are not the snapshot the leader digested (corrupted, or joined from two
    // transfers) are never installed: the transfer starts over.
    if (!mixed && inc.digest !== undefined && snapshotDigest(data) !== inc.digest) return ack(0, false);
    const snapshot: Snapshot = { meta: inc.meta, data };
    // Acknowledged only once the state machine decoded it: the leader takes the acknowledgement as
    // "it holds this state", and a snapshot it cannot read must leave this acceptor as it was.
    if (this.checkSnapshotsUpToBytes > 0 && data.byteLength <= this.checkSnapshotsUpToBytes) {
      this.checking = { snapshot, digest: inc.digest, leader: m.from, ballot: m.ballot, commit: m.commit, handedOut: false };
      return;
    }
    this.adoptSnapshot(snapshot, m.from, m.ballot, m.commit);
  }

  /**
   * The driver's check of the received snapshot with `meta` (see Replica.snapshotChecked): install
   * it, or refuse it and keep this acceptor's state. Dropped if this acceptor waits on no such
   * check, or follows another leader or ballot by now (the leader sends it again if it still leads).
   */
  snapshotChecked(meta: SnapshotMeta, ok: boolean): void {
    const c = this.checking;
    if (c === null || c.snapshot.meta.index !== meta.index || c.snapshot.meta.term !== meta.term) return;
    // Not handed out yet: the answer is for the snapshot this one replaced, of the same slot in
    // other bytes (a leader's transfer in another member's encoding, over a pulled one or another
    // leader's) before the next Ready; the driver checks this one once a Ready hands it out.
    if (!c.handedOut) return;
    this.checking = null;
    if (c.pulled === true) {
      if (ok) this.adoptPulled(c.snapshot);
      return;
    }
    if (this.promised > c.ballot || this.leaderId !== c.leader || this.role === 'leader') return;
    if (ok) return this.adoptSnapshot(c.snapshot, c.leader, c.ballot, c.commit);
    this.msgs.push({ type: 'snapshot-ack', from: this.id, to: c.leader, ballot: c.ballot, index: meta.index as Slot, received: 0, done: false, refused: true });
  }

  /** Install a leader's snapshot (persisted by the next Ready) and acknowledge it once that is durable. */
  private adoptSnapshot(snapshot: Snapshot, leader: NodeId, ballot: Ballot, commit: Slot): void {
    if (snapshot.meta.index > this.commitIndex) this.installSnapshot(snapshot);
    this.learnCommit(commit, ballot);
    this.msgs.push({ type: 'snapshot-ack', from: this.id, to: leader, ballot, index: snapshot.meta.index as Slot, received: snapshot.data.byteLength, done: true });
    this.msgs.push({ type: 'accepted', from: this.id, to: leader, ballot, slots: [], match: this.matchIn(ballot), readRound: 0 });
  }

  /** Keep a chunk beyond the gap, while the chunks held stay within MAX_SNAPSHOT_CHUNKS_AHEAD and one window of bytes. */
  private holdAhead(inc: IncomingSnapshot, m: InstallSnapshot): void {
    if (inc.ahead.has(m.offset) || inc.ahead.size >= MAX_SNAPSHOT_CHUNKS_AHEAD) return;
    if (inc.aheadBytes + m.chunk.byteLength > this.limits.maxInflightSnapshotBytes || m.offset + m.chunk.byteLength > MAX_SNAPSHOT_BYTES) return;
    inc.ahead.set(m.offset, m);
    inc.aheadBytes += m.chunk.byteLength;
  }

  /**
   * Append `m` (it starts where the received bytes end) and the held chunks that now follow in
   * order; returns the last chunk taken, or null when the snapshot outgrew MAX_SNAPSHOT_BYTES.
   */
  private takeInOrder(inc: IncomingSnapshot, m: InstallSnapshot): InstallSnapshot | null {
    let chunk: InstallSnapshot | undefined = m;
    let last = m;
    while (chunk !== undefined) {
      assert(chunk.offset === inc.received, 'a snapshot chunk is taken where the received bytes end');
      if (inc.received + chunk.chunk.byteLength > MAX_SNAPSHOT_BYTES) return null;
      if (inc.ahead.delete(chunk.offset)) inc.aheadBytes -= chunk.chunk.byteLength;
      inc.chunks.push(chunk.chunk);
      inc.received += chunk.chunk.byteLength;
      last = chunk;
      chunk = last.done ? undefined : inc.ahead.get(inc.received);
    }
    // Held chunks the bytes in order now cover (cut at other offsets, by another leader) go.
    for (const [offset, held] of inc.ahead) {
      if (offset >= inc.received) continue;
      inc.ahead.delete(offset);
      inc.aheadBytes -= held.chunk.byteLength;
    }
    return last;
  }

  /** Leader: an acceptor's progress through a snapshot transfer; the window moves on. */
  private onSnapshotAck(m: SnapshotAck): void {
    if (this.role !== 'leader' || m.ballot !== this.ballot) return;
    this.heardFrom.add(m.from);
    this.answeredSinceHeartbeat.add(m.from);
    const t = this.snapshotSends.get(m.from);
    if (t === undefined || t.meta.index !== m.index) return;
    if (m.done) {
      this.snapshotSends.delete(m.from);
      return;
    }
    if (m.refused === true) {
      // The acceptor could not decode it and kept its state: it holds none of it. A newer snapshot
      // goes instead (this one may be what was wrong: the next probe begins it); the same one again
      // from the start at the heartbeat's stall check, not at once (not at line rate).
      if (this.snapshot !== null && this.snapshot.meta.index > t.meta.index) {
        this.snapshotSends.delete(m.from);
        return;
      }
      t.lastHeard = 0;
      t.acked = 0;
      t.sent = t.data.byteLength;
      t.finalSent = true;
      t.ackedAtHeartbeat = -1;
      return;
    }
    t.lastHeard = m.received;
    if (this.mutant === 'rewind-on-stale-ack' && (m.received < t.acked || m.received > t.sent)) {
      t.acked = Math.min(m.received, t.sent);
      t.sent = t.acked;
      t.finalSent = false;
    } else if (m.received > t.sent) {
      // It holds more than we last sent from (we went back after a stale "nothing held"): go on from there.
      t.acked = Math.min(m.received, t.data.byteLength);
      t.sent = t.acked;
      t.finalSent = false;
    } else if (m.received < t.acked) {
      // Behind what it acknowledged before: it holds nothing of this snapshot any more (it
      // restarted, or started over) when it says 0; any other such number is an acknowledgement
      // overtaken by a later one (reordered or duplicated). Going back for those would resend a
      // window per stale acknowledgement, and each resent chunk draws another: a storm. A 0 that
      // names a gap is as likely the answer to a chunk that overtook the first one, delayed: an
      // acceptor that restarted keeps saying it, and the heartbeat's stall check goes back then.
      if (m.received !== 0 || m.gap === true) return;
      t.acked = 0;
      t.sent = 0;
      t.finalSent = false;
    } else {
      t.acked = m.received;
    }
    if (m.gap === true) this.resendMissingChunk(m.from, t, m.received);
    this.sendSnapshotChunks(m.from);
  }

  /**
   * The acceptor holds chunks beyond `at` but not the one there. Chunks the network reordered
   * report a gap too and fill it soon: the chunk goes again only on the GAP_REPORTS_BEFORE_RESEND-th
   * report of the same gap, and once (a loss it does not mend is the heartbeat's stall check's).
   */
  private resendMissingChunk(peer: NodeId, t: SnapshotTransfer, at: number): void {
    if (at >= t.sent) return;
    if (t.gapAt !== at) {
      t.gapAt = at;
      t.gapReports = 0;
    }
    if (++t.gapReports === GAP_REPORTS_BEFORE_RESEND) this.early.push(this.snapshotChunk(peer, t, at));
  }

  private followLeader(b: Ballot, from: NodeId): void {
    if (b > this.promised) this.promised = b;
    this.peerDownCampaignInTicks = null; // a leader speaks: no early election
    if (this.role !== 'follower') this.becomeFollower(from);
    this.leaderId = from;
    this.electionElapsed = 0;
  }

  /** Accept a value for a slot in ballot `b` (b >= promised was checked). */
  private acceptSlot(e: LogEntry, b: Ballot): void {
    const held = this.log.get(e.index);
    if (held !== undefined && held.acceptedBallot === b) return; // a retransmission
    if (e.index <= this.commitIndex && held !== undefined) {
      assert(sameValue(held, e), () => `${this.id}: chosen slot ${e.index} must never change (${held.term}/${held.kind} → ${e.term}/${e.kind})`);
    }
    assert(held === undefined || acceptedIn(held) <= b, () => `${this.id}: slot ${e.index} accepted in ${acceptedIn(held!)} > ${b}`);
    const entry: LogEntry = { index: e.index, term: e.term, kind: e.kind, data: e.data, acceptedBallot: b };
    this.log.set(e.index, entry);
    this.unpersisted.set(e.index, entry);
    if (e.index > this.lastSlot) this.lastSlot = e.index;
  }

  /** The leader accepts its own proposal (it counts once durable, in advance()). */
  private acceptOwn(e: LogEntry): void {
    assert(this.role === 'leader' && e.index === this.lastProposed + 1, () => `a leader proposes slots in order (${e.index} after ${this.lastProposed})`);
    this.log.set(e.index, e);
    this.unpersisted.set(e.index, e);
    this.lastProposed = e.index;
    if (e.index > this.lastSlot) this.lastSlot = e.index;
  }

  /** Learner: slots up to `leaderCommit` are chosen; ours match where we accepted them in `b`. */
  private learnCommit(leaderCommit: Slot, b: Ballot): void {
    let c = this.commitIndex as number;
    while (c < leaderCommit) {
      const e = this.log.get(c + 1);
      if (e === undefined || e.acceptedBallot !== b) break;
      c++;
    }
    this.setCommit(c as Slot);
  }

  /** The highest slot such that every slot after our commit point up to it was accepted in `b`. */
  private matchIn(b: Ballot): Slot {
    let s = this.commitIndex as number;
    for (;;) {
      const e = this.log.get(s + 1);
      if (e === undefined || e.acceptedBallot !== b) return s as Slot;
      s++;
    }
  }

  private onAccepted(m: Accepted): void {
    if (this.role !== 'leader' || m.ballot !== this.ballot) return;
    this.heardFrom.add(m.from);
    this.answeredSinceHeartbeat.add(m.from);
    for (const s of m.slots) this.addAck(s, m.from);
    // `match` says the acceptor holds every slot up to it accepted in this ballot, durably (it is
    // computed after the Accepted of each slot was persisted). It counts as an acknowledgement of
    // each: when the Accepted that listed a slot was lost, the next heartbeat's answer still
    // counts, or a leader that believes the acceptor up to date would never send it the slot again.
    if (this.mutant !== 'count-listed-acks-only') for (let s = this.commitIndex + 1; s <= m.match; s++) this.addAck(s, m.from);
    this.noteAckedAhead(m);
    this.match.set(m.from, m.match);
    if ((this.next.get(m.from) ?? 0) <= m.match) this.next.set(m.from, m.match + 1);
    if (m.readRound > 0) this.ackReads(m.from, m.readRound);
    if (this.probing.delete(m.from) && m.match < this.lastProposed) {
      // A probe answered: the acceptor is there. What it misses of what it was sent goes now (the
      // slots never sent follow from `next`, as to any replicating acceptor).
      this.resendMissing(m.from, this.limits.maxCatchUpSlotsPerHeartbeat);
    }
    if (m.match < this.lastProposed && (this.next.get(m.from) ?? 0) <= this.lastProposed) this.appendsDirty = true;
    if (m.from === this.transferTarget) this.maybeSendTimeoutNow();
  }

  /**
   * Remember the slots above its match an acceptor acknowledged (it accepts out of order: past a
   * lost Accept it holds later slots); forget those its match now covers. A match that went back
   * (it restarted, and lost what it had not made durable... or was damaged) forgets them all.
   */
  private noteAckedAhead(m: Accepted): void {
    let acked = this.ackedAhead.get(m.from);
    if (acked !== undefined && m.match < (this.match.get(m.from) ?? 0)) acked.clear();
    for (const s of m.slots) {
      if (s <= m.match) continue;
      if (acked === undefined) this.ackedAhead.set(m.from, acked = new Set());
      if (acked.size >= MAX_ACKED_AHEAD_SLOTS) break; // the rest are resent: harmless
      acked.add(s);
    }
    if (acked !== undefined && acked.size > 0) for (const s of acked) if (s <= m.match) acked.delete(s);
  }

  private addAck(slot: number, from: NodeId): void {
    if (slot <= this.commitIndex) return;
    // Only slots this leader proposed: an acceptor's match starts from its own commit point, which
    // may be ahead of ours (recovered values wait behind a configuration entry, proposeRecovered),
    // and a slot we have not proposed is not in our log to commit. Those slots are counted again
    // once proposed: every later Accepted reports its match.
    if (slot > this.lastProposed && this.mutant !== 'ack-beyond-proposed') return;
    let set = this.acks.get(slot);
    if (set === undefined) {
      set = new Set();
      this.acks.set(slot, set);
    }
    set.add(from);
    // Each slot is chosen by a phase-2 quorum of its own configuration: the one a configuration
    // entry chosen just below brings (the drain rule keeps that to the slot right after it).
    let c = this.commitIndex as number;
    let config = this.config;
    for (;;) {
      const acks = this.acks.get(c + 1);
      if (acks === undefined || !config.hasQuorum(acks, this.flexible.phase2, this.learnersVote())) break;
      this.acks.delete(c + 1);
      c++;
      const e = this.log.get(c);
      if (e?.kind === 'config') config = configOfEntry(e.data) ?? config;
    }
    this.setCommit(c as Slot);
  }

  private setCommit(c: Slot): void {
    if (c <= this.commitIndex) return;
    assert(c <= this.lastSlot, () => `commit ${c} beyond the last slot ${this.lastSlot}`);
    const from = this.commitIndex;
    this.commitIndex = c;
    const configBefore = this.config;
    for (let s = from + 1; s <= c; s++) this.takeConfigAt(s as Slot);
    this.knowConfigPastSince(c);
    // Passed a configuration entry: the commit point becomes durable with the next Ready (PaxosHardState.chosen).
    if (this.config !== configBefore && this.mutant !== 'forget-config-point') this.chosenMark = c;
    // A snapshot being received that the log overtook is of no use any more: its bytes go.
    if (this.incoming !== null && this.incoming.meta.index <= c && this.mutant !== 'keep-overtaken-transfer') this.incoming = null;
    if (this.role === 'leader' && !this.config.isVoter(this.id)) {
      // Removed, or demoted to a learner: the change that did it is chosen; a voter leads from here.
      this.becomeFollower(null);
      return;
    }
    if (this.role === 'leader' && this.commitIndex >= this.readFloor && this.readsBelowFloor.length > 0) {
      for (const r of this.readsBelowFloor.splice(0)) this.startRead(r.requestId, r.forwardedBy);
    }
    this.continueReconfiguration();
    this.maybeSendTimeoutNow();
  }

  private installSnapshot(s: Snapshot): void {
    const at = s.meta.index;
    assert(at > this.commitIndex, 'a snapshot is installed only when it is ahead of what we know is chosen');
    this.snapshot = s;
    this.snapshotIndex = at as Slot;
    this.pendingSnapshot = s;
    for (const slot of [...this.log.keys()]) if (slot <= at) this.log.delete(slot);
    for (const slot of [...this.unpersisted.keys()]) if (slot <= at) this.unpersisted.delete(slot);
    this.commitIndex = at as Slot;
    this.applyCursor = at as Slot;
    // A leader's transfer under way that this one overtook is of no use any more (as in setCommit).
    if (this.incoming !== null && this.incoming.meta.index <= at) this.incoming = null;
    if (this.lastSlot < at) this.lastSlot = at as Slot;
    // The snapshot's configuration is the one in force above it (checked by the validator when it came from a peer).
    if (isMembership(s.meta.membership)) {
      this.config = PaxosConfig.from(s.meta.membership);
      // With a since above its slot, the configuration holds from there on (a joiner's snapshot
      // below its since): not that of the snapshot's slot, so phase 1 may not start from it.
      this.configSince = this.sinceOf(s.meta);
      this.configKnown = this.configSince === 0;
      this.configHistory = [{ at: at as Slot, config: this.config }];
      this.refreshPeers();
    }
  }

  // ---- sending ----------------------------------------------------------------------------------

  /** Send every peer the slots it has not been sent yet (batched, within the pipeline window). */
  private flushAccepts(): void {
    this.appendsDirty = false;
    if (this.role !== 'leader') return;
    for (const p of this.peers) {
      if (this.probing.has(p)) continue; // one slot per heartbeat until it answers
      let budget = this.limits.maxInflightSlots;
      while ((this.next.get(p) ?? this.lastProposed + 1) <= this.lastProposed && budget > 0) budget -= this.sendSlots(p, budget);
    }
  }

  /**
   * One Accept (or a snapshot) to `peer` from its next slot; returns the slots sent. `probe`: the
   * peer answered nothing since the last heartbeat, so a new snapshot transfer starts with one chunk.
   */
  private sendSlots(peer: NodeId, budget: number, probe = false): number {
    const from = this.next.get(peer) ?? this.lastProposed + 1;
    if (from <= this.snapshotIndex && this.snapshot !== null) {
      // The slots it lacks were compacted: they go as the snapshot, in chunks, while the slots
      // after it follow as Accepts (an acceptor takes slots out of order).
      // A transfer under way is driven by its acknowledgements and by the heartbeat's stall check
      // (which probes a silent acceptor with one chunk): only a new one sends here. It keeps the
      // snapshot it started with, however often this replica compacts meanwhile: starting over
      // at each newer one, a large state compacted often would never reach a lagging acceptor.
      // (Once it is installed, the slots after it come as a newer snapshot or as Accepts.)
      const t = this.snapshotSends.get(peer);
      if (t === undefined || (this.mutant === 'restart-transfer-on-compaction' && t.meta.index !== this.snapshot.meta.index)) {
        this.snapshotSends.set(peer, {
          meta: this.snapshot.meta, data: this.snapshot.data, digest: this.digestOfSnapshot(this.snapshot), silentHeartbeats: 0,
          sent: 0, acked: 0, finalSent: false, ackedAtHeartbeat: -1, lastHeard: 0, gapAt: -1, gapReports: 0,
        });
        this.sendSnapshotChunks(peer, probe);
      }
      this.next.set(peer, this.snapshotIndex + 1);
      return this.snapshotIndex - from + 1;
    }
    const entries: LogEntry[] = [];
    const maxBytes = this.mutant === 'unbounded-accept-batches' ? Infinity : this.limits.maxBytesPerMessage;
    let bytes = 0;
    let s = from;
    while (s <= this.lastProposed && entries.length < Math.min(this.limits.maxEntriesPerMessage, budget)) {
      const e = this.log.get(s);
      if (e === undefined) break; // not held here (applied before a restart): the peer gets it from a snapshot later
      bytes += e.data.byteLength + ENTRY_OVERHEAD_BYTES;
      if (entries.length > 0 && bytes > maxBytes) break;
      entries.push(e);
      s++;
    }
    this.next.set(peer, entries.length > 0 ? s : this.lastProposed + 1);
    this.early.push(this.accept(peer, entries, 0));
    return Math.max(1, entries.length);
  }

  /**
   * The next chunks of `peer`'s snapshot transfer, up to maxInflightSnapshotBytes (at least one
   * chunk) beyond what it acknowledged; one chunk only when `probe` (it answered nothing lately).
   */
  private sendSnapshotChunks(peer: NodeId, probe = false): void {
    const t = this.snapshotSends.get(peer);
    if (t === undefined) return;
    const chunkBytes = this.snapshotChunkBytes();
    const windowEnd = t.acked + (probe ? chunkBytes : this.snapshotWindowBytes());
    while (!t.finalSent && t.sent < windowEnd) {
      const chunk = this.snapshotChunk(peer, t, t.sent);
      this.early.push(chunk);
      t.sent = chunk.offset + chunk.chunk.byteLength;
      t.finalSent = chunk.done;
    }
  }

  /** The chunk of `t`'s snapshot that starts at `offset`. */
  private snapshotChunk(peer: NodeId, t: SnapshotTransfer, offset: number): InstallSnapshot {
    const end = Math.min(offset + this.snapshotChunkBytes(), t.data.byteLength);
    return {
      type: 'install-snapshot', from: this.id, to: peer, ballot: this.ballot, meta: t.meta,
      offset, chunk: t.data.subarray(offset, end), done: end === t.data.byteLength, commit: this.commitIndex, digest: t.digest,
    };
  }

  /** The digest of `s`'s data, computed once per snapshot (each transfer of it carries it). */
  private digestOfSnapshot(s: Snapshot): string {
    if (this.snapshotDigestOf?.index !== s.meta.index) this.snapshotDigestOf = { index: s.meta.index, digest: snapshotDigest(s.data) };
    return this.snapshotDigestOf.digest;
  }

  /** Snapshot bytes in flight beyond what was acknowledged (a transfer's window, a pull's): maxInflightSnapshotBytes, at least one chunk. */
  private snapshotWindowBytes(): number {
    return Math.max(this.snapshotChunkBytes(), this.limits.maxInflightSnapshotBytes);
  }

  /** Bytes per snapshot chunk: snapshotChunkBytes, within the message byte budget. */
  private snapshotChunkBytes(): number {
    return Math.max(1, Math.min(this.limits.snapshotChunkBytes, this.limits.maxBytesPerMessage));
  }

  private accept(peer: NodeId, entries: readonly LogEntry[], readRound: number): Accept {
    return { type: 'accept', from: this.id, to: peer, ballot: this.ballot, entries, commit: this.commitIndex, readRound };
  }

  /**
   * Heartbeat: an Accept to every peer. A peer that made no progress since the last one is sent
   * its missing slots again: up to maxCatchUpSlotsPerHeartbeat when it answered in between (it
   * is there, its Accepts were lost), only the first one when it did not (a probe, as Raft's
   * probe state: a peer that is down or cut off costs one slot per heartbeat, not a window; its
   * answer to the probe brings the rest).
   */
  private heartbeat(): void {
    // A snapshot transfer that made no progress since the last heartbeat lost a chunk (or its
    // acknowledgement): it goes again from what the acceptor holds, a window when the acceptor
    // answered in between, one chunk (a probe) when it did not (down or cut off).
    for (const [p, t] of this.snapshotSends) {
      // A transfer to an acceptor that has answered nothing for a while (down, or cut off) holds
      // its snapshot no longer once a newer one is here: the leader would keep the old data alive,
      // and a returning acceptor would take the old snapshot and then the new one. It starts
      // over from the newest (below: the acceptor is stalled, the next probe begins the new one).
      t.silentHeartbeats = this.answeredSinceHeartbeat.has(p) ? 0 : t.silentHeartbeats + 1;
      if (t.silentHeartbeats >= SILENT_HEARTBEATS_BEFORE_TRANSFER_RESTART && this.mutant !== 'keep-silent-transfer' &&
        this.snapshot !== null && this.snapshot.meta.index > t.meta.index) {
        this.snapshotSends.delete(p);
        continue;
      }
      if (t.acked === t.ackedAtHeartbeat) {
        // An acknowledgement taken for the acceptor's position may have been a stale duplicate
        // (it restarted since, and holds less): a stalled transfer goes on from what the acceptor
        // said last when that is less, at most once per heartbeat, so it cannot storm.
        if (t.lastHeard < t.acked) t.acked = t.lastHeard;
        t.sent = t.acked;
        t.finalSent = false;
        this.sendSnapshotChunks(p, !this.answeredSinceHeartbeat.has(p));
      }
      t.ackedAtHeartbeat = t.acked;
    }
    for (const p of this.peers) {
      const match = this.match.get(p) ?? 0;
      const stalled = match < this.lastProposed && match === this.matchAtHeartbeat.get(p);
      this.matchAtHeartbeat.set(p, match);
      const answered = this.answeredSinceHeartbeat.has(p);
      if (stalled) {
        const before = this.early.length;
        let budget = answered ? this.limits.maxCatchUpSlotsPerHeartbeat : 1;
        const viaSnapshot = match < this.snapshotIndex && this.snapshot !== null;
        if (viaSnapshot || this.snapshotSends.has(p)) {
          // One taking a snapshot answers its chunks, which drive the transfer: the slots after it
          // keep coming meanwhile, as they did before it fell behind the compaction point.
          this.probing.delete(p);
        } else if (!answered && !this.probing.has(p)) {
          // Silent: down, cut off, or restarted (and then what it acknowledged may be gone).
          this.probing.add(p);
          this.ackedAhead.delete(p);
        }
        if (this.mutant === 'heartbeat-resends-window' || viaSnapshot) {
          // From its match on, every slot (its compacted ones go as a snapshot).
          this.next.set(p, match + 1);
        } else {
          const resent = this.resendMissing(p, budget);
          // It answers, but nothing it was sent is missing: it lost what it acknowledged (a
          // damaged disk). Forget that: the next stalled heartbeat resends every slot after its match.
          if (resent === 0 && answered) this.ackedAhead.delete(p);
          budget -= resent;
        }
        while ((this.next.get(p) ?? 0) <= this.lastProposed && budget > 0) budget -= this.sendSlots(p, budget, !answered);
        // The last of them carries the read round, as a plain heartbeat would.
        // Read only when something was added: an empty array's [-1] is looked up by name along the prototype chain (slow).
        const last = this.early.length > before ? this.early[this.early.length - 1] : undefined;
        if (last !== undefined && last.type === 'accept') {
          this.early[this.early.length - 1] = { ...last, readRound: this.readRound };
          continue;
        }
      }
      this.early.push(this.accept(p, [], this.readRound));
    }
    this.answeredSinceHeartbeat.clear();
  }

  /**
   * Resend `peer` the slots it was sent (below its `next`) after its match that it has not
   * acknowledged, at most `budget`, in Accepts within maxEntriesPerMessage and maxBytesPerMessage
   * each; returns the slots sent. Slots it was never sent are not this one's (see flushAccepts).
   */
  private resendMissing(peer: NodeId, budget: number): number {
    const acked = this.ackedAhead.get(peer);
    const end = Math.min(this.lastProposed, (this.next.get(peer) ?? this.lastProposed + 1) - 1);
    let entries: LogEntry[] = [];
    let bytes = 0;
    let sent = 0;
    for (let s = Math.max(this.match.get(peer) ?? 0, this.snapshotIndex) + 1; s <= end && sent < budget; s++) {
      if (acked?.has(s) === true) continue;
      const e = this.log.get(s);
      if (e === undefined) continue; // not held here (applied before a restart): it gets it from a snapshot later
      const size = e.data.byteLength + ENTRY_OVERHEAD_BYTES;
      if (entries.length > 0 && (bytes + size > this.limits.maxBytesPerMessage || entries.length >= this.limits.maxEntriesPerMessage)) {
        this.early.push(this.accept(peer, entries, 0));
        entries = [];
        bytes = 0;
      }
      entries.push(e);
      bytes += size;
      sent++;
    }
    if (entries.length > 0) this.early.push(this.accept(peer, entries, 0));
    return sent;
  }

  // ---- reads ------------------------------------------------------------------------------------

  private startRead(requestId: string, forwardedBy: NodeId | null): void {
    const read: PendingRead = { requestId, forwardedBy, index: this.commitIndex, round: ++this.readRound, acks: new Set([this.id]) };
    if (this.config.hasQuorum(read.acks, this.flexible.phase2)) {
      this.answerRead(read);
      return;
    }
    this.pendingReads.push(read);
    for (const p of this.peers) this.early.push(this.accept(p, [], read.round));
  }

  /** A phase-2 quorum that still accepts our ballot after a read arrived confirms its read point. */
  private ackReads(from: NodeId, round: number): void {
    let kept = 0;
    for (const r of this.pendingReads) {
      if (r.round <= round) r.acks.add(from);
      if (this.config.hasQuorum(r.acks, this.flexible.phase2)) this.answerRead(r);
      else this.pendingReads[kept++] = r;
    }
    this.pendingReads.length = kept;
  }

  private answerRead(r: PendingRead): void {
    if (r.forwardedBy === null) this.readStates.push({ requestId: r.requestId, index: r.index });
    else this.early.push({ type: 'read-index-response', from: this.id, to: r.forwardedBy, ballot: this.ballot, requestId: r.requestId, index: r.index });
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private acceptedFrom(from: Slot): LogEntry[] {
    const out: LogEntry[] = [];
    for (let s = Math.max(from, this.snapshotIndex + 1); s <= this.lastSlot; s++) {
      const e = this.log.get(s);
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    const t = this.limits.electionTimeoutTicks;
    this.randomizedTimeout = t + this.random.int(0, t - 1);
  }
}

/** The ballot an entry was accepted in (an entry proposed and accepted at once has only `term`). */
function acceptedIn(e: LogEntry): Ballot {
  return e.acceptedBallot ?? e.term;
}

/** Whether two entries carry the same value (the proposing ballot identifies it within a slot). */
function sameValue(a: LogEntry, b: LogEntry): boolean {
  return a.term === b.term && a.kind === b.kind && a.data.length === b.data.length;
}

function definedOnly(o: object): Partial<PaxosLimits> {
  const keys = Object.keys(DEFAULT_PAXOS_LIMITS) as (keyof PaxosLimits)[];
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = (o as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = v;
  }
  return out as Partial<PaxosLimits>;
}
