/**
 * What a replica keeps of the CHECKPOINTs it is sent (its checkpoint claims) is bounded by
 * MAX_CHECKPOINT_CLAIMS_PER_REPLICA claims per replica, whatever a liar signs: a liar that signs
 * CHECKPOINTs for ever more sequence numbers (checkpoints nobody reached) must not make it keep
 * an entry per sequence number; and which claim goes past the limit must leave a liar no way to
 * push out an honest replica's latest (checkpoint-liar-claims-ahead.txt has the liar's own).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import { checkpointPayload, MAX_CHECKPOINT_CLAIMS_PER_REPLICA, PbftReplica, type PbftMessage } from '../../../src/protocols/pbft/index.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';

const IDS = ['n1', 'n2', 'n3', 'n4'] as NodeId[];

/** Backup n2 of N = 4 (f = 1), and CHECKPOINTs to it signed by `by` (sent by n4, the liar, which may relay any). */
function replicaAndClaims(): { replica: PbftReplica; claim: (seq: number, digest: string, by?: string) => PbftMessage } {
  const keyring = new SimKeyring(new Prng(7));
  const replica = new PbftReplica({ id: 'n2' as NodeId, membership: { voters: IDS, outgoingVoters: [], learners: [] }, random: new Prng(1), authenticator: keyring.authenticatorFor('n2') });
  const claim = (seq: number, digest: string, by = 'n4'): PbftMessage => ({
    type: 'checkpoint', from: 'n4' as NodeId, to: 'n2' as NodeId,
    checkpoint: { seq, stateDigest: digest, replica: by as NodeId, signature: keyring.authenticatorFor(by).sign(checkpointPayload(seq, digest, by as NodeId)) },
  });
  return { replica, claim };
}

/** The sequence numbers the replica keeps claims under (an entry each, empty or not). */
function claimEntries(replica: PbftReplica): Map<number, Map<NodeId, unknown>> {
  return (replica as unknown as { checkpointClaims: Map<number, Map<NodeId, unknown>> }).checkpointClaims;
}

describe('PBFT checkpoint claims', () => {
  it(`a liar's CHECKPOINTs at ever more sequence numbers leave at most MAX_CHECKPOINT_CLAIMS_PER_REPLICA (${MAX_CHECKPOINT_CLAIMS_PER_REPLICA}) entries`, () => {
    const { replica, claim } = replicaAndClaims();
    const interval = replica.checkpointIntervalSeqs;
    for (let i = 1; i <= 1_000; i++) replica.step(claim(i * interval, 'ahead'));
    assert.equal(replica.status().invalidAuthenticators, 0);
    const entries = claimEntries(replica);
    assert.equal([...entries.values()].reduce((n, m) => n + m.size, 0), MAX_CHECKPOINT_CLAIMS_PER_REPLICA);
    assert.ok(entries.size <= MAX_CHECKPOINT_CLAIMS_PER_REPLICA, `${entries.size} sequence numbers kept, ${[...entries.values()].filter((m) => m.size === 0).length} of them with no claim`);
  });

  it('an honest replica\'s old CHECKPOINT a liar replays does not push out its latest, not yet backed', () => {
    // n2 holds n3's claims at the 2nd to 5th checkpoints, n1 backing all but the latest (n1's
    // claim there is still on its way). n4 replays n3's CHECKPOINT at the 1st, which n2 has
    // forgotten: one of n3's claims must go; not the latest, which n2 needs once n1's arrives.
    const { replica, claim } = replicaAndClaims();
    const k = replica.checkpointIntervalSeqs;
    for (let i = 1; i <= 4; i++) replica.step(claim(i * k, `s${i}`, 'n1'));
    for (let i = 2; i <= 5; i++) replica.step(claim(i * k, `s${i}`, 'n3'));
    replica.step(claim(k, 's1', 'n3'));
    assert.equal(replica.status().invalidAuthenticators, 0);
    const entries = claimEntries(replica);
    assert.ok(entries.get(5 * k)?.has('n3' as NodeId), `n3's claim at ${5 * k} was pushed out by its replayed one at ${k}`);
    assert.equal([...entries.values()].filter((m) => m.has('n3' as NodeId)).length, MAX_CHECKPOINT_CLAIMS_PER_REPLICA);
  });

  it('the claims of a stable proof count together, though none is backed when it arrives', () => {
    // n2 holds four claims each of n1 and n3 above the 1st checkpoint, none backed yet. A stable
    // proof of the 1st arrives, a claim at a time: each is the lowest of its replica's and backed
    // by fewer than f others when it comes, and must still be kept for the next to count with it.
    const { replica, claim } = replicaAndClaims();
    const k = replica.checkpointIntervalSeqs;
    for (let i = 2; i <= 5; i++) replica.step(claim(i * k, `s${i}`, 'n1'));
    for (let i = 6; i <= 9; i++) replica.step(claim(i * k, `s${i}`, 'n3'));
    for (const by of ['n1', 'n3', 'n4']) replica.step(claim(k, 's1', by));
    assert.deepEqual([...claimEntries(replica).get(k)?.keys() ?? []].sort(), ['n1', 'n3', 'n4']);
  });
});
