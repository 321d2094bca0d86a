/**
 * A replica verifies each replica signature once: retransmission resends the same signed
 * PREPAREs (and VIEW-CHANGEs carry the same certificates) every interval while a slot waits, and
 * a public-key check per copy made members short of CPU spend most of it on copies, fall behind
 * and change view again (the PBFT crash test under load). Forgeries are checked, and counted,
 * every time; what is remembered is bounded by MAX_VERIFIED_SIGNATURES_REMEMBERED.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Authenticator } from '../../../src/core/authenticator.js';
import type { NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import {
  GENESIS_DIGEST, MAX_SIGNATURE_CHARS, MAX_VERIFIED_SIGNATURES_REMEMBERED, newViewPayload, PbftReplica, prePreparePayload, preparePayload, signRequest, viewChangePayload,
  type PbftMessage, type PreparedCertificate, type SignedViewChange,
} from '../../../src/protocols/pbft/index.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';

const IDS = ['n1', 'n2', 'n3', 'n4'] as NodeId[];

/** Backup n2 of view 0, whose authenticator counts the signature checks it is asked for. */
function backup(mutant?: string): { replica: PbftReplica; checks: () => number; signer: Authenticator; keyring: SimKeyring } {
  const keyring = new SimKeyring(new Prng(7));
  const inner = keyring.authenticatorFor('n2');
  let checks = 0;
  // Trailing blanks are skipped, as node's base64 decoder skips them in a real Ed25519 signature.
  const auth: Authenticator = { ...inner, verifySignature: (payload, signer, signature) => { checks++; return inner.verifySignature(payload, signer, signature.trimEnd()); } };
  const replica = new PbftReplica({ id: 'n2' as NodeId, membership: { voters: IDS, outgoingVoters: [], learners: [] }, random: new Prng(1), authenticator: auth, ...(mutant === undefined ? {} : { mutant }) });
  return { replica, checks: () => checks, signer: keyring.authenticatorFor('n3'), keyring };
}

/** `replica`'s VIEW-CHANGE to view `newView` from the genesis checkpoint, signed over `prepared`. */
function viewChange(keyring: SimKeyring, replica: string, newView: number, prepared: PreparedCertificate[] = []): SignedViewChange {
  const vc = { newView, stableSeq: 0, stableDigest: GENESIS_DIGEST, checkpointProof: [], prepared, replica: replica as NodeId };
  return { ...vc, signature: keyring.authenticatorFor(replica).sign(viewChangePayload(vc)) };
}

/** What the replica's memo of verified signatures holds (its keys), read for the limits on it. */
function memo(replica: PbftReplica): Set<string> {
  return (replica as unknown as { verifiedSignatures: Set<string> }).verifiedSignatures;
}

function prepare(signer: Authenticator, seq: number, signature?: string): PbftMessage {
  const digest = `d${seq}`;
  const p = { view: 0, seq, digest, replica: 'n3' as NodeId, signature: signature ?? signer.sign(preparePayload(0, seq, digest, 'n3' as NodeId)) };
  return { type: 'prepare', prepare: p, retransmitted: true, from: 'n3' as NodeId, to: 'n2' as NodeId };
}

