/**
 * The message mutator's NEW-VIEW rewrite: a lying primary takes another replica's VIEW-CHANGE,
 * puts in it a prepared certificate that replica never had (another batch's digest, in the view
 * just below the NEW-VIEW's) under that replica's own signature, recomputes its pre-prepares from
 * the changed set as an honest primary would and signs the NEW-VIEW. A replica that checks every
 * VIEW-CHANGE whole refuses it; one that trusted a signature it verified before
 * (trust-view-change-by-signature) enters a view that re-issues a digest no quorum prepared there.
 * This is the liar the simulator lacked to catch that mutant (test/sim/mutants.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeId } from '../../../src/core/ids.js';
import { Prng, type Random } from '../../../src/core/prng.js';
import {
  GENESIS_DIGEST, newViewPayload, PbftReplica, prePreparePayload, preparePayload, viewChangePayload,
  type PbftMessage, type PreparedCertificate, type SignedNewView, type SignedViewChange,
} from '../../../src/protocols/pbft/index.js';
import { mutateMessage, REWRITE_VIEW_CHANGE_SHARE } from '../../../src/protocols/pbft/mutator.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';

const IDS = ['n1', 'n2', 'n3', 'n4'] as NodeId[];
const keyring = new SimKeyring(new Prng(7));

/** A randomness that always takes the first choice: the rewrite (its draw is below the share), the first victim and certificate. */
const FIRST: Random = {
  nextUint32: () => 0,
  float: () => 0,
  int: (min) => min,
  chance: (p) => p > 0,
  pick: (items) => items[0]!,
  shuffle: (items) => items,
  fork: () => FIRST,
};

/** `digest` prepared at (view, seq): the view's primary's pre-prepare and the PREPAREs of two backups. */
function certificate(view: number, seq: number, digest: string): PreparedCertificate {
  const primary = IDS[view % IDS.length]!;
  const backups = IDS.filter((r) => r !== primary).slice(0, 2);
  return {
    prePrepare: { view, seq, digest, batch: [], primary, signature: keyring.authenticatorFor(primary).sign(prePreparePayload(view, seq, digest, primary)) },
    prepares: backups.map((r) => ({ view, seq, digest, replica: r, signature: keyring.authenticatorFor(r).sign(preparePayload(view, seq, digest, r)) })),
  };
}

function viewChange(replica: NodeId, newView: number, prepared: PreparedCertificate[]): SignedViewChange {
  const vc = { newView, stableSeq: 0, stableDigest: GENESIS_DIGEST, checkpointProof: [], prepared, replica };
  return { ...vc, signature: keyring.authenticatorFor(replica).sign(viewChangePayload(vc)) };
}

/** n3's honest NEW-VIEW of view 2 over n3's, n1's and n4's VIEW-CHANGEs: seq 1 prepared with dA, seq 2 with dB, both in view 0. */
function honestNewView(): { newView: SignedNewView; fromN1: SignedViewChange; fromN4: SignedViewChange } {
  const prepared = [certificate(0, 1, 'dA'), certificate(0, 2, 'dB')];
  const fromN1 = viewChange('n1' as NodeId, 2, prepared);
  const fromN4 = viewChange('n4' as NodeId, 2, prepared);
  const viewChanges = [viewChange('n3' as NodeId, 2, prepared), fromN1, fromN4];
  const liar = keyring.authenticatorFor('n3');
  const prePrepares = [[1, 'dA'], [2, 'dB']].map(([seq, digest]) => ({ view: 2, seq: seq as number, digest: digest as string, batch: [], primary: 'n3' as NodeId, signature: liar.sign(prePreparePayload(2, seq as number, digest as string, 'n3' as NodeId)) }));
  return { newView: { view: 2, viewChanges, prePrepares, primary: 'n3' as NodeId, signature: liar.sign(newViewPayload(2, 'n3' as NodeId, viewChanges, prePrepares)) }, fromN1, fromN4 };
}

/** Backup n2, which has verified n1's and n4's VIEW-CHANGEs (they broadcast them). */
function backup(mutant?: string): PbftReplica {
  const replica = new PbftReplica({ id: 'n2' as NodeId, membership: { voters: IDS, outgoingVoters: [], learners: [] }, random: new Prng(1), authenticator: keyring.authenticatorFor('n2'), ...(mutant === undefined ? {} : { mutant }) });
  const { fromN1, fromN4 } = honestNewView();
  for (const vc of [fromN1, fromN4]) replica.step({ type: 'view-change', viewChange: vc, from: vc.replica, to: 'n2' as NodeId });
  return replica;
}

function rewritten(): SignedNewView {
  const m: PbftMessage = { type: 'new-view', newView: honestNewView().newView, from: 'n3' as NodeId, to: 'n2' as NodeId };
  const out = mutateMessage(m, { random: FIRST, auth: keyring.authenticatorFor('n3'), replicas: IDS });
  assert.ok(out !== null && out.type === 'new-view');
  return out.newView;
}

