/**
 * The part size of PBFT's state transfer is cluster-wide: the checkpoint digest covers the parts'
 * digests and names the part size. A replica told by f + 1 validly signed CHECKPOINTs that they
 * use another size stops with an error naming statePartBytes; f such claims (liars, perhaps) do not
 * stop it. Claims count only above the stable checkpoint, at checkpoints the replica made itself
 * (see state-transfer-liars.test.ts for the claims that must not count).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../src/core/prng.js';
import type { Index, NodeId, Term } from '../../../src/core/ids.js';
import { pack } from '../../../src/core/codec.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';
import { PbftReplica, batchDigestOf, checkpointPayload, checkpointDigestOf, partBytesOfCheckpointDigest, stateMetaOf, type PbftMessage, type PbftSlotRecord } from '../../../src/protocols/pbft/index.js';

const ids = ['n1', 'n2', 'n3', 'n4'] as NodeId[];

/**
 * n4 restarts with sequence numbers 1 to 4 decided (empty batches) on its disk, executes them and
 * makes its own checkpoint at 4 (claims count only at a checkpoint a replica made itself).
 */
function setup(compact = true): { keyring: SimKeyring; replica: PbftReplica; claim: (from: NodeId, digest: string) => PbftMessage } {
  const keyring = new SimKeyring(new Prng(7));
  const digest = batchDigestOf(keyring.authenticatorFor('n4'), []);
  const entries = [1, 2, 3, 4].map((seq) => ({
    index: seq as Index, term: 0 as Term, kind: 'command' as const,
    data: pack({ prePrepare: null, cert: null, decided: { view: 0, digest, batch: [] } } satisfies PbftSlotRecord),
  }));
  const replica = new PbftReplica({
    id: 'n4' as NodeId, membership: { voters: ids, outgoingVoters: [], learners: [] }, random: new Prng(1),
    authenticator: keyring.authenticatorFor('n4'), checkpointIntervalSeqs: 4, statePartBytes: 32,
    restored: { hardState: null, snapshot: null, entries },
  });
  assert.equal(replica.status().lastExecuted, 4);
  if (compact) replica.compact(4 as Index, new Uint8Array([1, 2, 3]));
  const claim = (from: NodeId, digest: string): PbftMessage => ({
    type: 'checkpoint', from, to: 'n4' as NodeId,
    checkpoint: { seq: 4, stateDigest: digest, replica: from, signature: keyring.authenticatorFor(from).sign(checkpointPayload(4, digest, from)) },
  });
  return { keyring, replica, claim };
}

test('a checkpoint digest names its part size', () => {
  const keyring = new SimKeyring(new Prng(7));
  const auth = keyring.authenticatorFor('n1');
  const state = new Uint8Array(100).fill(7);
  const a = checkpointDigestOf(auth, stateMetaOf(auth, state, 16));
  const b = checkpointDigestOf(auth, stateMetaOf(auth, state, 32));
  assert.notEqual(a, b);
  assert.equal(partBytesOfCheckpointDigest(a), 16);
  assert.equal(partBytesOfCheckpointDigest(b), 32);
  assert.equal(partBytesOfCheckpointDigest('0123abcd'), null);
  assert.equal(stateMetaOf(auth, state, 16).partDigests.length, 7);
  assert.equal(stateMetaOf(auth, new Uint8Array(0), 16).partDigests.length, 0);
});

test('f replicas claiming another part size do not stop a replica; f + 1 do, with an error naming statePartBytes', () => {
  const { replica, claim } = setup();
  replica.step(claim('n1' as NodeId, 'abc@16'));
  replica.step(claim('n1' as NodeId, 'abc@16')); // the same replica again counts once
  assert.throws(() => replica.step(claim('n2' as NodeId, 'abc@16')), /statePartBytes=32 here.*n1: 16, n2: 16.*must be equal on every replica/);
});

test('a replica whose later claim names our part size no longer counts', () => {
  const { replica, claim } = setup();
  replica.step(claim('n1' as NodeId, 'abc@16'));
  replica.step(claim('n1' as NodeId, 'def@32'));
  replica.step(claim('n2' as NodeId, 'abc@16'));
  replica.step(claim('n3' as NodeId, 'abc')); // a digest from before parts names no size
  assert.equal(replica.status().invalidAuthenticators, 0);
});

test('claims that arrive before the replica makes its own checkpoint count once it has: the part-size error, not a digest mismatch', () => {
  const { replica, claim } = setup(false);
  for (const r of ['n1', 'n2', 'n3'] as NodeId[]) replica.step(claim(r, 'abc@16'));
  assert.throws(() => replica.compact(4 as Index, new Uint8Array([1, 2, 3])), /statePartBytes=32 here.*must be equal on every replica/);
});
