/** The driver's named limits, each with its default. */

export interface DriverLimits {
  /** Take a state machine snapshot (and let the log be compacted) every this many applied entries. */
  readonly snapshotEveryEntries: number;
  /**
   * A state machine that encodes its snapshot in slices (StateMachine.beginSnapshot) encodes about
   * this many bytes per turn of the event loop: tens of milliseconds, so that heartbeats and
   * elections are not held back by a snapshot of hundreds of MiB.
   */
  readonly snapshotSliceBytes: number;
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
  /** Quorum client model: clients per member, each with one request in flight (timestamps increase per client). */
  readonly quorumClientsPerMember: number;
  /** Quorum client model: a request with no accepted result is sent to every replica again after this long. */
  readonly quorumClientRetryMs: number;
  /** Peer messages refused by the schema are logged at most once per this interval (with how many since). */
  readonly invalidMessageLogIntervalMs: number;
}

export const DEFAULT_DRIVER_LIMITS: DriverLimits = {
  snapshotEveryEntries: 10_000,
  snapshotSliceBytes: 4 * 1024 * 1024,
  proposalTimeoutMs: 7_000,
  readTimeoutMs: 7_000,
  maxPendingProposals: 10_000,
  maxPendingReads: 10_000,
  maxCommandBytes: 1_572_864 + 4096,
  quorumClientsPerMember: 32,
  quorumClientRetryMs: 1_000,
  invalidMessageLogIntervalMs: 10_000,
};

/**
 * `DEFAULT_DRIVER_LIMITS` with the limits `given` sets (as `{ ...DEFAULT_DRIVER_LIMITS, ...given }`),
 * built field by field so that every driver's limits have one shape (code reading them on the
 * hot path is not thrown away when a caller sets other fields).
 */
export function driverLimits(given: Partial<DriverLimits> = {}): DriverLimits {
  const pick = <K extends keyof DriverLimits>(k: K): DriverLimits[K] => (Object.prototype.hasOwnProperty.call(given, k) ? given[k] as DriverLimits[K] : DEFAULT_DRIVER_LIMITS[k]);
  return {
    snapshotEveryEntries: pick('snapshotEveryEntries'),
    snapshotSliceBytes: pick('snapshotSliceBytes'),
    proposalTimeoutMs: pick('proposalTimeoutMs'),
    readTimeoutMs: pick('readTimeoutMs'),
    maxPendingProposals: pick('maxPendingProposals'),
    maxPendingReads: pick('maxPendingReads'),
    maxCommandBytes: pick('maxCommandBytes'),
    quorumClientsPerMember: pick('quorumClientsPerMember'),
    quorumClientRetryMs: pick('quorumClientRetryMs'),
    invalidMessageLogIntervalMs: pick('invalidMessageLogIntervalMs'),
  };
}
