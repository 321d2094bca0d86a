/**
 * Raft's vocabulary: messages, hard state, configuration changes, options and their limits.
 */
import type { Index, NodeId, Term } from '../../core/ids.js';
import type { LogEntry, ReplicaOptions, ReplicaStatus, SnapshotMeta } from '../../core/replica.js';

/** What Raft must make durable before answering anyone (Figure 2, "persistent state"). */
export interface RaftHardState {
  readonly term: Term;
  readonly vote: NodeId | null;
  readonly commit: Index;
}

interface Base<T extends string> {
  readonly type: T;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

/** RequestVote, or a pre-vote probe (which does not bump anyone's term). */
export interface VoteRequest extends Base<'vote-request'> {
  readonly lastLogIndex: Index;
  readonly lastLogTerm: Term;
  readonly preVote: boolean;
  /** Sent because of a leadership transfer: voters ignore their leader lease. */
  readonly transfer: boolean;
}

export interface VoteResponse extends Base<'vote-response'> {
  readonly granted: boolean;
  readonly preVote: boolean;
}

export interface AppendRequest extends Base<'append'> {
  readonly prevLogIndex: Index;
  readonly prevLogTerm: Term;
  readonly entries: readonly LogEntry[];
  readonly commit: Index;
}

export interface AppendResponse extends Base<'append-response'> {
  readonly success: boolean;
  /** On success: the follower's last index matching the leader's log. */
  readonly matchIndex: Index;
  /** On rejection: the prevLogIndex that did not match (lets the leader ignore stale rejections). */
  readonly rejectedIndex: Index;
  /** Fast backtracking hint: term of the follower's entry at rejectedIndex (0 if it has none)... */
  readonly conflictTerm: Term;
  /** ...and the first index the follower holds of that term (or its lastIndex + 1). */
  readonly conflictIndex: Index;
}

export interface Heartbeat extends Base<'heartbeat'> {
  readonly commit: Index;
  /** ReadIndex round this heartbeat confirms (0: none). */
  readonly readSeq: number;
}

export interface HeartbeatResponse extends Base<'heartbeat-response'> {
  readonly readSeq: number;
}

export interface InstallSnapshot extends Base<'snapshot'> {
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly chunk: Uint8Array;
  readonly done: boolean;
}

export interface InstallSnapshotResponse extends Base<'snapshot-response'> {
  readonly snapshotIndex: Index;
  /** Bytes received so far (the next offset the follower expects). */
  readonly received: number;
  readonly done: boolean;
  /** A chunk arrived beyond `received` (reordered, or one before it was lost): the leader resends the chunk at `received`. */
  readonly gap?: boolean;
  /** The whole snapshot arrived and did not decode: the follower kept its state, and holds none of it. */
  readonly refused?: boolean;
}

export interface TimeoutNow extends Base<'timeout-now'> {}

export interface ReadIndexRequest extends Base<'read-index'> {
  readonly requestId: string;
}

export interface ReadIndexResponse extends Base<'read-index-response'> {
  readonly requestId: string;
  readonly index: Index;
}

export type RaftMessage =
  | VoteRequest | VoteResponse
  | AppendRequest | AppendResponse
  | Heartbeat | HeartbeatResponse
  | InstallSnapshot | InstallSnapshotResponse
  | TimeoutNow
  | ReadIndexRequest | ReadIndexResponse;

export type RaftRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** A membership change. Single-server changes need no joint phase (dissertation §4.1). */
export type ConfigChange =
  | { readonly kind: 'add-voter' | 'add-learner' | 'remove'; readonly node: NodeId }
  /**
   * Enter the joint configuration C_old,new. A learner that is a voter now is demoted: it keeps
   * its vote in C_old until the joint configuration is left (learnersNext). `autoLeave` (default
   * true): the leader proposes leaving once C_old,new is applied; false: it waits for a
   * leave-joint proposal (etcd's ConfChangeTransitionJointExplicit).
   */
  | { readonly kind: 'joint'; readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[]; readonly autoLeave?: boolean }
  /** Leave the joint configuration (the leader proposes it itself unless autoLeave was false). */
  | { readonly kind: 'leave-joint' };

export interface FollowerProgress {
  readonly match: Index;
  readonly next: Index;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly inflight: number;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
}

export interface RaftStatus extends ReplicaStatus {
  readonly role: RaftRole;
  readonly vote: NodeId | null;
  readonly isLearner: boolean;
  readonly lastIndex: Index;
  readonly firstIndex: Index;
  readonly leadTransferee: NodeId | null;
  /** Only on the leader: each other member's replication progress. */
  readonly progress: ReadonlyMap<NodeId, FollowerProgress>;
}

export interface RaftLimits {
  /** Base election timeout; each node draws its timeout from [base, 2*base). */
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  /** Entries in one AppendEntries. */
  readonly maxEntriesPerMessage: number;
  /** Payload bytes in one AppendEntries (at least one entry is always sent). */
  readonly maxBytesPerMessage: number;
  /** AppendEntries in flight to one follower before the leader waits for acknowledgements. */
  readonly maxInflightMessages: number;
  /**
   * Appended but uncommitted entries on the leader; over it client proposals get TooManyRequests.
   * The leader's own entries (its no-op, leaving a joint configuration) are never refused.
   */
  readonly maxUncommittedEntries: number;
  /** Bytes of client proposals appended in this term and not yet committed; over it proposals get TooManyRequests. */
  readonly maxUncommittedBytes: number;
  /** Largest command accepted by propose(). */
  readonly maxProposalBytes: number;
  /** Bytes of snapshot data per InstallSnapshot message. */
  readonly snapshotChunkBytes: number;
  /** Snapshot chunks in flight to one follower (the transfer is pipelined). */
  readonly maxInflightSnapshotChunks: number;
  /** ReadIndex requests waiting on one leader. */
  readonly maxPendingReads: number;
}

export const DEFAULT_RAFT_LIMITS: RaftLimits = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  maxEntriesPerMessage: 64,
  maxBytesPerMessage: 1024 * 1024,
  maxInflightMessages: 256,
  maxUncommittedEntries: 10_000,
  maxUncommittedBytes: 64 * 1024 * 1024,
  maxProposalBytes: 1024 * 1024 + 512 * 1024,
  snapshotChunkBytes: 64 * 1024,
  maxInflightSnapshotChunks: 4,
  maxPendingReads: 10_000,
};

