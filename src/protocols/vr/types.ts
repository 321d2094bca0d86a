/**
 * Viewstamped Replication Revisited (Liskov & Cowling, MIT-CSAIL-TR-2012-021): messages, durable
 * state and limits, in the paper's vocabulary. A view's primary is `view mod n` over the sorted
 * members; an op is a position in the log (op-number); every op up to commit-number is committed.
 * Every message names the view it belongs to (`view`).
 */
import type { Index, NodeId, Term } from '../../core/ids.js';
import type { Envelope, LogEntry, Snapshot } from '../../core/replica.js';

/** A view-number (a Term to the Replica contract). */
export type View = Term;
/** An op-number or a commit-number (an Index to the Replica contract). */
export type OpNumber = Index;

/**
 * What a replica keeps on disk besides its log (the paper keeps nothing on disk; with the WAL, as
 * here by default, a replica restarts from this and its log, as the other protocols do).
 * - `view`: the view-number; it never goes backwards. Durable before any message of that view
 *   leaves (a Ready that writes it holds back even the messages that may otherwise leave before
 *   its persist), so a restarted replica cannot act in an older view again, and a primary that
 *   sent anything in its view comes back with `lastNormalView` = `view` (and so does not lead
 *   that view a second time).
 * - `lastNormalView`: the latest view in which status was normal (DO-VIEW-CHANGE's "v'"); at
 *   most `view`.
 * - `diskless`: written once, at a diskless replica's first start, and never again: a restart that
 *   finds it knows it lost its state and must run the recovery protocol (the only write a
 *   diskless replica makes).
 */
export interface VrHardState {
  readonly view: View;
  readonly lastNormalView: View;
  readonly diskless?: boolean;
}

/** The primary assigns op-numbers `entries` (consecutive) in `view`; every op up to `commit` is committed. */
export interface Prepare extends Envelope {
  readonly type: 'prepare';
  readonly view: View;
  readonly entries: readonly LogEntry[];
  readonly commit: OpNumber;
}

/** A backup holds (durably) every op of the view's log up to `opNumber` (cumulative: it also acknowledges the ops before). */
export interface PrepareOk extends Envelope {
  readonly type: 'prepare-ok';
  readonly view: View;
  readonly opNumber: OpNumber;
}

/**
 * The primary's heartbeat when it has no new op to prepare: every op up to `commit` is committed.
 * `opNumber` (not in the paper) is the primary's last op: a backup that lost PREPAREs learns that
 * it is behind and asks for the rest (GETSTATE) rather than waiting for the next op.
 */
export interface Commit extends Envelope {
  readonly type: 'commit';
  readonly view: View;
  readonly commit: OpNumber;
  readonly opNumber: OpNumber;
}

/** The sender moved to view-change status for `view`. */
export interface StartViewChange extends Envelope {
  readonly type: 'start-view-change';
  readonly view: View;
}

/**
 * To the primary of `view`: the sender's log from `commit + 1` on (its committed prefix is the
 * same in every log, so it need not travel), the view it was last normal in, and its op-number.
 * The entries are bounded by the message budget: when they stop short of `opNumber` and this log
 * is chosen, the new primary fetches the rest with GETSTATE before it starts the view.
 */
export interface DoViewChange extends Envelope {
  readonly type: 'do-view-change';
  readonly view: View;
  readonly lastNormalView: View;
  readonly opNumber: OpNumber;
  readonly commit: OpNumber;
  readonly entries: readonly LogEntry[];
}

/**
 * The new primary's log: the ops from `fromOp` on (up to the message budget), its op-number and
 * commit-number. A backup whose own commit-number is below `fromOp - 1` cannot tell which of its
 * uncommitted ops are the view's: it keeps them (and its last-normal view) while it asks for the
 * ops after its commit-number (GETSTATE), which replace them (docs/vr.md, "No truncation on a guess").
 */
export interface StartView extends Envelope {
  readonly type: 'start-view';
  readonly view: View;
  readonly opNumber: OpNumber;
  readonly commit: OpNumber;
  readonly fromOp: OpNumber;
  readonly entries: readonly LogEntry[];
}

/** State transfer: send me the log of `view` after `opNumber`. */
export interface GetState extends Envelope {
  readonly type: 'get-state';
  readonly view: View;
  readonly opNumber: OpNumber;
}

/** State transfer: the ops after the GETSTATE's op-number (up to the budget); the sender's op-number and commit-number. */
export interface NewState extends Envelope {
  readonly type: 'new-state';
  readonly view: View;
  readonly opNumber: OpNumber;
  readonly commit: OpNumber;
  readonly entries: readonly LogEntry[];
}

