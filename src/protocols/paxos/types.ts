/**
 * Multi-Paxos messages and durable state, in the papers' vocabulary: phase 1 is Prepare /
 * Promise (1a/1b), phase 2 is Accept / Accepted (2a/2b). A slot is a position in the log.
 */
import type { Index, NodeId } from '../../core/ids.js';
import type { Envelope, LogEntry, Snapshot, SnapshotMeta } from '../../core/replica.js';
import type { Ballot } from './ballot.js';

export type Slot = Index;

/** What an acceptor must keep across crashes besides its accepted slots: its promise. */
export interface PaxosHardState {
  readonly promised: Ballot;
  /**
   * Every slot up to here is chosen: the commit point when it last passed a configuration entry
   * (absent before any did). A restart takes the configuration from it (see MultiPaxosReplica's
   * constructor): from the bootstrap one at slot 1, phase 1 would need a quorum of every
   * configuration the log ever held, members long gone included.
   */
  readonly chosen?: Slot;
}

/** 1a: promise me to ignore ballots below `ballot`, and tell me what you accepted from `fromSlot` on. */
export interface Prepare extends Envelope {
  readonly type: 'prepare';
  readonly ballot: Ballot;
  readonly fromSlot: Slot;
  /**
   * The campaign of a leadership transfer's target (the leader told it to, TimeoutNow): acceptors
   * promise it even while they hold that leader's lease. Absent otherwise.
   */
  readonly transfer?: boolean;
}

/**
 * 1b: every slot >= the Prepare's fromSlot this acceptor accepted, with the ballot it accepted
 * each in. Sent in parts, each within the message byte budget: part k covers the slots
 * `fromSlot..throughSlot`, the next part starts at throughSlot + 1, and the last has `more` false.
 * The proposer counts the promise once it holds every part.
 */
export interface PromiseMsg extends Envelope {
  readonly type: 'promise';
  readonly ballot: Ballot;
  /** The first slot this part covers (the first part: the Prepare's fromSlot). */
  readonly fromSlot: Slot;
  /** The last slot this part covers (the last part: its last accepted slot, or fromSlot - 1). */
  readonly throughSlot: Slot;
  /** More parts follow. */
  readonly more: boolean;
  readonly accepted: readonly LogEntry[];
  /** The acceptor knows every slot up to here is chosen. */
  readonly chosenThrough: Slot;
  /**
   * Always null from an honest acceptor: one that compacted slots >= fromSlot refuses the Prepare
   * instead (Nack.compactedThrough), since a whole snapshot in a Promise has no byte bound. Only
   * the test-only `promise-carries-snapshot` mutant fills it (first part only).
   */
  readonly snapshot: Snapshot | null;
}

/**
 * Before phase 1 (as Raft's pre-vote): would you promise `ballot`? Nothing is recorded by either
 * side, so a node that cannot win (cut off, or rejoining while a leader is healthy) raises no
 * acceptor's promise and deposes no one.
 */
export interface PrePrepare extends Envelope {
  readonly type: 'pre-prepare';
  readonly ballot: Ballot;
}

/**
 * The answer to a PrePrepare: `granted` when `ballot` is above the acceptor's promise and it has
 * not heard from a leader within an election timeout; `promised` says what it holds.
 */
export interface PrePromise extends Envelope {
  readonly type: 'pre-promise';
  readonly ballot: Ballot;
  readonly granted: boolean;
  readonly promised: Ballot;
}

/**
 * A refusal: the acceptor has promised `promised`, above the ballot it was asked about; or, when
 * `compactedThrough` is at or above the Prepare's fromSlot, it compacted slots the proposer does
 * not know are chosen, so its promise could not report the values accepted there (0 otherwise).
 */
export interface Nack extends Envelope {
  readonly type: 'nack';
  readonly ballot: Ballot;
  readonly promised: Ballot;
  readonly compactedThrough: Slot;
  /**
   * Leader stickiness: the acceptor refuses a Prepare, whatever its ballot, because it heard from
   * this live leader within an election timeout (its lease; the leader itself names itself).
   * The candidate backs off rather than raising its ballot. Also on a refused Accept (or Prepare,
   * or snapshot chunk) of a lower ballot, by an acceptor that holds another live leader's lease:
   * a leader refused so is the stale one and steps down rather than running phase 1 again.
   * Absent otherwise.
   */
  readonly leader?: NodeId;
}

