import type { ProtocolDefinition } from '../../core/replica.js';
import { RaftReplica } from './raft.js';
import { assertKnownMutant, RAFT_MUTANTS } from './mutants.js';
import { DEFAULT_RAFT_LIMITS, type RaftHardState, type RaftMessage, type RaftOptions } from './types.js';

export { RaftReplica, MAX_APPLY_ENTRIES_PER_READY, MAX_SNAPSHOT_BYTES } from './raft.js';
export { RAFT_MUTANTS, type RaftMutant } from './mutants.js';
export { encodeConfigChange, decodeConfigChange } from './config.js';
export * from './types.js';

export const raftProtocol: ProtocolDefinition<RaftMessage, RaftHardState> = {
  name: 'raft',
  faultModel: 'crash',
  mutants: RAFT_MUTANTS,
  optionNames: [...Object.keys(DEFAULT_RAFT_LIMITS), 'preVote', 'checkQuorum', 'readOnly'],
  create(options) {
    if (options.mutant !== undefined) assertKnownMutant(options.mutant);
    return new RaftReplica(options as RaftOptions);
  },
};
