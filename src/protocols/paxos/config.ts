/**
 * Multi-Paxos configuration: every limit has a name and a default, and quorum sizes are
 * checked when a replica is configured (Flexible Paxos: any phase-1 quorum must intersect any
 * phase-2 quorum, which for counting quorums is |Q1| + |Q2| > N).
 */
import { QuorateError } from '../../core/errors.js';
import { majority } from '../../core/quorum.js';

export interface PaxosLimits {
  /** A follower that hears nothing from a leader for this many ticks (randomised up to twice it) starts phase 1. */
  readonly electionTimeoutTicks: number;
  /** A leader sends accepts (heartbeats, with the commit point) at least this often. */
  readonly heartbeatIntervalTicks: number;
  /** Batching: slots per Accept message. */
  readonly maxEntriesPerMessage: number;
  /**
   * Batching: payload bytes per Accept message (at least one slot is always sent), so that a
   * batch of large values still fits the transport's frame (its maxFrameBytes is 4 MiB).
   */
  readonly maxBytesPerMessage: number;
  /** Pipelining: slots proposed but not yet chosen; more proposals get TooManyRequests. */
  readonly maxInflightSlots: number;
  /**
   * Slots re-sent per heartbeat to a stalled acceptor that answered since the last one (a silent
   * one gets one slot: a probe): only the slots it has not acknowledged, in Accepts within
   * maxBytesPerMessage and maxEntriesPerMessage each.
   */
  readonly maxCatchUpSlotsPerHeartbeat: number;
  /** Chosen entries handed to the driver per Ready. */
  readonly maxApplyPerReady: number;
  /** ReadIndex requests waiting for their quorum round. */
  readonly maxPendingReads: number;
  /** A snapshot travels in chunks of at most this many bytes (and never more than maxBytesPerMessage). */
  readonly snapshotChunkBytes: number;
  /**
   * Snapshot bytes sent to an acceptor beyond what it acknowledged (at least one chunk). Counted in
   * bytes, not chunks: with small chunks a window of a few chunks is a few KiB per round trip, and
   * a state of a few hundred KiB then takes longer to send than a lagging acceptor can wait.
   */
  readonly maxInflightSnapshotBytes: number;
  /** A leader that hears from no phase-2 quorum for an election timeout steps down. */
  readonly checkQuorum: boolean;
  /**
   * Ask before phase 1 (PrePrepare, as Raft's pre-vote): a node campaigns only once a phase-1
   * quorum would promise its ballot, and an acceptor that heard from a leader within an election
   * timeout says no. A node that rejoins, or was cut off, then cannot depose a healthy leader.
   * That refusal needs checkQuorum (a leader without a quorum must step down, or the followers it
   * still reaches refuse everyone else forever); without checkQuorum the pre-round only checks
   * the ballot.
   */
  readonly prePrepare: boolean;
  /**
   * Leader stickiness (the acceptor side of the lease prePrepare asks about): an acceptor that
   * heard from a live leader within an election timeout refuses a Prepare from any other node,
   * however high its ballot (a Nack naming that leader), and a leader refused in phase 2 by an
   * acceptor that promised a higher ballot runs phase 1 again above it rather than stepping down.
   * A node that rejoins with a ballot raised while it was cut off (prePrepare off, or a restart)
   * then cannot depose a healthy leader. As prePrepare's refusal it needs checkQuorum: without
   * it there is no lease and this only keeps the leader's re-run of phase 1.
   */
  readonly stickyLeader: boolean;
  /**
   * Largest command propose() accepts, in bytes: without one a single proposal could outgrow
   * every Accept and transport frame. The member's limit (ReplicaOptions.maxCommandBytes) when
   * this is not given.
   */
  readonly maxProposalBytes: number;
}

/**
 * What one slot costs a message besides its value (index, term, kind, ballot and their encoding):
 * counted against maxBytesPerMessage, so that many small values cannot outgrow a frame either.
 */
