/**
 * What resets the view-change backoff (Castro's thesis, 2.3.5): a request executed in the new
 * view that the replica had not executed before. Driving backup n2's core directly: a view change
 * fails (its NEW-VIEW does not come in time), view 2 is installed, and its primary n3, a liar,
 * orders a batch holding only a request n2 executed long ago (validly signed by its client; the
 * replay executes as a no-op). Counted as an execution, that batch reset n2's backoff: a liar
 * primary could undo the doubling at each of its views while ordering nothing new, and keep a
 * cluster too slow for the base timeout changing view at that pace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { macVector } from '../../../src/core/authenticator.js';
import { Prng } from '../../../src/core/prng.js';
import type { NodeId } from '../../../src/core/ids.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';
import {
  GENESIS_DIGEST, PbftReplica, batchDigestOf, commitPayload, newViewPayload, prePreparePayload, preparePayload, signRequest, viewChangePayload,
  type ClientRequest, type PreparedCertificate, type SignedPrePrepare, type SignedViewChange,
} from '../../../src/protocols/pbft/index.js';

const ids = ['n1', 'n2', 'n3', 'n4'] as NodeId[];
const n2 = 'n2' as NodeId;

test('a batch of requests executed before does not reset the view-change backoff; a new request does', () => {
  const keyring = new SimKeyring(new Prng(7));
  const auth = (r: string) => keyring.authenticatorFor(r);
  const victim = new PbftReplica({ id: n2, membership: { voters: ids, outgoingVoters: [], learners: [] }, random: new Prng(1), authenticator: auth('n2'), requestTimeoutTicks: 10, viewChangeTimeoutTicks: 10 });
  const failed = (): number => (victim as unknown as { failedViewChanges: number }).failedViewChanges;
  const drain = (): void => {
    if (victim.hasReady()) victim.ready();
  };
  const prePrepare = (view: number, seq: number, batch: ClientRequest[]): SignedPrePrepare => {
    const digest = batchDigestOf(auth('n1'), batch);
    const primary = ids[view % 4]!;
    return { view, seq, digest, batch, primary, signature: auth(primary).sign(prePreparePayload(view, seq, digest, primary)) };
  };
  /** Orders `pp` at n2: its PRE-PREPARE, then PREPAREs and COMMITs from the others. */
  const order = (pp: SignedPrePrepare): void => {
    victim.step({ type: 'pre-prepare', prePrepare: pp, from: pp.primary, to: n2 });
    for (const r of ids.filter((r) => r !== n2 && r !== pp.primary)) {
      victim.step({ type: 'prepare', prepare: { view: pp.view, seq: pp.seq, digest: pp.digest, replica: r, signature: auth(r).sign(preparePayload(pp.view, pp.seq, pp.digest, r)) }, from: r, to: n2 });
    }
    for (const r of ids.filter((r) => r !== n2)) {
      victim.step({ type: 'commit', view: pp.view, seq: pp.seq, digest: pp.digest, replica: r, macs: macVector(auth(r), commitPayload(pp.view, pp.seq, pp.digest, r), ids), from: r, to: n2 });
    }
    drain();
  };
  const certificate = (pp: SignedPrePrepare): PreparedCertificate => ({
    prePrepare: { ...pp, batch: [] },
    prepares: ids.filter((r) => r !== pp.primary).slice(0, 2).map((r) => ({ view: pp.view, seq: pp.seq, digest: pp.digest, replica: r, signature: auth(r).sign(preparePayload(pp.view, pp.seq, pp.digest, r)) })),
  });
  const viewChange = (replica: string, newView: number, prepared: PreparedCertificate[]): SignedViewChange => {
    const vc = { newView, stableSeq: 0, stableDigest: GENESIS_DIGEST, checkpointProof: [], prepared, replica: replica as NodeId };
    return { ...vc, signature: auth(replica).sign(viewChangePayload(vc)) };
  };

  // View 0: c1's request x executes at sequence 1.
  const x = signRequest(auth('c1'), { timestamp: 1, op: new TextEncoder().encode('x'), readOnly: false });
  const first = prePrepare(0, 1, [x]);
  order(first);
  assert.equal(victim.status().lastExecuted, 1);

  // The others give up on view 0, and view 1's NEW-VIEW never comes: its timer runs out.
  const cert = certificate(first);
  for (const r of ['n1', 'n3', 'n4']) victim.step({ type: 'view-change', viewChange: viewChange(r, 1, [cert]), from: r as NodeId, to: n2 });
  for (const r of ['n1', 'n3', 'n4']) victim.step({ type: 'view-change', viewChange: viewChange(r, 2, [cert]), from: r as NodeId, to: n2 });
  for (let i = 0; i < 20 && victim.status().view < 2; i++) victim.tick();
  drain();
  assert.equal(victim.status().view, 2);
  assert.equal(failed(), 1, 'view 1 failed: the backoff doubled');

  // View 2's NEW-VIEW from n3 re-issues x at 1 (executed already: nothing runs again).
  const vcs = ['n1', 'n3', 'n4'].map((r) => viewChange(r, 2, [cert]));
  const reissued = [{ ...prePrepare(2, 1, [x]), batch: [] }];
  victim.step({ type: 'new-view', newView: { view: 2, viewChanges: vcs, prePrepares: reissued, primary: 'n3' as NodeId, signature: auth('n3').sign(newViewPayload(2, 'n3' as NodeId, vcs, reissued)) }, from: 'n3' as NodeId, to: n2 });
  drain();
  assert.equal(victim.status().role, 'backup');
  assert.equal(failed(), 1);

  // n3 orders x again at 2: executed, a no-op (its client's timestamp is not new).
  order(prePrepare(2, 2, [x]));
  assert.equal(victim.status().lastExecuted, 2);
  assert.equal(failed(), 1, 'a batch of a request executed before does not show the view works');

  // A new request executes: the backoff is reset.
  order(prePrepare(2, 3, [signRequest(auth('c1'), { timestamp: 2, op: new TextEncoder().encode('y'), readOnly: false })]));
  assert.equal(victim.status().lastExecuted, 3);
  assert.equal(failed(), 0, 'a new request executed in the view resets it');
});