/** 2a, batched: accept these slots' values in `ballot`. Also the heartbeat and the commit notification. */
export interface Accept extends Envelope {
  readonly type: 'accept';
  readonly ballot: Ballot;
  readonly entries: readonly LogEntry[];
  /** Every slot up to here is chosen (piggybacked commit notification). */
  readonly commit: Slot;
  /** ReadIndex round this message belongs to (0: none); echoed in Accepted. */
  readonly readRound: number;
}

/** 2b: these slots were accepted (and are durable) in `ballot`. */
export interface Accepted extends Envelope {
  readonly type: 'accepted';
  readonly ballot: Ballot;
  readonly slots: readonly Slot[];
  /** Every slot from the acceptor's chosen point up to here holds a value accepted in `ballot`. */
  readonly match: Slot;
  readonly readRound: number;
}

/**
 * Catch-up for an acceptor behind the leader's compaction point: the snapshot's data in chunks of
 * at most snapshotChunkBytes, `offset` the first byte of this one, `done` on the last; up to
 * maxInflightSnapshotBytes in flight at a time, each acknowledged by a SnapshotAck.
 */
export interface InstallSnapshot extends Envelope {
  readonly type: 'install-snapshot';
  readonly ballot: Ballot;
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly chunk: Uint8Array;
  readonly done: boolean;
  readonly commit: Slot;
  /**
   * The digest of the whole snapshot's data (see digest.ts): it names the transfer. Two leaders'
   * snapshots at the same index may be encoded differently, so an acceptor joins only chunks of
   * one digest and installs the assembled data only when its digest matches. Absent from builds
   * before it (such a transfer is taken unchecked).
   */
  readonly digest?: string;
}

/** How much of the snapshot at `index` the acceptor holds in order (`received` bytes); `done` once installed. */
export interface SnapshotAck extends Envelope {
  readonly type: 'snapshot-ack';
  readonly ballot: Ballot;
  readonly index: Slot;
  readonly received: number;
  readonly done: boolean;
  /**
   * It holds a chunk beyond `received` (reordered, or sent after a lost one): the chunk at
   * `received` is missing. Absent when false.
   */
  readonly gap?: boolean;
  /** The whole snapshot arrived and did not decode: the acceptor kept its state, and holds none of it. Absent when false. */
  readonly refused?: boolean;
}

/**
 * A candidate refused for being behind an acceptor's snapshot asks that acceptor for it (see
 * snapshot-pull.ts): up to `bytes` of the snapshot at `index` whose data has `digest`, from
 * `offset` (index 0 and an empty digest before the first chunk names it). `ballot` is the
 * requester's promise: it orders nothing.
 */
export interface SnapshotPullRequest extends Envelope {
  readonly type: 'snapshot-pull';
  readonly ballot: Ballot;
  readonly index: number;
  readonly digest: string;
  readonly offset: number;
  readonly bytes: number;
}

/** A chunk of the acceptor's snapshot, in answer to a SnapshotPullRequest; `ballot` is the sender's promise. */
export interface SnapshotPiece extends Envelope {
  readonly type: 'snapshot-piece';
  readonly ballot: Ballot;
  readonly meta: SnapshotMeta;
  readonly digest: string;
  readonly offset: number;
  readonly chunk: Uint8Array;
  readonly done: boolean;
}

/** A follower asks the leader for a read point on behalf of its client. */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'read-index';
  readonly ballot: Ballot;
  readonly requestId: string;
}

/** The leader's confirmed read point for a forwarded request. */
export interface ReadIndexResponse extends Envelope {
  readonly type: 'read-index-response';
  readonly ballot: Ballot;
  readonly requestId: string;
  readonly index: Slot;
}

/** The leader hands over to this voter, which holds every slot: run phase 1 now (leadership transfer). */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeout-now';
  readonly ballot: Ballot;
  /**
   * The leader's last slot when it sent this (proposals stop during a transfer). A target that
   * holds a slot of this ballot beyond it got proposals made after the transfer was abandoned:
   * the message is stale and deposes no one. Absent from builds before it.
   */
  readonly through?: Slot;
}

export type PaxosMessage = TimeoutNow | PrePrepare | PrePromise | Prepare | PromiseMsg | Nack | Accept | Accepted | InstallSnapshot | SnapshotAck | SnapshotPullRequest | SnapshotPiece | ReadIndexRequest | ReadIndexResponse;
