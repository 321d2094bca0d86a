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
  /**
   * While a received snapshot is installed in slices, the member goes on persisting and
   * acknowledging later Readies, and holds their committed entries back until the install ends
   * (they must apply onto the installed state). At most about this many entries are held (a Ready
   * holding no entry, only read points, counts as one); once reached, the member takes no further
   * Ready until the install ends and what it held is applied: it falls silent as a member that
   * installs whole does, which is safe (only slower), where dropping held entries would not be.
   * Checked before each Ready is taken, so one Ready's entries may go past it.
   */
  readonly maxEntriesHeldWhileInstalling: number;
  /** The same bound on the held entries' bytes (their data, summed). */
  readonly maxBytesHeldWhileInstalling: number;
  /**
   * A snapshot received from a leader of at most this many bytes is decoded (in slices, apart from
   * the state) before the member acknowledges it: one that does not decode is refused, the member
   * keeps its state and the leader sends it again later. A larger one is acknowledged once durable
   * and decoded in slices after, as it is installed (see maxEntriesHeldWhileInstalling): decoding
   * first would keep the member from acknowledging anything for the whole decode (a leader short
   * of other members commits nothing meanwhile), and its acknowledgement then rests on the bytes
   * being durable alone; a decode that fails stops the member. 0: no snapshot is decoded first.
   */
  readonly maxSnapshotBytesDecodedBeforeAck: number;
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
  // The log holds these entries in memory anyway until the next snapshot of our own, which waits
  // for the install too: the queue costs references, and what it holds is applied after the
  // install a snapshotSliceBytes slice per turn. A few seconds of writes at a busy leader fit.
  maxEntriesHeldWhileInstalling: 20_000,
  maxBytesHeldWhileInstalling: 128 * 1024 * 1024,
  // Decoding a KV snapshot of 100-byte values ran at 4-7 MiB/s on a loaded machine: 4 MiB keeps
  // a member from acknowledging for about a second (an election timeout), not more.
  maxSnapshotBytesDecodedBeforeAck: 4 * 1024 * 1024,
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
    maxEntriesHeldWhileInstalling: pick('maxEntriesHeldWhileInstalling'),
    maxBytesHeldWhileInstalling: pick('maxBytesHeldWhileInstalling'),
    maxSnapshotBytesDecodedBeforeAck: pick('maxSnapshotBytesDecodedBeforeAck'),
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
