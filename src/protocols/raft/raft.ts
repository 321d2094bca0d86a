/**
 * Raft (Ongaro & Ousterhout 2014; Ongaro's dissertation 2014) as a pure state machine.
 *
 * Inputs: tick(), step(msg), propose(cmd), readIndex(id), compact(index, data),
 * proposeConfigChange(change), transferLeadership(target). Output: ready() → persist / send /
 * apply / readStates, acknowledged with advance(). One Ready is outstanding at a time; input may
 * keep arriving between ready() and advance() and lands in the next Ready.
 *
 * Choices worth knowing:
 * - Configuration changes take effect when their entry is applied (as in etcd), not when it is
 *   appended; one change may be pending at a time, so two configurations that could both decide
 *   never coexist. A joint configuration (C_old,new) is left automatically by the leader, or,
 *   when the change said autoLeave: false, by an explicit leave-joint proposal. A voter demoted
 *   through a joint change keeps its vote in C_old until the joint configuration is left.
 * - The leader counts its own entries towards commitment only once they are durable
 *   (advance() after persist), so a leader crash cannot lose a "committed" entry.
 * - Messages with a higher term from a leader-leased cluster are ignored for votes
 *   (check-quorum lease, §4.2.3), except when the vote request comes from a leadership transfer.
 */
import { concatBytes } from '../../core/bytes.js';
import { emptyObjectArray } from '../../core/shapes.js';
import { peerDownJitterTicks } from '../../core/peer-down.js';
import { assert, unreachable } from '../../core/assert.js';
import { NotLeader, ProposalDropped, QuorateError, TooManyRequests, withoutStack } from '../../core/errors.js';
import type { Index, NodeId, Term } from '../../core/ids.js';
import { jointCommittedIndex, jointVoteResult, type VoteResult } from '../../core/quorum.js';
import type { Random } from '../../core/prng.js';
import type {
  LogEntry, Membership, Persist, ProposeResult, ReadState, Ready, Replica, Snapshot, SnapshotMeta,
} from '../../core/replica.js';
import { decodeConfigChange, encodeConfigChange, RaftConfig } from './config.js';
import { RaftLog } from './log.js';
import { isMutant, type RaftMutant } from './mutants.js';
import { Progress, type SnapshotTransfer } from './progress.js';
import {
  DEFAULT_MAX_CLOCK_DRIFT, DEFAULT_RAFT_LIMITS,
  type AppendRequest, type AppendResponse, type ConfigChange, type FollowerProgress, type Heartbeat,
  type HeartbeatResponse, type InstallSnapshot, type InstallSnapshotResponse, type RaftHardState, type RaftLimits,
  type RaftMessage, type RaftOptions, type RaftRole, type RaftStatus, type VoteRequest, type VoteResponse,
} from './types.js';

/** Messages without from/term: the replica fills those in. */
type Outbound = RaftMessage extends infer M ? (M extends RaftMessage ? Omit<M, 'from' | 'term'> & { term?: Term } : never) : never;

const EMPTY_PROGRESS: ReadonlyMap<NodeId, FollowerProgress> = new Map();
/** Heartbeat rounds whose send tick a leader remembers (a lease needs only the recent ones). */
const MAX_ROUNDS_REMEMBERED = 256;

/** Committed entries handed out in one Ready, at most. */
export const MAX_APPLY_ENTRIES_PER_READY = 4096;
/** Largest snapshot a follower will assemble from chunks. */
export const MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;
/** Reports of one gap in a snapshot transfer before the leader sends the missing chunk again. */
export const GAP_REPORTS_BEFORE_RESEND = 2;
/** Snapshot chunks a follower holds beyond a gap (chunks the network reordered, or sent after a lost one), and their bytes at most. */
export const MAX_SNAPSHOT_CHUNKS_AHEAD = 64;
export const MAX_SNAPSHOT_BYTES_AHEAD = 16 * 1024 * 1024;

interface PendingRead {
  readonly seq: number;
  readonly requestId: string;
  readonly requester: NodeId;
  readonly index: Index;
  readonly acks: Map<NodeId, boolean>;
}

interface Outstanding {
  readonly hardState: RaftHardState;
  readonly lastEntry: LogEntry | null;
  readonly snapshot: Snapshot | null;
  readonly appliedTo: Index;
}

export class RaftReplica implements Replica<RaftMessage, RaftHardState, RaftStatus> {
  readonly id: NodeId;
  private readonly limits: RaftLimits;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly readOnly: 'safe' | 'lease-based';
  /** See RaftOptions.disableProposalForwarding. */
  private readonly disableProposalForwarding: boolean;
  /** Ticks a lease lasts after the heartbeat round a quorum acknowledged (see leaseTicks()). */
  private readonly leaseTicks: number;
  private readonly mutant: RaftMutant | null;
  private readonly random: Random;

  private term: Term;
  private vote: NodeId | null;
  private commit: Index;
  private role: RaftRole = 'follower';
  private leader: NodeId | null = null;
  private readonly log: RaftLog;
  private config: RaftConfig;
  /** Highest index the driver has applied (acknowledged through advance()). */
  private applied: Index;

  /** Ticks since this replica started: its own clock, for leases. */
  private ticks = 0;
  /**
   * Leader: lease reads may be served while `ticks` is below this. Set from the newest heartbeat
   * round a quorum acknowledged (its send tick plus leaseTicks); 0 when no lease is held.
   */
  private leaseUntil = 0;
  /**
   * This leader sent a TimeoutNow in its term: the target may be elected through the followers'
   * leases at any time (a TimeoutNow late or duplicated in the network, long after the transfer
   * was abandoned), so it serves no read from its lease again in this term.
   */
  private leaseForfeited = false;
  /** Leader: the tick each recent heartbeat round (readSeq) was sent at. */
  private readonly roundSentAt = new Map<number, number>();
  /**
   * Snapshot bytes sent to followers, and the bytes owed them: the size of each transfer started,
   * plus what must go again because it was lost (a chunk a follower reports missing, what a
   * stalled transfer sent, what a follower that restarted lost). Their ratio is what the wire
   * costs beyond loss recovery: an honest sender stays at 1. A live object: status() hands it
   * out without copying.
   *
   * peerDownCampaigns: elections this member started early because it was told its leader's
   * connections closed (peerDown); peerDownCampaignElapsedTicks: the ticks since it last heard
   * from that leader, summed over those elections (each below the election timeout: the timer
   * had not fired).
   */
  private readonly counters = { snapshotBytesSent: 0, snapshotBytesOwed: 0, snapshotsRefused: 0, peerDownCampaigns: 0, peerDownCampaignElapsedTicks: 0 };
  /**
   * Leader: the client proposals (commands and membership changes) appended in this term and not
   * yet committed, by index, with their bytes; what the uncommitted limits count. The leader's
   * own entries (its no-op, leaving a joint configuration) and entries of earlier terms are not
   * in it: they are never refused and never counted.
   */
  private readonly uncommittedProposals = new Map<Index, number>();
  private uncommittedBytes = 0;
  /** The next persist truncates the stored log after an installed snapshot (its tail was dropped). */
  private truncateAfterSnapshot = false;
  private electionElapsed = 0;
  /** Leader: a quorum was heard from within the last election timeout (see hearsLeader). */
  private quorumHeard = true;
  /**
   * Follower told that its leader's connections closed (peerDown): ticks until it campaigns, ahead
   * of its election timer; null when none is due. Any reset of the election timer (hearing from a
   * leader, a role change, granting a vote) cancels it.
   */
  private peerDownCampaignInTicks: number | null = null;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private votes = new Map<NodeId, boolean>();
  private progress = new Map<NodeId, Progress>();
  private leadTransferee: NodeId | null = null;
  private pendingConfigIndex = 0 as Index;
  /**
   * The last configuration entry the commit index passed: the commit index is made durable once it
   * passes one (the next Ready writes the hard state). Otherwise a member restarts with its commit
   * index below the change, in the older configuration, and after the whole cluster lost power
   * that configuration's quorum may need members removed and stopped for good: no one can lead
   * (the simulator's seed 653: a voter removed and stopped, then every member's power lost).
   */
  private configCommitMark = 0 as Index;
  /**
   * The index `config` holds at when that is above the entries applied on it (Membership.since):
   * a member that joined starts from the configuration it was told, that of the answering
   * member's log at since, and a snapshot it takes below since records that configuration with
   * this since. Configuration entries at or below it are in `config` already, and applying them
   * again would undo later changes (an add-learner of a member promoted since makes it a learner
   * and a voter). 0 for every member that did not join, and once a snapshot at or above since
   * gave the configuration. Changes only where `config` is replaced (construction, an installed
   * snapshot); it travels with the configuration in status() and in every snapshot taken while
   * the applied index is below it, so that a restart and a join answer know it too.
   */
  private configSince = 0;
  /** The status status() made last (it serves again while nothing in it changed). */
  private lastStatus: RaftStatus | null = null;
  /** status().membership while configSince is above the applied index (cached: status() is polled after every step). */
  private membershipWithSince: { of: Membership; value: Membership } | null = null;