export interface RaftOptions extends ReplicaOptions<RaftHardState>, Partial<RaftLimits> {
  /** Pre-vote (dissertation §9.6): a partitioned node cannot disrupt the cluster when it returns. */
  readonly preVote?: boolean;
  /** A leader that hears from no majority for an election timeout steps down (§6.2). */
  readonly checkQuorum?: boolean;
  /**
   * 'safe': ReadIndex confirms leadership with a heartbeat round (§6.4).
   * 'lease-based': the leader answers from its lease without a round trip (§6.4.1). Correct
   * only if clocks advance at about the same rate on every node (ticks of equal length, drift
   * well under the gap between the election timeout and the heartbeat interval); requires
   * checkQuorum, since the lease is what check-quorum and the voters' leader lease guarantee.
   */
  readonly readOnly?: 'safe' | 'lease-based';
  /**
   * Lease reads: the largest difference between any two nodes' clock rates, as a fraction
   * (0.05: one node's tick may be 5% longer or shorter than another's). The leader's lease is
   * shortened by it; the simulator keeps its clock skew within it.
   */
  readonly maxClockDrift?: number;
  /**
   * etcd's DisableProposalForwarding: a follower refuses a client's proposal with NotLeader
   * (naming the leader) instead of the driver forwarding it there. Default false (forward). For
   * clients that must not have a command committed through a member they did not choose, and
   * for members behind a link to the leader too slow to carry client traffic twice.
   */
  readonly disableProposalForwarding?: boolean;
}

/** The clock-rate bound lease reads assume unless told otherwise. */
export const DEFAULT_MAX_CLOCK_DRIFT = 0.05;
