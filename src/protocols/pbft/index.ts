import type { ProtocolDefinition } from '../../core/protocol.js';
import { assert } from '../../core/assert.js';
import { QuorateError } from '../../core/errors.js';
import { PbftReplica } from './pbft.js';
import { assertKnownPbftMutant, PBFT_MUTANTS } from './mutants.js';
import { BftClient } from './client.js';
import { PbftHost } from './host.js';
import { pbftAdversary } from './adversary.js';
import { pbftMessageValidator } from './validate.js';
import type { PbftHardState, PbftMessage, PbftOptions } from './types.js';

export { PbftReplica, GENESIS_DIGEST, checkpointServiceState, checkpointClientTable } from './pbft.js';
export { PBFT_MUTANTS, type PbftMutant } from './mutants.js';
export { BftClient, type Accepted } from './client.js';
export { PbftHost } from './host.js';
export { pbftAdversary, PbftAdversary, BYZANTINE_KINDS, BYZANTINE_DESCRIPTIONS, type ByzantineKind } from './adversary.js';
export * from './payloads.js';
export * from './types.js';
export * from './validate.js';

/**
 * Sequence numbers between checkpoints for a member. Each stable checkpoint writes the whole
 * state machine to a snapshot file, so a member checkpoints less often than the core's default
 * (16), which suits the simulator's small states.
 */
export const MEMBER_CHECKPOINT_INTERVAL_SEQS = 128;
/** Checkpoint intervals and batch sizes the simulator draws from. */
const SIM_CHECKPOINT_INTERVALS = [4, 8, 16] as const;
const SIM_BATCH_SIZES = [1, 4, 16] as const;
/** State part sizes the simulator draws from (one per run, for every replica): small, so a state transfer takes several parts. */
const SIM_STATE_PART_BYTES = [1024, 4096, 64 * 1024] as const;

/** PBFT for drivers: `create` needs an `authenticator` (each member's keys). */
export const pbftProtocol: ProtocolDefinition<PbftMessage, PbftHardState, PbftReplica> = {
  name: 'pbft',
  summary: 'PBFT (Castro & Liskov): tolerates f lying replicas of 3f + 1; clients accept f + 1 matching replies',
  faultModel: 'byzantine',
  bookClaims: [9, 10, 11, 13],
  mutants: PBFT_MUTANTS,
  optionNames: [
    'checkpointIntervalSeqs', 'logWindowSeqs', 'maxBatchRequests', 'maxInFlightBatches', 'requestTimeoutTicks', 'viewChangeTimeoutTicks',
    'retransmitTicks', 'announceTicks', 'maxBatchBytes', 'maxRequestBytes', 'statePartBytes', 'maxInflightStateBytes',
  ],
  timingOptions(t) {
    // A backup waits two election timeouts for its request, forwards it, and waits two more
    // before a view change: one replica that gives up early is left out of the view the others
    // keep (f + 1 are needed to change it), so a primary that only restarts must not cause one.
    const electionTicks = Math.max(2, Math.round(t.electionTimeoutMs / t.tickMs));
    return {
      requestTimeoutTicks: 2 * electionTicks,
      viewChangeTimeoutTicks: electionTicks,
      retransmitTicks: Math.max(1, Math.round((2 * t.heartbeatIntervalMs) / t.tickMs)),
      announceTicks: Math.max(1, Math.round((10 * t.heartbeatIntervalMs) / t.tickMs)),
      checkpointIntervalSeqs: MEMBER_CHECKPOINT_INTERVAL_SEQS,
    };
  },
  simVariant(random) {
    const interval = random.int(0, SIM_CHECKPOINT_INTERVALS.length - 1);
    const batch = random.int(0, SIM_BATCH_SIZES.length - 1);
    return {
      requestTimeoutTicks: 30, viewChangeTimeoutTicks: 30, retransmitTicks: 10, announceTicks: 50,
      checkpointIntervalSeqs: SIM_CHECKPOINT_INTERVALS[interval],
      maxBatchRequests: SIM_BATCH_SIZES[batch],
      // Drawn with the two above, not from the generator: another draw would change every run.
      // (interval + batch) mod 3 pairs each part size with each interval and each batch size.
      statePartBytes: SIM_STATE_PART_BYTES[(interval + batch) % SIM_STATE_PART_BYTES.length],
    };
  },
  messageBudgetOptions: (bytes) => ({ maxBatchBytes: bytes }),
  create(options) {
    if (options.mutant !== undefined) assertKnownPbftMutant(options.mutant);
    assert(options.authenticator !== undefined, 'PBFT needs an injected authenticator');
    return new PbftReplica(options as PbftOptions);
  },
  messageValidator: pbftMessageValidator,
  createHost: (context) => new PbftHost(context.replica as PbftReplica, context),
  client: {
    kind: 'quorum',
    createClient: (auth, replicas, firstTimestamp, mutant, maxCommandBytes) => new BftClient(auth, replicas, firstTimestamp, mutant, maxCommandBytes),
  },
  adversary: pbftAdversary,
  keys: 'per-member',
  bootstrap() {
    throw new QuorateError('INVALID_ARGUMENT', 'a pbft member cannot start from a snapshot file: its checkpoints carry the signatures of 2f + 1 replicas; restore into a cluster of a crash-fault protocol (quorate help protocols), or start an empty pbft cluster and write the keys through the KV API');
  },
};