  private msgs: RaftMessage[] = emptyObjectArray();
  /**
   * A follower's heartbeat responses: they say only "I follow you in this term" (and echo a read
   * round), which rests on nothing but that term being durable. They leave before the Ready's
   * persist, and through takeEarly while a save is in flight: a follower whose saves are slow
   * (catching up on a slow disk, or behind a snapshot's fsyncs) otherwise answered no heartbeat
   * for that long, and a leader that needs it for its quorum stepped down at its next check, again
   * and again (the simulator's seed 697: six voters, two of them down, a joiner catching up).
   */
  private heartbeatResponses: RaftMessage[] = emptyObjectArray();
  private readStates: ReadState[] = emptyObjectArray();
  private appendsDirty = false;
  private persistedHard: RaftHardState;
  /** A leader's snapshot received in full, to be persisted and restored by the driver. */
  private pendingSnapshot: Snapshot | null = null;
  /** The driver decodes a received snapshot of at most this many bytes before it is adopted (ReplicaOptions.checkSnapshotsUpToBytes; 0: none). */
  private readonly checkSnapshotsUpToBytes: number;
  /**
   * A leader's snapshot received in full, waiting for the driver's check (Ready.checkSnapshot,
   * snapshotChecked): neither adopted nor acknowledged yet. With the leader that sent it and the
   * term it came in (a check that ends in another term is dropped: the snapshot is sent again), and
   * whether a Ready has handed it out. At most one: a newer snapshot replaces it.
   */
  private checking: { readonly snapshot: Snapshot; readonly leader: NodeId; readonly term: Term; handedOut: boolean } | null = null;
  /** The newest snapshot this node has (its own or installed): what it sends lagging followers. */
  private latestSnapshot: Snapshot | null;
  private incoming: { meta: SnapshotMeta; chunks: Uint8Array[]; received: number; ahead: Map<number, InstallSnapshot>; aheadBytes: number } | null = null;
  private outstanding: Outstanding | null = null;

  private readSeq = 0;
  private pendingReads: PendingRead[] = emptyObjectArray();
  /** Reads that arrived before this leader committed an entry of its own term (§6.4 step 1). */
  private readsAwaitingCommit: { requestId: string; requester: NodeId }[] = emptyObjectArray();
  /** This replica's vote alone, never written: whether it is a quorum by itself (a read needs no round then). */
  private readonly ownVoteOnly: ReadonlyMap<NodeId, boolean>;

  constructor(options: RaftOptions) {
    this.id = options.id;
    this.ownVoteOnly = new Map([[this.id, true]]);
    this.limits = resolveLimits(options);
    this.preVote = options.preVote ?? true;
    this.checkQuorum = options.checkQuorum ?? true;
    this.readOnly = options.readOnly ?? 'safe';
    this.disableProposalForwarding = options.disableProposalForwarding ?? false;
    assert(this.readOnly === 'safe' || this.checkQuorum, 'lease-based reads require checkQuorum');
    const drift = options.maxClockDrift ?? DEFAULT_MAX_CLOCK_DRIFT;
    assert(drift >= 0 && drift < 0.5, () => `maxClockDrift must be in [0, 0.5), got ${drift}`);
    // A follower that acknowledged a heartbeat refuses votes for an election timeout of its own
    // clock after hearing it (check-quorum). Its clock may run fast, the leader's slow: the lease
    // ends early enough on the leader's clock, with a tick to spare for where in a tick each was.
    this.leaseTicks = Math.floor(this.limits.electionTimeoutTicks * (1 - 2 * drift)) - 1;
    this.mutant = options.mutant === undefined ? null : (options.mutant as RaftMutant);
    this.random = options.random;
    this.checkSnapshotsUpToBytes = options.checkSnapshotsUpToBytes ?? 0;

    const restored = options.restored;
    const snapshot = restored?.snapshot ?? null;
    this.log = new RaftLog((snapshot?.meta.index ?? 0) as Index, (snapshot?.meta.term ?? 0) as Term, restored?.entries ?? []);
    this.latestSnapshot = snapshot;
    const hs = restored?.hardState ?? { term: 0 as Term, vote: null, commit: 0 as Index };
    this.term = hs.term;
    this.vote = hs.vote;
    this.config = new RaftConfig(snapshot?.meta.membership ?? options.membership);
    // The told configuration (a member that joined, before its first snapshot: the server keeps
    // the join answer for every restart), or a snapshot's, each with the index it holds at.
    this.configSince = snapshot === null ? (this.isMutant('ignore-since') ? 0 : (options.membership.since ?? 0)) : this.sinceOf(snapshot.meta);
    assert(Number.isSafeInteger(this.configSince) && this.configSince >= 0, () => `since ${this.configSince} is an index`);
    let applied = Math.max(options.applied ?? 0, this.log.snapshotIndex);
    // The apply-twice mutant forgets what the state machine already applied durably.
    if (this.isMutant('apply-twice')) applied = this.log.snapshotIndex;
    this.commit = Math.max(hs.commit, applied) as Index;
    assert(this.commit <= this.log.lastIndex(), () => `restored commit ${this.commit} beyond log end ${this.log.lastIndex()}`);
    this.applied = applied as Index;
    // Configuration entries the state machine already applied are in force now.
    for (let i = Math.max(this.log.firstIndex(), this.configSince + 1); i <= Math.max(options.applied ?? 0, this.applied); i++) {
      const e = this.log.entryAt(i);
      if (e?.kind === 'config') this.config.apply(decodeConfigChange(e.data), this.isMutant('demote-at-once'));
    }
    this.persistedHard = { term: this.term, vote: this.vote, commit: hs.commit };
    this.resetRandomizedElectionTimeout();
  }

  // ---- Replica contract ------------------------------------------------------------------

