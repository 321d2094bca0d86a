/**
 * What a replica keeps of the CHECKPOINTs it is sent (its checkpoint claims) is bounded by
 * MAX_CHECKPOINT_CLAIMS_PER_REPLICA claims per replica, whatever a liar signs: a liar that signs
 * CHECKPOINTs for ever more sequence numbers (checkpoints nobody reached) must not make it keep
 * an entry per sequence number.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import { checkpointPayload, MAX_CHECKPOINT_CLAIMS_PER_REPLICA, PbftReplica, type PbftMessage } from '../../../src/protocols/pbft/index.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';

const IDS = ['n1', 'n2', 'n3', 'n4'] as NodeId[];

function replicaAndLiar(): { replica: PbftReplica; claim: (seq: number) => PbftMessage } {
  const keyring = new SimKeyring(new Prng(7));
  const replica = new PbftReplica({ id: 'n2' as NodeId, membership: { voters: IDS, outgoingVoters: [], learners: [] }, random: new Prng(1), authenticator: keyring.authenticatorFor('n2') });
  const liar = keyring.authenticatorFor('n4');
  const claim = (seq: number): PbftMessage => ({
    type: 'checkpoint', from: 'n4' as NodeId, to: 'n2' as NodeId,
    checkpoint: { seq, stateDigest: 'ahead', replica: 'n4' as NodeId, signature: liar.sign(checkpointPayload(seq, 'ahead', 'n4' as NodeId)) },
  });
  return { replica, claim };
}

/** The sequence numbers the replica keeps claims under (an entry each, empty or not). */
function claimEntries(replica: PbftReplica): Map<number, Map<NodeId, unknown>> {
  return (replica as unknown as { checkpointClaims: Map<number, Map<NodeId, unknown>> }).checkpointClaims;
}

describe('PBFT checkpoint claims', () => {
  it(`a liar's CHECKPOINTs at ever more sequence numbers leave at most MAX_CHECKPOINT_CLAIMS_PER_REPLICA (${MAX_CHECKPOINT_CLAIMS_PER_REPLICA}) entries`, () => {
    const { replica, claim } = replicaAndLiar();
    const interval = replica.checkpointIntervalSeqs;
    for (let i = 1; i <= 1_000; i++) replica.step(claim(i * interval));
    assert.equal(replica.status().invalidAuthenticators, 0);
    const entries = claimEntries(replica);
    assert.equal([...entries.values()].reduce((n, m) => n + m.size, 0), MAX_CHECKPOINT_CLAIMS_PER_REPLICA);
    assert.ok(entries.size <= MAX_CHECKPOINT_CLAIMS_PER_REPLICA, `${entries.size} sequence numbers kept, ${[...entries.values()].filter((m) => m.size === 0).length} of them with no claim`);
  });
});
