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
import { MAX_VERIFIED_SIGNATURES_REMEMBERED, PbftReplica, preparePayload, type PbftMessage } from '../../../src/protocols/pbft/index.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';

const IDS = ['n1', 'n2', 'n3', 'n4'] as NodeId[];

/** Backup n2 of view 0, whose authenticator counts the signature checks it is asked for. */
function backup(): { replica: PbftReplica; checks: () => number; signer: Authenticator } {
  const keyring = new SimKeyring(new Prng(7));
  const inner = keyring.authenticatorFor('n2');
  let checks = 0;
  const auth: Authenticator = { ...inner, verifySignature: (payload, signer, signature) => { checks++; return inner.verifySignature(payload, signer, signature); } };
  const replica = new PbftReplica({ id: 'n2' as NodeId, membership: { voters: IDS, outgoingVoters: [], learners: [] }, random: new Prng(1), authenticator: auth });
  return { replica, checks: () => checks, signer: keyring.authenticatorFor('n3') };
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
});