  tick(): void {
    this.ticks++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  /**
   * Time that no tick covered (see Replica.elapse): the lease clock (`ticks`) moves on, so a
   * leader that stalled wakes with its lease over. The election and heartbeat timers do not: a
   * follower's lease on its leader then lasts longer in real time, which is the safe side.
   */
  elapse(ticks: number): void {
    assert(Number.isInteger(ticks) && ticks > 0, () => `elapse ${ticks} ticks`);
    this.ticks += ticks;
  }

  step(m: RaftMessage): void {
    if (m.to !== this.id || m.from === this.id) return;
    // A candidate this member's configuration gives no vote (a removed member that never learnt of
    // its removal: it is sent nothing any more) is ignored, term and all, while a leader is heard
    // (dissertation §4.2.3): without pre-vote and check-quorum its ever higher terms would depose
    // every leader the cluster elects. Only while a leader is heard: this member's configuration
    // may lag one committed since (it applies configurations as they commit), and with no leader
    // to bring it up to date the candidate it does not know may be the only one that can win.
    // A transfer's candidate is let through (a voter just added may be the target while the
    // followers have not applied its addition yet; a removed member is sent no timeout-now).
    if (m.type === 'vote-request' && !m.transfer && !this.config.isVoter(m.from) && this.hearsLeader() && !this.isMutant('votes-from-non-members')) return;
    if (m.term > this.term) {
      if (m.type === 'vote-request' && !m.transfer && this.inLeaderLease()) return;
      const futureTermProbe = (m.type === 'vote-request' && m.preVote) || (m.type === 'vote-response' && m.preVote && m.granted);
      if (!futureTermProbe) {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      this.stepStale(m);
      return;
    }
    switch (m.type) {
      case 'vote-request': return this.handleVoteRequest(m);
      case 'vote-response': return this.handleVoteResponse(m);
      case 'append': return this.handleAppend(m);
      case 'append-response': return this.handleAppendResponse(m);
      case 'heartbeat': return this.handleHeartbeat(m);
      case 'heartbeat-response': return this.handleHeartbeatResponse(m);
      case 'snapshot': return this.handleSnapshot(m);
      case 'snapshot-response': return this.handleSnapshotResponse(m);
      case 'timeout-now':
        if (this.promotable()) this.campaign_('transfer');
        return;
      case 'read-index':
        if (this.role === 'leader') this.handleReadRequest(m.requestId, m.from);
        return;
      case 'read-index-response':
        if (this.role !== 'leader') this.readStates.push({ requestId: m.requestId, index: m.index });
        return;
      default:
        unreachable(m, 'raft message');
    }
  }

  propose(command: Uint8Array): ProposeResult {
    this.checkCanPropose();
    if (command.byteLength > this.limits.maxProposalBytes) {
      throw new QuorateError('REQUEST_TOO_LARGE', `proposal of ${command.byteLength} bytes exceeds maxProposalBytes=${this.limits.maxProposalBytes}`);
    }
    return this.appendProposal('command', command);
  }

  readIndex(requestId: string): void {
    if (this.role === 'leader') {
      this.handleReadRequest(requestId, this.id);
      return;
    }
    // A routine refusal (a read at a member that knows no leader): no stack trace (see withoutStack).
    if (this.leader === null) throw withoutStack(() => new NotLeader(null));
    this.send({ type: 'read-index', to: this.leader, requestId });
  }

  compact(index: Index, data: Uint8Array, membership?: Membership): void {
    assert(index <= this.applied, () => `compact(${index}) beyond applied ${this.applied}`);
    if (index <= this.log.snapshotIndex) return;
    assert(index === this.applied || membership !== undefined, () => `compact(${index}) behind the applied index ${this.applied} needs the configuration at ${index}`);
    const t = this.log.termAt(index);
    assert(t !== undefined, () => `term at ${index}`);
    // The configuration at `index`: ours, unless it holds at a later index (a member that joined
    // and is still below its since), which then travels with it, so that restored from this
    // snapshot (a restart, a follower sent it) the entries up to since are not applied again.
    const since = this.configSince > index ? this.configSince : 0;
    const m = membership ?? this.config.toMembership();
    assert(m.since === undefined || m.since === since, () => `compact(${index}): the configuration given holds at ${m.since}, ours at ${since}`);
    this.latestSnapshot = { meta: { index, term: t, membership: since > 0 ? { ...m, since } : m }, data };
    this.log.compact(index, this.isMutant('snapshot-off-by-one'));
  }

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    return (
      this.appendsDirty ||
      this.msgs.length > 0 ||
      this.heartbeatResponses.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasUnpersisted() ||
      this.pendingSnapshot !== null ||
      (this.checking !== null && !this.checking.handedOut) ||
      this.commit > this.applied ||
      this.term !== this.persistedHard.term ||
      this.vote !== this.persistedHard.vote ||
      this.configCommitMark > this.persistedHard.commit
    );
  }

  ready(): Ready<RaftMessage, RaftHardState> {
    assert(this.outstanding === null, 'ready() called again before advance()');
    this.flushAppends();
    const persisted = this.persistedHard;
    // Term and vote must be durable before anything depends on them. The commit index need not
    // be (§5 lists it as volatile): it is written only along with something that must be, so
    // that learning of a commit never costs an fsync of its own; and once it passes a
    // configuration entry (see configCommitMark).
    const termOrVoteChanged = this.term !== persisted.term || this.vote !== persisted.vote;
    const entries = this.log.takeUnpersisted();
    const snapshot = this.pendingSnapshot;
    let persist: Persist<RaftHardState> | null = null;
    // The hard state this Ready writes (made only then), else null.
    let hardState: RaftHardState | null = null;
    const configCommitted = this.configCommitMark > persisted.commit;
    if (termOrVoteChanged || entries.length > 0 || snapshot !== null || configCommitted) {
      if (termOrVoteChanged || this.commit !== persisted.commit) hardState = this.hardState();
      // The vote-before-persist mutant never writes its vote down: after a crash it may vote again.
      const written = hardState !== null && this.isMutant('vote-before-persist') ? { ...hardState, vote: null } : hardState;
      const truncateFrom = entries[0]?.index ?? (this.truncateAfterSnapshot && snapshot !== null ? ((snapshot.meta.index + 1) as Index) : null);
      this.truncateAfterSnapshot = false;
      persist = { hardState: written, entries, snapshot, truncateFrom };
    }
    // A leader's messages do not depend on this Ready's persist: its term and vote are already
    // durable (checked here), and it counts its own new entries toward commitment only once
    // they are durable. So it replicates while its own write is in flight (dissertation §10.2.1).
    const early = this.role === 'leader' && !termOrVoteChanged;
    // The lists a Ready hands out are replaced by new ones only when they hold something: most
    // Readies carry no read state, many no message, and an empty array for each was garbage.
    const msgs = this.msgs.length === 0 ? NO_MESSAGES : this.msgs;
    if (msgs !== NO_MESSAGES) this.msgs = emptyObjectArray();
    // A follower's heartbeat responses leave before the persist unless it writes their term. (A
    // leader has none queued: it became one in a later term, whose persist drained them.)
    const responses = this.heartbeatResponses.length === 0 ? NO_MESSAGES : this.heartbeatResponses;
    if (responses !== NO_MESSAGES) this.heartbeatResponses = emptyObjectArray();
    const readStates = this.readStates.length === 0 ? NO_READ_STATES : this.readStates;
    if (readStates !== NO_READ_STATES) this.readStates = emptyObjectArray();
    const applyFrom = Math.max(this.applied, snapshot?.meta.index ?? 0) + 1;
    const applyTo = Math.min(this.commit, applyFrom + MAX_APPLY_ENTRIES_PER_READY - 1);
    const apply = applyFrom <= applyTo ? this.log.slice(applyFrom, applyTo) : NO_ENTRIES;
    assert(apply.length === Math.max(0, applyTo - applyFrom + 1), () => `committed entries ${applyFrom}..${applyTo} are in the log`);
    const check = this.checking !== null && !this.checking.handedOut ? this.checking.snapshot : null;
    if (check !== null) this.checking!.handedOut = true;
    const ready: { -readonly [K in keyof Ready<RaftMessage, RaftHardState>]: Ready<RaftMessage, RaftHardState>[K] } = {
      persist,
      sendBeforePersist: early ? msgs : termOrVoteChanged ? NO_MESSAGES : responses,
      send: early ? NO_MESSAGES : termOrVoteChanged ? joinMessages(responses, msgs) : msgs,
      apply,
      readStates,
    };
    // Added only when there is one (the same fields, in the same order, as a spread of an optional
    // part gave): spreading an object literal into the Ready went through a slow generic copy, and
    // was the largest part of ready()'s cost, on every Ready.
    if (check !== null) ready.checkSnapshot = check;
    this.outstanding = {
      hardState: hardState ?? persisted,
      // (Never entries[-1]: reading index -1 of an empty array is a slow property lookup in V8, by
      // the name "-1" along the prototype chain, and most Readies carry no new entry.)
      lastEntry: entries.length === 0 ? null : entries[entries.length - 1]!,
      snapshot,
      appliedTo: (apply.length > 0 ? applyTo : Math.max(this.applied, snapshot?.meta.index ?? 0)) as Index,
    };
    return ready;
  }

  /**
   * The driver cannot take a Ready (one is being saved, perhaps behind a snapshot's fsyncs): a
   * leader's messages made since leave now, as ready() would send them before its persist (its
   * term and vote durable, its own entries counted toward commitment only once durable:
   * dissertation §10.2.1). Without this a leader whose save waits behind a compaction sends no
   * heartbeat for that long, and on a slow disk its followers' timers run out (mutant
   * heartbeats-wait-for-save). Not while the term or vote is not yet durable (the Ready being
   * saved writes it, or a later step changed it). Of a follower's or a candidate's messages only
   * heartbeat responses (see heartbeatResponses): the rest answer for what their persist writes.
   * Appends still to be built wait for the next Ready.
   */
  takeEarly(): readonly RaftMessage[] {
    if (this.isMutant('heartbeats-wait-for-save')) return NO_MESSAGES;
    if (this.term !== this.persistedHard.term || this.vote !== this.persistedHard.vote) return NO_MESSAGES;
    if (this.role !== 'leader') {
      // A follower's heartbeat responses (see heartbeatResponses); the rest answers for its persist.
      if (this.heartbeatResponses.length === 0) return NO_MESSAGES;
      const out = this.heartbeatResponses;
      this.heartbeatResponses = emptyObjectArray();
      return out;
    }
    if (this.msgs.length === 0) return NO_MESSAGES;
    const out = this.msgs;
    this.msgs = emptyObjectArray();
    return out;
  }

  advance(_ready: Ready<RaftMessage, RaftHardState>): void {
    const o = this.outstanding;
    assert(o !== null, 'advance() without an outstanding ready()');
    this.outstanding = null;
    this.persistedHard = o.hardState;
    if (o.snapshot !== null && this.pendingSnapshot === o.snapshot) this.pendingSnapshot = null;
    if (o.lastEntry !== null) this.log.stableTo(o.lastEntry.index, o.lastEntry.term);
    const from = this.applied + 1;
    assert(o.appliedTo >= this.applied, () => `applied never goes backwards (${this.applied} → ${o.appliedTo})`);
    this.applied = o.appliedTo;
    for (let i = Math.max(from, this.log.firstIndex(), this.configSince + 1); i <= this.applied; i++) {
      const e = this.log.entryAt(i);
      if (e?.kind === 'config') this.applyConfigChange(decodeConfigChange(e.data));
    }
    if (this.role === 'leader') {
      this.maybeCommit();
      if (this.config.isJoint() && this.config.autoLeave && this.pendingConfigIndex <= this.applied && this.leadTransferee === null) {
        this.appendEntry('config', encodeConfigChange({ kind: 'leave-joint' }));
      }
    }
  }

  status(): RaftStatus {
    const membership = this.statusMembership();
    const isLearner = this.config.learners.has(this.id);
    const lastIndex = this.log.lastIndex();
    const firstIndex = this.log.firstIndex();
    // A live, read-only view: drivers poll status() after every step, so nothing is copied.
    const progress = this.role === 'leader' ? this.progress : EMPTY_PROGRESS;
    // Drivers ask after every input, and most inputs change nothing a status reports (a heartbeat
    // or its answer, a read): the last status serves again when each of its fields is still what
    // it says (id and counters never change; leading follows role).
    const last = this.lastStatus;
    if (
      last !== null && last.role === this.role && last.term === this.term && last.vote === this.vote && last.leader === this.leader
      && last.commitIndex === this.commit && last.appliedIndex === this.applied && last.membership === membership && last.isLearner === isLearner
      && last.lastIndex === lastIndex && last.firstIndex === firstIndex && last.leadTransferee === this.leadTransferee && last.progress === progress
    ) {
      return last;
    }
    return (this.lastStatus = {
      id: this.id, role: this.role, term: this.term, vote: this.vote, leader: this.leader, leading: this.role === 'leader',
      commitIndex: this.commit, appliedIndex: this.applied, membership,
      counters: this.counters,
      isLearner, lastIndex, firstIndex,
      leadTransferee: this.leadTransferee,
      progress,
    });
  }

  // ---- extra operations ---------------------------------------------------------------

  /** Start an election now (bootstrap, tests). Followers of a live leader ignore it (lease). */
  campaign(): void {
    if (this.promotable()) this.campaign_(this.preVote ? 'pre' : 'real');
  }

  proposeConfigChange(change: ConfigChange): ProposeResult {
    this.checkCanPropose();
    if (this.pendingConfigIndex > this.applied) {
      throw new QuorateError('CONFIG_CHANGE_IN_PROGRESS', 'a configuration change is still being applied; retry after it commits');
    }
    this.config.validate(change);
    return this.appendProposal('config', encodeConfigChange(change));
  }

  /** Replica.forwardsProposals: false with disableProposalForwarding. */
  forwardsProposals(): boolean {
    return !this.disableProposalForwarding;
  }

  /**
   * Replica.sendFailed: the transport would not take `m`. A snapshot chunk: the transfer failed
   * (reportSnapshot); anything else: its addressee is unreachable (reportUnreachable). Messages
   * of an earlier term, or sent while this replica led no longer, tell nothing about now.
   */
  sendFailed(m: RaftMessage): void {
    if (this.role !== 'leader' || m.from !== this.id || m.term !== this.term) return;
    if (m.type === 'snapshot') {
      const s = this.progress.get(m.to)?.snapshot;
      if (s !== null && s !== undefined && s.meta.index === m.meta.index && s.meta.term === m.meta.term) this.reportSnapshot(m.to, 'failure');
      return;
    }
    this.reportUnreachable(m.to);
  }

  /**
   * Replica.peerDown: the runtime saw every connection to `peer` close. A voter following `peer`,
   * with pre-vote on, forgets it (so it no longer refuses pre-votes as within its leader's lease,
   * and other members told the same can elect one of them) and campaigns with a pre-vote within
   * 1..J ticks (J: a tenth of the election timeout, at least 2) rather than after its election
   * timeout; granting a vote or a pre-vote to another member cancels that (the other campaigns for
   * the place already: a campaign of its own would only split the vote). Safe whatever
   * the hint's truth: an early election is one a timer might have started.
   *
   * Not with lease-based reads: a follower that acknowledged the leader promised not to help elect
   * another for an election timeout, and the leader may live on behind a closed connection (a reset
   * by its host or a middlebox, a partition that rejects) and serve reads from that promise while a
   * new leader commits writes. The timer runs its course then. (This member's own readOnly is what
   * it checks: the members must share it; see the README, "Failover".)
   *
   * Nor without pre-vote: the hint is false whenever the connections closed under a live leader (a
   * reset, a flap, a cut between it and this member alone), and a real campaign then raises the
   * term, which deposes that leader as soon as it hears of it (its heartbeat answered in the higher
   * term), an election that waiting for the timer would not have held: the leader would have been
   * heard again first. A pre-vote fails against voters that still hear the leader, and changes nothing.
   */
  peerDown(peer: NodeId): void {
    if (this.role !== 'follower' || this.leader !== peer || peer === this.id || !this.promotable() || !this.preVote) return;
    if (this.readOnly === 'lease-based' && !this.isMutant('peer-down-cuts-lease')) return;
    this.leader = null;
    this.peerDownCampaignInTicks = this.random.int(1, peerDownJitterTicks(this.limits.electionTimeoutTicks));
  }

  /**
   * etcd's ReportUnreachable: `peer` could not be reached. While replicating, the appends in
   * flight to it are most likely lost: probe again (one append at a time, from what it has
   * acknowledged) instead of filling its window with more that will be lost too.
   */
  reportUnreachable(peer: NodeId): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(peer);
    if (pr === undefined || pr.state !== 'replicate') return;
    pr.next = (pr.match + 1) as Index; // what is in flight is taken as lost (etcd: Next = Match + 1)
    pr.becomeProbe();
  }

