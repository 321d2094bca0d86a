import type { ProtocolDefinition } from '../../core/replica.js';
import { MultiPaxosReplica, type MultiPaxosOptions } from './multi-paxos.js';
import { assertKnownPaxosMutant, PAXOS_MUTANTS } from './mutants.js';
import { PaxosMonitor } from './monitor.js';
import type { PaxosHardState, PaxosMessage } from './types.js';
import { DEFAULT_PAXOS_LIMITS } from './config.js';

export { MultiPaxosReplica, type MultiPaxosOptions, type MultiPaxosRole, type MultiPaxosStatus } from './multi-paxos.js';
export { PAXOS_MUTANTS, type PaxosMutant } from './mutants.js';
export { PaxosMonitor, valueDigest } from './monitor.js';
export * from './ballot.js';
export * from './config.js';
export * from './types.js';
export * from './single-decree.js';

export const multiPaxosProtocol: ProtocolDefinition<PaxosMessage, PaxosHardState> = {
  name: 'multipaxos',
  faultModel: 'crash',
  mutants: PAXOS_MUTANTS,
  optionNames: [...Object.keys(DEFAULT_PAXOS_LIMITS), 'phase1QuorumSize', 'phase2QuorumSize'],
  create(options) {
    if (options.mutant !== undefined) assertKnownPaxosMutant(options.mutant);
    return new MultiPaxosReplica(options as MultiPaxosOptions);
  },
  createMonitor(options) {
    return new PaxosMonitor(options);
  },
};
