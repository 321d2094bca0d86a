import type { ProtocolDefinition } from '../../core/replica.js';
import { assert } from '../../core/assert.js';
import { PbftReplica } from './pbft.js';
import { assertKnownPbftMutant, PBFT_MUTANTS } from './mutants.js';
import type { PbftHardState, PbftMessage, PbftOptions } from './types.js';

export { PbftReplica, GENESIS_DIGEST, checkpointServiceState } from './pbft.js';
export { PBFT_MUTANTS, type PbftMutant } from './mutants.js';
export * from './payloads.js';
export * from './types.js';

/** PBFT for drivers: `create` needs PbftOptions (an `authenticator` above all). */
export const pbftProtocol: ProtocolDefinition<PbftMessage, PbftHardState> = {
  name: 'pbft',
  faultModel: 'byzantine',
  mutants: PBFT_MUTANTS,
  optionNames: [
    'checkpointIntervalSeqs', 'logWindowSeqs', 'maxBatchRequests', 'maxInFlightBatches', 'requestTimeoutTicks', 'viewChangeTimeoutTicks',
    'retransmitTicks', 'announceTicks',
  ],
  create(options) {
    if (options.mutant !== undefined) assertKnownPbftMutant(options.mutant);
    assert((options as Partial<PbftOptions>).authenticator !== undefined, 'PBFT needs an injected authenticator');
    return new PbftReplica(options as PbftOptions);
  },
};
