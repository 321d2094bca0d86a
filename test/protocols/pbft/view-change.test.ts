/**
 * Why each phase exists, and view changes: each scenario passes on the correct core and, where
 * a mutant drops the phase, shows the safety violation the phase prevents.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId } from '../../../src/core/index.js';
import { newViewPayload, prePreparePayload, signRequest, type PbftMessage, type SignedPrePrepare } from '../../../src/protocols/pbft/index.js';
import { PbftCluster } from './harness.js';

const enc = new TextEncoder();

/**
 * n1, the primary of view 0, is Byzantine: it pre-prepares c1's "x" at sequence 1 for n3 and n4
 * but c2's "y" for n2, sends its commit only to n3, and then falls silent. The honest replicas
 * change view to n2.
 */
function equivocatingPrimary(mutant?: string): PbftCluster {
  const c = new PbftCluster(4, mutant === undefined ? {} : { mutants: { n1: mutant, n2: mutant, n3: mutant, n4: mutant } });
  const n1 = c.auth('n1');
  const y = signRequest(c.auth('c2'), { timestamp: 1, op: enc.encode('y'), readOnly: false });
  const yDigest = c.replica('n1').batchDigest([y]);
  const ppY: SignedPrePrepare = { view: 0, seq: 1, digest: yDigest, batch: [y], primary: nodeId('n1'), signature: n1.sign(prePreparePayload(0, 1, yDigest, nodeId('n1'))) };
  c.rule((m) => {
    if (m.from !== 'n1') return m;
    if (m.type === 'pre-prepare' && m.to === 'n2') return { ...m, prePrepare: ppY };
    if (m.type === 'commit' && m.to !== 'n3') return null;
    return m;
  });
  c.request('c1', 'x', { toAll: true });
  c.deliverAll();
  c.clearRules();
  c.drop((m) => m.from === 'n1' || m.to === 'n1');
  c.tickUntil(() => ['n2', 'n3', 'n4'].every((id) => c.view(id) >= 1 && c.replica(id).status().role !== 'view-change'));
  c.tick(20);
  return c;
}

describe('why prepare', () => {
  it('an equivocating primary: what one honest replica committed survives the view change', () => {
    const c = equivocatingPrimary();
    assert.equal(c.executed('n3').get(1), 'x', 'n3 committed x in view 0');
    c.assertAgree(['n2', 'n3', 'n4']);
    assert.equal(c.executed('n2').get(1), 'x');
    assert.equal(c.executed('n4').get(1), 'x');
  });

  it('mutant no-prepare-phase: the view change cannot tell which pre-prepare was committed, and honest replicas disagree', () => {
    // n3 executed x at sequence 1; the NEW-VIEW (built from n2's pre-prepare of y) puts y there.
    // n3's own invariant check (a committed sequence number never changes) fires.
    assert.throws(() => equivocatingPrimary('no-prepare-phase'), /n3: NEW-VIEW 1 re-issues sequence 1 with \w+, but \w+ committed there/);
  });
});

/**
 * "x" prepares only at n3 (n2's and n4's prepares reach n3 and nobody else), so nothing commits.
 * Then n3 is cut off, c2's "y" makes n2 and n4 time out, and n1, n2, n4 change view: none of
 * them has a certificate, so view 1 puts "y" at sequence 1. Later n3 is back and catches up.
 */
const inView0 = (m: PbftMessage): boolean => (m.type === 'prepare' && m.prepare.view === 0) || (m.type === 'commit' && m.view === 0);