  /**
   * etcd's ReportSnapshot: the transport finished sending the snapshot in flight to `peer`, or
   * failed to. Either way the leader probes again, waiting for the peer's next heartbeat
   * response before it sends (the peer may be down): after a failure that probe finds the log
   * compacted and starts the snapshot over, at once rather than after the transfer has stalled
   * for an election timeout.
   */
  reportSnapshot(peer: NodeId, status: 'finished' | 'failure'): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(peer);
    if (pr === undefined || pr.state !== 'snapshot' || pr.snapshot === null) return;
    // (A failed transfer starts over from its first byte: startSnapshot counts it as owed again.)
    if (status === 'finished') pr.next = Math.max(pr.next, pr.snapshot.meta.index + 1) as Index;
    pr.becomeProbe();
    pr.probeSent = true; // paused until the peer answers a heartbeat
  }

  transferLeadership(target: NodeId): void {
    if (this.role !== 'leader') throw new NotLeader(this.leader);
    if (target === this.id) return;
    if (!this.config.isVoter(target)) throw new QuorateError('INVALID_ARGUMENT', `${target} is not a voter`);
    this.leadTransferee = target;
    this.leaseUntil = 0; // the target will be elected through the followers' leases
    this.electionElapsed = 0; // the transfer is abandoned after one election timeout
    const pr = this.progress.get(target);
    assert(pr !== undefined, 'voters have progress');
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.sendAppend(target, true);
  }

  firstIndex(): Index {
    return this.log.firstIndex();
  }

  /** Election timer state, for tests that pin when the timer resets. */
  electionTimer(): { elapsed: number; timeout: number } {
    return { elapsed: this.electionElapsed, timeout: this.randomizedElectionTimeout };
  }

  lastIndex(): Index {
    return this.log.lastIndex();
  }

  termAt(i: Index): Term | undefined {
    return this.log.termAt(i);
  }

  entryAt(i: Index): LogEntry | undefined {
    return this.log.entryAt(i);
  }

  // ---- roles ----------------------------------------------------------------------------

  private becomeFollower(term: Term, leader: NodeId | null): void {
    assert(term >= this.term, () => `term never goes backwards (${this.term} → ${term})`);
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    this.role = 'follower';
    this.leader = leader;
    this.resetElection();
    this.progress.clear();
    this.leadTransferee = null;
    this.pendingReads = emptyObjectArray();
    this.readsAwaitingCommit = emptyObjectArray();
  }

  private campaign_(kind: 'pre' | 'real' | 'transfer'): void {
    let voteTerm: Term;
    if (kind === 'pre') {
      this.role = 'pre-candidate';
      this.leader = null;
      voteTerm = (this.term + 1) as Term;
    } else {
      this.role = 'candidate';
      this.term = (this.term + 1) as Term;
      this.vote = this.id;
      this.leader = null;
      voteTerm = this.term;
    }
    this.resetElection();
    this.votes = new Map([[this.id, true]]);
    if (this.pollVotes() === 'won') {
      if (kind === 'pre') this.campaign_('real');
      else this.becomeLeader();
      return;
    }
    for (const voter of new Set([...this.config.voters, ...this.config.outgoing])) {
      if (voter === this.id) continue;
      this.send({
        type: 'vote-request', to: voter, term: voteTerm, lastLogIndex: this.log.lastIndex(), lastLogTerm: this.log.lastTerm(),
        preVote: kind === 'pre', transfer: kind === 'transfer',
      });
    }
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', () => `only a candidate becomes leader (was ${this.role})`);
    this.role = 'leader';
    this.leader = this.id;
    this.quorumHeard = true; // its election was a quorum's answer
    // No lease until a quorum acknowledges a round of this term; entries of earlier terms are
    // not this term's proposals and do not count against its limits (etcd resets the same way).
    this.leaseUntil = 0;
    this.leaseForfeited = false;
    this.roundSentAt.clear();
    this.uncommittedProposals.clear();
    this.uncommittedBytes = 0;
    this.resetElection();
    this.progress.clear();
    for (const member of this.config.members()) {
      if (member !== this.id) this.progress.set(member, new Progress((this.log.lastIndex() + 1) as Index));
    }
    this.markLearners();
    // No configuration change until this leader's first entry is applied: an earlier, still
    // uncommitted change may be in the log (etcd does the same).
    this.pendingConfigIndex = this.log.lastIndex();
    if (!this.isMutant('no-noop')) this.appendEntry('noop', new Uint8Array(0));
    else this.appendsDirty = true;
  }

  private promotable(): boolean {
    return this.config.isVoter(this.id) && this.pendingSnapshot === null;
  }

  /**
   * It leads and heard from a quorum within the last election timeout, or it heard from its leader
   * within an election timeout, whatever checkQuorum says: a leader that lost its quorum (without
   * check-quorum it leads on) is no proof that the cluster has a leader.
   */
  private hearsLeader(): boolean {
    if (this.role === 'leader') return this.quorumHeard;
    return this.heardLeaderWithinTimeout();
  }

  /** A leader is known and was heard from within an election timeout. */
  private heardLeaderWithinTimeout(): boolean {
    return this.leader !== null && this.electionElapsed < this.limits.electionTimeoutTicks;
  }

  /**
   * Check-quorum's lease at a follower: it refuses votes within an election timeout of hearing
   * from a leader. Where leaders serve reads from that lease, a replica that just started does
   * not know whom it heard from before its restart: it refuses for an election timeout after
   * starting too, so a restart cannot cut short a lease it granted.
   */
  private inLeaderLease(): boolean {
    if (!this.checkQuorum) return false;
    if (this.readOnly === 'lease-based' && this.ticks < this.limits.electionTimeoutTicks && !this.isMutant('lease-outlives-quorum')) return true;
    return this.heardLeaderWithinTimeout();
  }

  private resetElection(): void {
    this.electionElapsed = 0;
    this.peerDownCampaignInTicks = null;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
  }

  private resetRandomizedElectionTimeout(): void {
    const base = this.limits.electionTimeoutTicks;
    this.randomizedElectionTimeout = base + this.random.int(0, base - 1);
  }

  // ---- ticks ------------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.peerDownCampaignInTicks !== null && --this.peerDownCampaignInTicks === 0) {
      this.peerDownCampaignInTicks = null;
      if (this.role === 'follower' && this.leader === null && this.promotable() && this.electionElapsed < this.randomizedElectionTimeout) {
        this.counters.peerDownCampaigns++;
        this.counters.peerDownCampaignElapsedTicks += this.electionElapsed;
        this.campaign_('pre'); // peerDown arms this only with pre-vote on
        return;
      }
    }
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign_(this.preVote ? 'pre' : 'real');
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.limits.electionTimeoutTicks) {
      this.electionElapsed = 0;
      this.quorumHeard = this.quorumActive();
      if (this.checkQuorum && !this.quorumHeard) {
        this.becomeFollower(this.term, null);
        return;
      }
      for (const pr of this.progress.values()) pr.recentActive = false;
      this.leadTransferee = null; // a transfer that did not finish within an election timeout is abandoned
    }
    if (this.heartbeatElapsed >= this.limits.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(this.newRound());
    }
  }

  private quorumActive(): boolean {
    const active = new Map<NodeId, boolean>([[this.id, true]]);
    for (const [id, pr] of this.progress) if (pr.recentActive) active.set(id, true);
    return jointVoteResult(this.config.voters, this.config.outgoing, active) === 'won';
  }

  // ---- elections ------------------------------------------------------------------------

  private handleVoteRequest(m: VoteRequest): void {
    const lastTerm = this.log.lastTerm();
    const upToDate = m.lastLogTerm > lastTerm || (m.lastLogTerm === lastTerm && m.lastLogIndex >= this.log.lastIndex());
    // A pre-vote is granted only by a node that has not heard from a leader recently (§9.6).
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.preVote && m.term > this.term && (m.transfer || this.leader === null || this.electionElapsed >= this.limits.electionTimeoutTicks));
    const grant = canVote && (upToDate || this.isMutant('accept-any-vote'));
    if (grant) {
      this.send({ type: 'vote-response', to: m.from, term: m.preVote ? m.term : this.term, granted: true, preVote: m.preVote });
      // It voted (or pre-voted) for another: no early election of its own to split the vote.
      this.peerDownCampaignInTicks = null;
      if (!m.preVote) {
        this.vote = m.from;
        // Granting a vote resets the election timer; a denied vote must not (§5.2, dissertation §3.4).
        if (!this.isMutant('reset-timer-wrongly')) this.electionElapsed = 0;
      }
    } else {
      this.send({ type: 'vote-response', to: m.from, granted: false, preVote: m.preVote });
      if (this.isMutant('reset-timer-wrongly')) this.electionElapsed = 0;
    }
  }

  private handleVoteResponse(m: VoteResponse): void {
    const expecting = (this.role === 'pre-candidate' && m.preVote) || (this.role === 'candidate' && !m.preVote);
    if (!expecting) return;
    this.votes.set(m.from, m.granted);
    const result = this.pollVotes();
    if (result === 'won') {
      if (this.role === 'pre-candidate') this.campaign_('real');
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.term, null);
    }
  }

  private pollVotes(): VoteResult {
    return jointVoteResult(this.config.voters, this.config.outgoing, this.votes);
  }

  /** A message from an older term. */
  private stepStale(m: RaftMessage): void {
    if (m.type === 'append' || m.type === 'heartbeat') {
      // A deposed leader that missed the election, or a leader whose follower's term was raised
      // past its own: tell it the term so it steps down (Figure 2). etcd answers only with
      // check-quorum or pre-vote, counting on the follower's own campaign otherwise; a follower
      // that cannot campaign (a learner in its own view, a joiner still behind its since, whose
      // term a stale member's vote request raised) would then ignore its leader for good.
      if (this.checkQuorum || this.preVote || !this.isMutant('silent-to-stale-leader')) {
        this.send({ type: 'append-response', to: m.from, success: false, matchIndex: 0 as Index, rejectedIndex: 0 as Index, conflictTerm: 0 as Term, conflictIndex: 0 as Index });
      }
      if (this.isMutant('reset-timer-wrongly')) this.electionElapsed = 0;
    } else if (m.type === 'vote-request' && (m.preVote || (!this.config.isVoter(m.from) && !this.isMutant('silent-to-stale-candidate')))) {
      // A pre-vote is refused with this member's term (as etcd). So is a vote, when this member's
      // configuration gives the candidate no vote (one of them is behind): it never campaigns to
      // that candidate (nor, as a follower, sends it anything), so the candidate would never learn
      // the term, and the two, hearing nothing else from each other, would campaign on, terms apart,
      // for good. A voter of its configuration learns the term from this member's own campaigns;
      // answering it too would bring every candidate to one term, where their campaigns split the
      // vote (etcd leaves those unanswered, and so does this).
      this.send({ type: 'vote-response', to: m.from, granted: false, preVote: m.preVote });
    }
  }

  // ---- replication: follower side -----------------------------------------------------------

  private acceptLeader(from: NodeId): void {
    if (this.role !== 'follower') this.becomeFollower(this.term, from);
    this.leader = from;
    this.peerDownCampaignInTicks = null; // a leader speaks: no early election
    if (!this.isMutant('reset-timer-wrongly')) this.electionElapsed = 0;
  }

  private handleAppend(m: AppendRequest): void {
    this.acceptLeader(m.from);
    // The answer is one literal (not the fields spread into one): spreading went through V8's
    // generic property copy, and left an object whose completion (from, term) was slow too.
    const reply = (success: boolean, matchIndex: Index, rejectedIndex: Index, conflictTerm: Term, conflictIndex: Index) =>
      this.send({ type: 'append-response', to: m.from, success, matchIndex, rejectedIndex, conflictTerm, conflictIndex });
    if (m.prevLogIndex < this.commit) {
      // Everything up to our commit index matches the leader's log (Log Matching); ask for the rest.
      reply(true, this.commit, 0 as Index, 0 as Term, 0 as Index);
      return;
    }
    if (this.log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
      if (m.entries.length > 0) this.log.appendFromLeader(m.entries, this.commit);
      const lastNew = (m.prevLogIndex + m.entries.length) as Index;
      this.commitTo(Math.min(m.commit, lastNew) as Index);
      reply(true, lastNew, 0 as Index, 0 as Term, 0 as Index);
      return;
    }
    // Fast backtracking (§5.3, dissertation §3.5): say which term conflicts and where it starts.
    let conflictTerm = 0 as Term;
    let conflictIndex = (this.log.lastIndex() + 1) as Index;
    if (m.prevLogIndex <= this.log.lastIndex()) {
      conflictTerm = this.log.termAt(m.prevLogIndex) ?? (0 as Term);
      let i = m.prevLogIndex;
      while (i - 1 > this.commit && this.log.termAt(i - 1) === conflictTerm) i--;
      conflictIndex = i;
    }
    reply(false, 0 as Index, m.prevLogIndex, conflictTerm, conflictIndex);
  }

  private handleHeartbeat(m: Heartbeat): void {
    this.acceptLeader(m.from);
    this.commitTo(Math.min(m.commit, this.log.lastIndex()) as Index);
    const response = this.complete({ type: 'heartbeat-response', to: m.from, readSeq: m.readSeq });
    if (this.isMutant('heartbeat-responses-wait-for-save')) this.msgs.push(response);
    else this.heartbeatResponses.push(response);
  }

  private handleSnapshot(m: InstallSnapshot): void {
    this.acceptLeader(m.from);
    const meta = m.meta;
    const reply = (received: number, done: boolean, gap = false) =>
      this.send({ type: 'snapshot-response', to: m.from, snapshotIndex: meta.index, received, done, ...(gap ? { gap } : {}) });
    if (meta.index <= this.commit) {
      reply(0, true); // we already have everything it covers
      this.incoming = null;
      return;
    }
    // Chunks of the snapshot being checked (the leader resends after a stall): nothing to add, and
    // nothing to say until the check is over.
    const c = this.checking;
    if (c !== null && c.snapshot.meta.index === meta.index && c.snapshot.meta.term === meta.term) return;
    if (this.incoming === null || this.incoming.meta.index !== meta.index || this.incoming.meta.term !== meta.term) {
      this.incoming = { meta, chunks: [], received: 0, ahead: new Map(), aheadBytes: 0 };
    }
    const inc = this.incoming;
    // A chunk we have: a resend after our answer was lost (or crossed it). Say what we have.
    if (m.offset < inc.received) return reply(inc.received, false);
    if (m.offset > inc.received) {
      // Reordered, or sent after a chunk that was lost: hold it (within a bound) and name the gap,
      // so that the leader resends the one chunk missing rather than everything after it.
      if (!inc.ahead.has(m.offset) && inc.ahead.size < MAX_SNAPSHOT_CHUNKS_AHEAD && inc.aheadBytes + m.chunk.byteLength <= MAX_SNAPSHOT_BYTES_AHEAD) {
        inc.ahead.set(m.offset, m);
        inc.aheadBytes += m.chunk.byteLength;
      }
      return reply(inc.received, false, true);
    }
    let chunk: InstallSnapshot | undefined = m;
    let done = false;
    while (chunk !== undefined) {
      if (inc.received + chunk.chunk.byteLength > MAX_SNAPSHOT_BYTES) {
        this.incoming = null;
        return reply(0, false);
      }
      if (inc.ahead.delete(chunk.offset)) inc.aheadBytes -= chunk.chunk.byteLength;
      inc.chunks.push(chunk.chunk);
      inc.received += chunk.chunk.byteLength;
      done = chunk.done;
      chunk = done ? undefined : inc.ahead.get(inc.received);
    }
    // Chunks the assembled prefix covers (a leader that cut the snapshot at other offsets) go.
    for (const [offset, held] of inc.ahead) {
      if (offset >= inc.received) continue;
      inc.ahead.delete(offset);
      inc.aheadBytes -= held.chunk.byteLength;
    }
    if (!done) return reply(inc.received, false);
    const data = concatBytes(inc.chunks, inc.received);
    this.incoming = null;
    const snapshot: Snapshot = { meta, data };
    // Acknowledged only once the state machine decoded it: the leader takes the acknowledgement
    // as "it holds this state", and a snapshot it cannot read must leave this member as it was.
    if (this.checkSnapshotsUpToBytes > 0 && data.byteLength <= this.checkSnapshotsUpToBytes) this.checking = { snapshot, leader: m.from, term: this.term, handedOut: false };
    else this.adoptSnapshot(snapshot, m.from);
  }

  /**
   * The driver's check of the received snapshot with `meta` (see Replica.snapshotChecked): adopt
   * it, or refuse it and keep this member's state. Dropped if this member waits on no such check,
   * or the term moved on (the leader that sent it is not known to lead: it sends it again if so).
   */
  snapshotChecked(meta: SnapshotMeta, ok: boolean): void {
    const c = this.checking;
    if (c === null || c.snapshot.meta.index !== meta.index || c.snapshot.meta.term !== meta.term) return;
    assert(c.handedOut, 'a snapshot is checked only after a Ready handed it out');
    this.checking = null;
    if (c.term !== this.term || this.role !== 'follower' || this.leader !== c.leader) return;
    if (ok) return this.adoptSnapshot(c.snapshot, c.leader);
    this.counters.snapshotsRefused++;
    this.send({ type: 'snapshot-response', to: c.leader, snapshotIndex: meta.index, received: 0, done: false, refused: true });
  }

  /** Install a leader's snapshot (persisted by the next Ready) and acknowledge it once that is durable. */
  private adoptSnapshot(snapshot: Snapshot, leader: NodeId): void {
    const meta = snapshot.meta;
    const reply = (done: boolean) => this.send({ type: 'snapshot-response', to: leader, snapshotIndex: meta.index, received: done ? snapshot.data.byteLength : 0, done });
    // Appends while it was checked may have brought this member as far.
    if (meta.index <= this.commit) return reply(true);
    // A conflicting tail is dropped in memory; the next persist drops it on disk too, or a restart
    // would find the stale entries after the snapshot again.
    if (this.log.restoreSnapshot(meta.index, meta.term) && !this.isMutant('keep-tail-after-snapshot')) this.truncateAfterSnapshot = true;
    this.commit = meta.index;
    this.config = new RaftConfig(meta.membership);
    // The snapshot's configuration is that of its index (later entries apply on it), or of its since.
    this.configSince = this.sinceOf(meta);
    this.membershipWithSince = null;
    this.pendingSnapshot = snapshot;
    this.latestSnapshot = snapshot;
    reply(true);
  }

  private commitTo(index: Index): void {
    if (index <= this.commit) return;
    assert(index <= this.log.lastIndex(), () => `commit ${index} beyond last index ${this.log.lastIndex()}`);
    // In index order (the order they were appended): committed ones leave from the front.
    for (const [at, bytes] of this.uncommittedProposals) {
      if (at > index) break;
      this.uncommittedProposals.delete(at);
      this.uncommittedBytes -= bytes;
    }
    assert(this.uncommittedBytes >= 0, () => `uncommitted bytes ${this.uncommittedBytes} below zero`);
    if (!this.isMutant('forget-config-point')) {
      for (let i = Math.max(this.commit + 1, this.log.firstIndex()); i <= index; i++) if (this.log.entryAt(i)?.kind === 'config') this.configCommitMark = i as Index;
    }
    this.commit = index;
  }

  // ---- replication: leader side -------------------------------------------------------------

  private checkCanPropose(): void {
    if (this.role !== 'leader') throw new NotLeader(this.leader);
    if (this.leadTransferee !== null) throw new ProposalDropped(`leadership is being transferred to ${this.leadTransferee}`);
  }

  /** A client's command or membership change: refused over the uncommitted limits (entries and bytes). */
  private appendProposal(kind: LogEntry['kind'], data: Uint8Array): ProposeResult {
    if (this.uncommittedProposals.size >= this.limits.maxUncommittedEntries) {
      throw new TooManyRequests('maxUncommittedEntries', this.limits.maxUncommittedEntries);
    }
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + data.byteLength > this.limits.maxUncommittedBytes) {
      throw new TooManyRequests('maxUncommittedBytes', this.limits.maxUncommittedBytes);
    }
    const at = this.appendEntry(kind, data);
    this.uncommittedProposals.set(at.index, data.byteLength);
    this.uncommittedBytes += data.byteLength;
    return at;
  }

  /**
   * Append to the leader's log. Never refused: the leader's own entries (its no-op, leaving a
   * joint configuration) must get in whatever the backlog, or the term never commits anything.
   */
  private appendEntry(kind: LogEntry['kind'], data: Uint8Array): ProposeResult {
    if (this.isMutant('limit-internal-entries') && this.log.lastIndex() - this.commit >= this.limits.maxUncommittedEntries) {
      throw new TooManyRequests('maxUncommittedEntries', this.limits.maxUncommittedEntries);
    }
    const entry: LogEntry = { index: (this.log.lastIndex() + 1) as Index, term: this.term, kind, data };
    this.log.append(entry);
    if (kind === 'config') this.pendingConfigIndex = entry.index;
    // Appends are sent when the driver next asks for a Ready, so proposals arriving together
    // share one AppendEntries per follower (batching).
    this.appendsDirty = true;
    return { index: entry.index, term: entry.term };
  }

  private flushAppends(): void {
    if (!this.appendsDirty) return;
    this.appendsDirty = false;
    if (this.role !== 'leader') return;
    for (const id of this.progress.keys()) this.sendAppend(id, true);
  }

  /** Send the next batch of entries to `to` if its window allows; returns whether it sent. */
  private sendAppend(to: NodeId, allowEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused(this.limits.maxInflightMessages)) return false;
    const prevLogIndex = (pr.next - 1) as Index;
    const prevLogTerm = this.log.termAt(prevLogIndex);
    if (prevLogTerm === undefined) return this.startSnapshot(to, pr);
    // Nothing new to send (filling a window ends here): no empty batch made to find that out.
    if (!allowEmpty && pr.next > this.log.lastIndex()) return false;
    const entries = this.log.sliceForMessage(pr.next, this.limits.maxEntriesPerMessage, this.limits.maxBytesPerMessage);
    if (entries.length === 0 && !allowEmpty) return false;
    this.send({ type: 'append', to, prevLogIndex, prevLogTerm, entries, commit: this.commit });
    const last = entries.length === 0 ? undefined : entries[entries.length - 1]; // not entries[-1] (see ready())
    if (pr.state === 'replicate' && last !== undefined) {
      pr.next = (last.index + 1) as Index;
      pr.inflightLast.push(last.index);
    } else if (pr.state === 'probe') {
      pr.probeSent = true;
    }
    return true;
  }

  private startSnapshot(to: NodeId, pr: Progress): boolean {
    const snap = this.latestSnapshot;
    assert(snap !== null, () => `log compacted below ${pr.next} but no snapshot to send ${to}`);
    pr.state = 'snapshot';
    pr.inflightLast = [];
    pr.snapshot = { meta: snap.meta, data: snap.data, sent: 0, acked: 0, progressAt: this.ticks, gapAt: -1, gapReports: 0, reported: 0 };
    this.counters.snapshotBytesOwed += snap.data.byteLength;
    this.sendSnapshotChunks(to, pr);
    return true;
  }

  /**
   * Send the snapshot's next chunks, up to maxInflightSnapshotChunks beyond what the follower
   * acknowledged: a pipelined transfer, each chunk sent once unless it is lost.
   */
  private sendSnapshotChunks(to: NodeId, pr: Progress): void {
    const s = pr.snapshot;
    assert(s !== null, 'snapshot in progress');
    const size = s.data.byteLength;
    // An empty snapshot still takes one (empty, final) chunk.
    if (size === 0) return void this.sendSnapshotChunk(to, s, 0);
    const window = this.limits.maxInflightSnapshotChunks * this.limits.snapshotChunkBytes;
    while (s.sent < size && s.sent - s.acked < window) s.sent = this.sendSnapshotChunk(to, s, s.sent);
  }

  /** Send the chunk at `offset`; returns where it ends. */
  private sendSnapshotChunk(to: NodeId, s: SnapshotTransfer, offset: number): number {
    const size = s.data.byteLength;
    const end = Math.min(offset + this.limits.snapshotChunkBytes, size);
    this.send({ type: 'snapshot', to, meta: s.meta, offset, chunk: s.data.subarray(offset, end), done: end >= size });
    this.counters.snapshotBytesSent += end - offset;
    return end;
  }

  /**
   * A heartbeat answered while a snapshot is being sent: if nothing progressed for an election
   * timeout, the chunks in flight or their answers were lost (or the follower restarted and lost
   * what it held): send again from what it last said it has.
   */
  private resumeSnapshot(to: NodeId, pr: Progress): void {
    const s = pr.snapshot;
    if (s === null) return;
    if (this.isMutant('resend-snapshot-chunks')) {
      s.sent = s.acked;
      this.sendSnapshotChunks(to, pr);
      return;
    }
    if (this.ticks - s.progressAt < this.limits.electionTimeoutTicks) return;
    // Go back to what the follower last said it has (less than acknowledged if it restarted).
    s.progressAt = this.ticks;
    this.counters.snapshotBytesOwed += s.sent - s.reported; // lost on the way: owed again
    s.acked = s.reported;
    s.sent = s.reported;
    this.sendSnapshotChunks(to, pr);
  }

  /** A leader heard from a member: it counts as active for check-quorum. */
  private heardFrom(from: NodeId): Progress | undefined {
    if (this.role !== 'leader') return undefined;
    const pr = this.progress.get(from);
    if (pr !== undefined) pr.recentActive = true;
    return pr;
  }

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.heardFrom(m.from);
    if (pr === undefined) return;
    if (m.success) {
      const wasProbe = pr.state === 'probe';
      const advanced = pr.acknowledge(m.matchIndex);
      if (wasProbe) pr.becomeReplicate();
      if (advanced) {
        this.maybeCommit();
        if (this.leadTransferee === m.from && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
      }
      while (this.sendAppend(m.from, false)) { /* fill the window */ }
      return;
    }
    if (pr.state === 'snapshot') return;
    // Ignore rejections of appends we have since moved past (stale, reordered or duplicated).
    if (pr.state === 'replicate' ? m.rejectedIndex <= pr.match : m.rejectedIndex !== pr.next - 1) return;
    let next = m.conflictIndex;
    if (m.conflictTerm > 0) {
      let i = Math.min(m.rejectedIndex, this.log.lastIndex());
      while (i > this.log.snapshotIndex && (this.log.termAt(i) ?? 0) > m.conflictTerm) i--;
      if (this.log.termAt(i) === m.conflictTerm) next = (i + 1) as Index;
    }
    pr.next = Math.max(pr.match + 1, Math.min(next, m.rejectedIndex)) as Index;
    pr.becomeProbe();
    this.sendAppend(m.from, true);
  }

  private handleSnapshotResponse(m: InstallSnapshotResponse): void {
    const pr = this.heardFrom(m.from);
    if (pr === undefined) return;
    if (pr.state !== 'snapshot' || pr.snapshot === null || pr.snapshot.meta.index !== m.snapshotIndex) return;
    if (m.done) {
      pr.match = Math.max(pr.match, m.snapshotIndex) as Index;
      pr.next = (m.snapshotIndex + 1) as Index;
      pr.becomeProbe();
      this.sendAppend(m.from, true);
      return;
    }
    const s = pr.snapshot;
    if (m.refused === true) {
      // The follower could not decode it and kept its state: it holds none of it. A newer snapshot
      // goes at once (this one may be what was wrong); the same one again from the start once the
      // transfer counts as stalled (resumeSnapshot), not at once: a snapshot the follower cannot
      // read goes at most once per election timeout, not at line rate.
      if (this.latestSnapshot !== null && this.latestSnapshot.meta.index > s.meta.index) {
        pr.becomeProbe();
        this.sendAppend(m.from, true);
        return;
      }
      s.reported = 0;
      s.progressAt = this.ticks;
      return;
    }
    s.reported = m.received;
    if (m.received > s.acked) {
      s.progressAt = this.ticks;
      s.acked = m.received;
      s.sent = Math.max(s.sent, s.acked);
    }
    // The follower holds chunks beyond a gap. Every chunk after the gap reports it, and the network
    // may only have reordered them: send the missing one again on the second report of a gap
    // (TCP's fast retransmit, on fewer duplicates: the window is small), and once per gap.
    if (m.gap === true && m.received < s.sent) {
      if (s.gapAt !== m.received) {
        s.gapAt = m.received;
        s.gapReports = 0;
      }
      if (++s.gapReports === GAP_REPORTS_BEFORE_RESEND) {
        const end = this.sendSnapshotChunk(m.from, s, m.received);
        this.counters.snapshotBytesOwed += end - m.received; // the follower asked for it again
      }
    }
    if (s.sent < s.data.byteLength) this.sendSnapshotChunks(m.from, pr);
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.heardFrom(m.from);
    if (pr === undefined) return;
    pr.probeSent = false;
    if (pr.state === 'snapshot' && pr.snapshot !== null) this.resumeSnapshot(m.from, pr);
    else if (pr.match < this.log.lastIndex()) {
      // The follower answers heartbeats but its window is full: the appends in it were most
      // likely lost (their answers would have freed it). Free the oldest slot so one append goes
      // (as etcd does); if it does not fit the follower's log, its rejection rewinds to probing.
      if (pr.state === 'replicate' && pr.isPaused(this.limits.maxInflightMessages) && !this.isMutant('stalled-window')) pr.inflightLast.shift();
      this.sendAppend(m.from, true);
    }
    if (m.readSeq > 0) {
      this.extendLease(m.from, m.readSeq);
      this.acknowledgeReads(m.from, m.readSeq);
    }
  }

  /** A new heartbeat round: its number (readSeq) and the tick it was sent at. */
  private newRound(): number {
    const seq = ++this.readSeq;
    this.roundSentAt.set(seq, this.ticks);
    if (this.roundSentAt.size > MAX_ROUNDS_REMEMBERED) this.roundSentAt.delete(this.roundSentAt.keys().next().value!);
    return seq;
  }

  /**
   * A follower acknowledged heartbeat round `seq`: the newest round a quorum acknowledged extends
   * the lease to its send tick plus leaseTicks (a follower that heard it refuses votes for an
   * election timeout of its clock after that).
   */
  private extendLease(from: NodeId, seq: number): void {
    const pr = this.progress.get(from);
    if (pr === undefined || seq <= pr.roundAcked) return;
    pr.roundAcked = seq;
    const round = jointCommittedIndex(this.config.voters, this.config.outgoing, this.roundsAcked);
    const sentAt = this.roundSentAt.get(round);
    if (sentAt !== undefined) this.leaseUntil = Math.max(this.leaseUntil, sentAt + this.leaseTicks);
  }

  /** Whether this leader may answer a read from its lease, without a round. */
  private leaseValid(): boolean {
    if (this.isMutant('lease-outlives-quorum')) return true;
    // A transfer's target is elected through the followers' leases: no lease while one runs,
    // nor once a TimeoutNow went out (see leaseForfeited).
    return !this.leaseForfeited && this.leadTransferee === null && this.ticks < this.leaseUntil;
  }

  private sendTimeoutNow(target: NodeId): void {
    this.leaseForfeited = true;
    this.send({ type: 'timeout-now', to: target });
  }

  private broadcastHeartbeat(readSeq: number): void {
    for (const [id, pr] of this.progress) {
      this.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, this.commit) as Index, readSeq });
    }
  }

  /**
   * The newest heartbeat round each member acknowledged, the leader's own (its latest round)
   * included (read by extendLease). Made once, as matchIndexes below: not a closure per response.
   */
  private readonly roundsAcked = {
    get: (id: NodeId): number | undefined => (id === this.id ? this.readSeq : this.progress.get(id)?.roundAcked),
  };

  /** Each member's durable match index, the leader's own included (read by the commit rule). */
  private readonly matchIndexes = {
    get: (id: NodeId): number | undefined => (id === this.id ? this.log.stableIndex : this.progress.get(id)?.match),
  };

  private maybeCommit(): void {
    if (this.role !== 'leader') return;
    const index = jointCommittedIndex(this.config.voters, this.config.outgoing, this.matchIndexes);
    if (index <= this.commit) return;
    // Figure 8: only an entry of the current term is committed by counting replicas.
    if (this.log.termAt(index) !== this.term && !this.isMutant('commit-old-term')) return;
    this.commitTo(index as Index);
    this.appendsDirty = true; // tell followers the new commit index
    if (this.log.termAt(this.commit) === this.term && this.readsAwaitingCommit.length > 0) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = emptyObjectArray();
      for (const r of waiting) this.handleReadRequest(r.requestId, r.requester);
    }
  }

  // ---- configuration ----------------------------------------------------------------------

  /**
   * The index a snapshot's configuration holds at, when above the snapshot's own (one taken by a
   * member that joined, below its since); else 0: the configuration of the snapshot's index.
   */
  private sinceOf(meta: SnapshotMeta): number {
    const since = meta.membership.since ?? 0;
    assert(Number.isSafeInteger(since) && since >= 0, () => `snapshot at ${meta.index}: since ${since} is an index`);
    // The snapshot-forgets-since mutant takes the configuration for that of the snapshot's index.
    return since > meta.index && !this.isMutant('snapshot-forgets-since') ? since : 0;
  }

  /** The configuration, with the index it holds at while that is above the applied index (see configSince). */
  private statusMembership(): Membership {
    const m = this.config.toMembership();
    // The status-hides-since mutant shows the configuration as that of the applied index.
    if (this.configSince <= this.applied || this.isMutant('status-hides-since')) return m;
    const cached = this.membershipWithSince;
    if (cached !== null && cached.of === m && cached.value.since === this.configSince) return cached.value;
    const value = { ...m, since: this.configSince };
    this.membershipWithSince = { of: m, value };
    return value;
  }

  private applyConfigChange(change: ConfigChange): void {
    this.config.apply(change, this.isMutant('demote-at-once'));
    if (this.role !== 'leader') return;
    if (!this.config.isVoter(this.id)) {
      // A leader removed from the configuration steps down once the change is applied (§4.2.2).
      this.becomeFollower(this.term, null);
      return;
    }
    const members = this.config.members();
    for (const id of members) {
      if (id !== this.id && !this.progress.has(id)) this.progress.set(id, new Progress((this.log.lastIndex() + 1) as Index));
    }
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    this.markLearners();
    this.appendsDirty = true;
  }

  private markLearners(): void {
    for (const [id, pr] of this.progress) pr.isLearner = this.config.learners.has(id);
  }

  // ---- linearizable reads (§6.4) ----------------------------------------------------------

  private handleReadRequest(requestId: string, requester: NodeId): void {
    if (this.pendingReads.length + this.readsAwaitingCommit.length >= this.limits.maxPendingReads) {
      if (requester === this.id) throw new TooManyRequests('maxPendingReads', this.limits.maxPendingReads);
      return; // the forwarding follower times out
    }
    if (this.log.termAt(this.commit) !== this.term) {
      this.readsAwaitingCommit.push({ requestId, requester });
      return;
    }
    const leaseRead = (this.readOnly === 'lease-based' && this.leaseValid()) || this.isMutant('stale-read');
    const single = jointVoteResult(this.config.voters, this.config.outgoing, this.ownVoteOnly) === 'won';
    if (leaseRead || single) {
      this.answerRead(requestId, requester, this.commit);
      return;
    }
    const seq = this.newRound();
    // (set() rather than the constructor's list: that goes through the iteration protocol.)
    this.pendingReads.push({ seq, requestId, requester, index: this.commit, acks: new Map<NodeId, boolean>().set(this.id, true) });
    this.broadcastHeartbeat(seq);
  }

  private acknowledgeReads(from: NodeId, seq: number): void {
    for (const r of this.pendingReads) {
      if (r.seq > seq) break;
      r.acks.set(from, true);
    }
    // Reads are confirmed in order: a later round's quorum confirms every earlier read too. So
    // the newest read a quorum acknowledged is found from the end (a closure per heartbeat
    // response, and a quorum count of every pending read, were the cost here).
    let confirmed = -1;
    for (let i = this.pendingReads.length - 1; i >= 0; i--) {
      if (jointVoteResult(this.config.voters, this.config.outgoing, this.pendingReads[i]!.acks) === 'won') {
        confirmed = i;
        break;
      }
    }
    if (confirmed < 0) return;
    for (const r of this.pendingReads.splice(0, confirmed + 1)) this.answerRead(r.requestId, r.requester, r.index);
  }

  private answerRead(requestId: string, requester: NodeId, index: Index): void {
    if (requester === this.id) this.readStates.push({ requestId, index });
    else this.send({ type: 'read-index-response', to: requester, requestId, index });
  }

  // ---- helpers -----------------------------------------------------------------------------

  private send(m: Outbound): void {
    this.msgs.push(this.complete(m));
  }

  /** `m` from us, in our term unless it names one. */
  private complete(m: Outbound): RaftMessage {
    // Call sites pass fresh literals, so completing them in place is safe (and avoids a copy
    // per message on the hottest path).
    const full = m as { from?: NodeId; term?: Term };
    full.from = this.id;
    if (full.term === undefined) full.term = this.term;
    return m as unknown as RaftMessage;
  }

  private hardState(): RaftHardState {
    return { term: this.term, vote: this.vote, commit: this.commit };
  }

  private isMutant(name: RaftMutant): boolean {
    return this.mutant !== null && isMutant(this.mutant, name);
  }
}

