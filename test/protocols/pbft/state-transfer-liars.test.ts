/**
 * PBFT state transfer in parts against a lying replica, driving one replica's core directly: n4
 * has executed nothing and learns of a stable checkpoint (2f + 1 signed CHECKPOINTs), fetches its
 * meta-data and then its parts; n1, n2 and n3 are played by the test with their own keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../src/core/prng.js';
import { pack } from '../../../src/core/codec.js';
import type { NodeId } from '../../../src/core/ids.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';
import { PbftReplica, checkpointPayload, checkpointDigestOf, stateMetaOf, type PbftMessage, type StateMeta } from '../../../src/protocols/pbft/index.js';

const ids = ['n1', 'n2', 'n3', 'n4'] as NodeId[];
const n4 = 'n4' as NodeId;
const PART = 16;

interface Setup {
  readonly keyring: SimKeyring;
  readonly victim: PbftReplica;
  /** Messages n4 sent since the last call. */
  readonly sent: () => PbftMessage[];
  /** A CHECKPOINT signed by `signer`, delivered by `from` (a liar may relay what others signed). */
  readonly checkpoint: (signer: NodeId, seq: number, digest: string, from?: NodeId) => PbftMessage;
  /** Makes `seq` stable at n4 with a state of `bytes` bytes; returns its state, meta-data and digest, and what n4 sent. */
  readonly prove: (seq: number, bytes: number) => { state: Uint8Array; meta: StateMeta; digest: string; sent: PbftMessage[] };
  readonly stateMeta: (from: NodeId, seq: number, digest: string, meta: StateMeta) => PbftMessage;
  readonly statePart: (from: NodeId, seq: number, digest: string, part: number, data: Uint8Array) => PbftMessage;
}

function setup(mutant?: string): Setup {
  const keyring = new SimKeyring(new Prng(7));
  const victim = new PbftReplica({
    id: n4, membership: { voters: ids, outgoingVoters: [], learners: [] }, random: new Prng(1),
    authenticator: keyring.authenticatorFor(n4), checkpointIntervalSeqs: 4, statePartBytes: PART, maxInflightStateBytes: 2 * PART,
    ...(mutant === undefined ? {} : { mutant }),
  });
  const sent = (): PbftMessage[] => (victim.hasReady() ? [...victim.ready().send] : []);
  const checkpoint = (signer: NodeId, seq: number, digest: string, from: NodeId = signer): PbftMessage => ({
    type: 'checkpoint', from, to: n4,
    checkpoint: { seq, stateDigest: digest, replica: signer, signature: keyring.authenticatorFor(signer).sign(checkpointPayload(seq, digest, signer)) },
  });
  const proofs = new Map<number, PbftMessage[]>();
  const prove = (seq: number, bytes: number): { state: Uint8Array; meta: StateMeta; digest: string; sent: PbftMessage[] } => {
    const auth = keyring.authenticatorFor('n1');
    const state = pack({ service: new Uint8Array(bytes).map((_, i) => (i === bytes - 1 ? seq : i * 7) & 0xff), clients: [] });
    const meta = stateMetaOf(auth, state, PART);
    const digest = checkpointDigestOf(auth, meta);
    const claims = (['n1', 'n2', 'n3'] as NodeId[]).map((r) => checkpoint(r, seq, digest));
    proofs.set(seq, claims);
    sent();
    for (const c of claims) victim.step(c);
    return { state, meta, digest, sent: sent() };
  };
  const stateMeta = (from: NodeId, seq: number, digest: string, meta: StateMeta): PbftMessage => ({
    type: 'state-meta', from, to: n4, seq, stateDigest: digest, meta,
    proof: proofs.get(seq)!.map((m) => (m as Extract<PbftMessage, { type: 'checkpoint' }>).checkpoint),
  });
  const statePart = (from: NodeId, seq: number, digest: string, part: number, data: Uint8Array): PbftMessage => ({ type: 'state-part', from, to: n4, seq, stateDigest: digest, part, data });
  return { keyring, victim, sent, checkpoint, prove, stateMeta, statePart };
}

type FetchState = Extract<PbftMessage, { type: 'fetch-state' }>;
const fetches = (ms: PbftMessage[]): FetchState[] => ms.filter((m): m is FetchState => m.type === 'fetch-state');