/**
 * State transfer from a checkpoint: the sender truncated its log past the op asked for, so it
 * sends its latest snapshot (whole: see the protocol's unboundedMessageTypes).
 */
export interface NewStateSnapshot extends Envelope {
  readonly type: 'new-state-snapshot';
  readonly view: View;
  readonly opNumber: OpNumber;
  readonly commit: OpNumber;
  readonly snapshot: Snapshot;
}

/** A diskless replica that restarted asks for the state it lost; `nonce` names this attempt. */
export interface Recovery extends Envelope {
  readonly type: 'recovery';
  readonly view: View;
  readonly nonce: number;
}

/**
 * The answer of a replica in normal status: its view and the nonce it answers. The primary also
 * sends its op-number and commit-number (`primary`), which the recovering replica fetches up to
 * (GETSTATE) before it takes part again: the paper sends the log itself, unbounded.
 */
export interface RecoveryResponse extends Envelope {
  readonly type: 'recovery-response';
  readonly view: View;
  readonly nonce: number;
  readonly primary: boolean;
  readonly opNumber: OpNumber;
  readonly commit: OpNumber;
}

/** A backup asks the primary for a read point on behalf of its client. */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'read-index';
  readonly view: View;
  readonly requestId: string;
}

/** The primary's read point for a forwarded request: an op it committed in its view after the request arrived. */
export interface ReadIndexResponse extends Envelope {
  readonly type: 'read-index-response';
  readonly view: View;
  readonly requestId: string;
  readonly index: OpNumber;
}

export type VrMessage =
  | Prepare | PrepareOk | Commit | StartViewChange | DoViewChange | StartView | GetState | NewState | NewStateSnapshot
  | Recovery | RecoveryResponse | ReadIndexRequest | ReadIndexResponse;

export interface VrLimits {
  /** A backup that hears nothing from its primary for this many ticks (randomised up to twice it) starts a view change; also how long a view change may take before the next. */
  readonly viewChangeTimeoutTicks: number;
  /** The primary sends COMMIT at least this often. */
  readonly heartbeatIntervalTicks: number;
  /** Batching: ops per PREPARE (and per DO-VIEW-CHANGE, START-VIEW and NEWSTATE). */
  readonly maxOpsPerMessage: number;
  /** Batching: payload bytes per message that carries ops (at least one op is always sent), so a batch of large ops fits a frame. */
  readonly maxBytesPerMessage: number;
  /** Pipelining: ops prepared but not yet committed; more proposals get TooManyRequests. */
  readonly maxInflightOps: number;
  /** Committed ops handed to the driver per Ready. */
  readonly maxApplyPerReady: number;
  /** Reads waiting for their read point (at the primary, and forwarded ones waiting at a backup). */
  readonly maxPendingReads: number;
  /** Ticks between two GETSTATEs a replica sends for the same gap (the answer may be lost). */
  readonly getStateRetryTicks: number;
  /**
   * Ticks between two sends of a replica's START-VIEW-CHANGE (and of its DO-VIEW-CHANGE, once
   * sent) while its view change goes on: one lost message must not cost the whole view, whose
   * timeout grows with each failed view change (see failedViewChanges).
   */
  readonly viewChangeResendTicks: number;
  /** Largest command propose() accepts, in bytes (the member's maxCommandBytes when not given). */
  readonly maxProposalBytes: number;
  /**
   * Keep no log on disk (the paper's model): a replica that restarts has lost its state and runs
   * the recovery protocol (RECOVERY / RECOVERYRESPONSE with a nonce) before it takes part again.
   * Safe only while at most f replicas are down at once: see docs/vr.md.
   */
  readonly diskless: boolean;
}

/** What one op costs a message besides its bytes (index, view, kind and their encoding). */
export const OP_OVERHEAD_BYTES = 64;

export const DEFAULT_VR_LIMITS: VrLimits = {
  viewChangeTimeoutTicks: 10,
  heartbeatIntervalTicks: 2,
  maxOpsPerMessage: 64,
  maxBytesPerMessage: 1024 * 1024,
  maxInflightOps: 4096,
  maxApplyPerReady: 1024,
  maxPendingReads: 4096,
  getStateRetryTicks: 3,
  viewChangeResendTicks: 3,
  // etcd's default --max-request-bytes (1.5 MiB) and room for the command's own encoding.
  maxProposalBytes: 1_572_864 + 4096,
  diskless: false,
};