describe('the PBFT liar that rewrites another replica\'s VIEW-CHANGE in its NEW-VIEW', () => {
  it(`takes n1's VIEW-CHANGE (not its own, not the receiver's), keeps n1's signature, and re-issues the batch it put there (share ${REWRITE_VIEW_CHANGE_SHARE})`, () => {
    const nv = rewritten();
    const { fromN1 } = honestNewView();
    const forged = nv.viewChanges.find((vc) => vc.replica === 'n1')!;
    assert.equal(forged.signature, fromN1.signature, 'n1\'s signature kept');
    // The certificate changed in place, under its own signatures: the VIEW-CHANGE's payload (which
    // names signatures only) is the one n1 signed, so n1's signature verifies over the changed
    // content and only checking the certificate again finds the change. (The rewrite once moved
    // the certificate to the end: the payload changed, and any replica that checked n1's
    // signature refused it without looking at a certificate.)
    assert.equal(viewChangePayload(forged), viewChangePayload(fromN1), 'the payload n1 signed');
    assert.ok(keyring.authenticatorFor('n2').verifySignature(viewChangePayload(forged), 'n1', forged.signature), 'n1\'s signature verifies over it');
    assert.deepEqual(forged.prepared.map((c) => c.prePrepare.seq), fromN1.prepared.map((c) => c.prePrepare.seq), 'certificates in n1\'s order');
    const cert = forged.prepared.find((c) => c.prePrepare.seq === 1)!;
    assert.deepEqual([cert.prePrepare.view, cert.prePrepare.digest, cert.prePrepare.primary], [1, 'dB', 'n2'], 'seq 1 now names dB, in the view below the NEW-VIEW\'s (its primary named)');
    const pp = cert.prePrepare;
    assert.ok(!keyring.authenticatorFor('n2').verifySignature(prePreparePayload(pp.view, pp.seq, pp.digest, pp.primary), pp.primary, pp.signature), 'while the certificate\'s own signatures do not');
    assert.deepEqual(nv.viewChanges.map((vc) => vc.replica).sort(), ['n1', 'n3', 'n4'], 'the same 2f + 1 replicas');
    // Self-consistent: the pre-prepares are what an honest primary computes from the changed set.
    assert.deepEqual(nv.prePrepares.map((pp) => [pp.seq, pp.digest]), [[1, 'dB'], [2, 'dB']]);
    const liar = keyring.authenticatorFor('n3');
    assert.ok(liar.verifySignature(newViewPayload(nv.view, nv.primary, nv.viewChanges, nv.prePrepares), 'n3', nv.signature), 'signed by the liar');
  });

  it('a replica that checks every VIEW-CHANGE whole refuses it, and takes the honest NEW-VIEW', () => {
    const replica = backup();
    replica.step({ type: 'new-view', newView: rewritten(), from: 'n3' as NodeId, to: 'n2' as NodeId });
    // n1's and n4's VIEW-CHANGEs (f + 1) took it into the view change to view 2: it stays there.
    assert.deepEqual([replica.status().view, replica.status().role], [2, 'view-change'], 'the rewritten NEW-VIEW is not entered');
    assert.ok(replica.status().invalidAuthenticators > 0, 'and it is counted as a forgery');
    replica.step({ type: 'new-view', newView: honestNewView().newView, from: 'n3' as NodeId, to: 'n2' as NodeId });
    assert.deepEqual([replica.status().view, replica.status().role], [2, 'backup']);
  });

  for (const mutant of ['trust-view-change-by-signature', 'trust-certificates-under-signature']) it(`under ${mutant} it is entered`, () => {
    // The second checks n1's signature again (it verifies: the payload is the one n1 signed) and
    // skips the certificates of a VIEW-CHANGE it found valid before under that signature.
    const replica = backup(mutant);
    replica.step({ type: 'new-view', newView: rewritten(), from: 'n3' as NodeId, to: 'n2' as NodeId });
    assert.deepEqual([replica.status().view, replica.status().role], [2, 'backup'], 'the mutant enters the rewritten NEW-VIEW');
  });

  it('leaves the NEW-VIEW to the other mutations when the draw is above the share, or nothing can be rewritten', () => {
    const above: Random = { ...FIRST, float: () => REWRITE_VIEW_CHANGE_SHARE };
    const { newView } = honestNewView();
    const out = mutateMessage({ type: 'new-view', newView, from: 'n3' as NodeId, to: 'n2' as NodeId }, { random: above, auth: keyring.authenticatorFor('n3'), replicas: IDS });
    assert.ok(out !== null && out.type === 'new-view');
    assert.deepEqual(out.newView.viewChanges, newView.viewChanges, 'the VIEW-CHANGEs untouched (a re-issued pre-prepare changed instead)');
    // Every certificate names one digest: nothing to swap in.
    const one = viewChange('n1' as NodeId, 2, [certificate(0, 1, 'dA')]);
    const alone = { ...newView, viewChanges: [one, viewChange('n3' as NodeId, 2, [certificate(0, 1, 'dA')]), viewChange('n4' as NodeId, 2, [])] };
    const kept = mutateMessage({ type: 'new-view', newView: alone, from: 'n3' as NodeId, to: 'n2' as NodeId }, { random: FIRST, auth: keyring.authenticatorFor('n3'), replicas: IDS });
    assert.ok(kept !== null && kept.type === 'new-view');
    assert.deepEqual(kept.newView.viewChanges, alone.viewChanges, 'no rewrite without a second digest');
  });
});
