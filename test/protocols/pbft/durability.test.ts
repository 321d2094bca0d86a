/**
 * PBFT's durability rules: a replica that crashes and restarts from its disk must not contradict
 * what it said before (else a crash is a Byzantine fault and counts against f). Each rule is
 * checked on the correct core and shown to fail on the `forget-on-restart` mutant, which comes
 * back from a restart with nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prePreparePayload, type ClientRequest, type PbftMessage, type SignedPrePrepare } from '../../../src/protocols/pbft/index.js';
import { PbftCluster } from './harness.js';

const enc = new TextEncoder();

/** A pre-prepare for (view, seq) carrying `request`, signed with the primary's key (the test plays a lying primary). */
function forgedPrePrepare(c: PbftCluster, view: number, seq: number, request: ClientRequest): SignedPrePrepare {
  const digest = c.replica('n2').batchDigest([request]);
  return { view, seq, digest, batch: [request], primary: c.ids[view % c.ids.length]!, signature: c.auth(c.ids[view % c.ids.length]!).sign(prePreparePayload(view, seq, digest, c.ids[view % c.ids.length]!)) };
}

/** A signed request from `client` (what it would send). */
function signedRequest(c: PbftCluster, client: string, op: string): ClientRequest {
  const m = c.client(client).begin(enc.encode(op), false)[0]!;
  assert.equal(m.type, 'request');
  return (m as Extract<PbftMessage, { type: 'request' }>).request;
}

function preparesFrom(msgs: PbftMessage[], from: string, seq: number): string[] {
  return msgs.filter((m) => m.type === 'prepare' && m.prepare.replica === from && m.prepare.seq === seq).map((m) => (m as Extract<PbftMessage, { type: 'prepare' }>).prepare.digest);
}

/** n2 accepts a pre-prepare for (0, 1) from the primary n1, crashes and restarts; then n1 equivocates to it. */
function equivocateAcrossRestart(mutant: string | null): { first: string; second: string; prepared: string[] } {
  const c = new PbftCluster(4, mutant === null ? {} : { mutants: { n2: mutant } });
  const a = forgedPrePrepare(c, 0, 1, signedRequest(c, 'c1', 'a'));
  const b = forgedPrePrepare(c, 0, 1, signedRequest(c, 'c2', 'b'));
  const sent: PbftMessage[] = [];
  c.rule((m) => {
    sent.push(m);
    return null; // keep everything off the network: only n2's answers matter here
  });
  c.deliver({ type: 'pre-prepare', from: c.ids[0]!, to: c.ids[1]!, prePrepare: a });
  c.restart('n2');
  c.deliver({ type: 'pre-prepare', from: c.ids[0]!, to: c.ids[1]!, prePrepare: b });
  return { first: a.digest, second: b.digest, prepared: [...new Set(preparesFrom(sent, 'n2', 1))] };
}

describe('PBFT durability', () => {
  it('a restarted backup keeps the pre-prepare it accepted: it never prepares a second digest at the same view and sequence number', () => {
    const r = equivocateAcrossRestart(null);
    assert.deepEqual(r.prepared, [r.first]);
  });

  it('forget-on-restart prepares both digests (the rule above can fail)', () => {
    const r = equivocateAcrossRestart('forget-on-restart');
    assert.deepEqual(r.prepared.sort(), [r.first, r.second].sort());
  });

  /** Request 'x' commits in view 0; n2 restarts; the primary goes quiet and the others change view. Does n2's VIEW-CHANGE carry the certificate? */
  function certificateAfterRestart(mutant: string | null): { carried: boolean; agree: boolean; executedX: number } {
    const c = new PbftCluster(4, mutant === null ? {} : { mutants: { n2: mutant } });
    c.request('c1', 'x');
    c.deliverAll();
    assert.deepEqual(c.accepted('c1'), ['1:x']);
    c.restart('n2');
    let carried = false;
    c.rule((m) => {
      if (m.type === 'view-change' && m.viewChange.replica === 'n2') carried ||= m.viewChange.prepared.some((cert) => cert.prePrepare.seq === 1);
      return m;
    });
    c.drop((m) => m.from === 'n1' || m.to === 'n1');
    // What n2 knew of view 0 is what its disk kept: the others do not resend it (else even a
    // replica that forgot everything would learn sequence 1 again before the view change).
    c.drop((m) => m.to === 'n2' && ((m.type === 'pre-prepare' && m.prePrepare.view === 0) || (m.type === 'prepare' && m.prepare.view === 0) || (m.type === 'commit' && m.view === 0)));
    c.request('c2', 'y', { toAll: true });
    c.tickUntil(() => c.view('n2') >= 1 && c.replica('n2').status().role !== 'view-change' && c.replica('n3').status().role !== 'view-change', 2_000);
    c.tickUntil(() => c.accepted('c2').length > 0, 2_000);
    const executedX = ['n2', 'n3', 'n4'].filter((id) => c.executed(id).get(1) === 'x').length;
    return { carried, agree: !c.disagree(['n2', 'n3', 'n4']), executedX };
  }

  it('a restarted replica carries its prepared certificate into the next view change', () => {
    const r = certificateAfterRestart(null);
    assert.ok(r.carried, "n2's VIEW-CHANGE after the restart names sequence 1");
    assert.ok(r.agree);
    assert.equal(r.executedX, 3);
  });

  it('forget-on-restart sends a VIEW-CHANGE without it (the rule above can fail)', () => {
    const r = certificateAfterRestart('forget-on-restart');
    assert.equal(r.carried, false);
  });

  it('a restarted replica is back in its view with the state of its stable checkpoint plus the batches it committed after it, and keeps executing', () => {
    const c = new PbftCluster(4, { checkpointIntervalSeqs: 4, maxBatchRequests: 1, maxInFlightBatches: 1 });
    for (let i = 1; i <= 6; i++) {
      c.request('c1', `op${i}`);
      c.deliverAll();
    }
    assert.equal(c.replica('n3').status().stableCheckpoint, 4);
    const before = [...c.machines.get(c.ids[2]!)!.ops];
    assert.equal(before.length, 6);
    c.restart('n3');
    assert.deepEqual(c.machines.get(c.ids[2]!)!.ops, before, 'checkpoint 4 restored, 5 and 6 executed again');
    assert.equal(c.replica('n3').status().lastExecuted, 6);
    assert.equal(c.replica('n3').status().stableCheckpoint, 4);
    c.request('c1', 'op7');
    c.deliverAll();
    assert.deepEqual(c.machines.get(c.ids[2]!)!.ops, [...before, 'op7']);
    c.assertAgree();
  });

  it('a restarted primary never reuses a sequence number it assigned', () => {
    const c = new PbftCluster(4, { maxBatchRequests: 1 });
    const assigned: number[] = [];
    c.rule((m) => {
      if (m.type === 'pre-prepare' && m.from === 'n1' && m.to === 'n2' && m.retransmitted !== true) assigned.push(m.prePrepare.seq);
      return m.type === 'pre-prepare' || m.to === 'n1' ? null : m; // nothing reaches the backups, so nothing commits
    });
    c.request('c1', 'a');
    c.request('c2', 'b');
    c.deliverAll();
    assert.deepEqual(assigned, [1, 2]);
    c.restart('n1');
    c.request('c3', 'c');
    c.deliverAll();
    assert.deepEqual(assigned, [1, 2, 3]);
  });
});