describe('PBFT verifies each signature once', () => {
  it('five copies of one retransmitted PREPARE cost one signature check', () => {
    const { replica, checks, signer } = backup();
    for (let i = 0; i < 5; i++) replica.step(prepare(signer, 1));
    assert.equal(checks(), 1);
    assert.equal(replica.status().invalidAuthenticators, 0);
  });

  it('a forged PREPARE is checked and counted every time it comes, even after the genuine one', () => {
    const { replica, checks, signer } = backup();
    replica.step(prepare(signer, 1));
    for (let i = 0; i < 3; i++) replica.step(prepare(signer, 1, 'forged'));
    assert.equal(checks(), 4);
    assert.equal(replica.status().invalidAuthenticators, 3);
  });

  it(`remembers at most MAX_VERIFIED_SIGNATURES_REMEMBERED (${MAX_VERIFIED_SIGNATURES_REMEMBERED}) signatures, the oldest forgotten first`, () => {
    const { replica, checks, signer } = backup();
    for (let seq = 1; seq <= MAX_VERIFIED_SIGNATURES_REMEMBERED + 1; seq++) replica.step(prepare(signer, seq));
    assert.equal(checks(), MAX_VERIFIED_SIGNATURES_REMEMBERED + 1);
    replica.step(prepare(signer, MAX_VERIFIED_SIGNATURES_REMEMBERED + 1)); // the newest: remembered
    assert.equal(checks(), MAX_VERIFIED_SIGNATURES_REMEMBERED + 1);
    replica.step(prepare(signer, 1)); // the oldest: forgotten, checked again
    assert.equal(checks(), MAX_VERIFIED_SIGNATURES_REMEMBERED + 2);
  });

  for (const mutant of [undefined, 'trust-view-change-by-signature']) it(`a NEW-VIEW that carries a VIEW-CHANGE changed under a signature verified before is refused${mutant === undefined ? '' : ` (taken under ${mutant})`}`, () => {
    // n3, the primary of view 2, lies. It takes n1's genuine VIEW-CHANGE, which backup n2
    // already verified (n1 sent it to n2 too), puts a made-up prepared certificate in it (seq 1
    // prepared in view 0 with a digest nobody proposed, its signatures junk) and keeps n1's
    // signature. Recomputed from it, the NEW-VIEW must re-issue that digest at 1: a backup that
    // took the changed VIEW-CHANGE as n1's would execute a batch no quorum prepared.
    const { replica, keyring } = backup(mutant);
    const genuine = viewChange(keyring, 'n1', 2);
    replica.step({ type: 'view-change', viewChange: genuine, from: 'n1' as NodeId, to: 'n2' as NodeId });
    const forgedCert: PreparedCertificate = {
      prePrepare: { view: 0, seq: 1, digest: 'evil', batch: [], primary: 'n1' as NodeId, signature: 'junk' },
      prepares: [{ view: 0, seq: 1, digest: 'evil', replica: 'n2' as NodeId, signature: 'junk' }, { view: 0, seq: 1, digest: 'evil', replica: 'n4' as NodeId, signature: 'junk' }],
    };
    const forged: SignedViewChange = { ...genuine, prepared: [forgedCert] };
    const liar = keyring.authenticatorFor('n3');
    const viewChanges = [forged, viewChange(keyring, 'n3', 2), viewChange(keyring, 'n4', 2)];
    const prePrepares = [{ view: 2, seq: 1, digest: 'evil', batch: [], primary: 'n3' as NodeId, signature: liar.sign(prePreparePayload(2, 1, 'evil', 'n3' as NodeId)) }];
    const newView = { view: 2, viewChanges, prePrepares, primary: 'n3' as NodeId, signature: liar.sign(newViewPayload(2, 'n3' as NodeId, viewChanges, prePrepares)) };
    replica.step({ type: 'new-view', newView, from: 'n3' as NodeId, to: 'n2' as NodeId });
    if (mutant !== undefined) {
      assert.equal(replica.status().view, 2, 'the mutant enters the forged NEW-VIEW');
      return;
    }
    assert.equal(replica.status().view, 0, 'the forged NEW-VIEW is not entered');
    assert.ok(replica.status().invalidAuthenticators > 0, 'and it is counted as a forgery');
    // The same NEW-VIEW with n1's VIEW-CHANGE as n1 signed it (nothing to re-issue) is entered.
    const honest = [genuine, viewChange(keyring, 'n3', 2), viewChange(keyring, 'n4', 2)];
    const honestView = { view: 2, viewChanges: honest, prePrepares: [], primary: 'n3' as NodeId, signature: liar.sign(newViewPayload(2, 'n3' as NodeId, honest, [])) };
    replica.step({ type: 'new-view', newView: honestView, from: 'n3' as NodeId, to: 'n2' as NodeId });
    assert.equal(replica.status().view, 2);
  });

  it('what it remembers of a signature stays small whatever the size of the signed message', () => {
    // A liar signs a VIEW-CHANGE of its own padded with about 1 MB of junk certificates: the
    // signature is valid (its own), the certificates are not. Remembered with its payload, each
    // such message kept a megabyte for as long as it stayed among the last
    // MAX_VERIFIED_SIGNATURES_REMEMBERED (16 GiB for a full memo, at a message per entry).
    const { replica, keyring } = backup();
    const junk = 'x'.repeat(1_000);
    const prepared: PreparedCertificate[] = [];
    for (let seq = 1; seq <= 1_000; seq++) prepared.push({ prePrepare: { view: 0, seq, digest: 'd', batch: [], primary: 'n1' as NodeId, signature: junk }, prepares: [] });
    replica.step({ type: 'view-change', viewChange: viewChange(keyring, 'n4', 5, prepared), from: 'n4' as NodeId, to: 'n2' as NodeId });
    assert.equal(memo(replica).size, 1, 'the signature verified');
    const longest = Math.max(0, ...[...memo(replica)].map((k) => k.length));
    assert.ok(longest <= 512, `a memo entry holds ${longest} characters`);
  });

  it('client requests do not push replica signatures out (requests have a memo of their own)', () => {
    // Under write load every request's client signature went into the same memo: at a few
    // thousand requests a second, MAX_VERIFIED_SIGNATURES_REMEMBERED entries lasted less than a
    // retransmission round, and every retransmitted PREPARE was checked again.
    const { replica, checks, signer, keyring } = backup();
    replica.step(prepare(signer, 1));
    const client = keyring.authenticatorFor('c1');
    for (let t = 1; t <= MAX_VERIFIED_SIGNATURES_REMEMBERED; t++) {
      replica.step({ type: 'request', request: signRequest(client, { timestamp: t, op: new Uint8Array([t & 255]), readOnly: false }), from: 'c1' as NodeId, to: 'n2' as NodeId });
    }
    const before = checks();
    replica.step(prepare(signer, 1));
    assert.equal(checks() - before, 0, 'the retransmitted PREPARE was checked again');
  });
  it(`a signature longer than MAX_SIGNATURE_CHARS (${MAX_SIGNATURE_CHARS}) is refused, whatever its decoder makes of it`, () => {
    // node's base64 decoder skips blanks, so an Ed25519 signature padded with 100,000 of them
    // verified: a liar's padded PREPARE went into honest replicas' prepared certificates (first
    // come, first taken), their hard state and their VIEW-CHANGEs (256 of them make a
    // VIEW-CHANGE of 25 MB, which no transport frame carries), and a padded request sat in
    // pending requests, batches and verifiedRequests.
    const { replica, signer, keyring } = backup();
    const pad = ' '.repeat(100_000);
    const p = prepare(signer, 1);
    if (p.type !== 'prepare') throw new Error('a prepare');
    replica.step({ ...p, prepare: { ...p.prepare, signature: p.prepare.signature + pad } });
    assert.equal(replica.status().invalidAuthenticators, 1, 'the padded PREPARE is refused');
    const request = signRequest(keyring.authenticatorFor('c1'), { timestamp: 1, op: new Uint8Array([1]), readOnly: false });
    replica.step({ type: 'request', request: { ...request, signature: request.signature + pad }, from: 'c1' as NodeId, to: 'n2' as NodeId });
    assert.equal(replica.status().invalidAuthenticators, 2, 'the padded request is refused');
    replica.step(p);
    replica.step({ type: 'request', request, from: 'c1' as NodeId, to: 'n2' as NodeId });
    assert.equal(replica.status().invalidAuthenticators, 2, 'the same, unpadded, are taken');
  });
});