test('a liar sending bad parts nobody asked it for does not make the replica catching up ask again (each would cost an honest replica a whole part)', () => {
  const s = setup();
  const { state, meta, digest, sent } = s.prove(4, 100);
  assert.deepEqual(fetches(sent).map((f) => f.part), [null]);
  s.victim.step(s.stateMeta(fetches(sent)[0]!.to, 4, digest, meta));
  const asked = fetches(s.sent());
  assert.ok(asked.length >= 1 && asked[0]!.part === 0);
  // A replica that was not asked for part 0 sends 20 bad ones (a byte short: no digest to compute).
  const liar = (['n1', 'n2', 'n3'] as NodeId[]).find((r) => r !== asked[0]!.to)!;
  for (let i = 0; i < 20; i++) s.victim.step(s.statePart(liar, 4, digest, 0, state.subarray(0, PART - 1)));
  assert.equal(s.victim.status().invalidAuthenticators, 20);
  assert.deepEqual(fetches(s.sent()), [], 'no FETCH-STATE for parts already asked of someone else');
  // The replica asked answers: the part is taken, and the transfer goes on to the end.
  s.victim.step(s.statePart(asked[0]!.to, 4, digest, 0, state.subarray(0, PART)));
  for (let p = 1; p < meta.partDigests.length; p++) s.victim.step(s.statePart(asked[0]!.to, 4, digest, p, state.subarray(p * PART, (p + 1) * PART)));
  assert.equal(s.victim.status().stableCheckpoint, 4);
});

test('a bad part from the replica asked for it is asked again of another', () => {
  const s = setup();
  const { state, meta, digest, sent } = s.prove(4, 100);
  s.victim.step(s.stateMeta(fetches(sent)[0]!.to, 4, digest, meta));
  const asked = fetches(s.sent()).find((f) => f.part === 0)!;
  const bad = state.slice(0, PART);
  bad[3] = bad[3]! ^ 1;
  s.victim.step(s.statePart(asked.to, 4, digest, 0, bad));
  const again = fetches(s.sent()).filter((f) => f.part === 0);
  assert.equal(again.length, 1);
  assert.notEqual(again[0]!.to, asked.to);
});

test('f liars and an honest replica\'s old CHECKPOINT below the stable one (signed with another part size, say before an upgrade), or claims at a checkpoint it has not made, do not stop a replica', () => {
  const s = setup();
  // n4 catches up to a stable checkpoint at 8, made with its part size.
  const { state, meta, digest, sent } = s.prove(8, 40);
  s.victim.step(s.stateMeta(fetches(sent)[0]!.to, 8, digest, meta));
  s.sent();
  for (let p = 0; p < meta.partDigests.length; p++) s.victim.step(s.statePart('n1' as NodeId, 8, digest, p, state.subarray(p * PART, (p + 1) * PART)));
  assert.equal(s.victim.status().stateTransfers, 1);
  // n1 lies about the part size at a current checkpoint, and relays n2's CHECKPOINT at 4 made
  // with another part size (genuinely signed by n2, before the cluster changed statePartBytes).
  s.victim.step(s.checkpoint('n1' as NodeId, 12, 'feedface@64'));
  s.victim.step(s.checkpoint('n2' as NodeId, 4, 'cafebabe@64', 'n1' as NodeId));
  assert.equal(s.victim.status().invalidAuthenticators, 0);
  // Nor do claims at a checkpoint n4 has not made itself (a member that restarted behind the
  // others after the cluster changed its part size sees their later checkpoints, made with the old
  // size). Claims that stop a replica are tested in state-parts.test.ts.
  s.victim.step(s.checkpoint('n2' as NodeId, 12, 'cafebabe@64'));
  s.victim.step(s.checkpoint('n3' as NodeId, 12, 'cafebabe@64'));
  assert.equal(s.victim.status().stableCheckpoint, 8);
});

