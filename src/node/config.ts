/**
 * Configuration of one replicated node: who it is, where it keeps its data, how it reaches its
 * peers, and the named limits of its runtime. Every limit has a default here.
 */
import type { NodeId } from '../core/ids.js';
import type { PeerAddress } from '../transport/index.js';

export interface RuntimeLimits {
  /** Wall-clock length of one protocol tick. Election timeout = tickMs * electionTimeoutTicks. */
  readonly tickMs: number;
  /** Take a state machine snapshot (and let the log be compacted) every this many applied entries. */
  readonly snapshotEveryEntries: number;
  /** A proposal not applied within this time is answered with a timeout (it may still commit). */
  readonly proposalTimeoutMs: number;
  /** A linearizable read whose read point is not confirmed within this time fails. */
  readonly readTimeoutMs: number;
  /** Proposals waiting for their result, per node (local and forwarded). Over → TooManyRequests. */
  readonly maxPendingProposals: number;
  /** Linearizable reads waiting for a read point, per node. Over → TooManyRequests. */
  readonly maxPendingReads: number;
  /** Largest command accepted, in bytes. */
  readonly maxCommandBytes: number;
}

export const DEFAULT_RUNTIME_LIMITS: RuntimeLimits = {
  tickMs: 100,
  snapshotEveryEntries: 10_000,
  proposalTimeoutMs: 7_000,
  readTimeoutMs: 7_000,
  maxPendingProposals: 10_000,
  maxPendingReads: 10_000,
  maxCommandBytes: 1_572_864 + 4096,
};

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export const silentLogger: Logger = () => {};

export interface MemberAddresses {
  readonly id: NodeId;
  /** Where peers reach this member. */
  readonly peer: PeerAddress;
}