function preparedAtOneReplica(mutant?: string): PbftCluster {
  const c = new PbftCluster(4, mutant === undefined ? {} : { mutants: { n1: mutant, n2: mutant, n3: mutant, n4: mutant } });
  c.drop((m) => (m.type === 'prepare' && m.to !== 'n3') || m.type === 'commit');
  c.request('c1', 'x');
  c.deliverAll();
  c.clearRules();
  // Nothing more of view 0 gets through (x's prepares are retransmitted while the backups wait
  // for the primary), and x itself never reaches another primary (backups forward requests they
  // time out on): the next view has y to put at sequence 1, not x again.
  c.drop((m) => m.from === 'n3' || m.to === 'n3' || (m.from === 'n1' && m.type === 'pre-prepare') || inView0(m) || (m.type === 'request' && new TextDecoder().decode(m.request.op) === 'x'));
  c.request('c2', 'y', { toAll: true });
  c.deliverAll();
  c.tickUntil(() => c.view('n2') === 1 && c.replica('n2').status().role === 'primary' && c.accepted('c2').length === 1);
  c.clearRules();
  for (const op of ['z1', 'z2', 'z3']) {
    c.request('c3', op);
    c.deliverAll();
  }
  c.tick(60);
  return c;
}

describe('why commit', () => {
  it('a request prepared at one replica is not executed; after the view change every replica executes the same', () => {
    const c = preparedAtOneReplica();
    c.assertAgree();
    assert.equal(c.executed('n1').get(1), 'y');
    assert.notEqual(c.executed('n3').get(1), 'x');
    assert.deepEqual(c.machines.get(nodeId('n3'))!.ops, c.machines.get(nodeId('n1'))!.ops, 'n3 caught up by state transfer');
  });

  it('mutant execute-when-prepared: n3 executed x at sequence 1, the next view put something else there', () => {
    const c = preparedAtOneReplica('execute-when-prepared');
    assert.equal(c.executed('n3').get(1), 'x');
    assert.ok(c.disagree(['n1', 'n2', 'n3', 'n4']));
  });
});

describe('view change', () => {
  it('a silent primary is replaced: backups time out, VIEW-CHANGE, NEW-VIEW, and the pending request executes', () => {
    const c = new PbftCluster(4);
    c.drop((m) => m.from === 'n1');
    c.request('c1', 'x', { toAll: true });
    c.deliverAll();
    c.tickUntil(() => c.accepted('c1').length === 1);
    for (const id of ['n2', 'n3', 'n4']) assert.equal(c.view(id), 1);
    assert.equal(c.replica('n2').status().role, 'primary');
    c.assertAgree();
  });

  it('requests prepared in the old view keep their sequence numbers; gaps get null requests', () => {
    const c = new PbftCluster(4);
    // Sequence 1 commits, sequence 2 only prepares (commits lost), sequence 3's pre-prepare is lost.
    c.request('c1', 'a');
    c.deliverAll();
    c.drop((m) => m.type === 'commit');
    c.request('c2', 'b');
    c.deliverAll();
    c.clearRules();
    c.drop((m) => m.from === 'n1');
    c.request('c3', 'c', { toAll: true });
    c.deliverAll();
    c.tickUntil(() => c.accepted('c3').length === 1 && c.accepted('c2').length === 1, 500);
    assert.equal(c.executed('n2').get(2), 'b');
    c.assertAgree();
  });

  it('a Byzantine new primary whose NEW-VIEW drops a prepared request is refused; the next view keeps it', () => {
    const c = new PbftCluster(4);
    // x prepares everywhere but its commits are lost; then n1 falls silent.
    c.drop((m) => m.type === 'commit');
    c.request('c1', 'x', { toAll: true });
    c.deliverAll();
    c.clearRules();
    // (The commits stay lost: retransmitted while the backups wait for n1, they would commit x in view 0.)
    c.drop((m) => m.from === 'n1' || (m.type === 'commit' && m.view === 0));
    // n2, the new primary, lies: its NEW-VIEW re-issues a null request where x was prepared.
    const n2 = c.auth('n2');
    c.rule((m: PbftMessage) => {
      if (m.type !== 'new-view' || m.from !== 'n2') return m;
      const nv = m.newView;
      const nullDigest = c.replica('n2').batchDigest([]);
      const prePrepares = nv.prePrepares.map((pp) => ({ ...pp, digest: nullDigest, batch: [], signature: n2.sign(prePreparePayload(pp.view, pp.seq, nullDigest, pp.primary)) }));
      return { ...m, newView: { ...nv, prePrepares, signature: n2.sign(newViewPayload(nv.view, nv.primary, nv.viewChanges, prePrepares)) } };
    });
    c.tickUntil(() => c.accepted('c1').length === 1, 1000);
    assert.equal(c.view('n3'), 2, 'n3 (the primary of view 2) took over');
    assert.ok(c.replica('n4').status().invalidAuthenticators > 0, 'the forged NEW-VIEW was refused');
    for (const id of ['n3', 'n4']) assert.equal(c.executed(id).get(1), 'x');
  });
});