test('the mutants put both back', () => {
  const s = setup('refetch-on-any-bad-part');
  const { state, meta, digest, sent } = s.prove(4, 100);
  s.victim.step(s.stateMeta(fetches(sent)[0]!.to, 4, digest, meta));
  const asked = fetches(s.sent());
  const liar = (['n1', 'n2', 'n3'] as NodeId[]).find((r) => r !== asked[0]!.to)!;
  for (let i = 0; i < 5; i++) s.victim.step(s.statePart(liar, 4, digest, 0, state.subarray(0, PART - 1)));
  assert.equal(fetches(s.sent()).length, 5);

  const t = setup('count-stale-part-size-claims');
  const p = t.prove(8, 40);
  t.victim.step(t.stateMeta(fetches(p.sent)[0]!.to, 8, p.digest, p.meta));
  for (let i = 0; i < p.meta.partDigests.length; i++) t.victim.step(t.statePart('n1' as NodeId, 8, p.digest, i, p.state.subarray(i * PART, (i + 1) * PART)));
  t.victim.step(t.checkpoint('n1' as NodeId, 12, 'feedface@64'));
  assert.throws(() => t.victim.step(t.checkpoint('n2' as NodeId, 4, 'cafebabe@64', 'n1' as NodeId)), /statePartBytes must be equal/);
});

test('a cluster restarted with another statePartBytes (every member stopped, then started on the new size) goes on: the stable checkpoints the members announce again, made with the old size, do not stop it', () => {
  for (const mutant of [undefined, 'count-stale-part-size-claims']) {
    const keyring = new SimKeyring(new Prng(7));
    const auth = keyring.authenticatorFor('n1');
    // Checkpoint 8 became stable with parts of 32 bytes; every member restarts with 16.
    const state = pack({ service: new Uint8Array(50).fill(3), clients: [] });
    const digest = checkpointDigestOf(auth, stateMetaOf(auth, state, 32));
    const proof = (['n1', 'n2', 'n3'] as NodeId[]).map((r) => ({ seq: 8, stateDigest: digest, replica: r, signature: keyring.authenticatorFor(r).sign(checkpointPayload(8, digest, r)) }));
    const replica = new PbftReplica({
      id: n4, membership: { voters: ids, outgoingVoters: [], learners: [] }, random: new Prng(1),
      authenticator: keyring.authenticatorFor(n4), checkpointIntervalSeqs: 4, statePartBytes: 16, ...(mutant === undefined ? {} : { mutant }),
      restored: {
        hardState: null, entries: [],
        snapshot: { meta: { index: 8 as never, term: 0 as never, membership: { voters: ids, outgoingVoters: [], learners: [] } }, data: pack({ state, digest, proof, partBytes: 32 }) },
      },
    });
    assert.equal(replica.status().stableCheckpoint, 8);
    // Each member announces its stable checkpoint again (announce(): its own CHECKPOINTs from the stable one on).
    const announce = (): void => { for (const c of proof) replica.step({ type: 'checkpoint', from: c.replica, to: n4, checkpoint: c }); };
    if (mutant === undefined) announce();
    else assert.throws(announce, /statePartBytes must be equal on every replica/);
  }
});

test('a transfer overtaken by a later stable checkpoint keeps the parts whose digests did not change', () => {
  for (const mutant of [undefined, 'restart-overtaken-transfer']) {
    const s = setup(mutant);
    // Two states of 7 parts that differ in their last byte only.
    const a = s.prove(4, 100);
    s.victim.step(s.stateMeta('n1' as NodeId, 4, a.digest, a.meta));
    for (let p = 0; p < 5; p++) s.victim.step(s.statePart('n1' as NodeId, 4, a.digest, p, a.state.subarray(p * PART, (p + 1) * PART)));
    s.sent();
    const b = s.prove(8, 100);
    const changed = b.meta.partDigests.filter((d, i) => d !== a.meta.partDigests[i]).length;
    assert.ok(changed >= 1 && changed < b.meta.partDigests.length);
    s.victim.step(s.stateMeta('n2' as NodeId, 8, b.digest, b.meta));
    const asked = fetches(s.sent()).map((f) => f.part!);
    if (mutant !== undefined) {
      assert.equal(asked[0], 0, 'the mutant begins again from part 0');
      continue;
    }
    // Parts 0 to 4 of checkpoint 4 whose digests are unchanged are kept: only the others are asked for.
    for (const p of asked) assert.ok(p >= 5 || b.meta.partDigests[p] !== a.meta.partDigests[p], `part ${p} asked again`);
    for (let p = 0; p < b.meta.partDigests.length; p++) s.victim.step(s.statePart('n2' as NodeId, 8, b.digest, p, b.state.subarray(p * PART, (p + 1) * PART)));
    assert.equal(s.victim.status().stableCheckpoint, 8);
    assert.equal(s.victim.status().invalidAuthenticators, 0);
  }
});