const NO_MESSAGES: readonly RaftMessage[] = Object.freeze([]);
const NO_READ_STATES: readonly ReadState[] = Object.freeze([]);
const NO_ENTRIES: readonly LogEntry[] = Object.freeze([]);

/** `a` then `b`, as one list (either one itself when the other is empty: lists handed out are never changed). */
function joinMessages(a: readonly RaftMessage[], b: readonly RaftMessage[]): readonly RaftMessage[] {
  return a.length === 0 ? b : b.length === 0 ? a : [...a, ...b];
}

/**
 * Every limit, from the options over the defaults (the member's command limit, unless the raft
 * option is given itself), made by one object literal: every replica's limits then have one shape.
 * Spread copies took shapes that differed from run to run, and each new one threw away the
 * optimized code of every hot path that reads a limit (--trace-deopt: "wrong map").
 */
function resolveLimits(o: RaftOptions): RaftLimits {
  const picked = pickLimits(o);
  const d = DEFAULT_RAFT_LIMITS;
  return {
    electionTimeoutTicks: picked.electionTimeoutTicks ?? d.electionTimeoutTicks,
    heartbeatIntervalTicks: picked.heartbeatIntervalTicks ?? d.heartbeatIntervalTicks,
    maxEntriesPerMessage: picked.maxEntriesPerMessage ?? d.maxEntriesPerMessage,
    maxBytesPerMessage: picked.maxBytesPerMessage ?? d.maxBytesPerMessage,
    maxInflightMessages: picked.maxInflightMessages ?? d.maxInflightMessages,
    maxUncommittedEntries: picked.maxUncommittedEntries ?? d.maxUncommittedEntries,
    maxUncommittedBytes: picked.maxUncommittedBytes ?? d.maxUncommittedBytes,
    maxProposalBytes: picked.maxProposalBytes ?? o.maxCommandBytes ?? d.maxProposalBytes,
    snapshotChunkBytes: picked.snapshotChunkBytes ?? d.snapshotChunkBytes,
    maxInflightSnapshotChunks: picked.maxInflightSnapshotChunks ?? d.maxInflightSnapshotChunks,
    maxPendingReads: picked.maxPendingReads ?? d.maxPendingReads,
  };
}

function pickLimits(o: RaftOptions): Partial<RaftLimits> {
  const out: Partial<Record<keyof RaftLimits, number>> = {};
  for (const k of Object.keys(DEFAULT_RAFT_LIMITS) as (keyof RaftLimits)[]) {
    const v = o[k];
    if (v !== undefined) {
      assert(Number.isInteger(v) && v > 0, () => `raft option ${k} must be a positive integer, got ${v}`);
      out[k] = v;
    }
  }
  return out;
}