describe('the bound: f Byzantine replicas are tolerated, f + 1 are not', () => {
  /**
   * Byzantine n1 (primary) and, for f + 1, n2 too: they split the honest replicas into two groups
   * and tell each group a different story at sequence 1, preparing and committing with it.
   */
  function split(byzantine: string[]): PbftCluster {
    const c = new PbftCluster(4);
    const groupB = new Set(['n4']);
    const y = signRequest(c.auth('c2'), { timestamp: 1, op: enc.encode('y'), readOnly: false });
    const yDigest = c.replica('n1').batchDigest([y]);
    const n1 = c.auth('n1');
    const ppY: SignedPrePrepare = { view: 0, seq: 1, digest: yDigest, batch: [y], primary: nodeId('n1'), signature: n1.sign(prePreparePayload(0, 1, yDigest, nodeId('n1'))) };
    c.rule((m) => {
      if (!byzantine.includes(m.from) || !groupB.has(m.to)) return m;
      if (m.type === 'pre-prepare') return { ...m, prePrepare: ppY };
      if (m.type === 'prepare') {
        const auth = c.auth(m.from);
        return { ...m, prepare: { ...m.prepare, digest: yDigest, signature: auth.sign(`P|0|1|${yDigest}|${m.from}`) } };
      }
      if (m.type === 'commit') {
        const auth = c.auth(m.from);
        return { ...m, digest: yDigest, macs: { [m.to]: auth.mac(`C|0|1|${yDigest}|${m.from}`, m.to) } };
      }
      return m;
    });
    // n4 gets y from the primary first; everyone else gets x.
    c.request('c1', 'x');
    c.deliverAll();
    return c;
  }

  it('f = 1 Byzantine replica at N = 4: honest replicas never commit different requests', () => {
    const c = split(['n1']);
    c.assertAgree(['n2', 'n3', 'n4']);
  });

  it('f + 1 = 2 colluding replicas at N = 4: two honest replicas commit different requests at sequence 1', () => {
    const c = split(['n1', 'n2']);
    assert.equal(c.executed('n3').get(1), 'x');
    assert.equal(c.executed('n4').get(1), 'y');
    assert.ok(c.disagree(['n3', 'n4']));
  });
});

describe('view-change timers', () => {
  it('the wait for NEW-VIEW doubles with each failed view change (N = 10: primaries of views 0, 1, 2 silent)', () => {
    const c = new PbftCluster(10, { viewChangeTimeoutTicks: 10 });
    c.drop((m) => ['n1', 'n2', 'n3'].includes(m.from));
    c.request('c1', 'x', { toAll: true });
    c.deliverAll();
    const enteredAt = new Map<number, number>();
    for (let t = 0; t < 400 && c.accepted('c1').length === 0; t++) {
      c.tick();
      const v = c.view('n5');
      if (!enteredAt.has(v)) enteredAt.set(v, t);
    }
    assert.deepEqual(c.accepted('c1'), ['1:x']);
    assert.equal(c.view('n5'), 3, 'n4 leads view 3');
    const waitedIn1 = enteredAt.get(2)! - enteredAt.get(1)!;
    const waitedIn2 = enteredAt.get(3)! - enteredAt.get(2)!;
    assert.equal(waitedIn1, 10);
    assert.equal(waitedIn2, 20);
  });
});
