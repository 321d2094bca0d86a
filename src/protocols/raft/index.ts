import type { ProtocolDefinition } from '../../core/protocol.js';
import type { NodeId } from '../../core/ids.js';
import { RaftReplica } from './raft.js';
import { assertKnownMutant, RAFT_MUTANTS } from './mutants.js';
import { raftMessageValidator } from './validate.js';
import { DEFAULT_MAX_CLOCK_DRIFT, DEFAULT_RAFT_LIMITS, type ConfigChange, type RaftHardState, type RaftMessage, type RaftOptions } from './types.js';

export { RaftReplica, MAX_APPLY_ENTRIES_PER_READY, MAX_SNAPSHOT_BYTES } from './raft.js';
export { RAFT_MUTANTS, type RaftMutant } from './mutants.js';
export { encodeConfigChange, decodeConfigChange } from './config.js';
export * from './types.js';
export * from './validate.js';

/** Batch sizes the simulator draws from: small batches let old-term entries travel apart from a new leader's. */
const SIM_BATCH_SIZES = [1, 2, 4, 64] as const;
const SIM_INFLIGHT_WINDOWS = [1, 2, 4, 256] as const;
const SIM_UNCOMMITTED_LIMITS = [4, 10_000] as const;
/**
 * Snapshot chunk sizes the simulator draws from: small ones too, so that transfers of many chunks
 * happen in every sweep, but none so small that a state grown large with its writes' pads
 * (hundreds of KiB) takes thousands of them: no deployment would, and it would not catch up in
 * the time the simulator allows.
 */
const SIM_SNAPSHOT_CHUNKS = [1024, 4096, 16 * 1024, 64 * 1024] as const;

export const raftProtocol: ProtocolDefinition<RaftMessage, RaftHardState, RaftReplica> = {
  name: 'raft',
  summary: 'Raft with pre-vote, check-quorum, joint and single-server membership changes, ReadIndex and lease reads',
  faultModel: 'crash',
  bookClaims: [6, 7, 8, 20],
  bookClaimOptions: { 20: { preVote: false, checkQuorum: false } },
  mutants: RAFT_MUTANTS,
  optionNames: [...Object.keys(DEFAULT_RAFT_LIMITS), 'preVote', 'checkQuorum', 'readOnly', 'maxClockDrift', 'disableProposalForwarding'],
  timingOptions(t) {
    return {
      electionTimeoutTicks: Math.max(2, Math.round(t.electionTimeoutMs / t.tickMs)),
      heartbeatIntervalTicks: Math.max(1, Math.round(t.heartbeatIntervalMs / t.tickMs)),
      preVote: true,
      checkQuorum: true,
    };
  },
  simVariant(random, t) {
    const electionTimeoutTicks = Math.max(2, Math.round(t.electionTimeoutMs / t.tickMs));
    const checkQuorum = random.chance(0.5);
    return {
      maxEntriesPerMessage: random.pick(SIM_BATCH_SIZES),
      preVote: random.chance(0.5),
      checkQuorum,
      // A short election timeout (few distinct random timeouts) makes rival candidates of one
      // term common: the situation in which a forgotten vote elects two leaders.
      electionTimeoutTicks: random.chance(0.5) ? electionTimeoutTicks : Math.max(4, Math.ceil(electionTimeoutTicks / 2)),
      // Lease reads need check-quorum; half of those runs serve reads from the lease (a lease that
      // outlives its quorum shows only in a few runs of those: pauses, skew and partitions at once).
      readOnly: checkQuorum && random.chance(1 / 2) ? 'lease-based' : 'safe',
      // Small windows and limits in some runs, so that a window full of lost appends, a backlog
      // at the uncommitted limit and a snapshot of many chunks all happen.
      maxInflightMessages: random.pick(SIM_INFLIGHT_WINDOWS),
      maxUncommittedEntries: random.pick(SIM_UNCOMMITTED_LIMITS),
      snapshotChunkBytes: random.pick(SIM_SNAPSHOT_CHUNKS),
    };
  },
  messageBudgetOptions: (bytes) => ({ maxBytesPerMessage: bytes }),
  clockDriftBound: (options) => (options['readOnly'] === 'lease-based' ? Number(options['maxClockDrift'] ?? DEFAULT_MAX_CLOCK_DRIFT) : null),
  create(options) {
    if (options.mutant !== undefined) assertKnownMutant(options.mutant);
    return new RaftReplica(options as RaftOptions);
  },
  messageValidator: raftMessageValidator,
  client: { kind: 'leader' },
  keys: 'none',
  bootstrap(snapshot) {
    return { hardState: { term: snapshot.meta.term, vote: null, commit: snapshot.meta.index }, entries: [], snapshot };
  },
  membership: {
    proposeConfigChange: (replica, change) => replica.proposeConfigChange(change as ConfigChange),
    transferLeadership: (replica, target: NodeId) => replica.transferLeadership(target),
  },
  logView: (replica) => replica,
};
