import type { ProtocolDefinition } from '../../core/protocol.js';
import { majority } from '../../core/quorum.js';
import { NO_BALLOT } from './ballot.js';
import { MultiPaxosReplica, type MultiPaxosOptions } from './multi-paxos.js';
import { assertKnownPaxosMutant, PAXOS_MUTANTS } from './mutants.js';
import { PaxosMonitor } from './monitor.js';
import type { PaxosHardState, PaxosMessage } from './types.js';
import { DEFAULT_PAXOS_LIMITS } from './config.js';
import { paxosMessageValidator } from './validate.js';
import type { PaxosConfigChange } from './membership.js';

export { MultiPaxosReplica, type MultiPaxosOptions, type MultiPaxosRole, type MultiPaxosStatus } from './multi-paxos.js';
export { PAXOS_MUTANTS, type PaxosMutant } from './mutants.js';
export { PaxosConfig, InvalidConfigChange, encodeConfigEntry, configOfEntry, MAX_CONFIG_ENTRY_BYTES, type PaxosConfigChange } from './membership.js';
export { PaxosMonitor, valueDigest } from './monitor.js';
export * from './ballot.js';
export * from './config.js';
export * from './types.js';
export * from './single-decree.js';
export * from './validate.js';

/** Batch sizes the simulator draws from. */
const SIM_BATCH_SIZES = [1, 2, 4, 64] as const;
const SIM_SNAPSHOT_CHUNKS = [1024, 4096, 64 * 1024] as const;

export const multiPaxosProtocol: ProtocolDefinition<PaxosMessage, PaxosHardState, MultiPaxosReplica> = {
  name: 'multipaxos',
  summary: 'Multi-Paxos with a stable leader, batched and pipelined phase 2, flexible quorums, and joint membership changes',
  faultModel: 'crash',
  bookClaims: [4],
  mutants: PAXOS_MUTANTS,
  optionNames: [...Object.keys(DEFAULT_PAXOS_LIMITS), 'phase1QuorumSize', 'phase2QuorumSize'],
  timingOptions(t) {
    return {
      electionTimeoutTicks: Math.max(2, Math.round(t.electionTimeoutMs / t.tickMs)),
      heartbeatIntervalTicks: Math.max(1, Math.round(t.heartbeatIntervalMs / t.tickMs)),
    };
  },
  simVariant(random, t) {
    const electionTimeoutTicks = Math.max(2, Math.round(t.electionTimeoutMs / t.tickMs));
    return {
      maxEntriesPerMessage: random.pick(SIM_BATCH_SIZES),
      checkQuorum: random.chance(0.5),
      prePrepare: random.chance(0.75),
      // Small chunks too, so that transfers of many chunks, lost and resent, happen in every sweep;
      // not so small that a state grown large with its writes' pads (hundreds of KiB) takes
      // thousands of them: no deployment would, and it would not catch up in the time allowed.
      snapshotChunkBytes: random.pick(SIM_SNAPSHOT_CHUNKS),
      electionTimeoutTicks: random.chance(0.5) ? electionTimeoutTicks : Math.max(4, Math.ceil(electionTimeoutTicks / 2)),
    };
  },
  messageBudgetOptions: (bytes) => ({ maxBytesPerMessage: bytes }),
  faultsTolerated(voters, options) {
    // Both a phase-1 and a phase-2 quorum must stay up (a leader is elected, and chooses).
    const size = (o: unknown): number => Math.min(voters, typeof o === 'number' ? o : majority(voters));
    return Math.max(0, voters - Math.max(size(options['phase1QuorumSize']), size(options['phase2QuorumSize'])));
  },
  create(options) {
    if (options.mutant !== undefined) assertKnownPaxosMutant(options.mutant);
    return new MultiPaxosReplica(options as MultiPaxosOptions);
  },
  messageValidator: paxosMessageValidator,
  createMonitor(options) {
    return new PaxosMonitor(options);
  },
  client: { kind: 'leader' },
  keys: 'none',
  bootstrap(snapshot) {
    // No promise made yet: the first leader's phase 1 runs above the snapshot.
    return { hardState: { promised: NO_BALLOT }, entries: [], snapshot, truncateFrom: null };
  },
  membership: {
    proposeConfigChange: (replica, change) => replica.proposeConfigChange(change as PaxosConfigChange),
    transferLeadership: (replica, target) => replica.transferLeadership(target),
  },
};