export const ENTRY_OVERHEAD_BYTES = 64;
/** Largest snapshot an acceptor assembles from chunks. */
export const MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;
/**
 * Snapshot chunks an acceptor holds beyond a gap (chunks the network reordered, or sent after a
 * lost one), at most; their bytes are bounded by its maxInflightSnapshotBytes, the most a leader
 * configured alike has in flight.
 */
export const MAX_SNAPSHOT_CHUNKS_AHEAD = 1024;
/**
 * Reports of one gap in a snapshot transfer before the leader sends the missing chunk again: the
 * first may only mean the network reordered chunks (TCP's fast retransmit, on fewer duplicates).
 */
export const GAP_REPORTS_BEFORE_RESEND = 2;
/**
 * Heartbeats in a row at which an acceptor answered nothing before a leader lets go of the
 * snapshot its transfer to it holds, when a newer one is there: the transfer starts over from
 * the newest (a returning acceptor then takes one snapshot, not the old one and then the new).
 */
export const SILENT_HEARTBEATS_BEFORE_TRANSFER_RESTART = 10;
/**
 * Slots above its contiguous match a leader remembers an acceptor acknowledged (out of order, past
 * a lost Accept), per acceptor: a heartbeat then resends only the slots before and between them.
 * Beyond this many the rest are forgotten (they are resent, which is harmless).
 */
export const MAX_ACKED_AHEAD_SLOTS = 4096;
/** Slots per Promise part, whatever their size (a peer refuses a Promise of more than MAX_ENTRIES_PER_PROMISE). */
export const MAX_ENTRIES_PER_PROMISE_PART = 4096;

export const DEFAULT_PAXOS_LIMITS: PaxosLimits = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 2,
  maxEntriesPerMessage: 64,
  maxBytesPerMessage: 1024 * 1024,
  maxInflightSlots: 4096,
  maxCatchUpSlotsPerHeartbeat: 512,
  maxApplyPerReady: 1024,
  maxPendingReads: 4096,
  snapshotChunkBytes: 64 * 1024,
  maxInflightSnapshotBytes: 256 * 1024,
  checkQuorum: true,
  prePrepare: true,
  stickyLeader: true,
  // etcd's default --max-request-bytes (1.5 MiB) and room for the command's own encoding, as
  // the driver's default maxCommandBytes.
  maxProposalBytes: 1_572_864 + 4096,
};

export interface QuorumSizes {
  /** Promises a proposer needs before phase 2 (Prepare/Promise). */
  readonly phase1: number;
  /** Acceptances that choose a value (Accept/Accepted). */
  readonly phase2: number;
}

export class InvalidQuorumConfig extends QuorateError {
  override readonly name = 'InvalidQuorumConfig';
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/**
 * Quorum sizes for `n` acceptors: majorities unless given. Throws InvalidQuorumConfig when a
 * phase-1 quorum could miss a phase-2 quorum (|Q1| + |Q2| <= N) or a size is out of range.
 */
export function quorumSizes(n: number, phase1?: number, phase2?: number): QuorumSizes {
  const q1 = phase1 ?? majority(n);
  const q2 = phase2 ?? majority(n);
  for (const [name, q] of [['phase1QuorumSize', q1], ['phase2QuorumSize', q2]] as const) {
    if (!Number.isInteger(q) || q < 1 || q > n) {
      throw new InvalidQuorumConfig(`${name} must be an integer from 1 to the number of acceptors (${n}), got ${q}`);
    }
  }
  if (q1 + q2 <= n) {
    throw new InvalidQuorumConfig(
      `phase1QuorumSize (${q1}) + phase2QuorumSize (${q2}) must exceed the number of acceptors (${n}), ` +
        `or a phase-1 quorum can miss a chosen value; for example use ${n + 1 - q2} and ${q2}`,
    );
  }
  return { phase1: q1, phase2: q2 };
}
