/** PBFT's normal case, checkpoints and state transfer, each as a small script of the paper's steps. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId } from '../../../src/core/index.js';
import { macVector } from '../../../src/core/authenticator.js';
import { commitPayload, type PbftMessage } from '../../../src/protocols/pbft/index.js';
import { PbftCluster } from './harness.js';

describe('PBFT normal case', () => {
  it('pre-prepare, prepare, commit: every replica executes the request and the client accepts f + 1 matching replies', () => {
    const c = new PbftCluster(4);
    c.request('c1', 'x');
    c.deliverAll();
    for (const id of c.ids) assert.equal(c.executed(id).get(1), 'x');
    assert.deepEqual(c.accepted('c1'), ['1:x']);
    c.assertAgree();
  });

  it('works at N = 7 (f = 2) with two replicas that never answer', () => {
    const c = new PbftCluster(7);
    c.drop((m) => m.from === 'n6' || m.from === 'n7');
    for (let i = 1; i <= 5; i++) {
      c.request('c1', `x${i}`);
      c.deliverAll();
    }
    assert.deepEqual(c.accepted('c1'), ['1:x1', '2:x2', '3:x3', '4:x4', '5:x5']);
    for (const id of ['n1', 'n2', 'n3', 'n4', 'n5']) assert.equal(c.executed(id).size, 5);
  });

  it('the primary batches requests that arrive while its pipeline is full', () => {
    const c = new PbftCluster(4, { maxInFlightBatches: 1 });
    for (let i = 1; i <= 5; i++) c.request(`c${i}`, `op${i}`);
    c.deliverAll();
    // The first request went out alone; the other four waited and shared one pre-prepare.
    assert.equal(c.executed('n2').get(1), 'op1');
    assert.equal(c.executed('n2').get(2), 'op2,op3,op4,op5');
    for (let i = 1; i <= 5; i++) assert.equal(c.accepted(`c${i}`).length, 1);
    c.assertAgree();
  });

  it('a read-only request is executed without ordering and accepted on 2f + 1 matching replies', () => {
    const c = new PbftCluster(4);
    c.request('c1', 'x');
    c.deliverAll();
    const before = c.delivered;
    c.request('c2', 'x?', { readOnly: true });
    c.deliverAll();
    assert.deepEqual(c.accepted('c2'), ['read:1:x?']);
    assert.equal(c.delivered - before, 8, 'four requests and four replies: no pre-prepare, prepare or commit');
    assert.equal(c.executed('n1').size, 1);
  });

  it('a replica retransmits; the request the client resends is answered from the last reply, not executed twice', () => {
    const c = new PbftCluster(4);
    c.drop((m) => m.type === 'reply');
    c.request('c1', 'x');
    c.deliverAll();
    c.clearRules();
    c.retry('c1');
    c.deliverAll();
    assert.deepEqual(c.accepted('c1'), ['1:x']);
    assert.equal(c.machines.get(nodeId('n1'))!.ops.length, 1);
  });

  it('messages lost in the network are retransmitted until the request commits', () => {
    const c = new PbftCluster(4);
    let n = 0;
    c.drop((m) => m.type !== 'request' && m.type !== 'reply' && n++ % 3 === 0);
    c.request('c1', 'x');
    c.deliverAll();
    c.clearRules();
    c.tickUntil(() => c.accepted('c1').length === 1);
    c.assertAgree();
  });
});

describe('PBFT authentication', () => {
  it('commits forged in other replicas\' names are dropped and counted, and decide nothing', () => {
    const c = new PbftCluster(4);
    const n4 = c.auth('n4');
    // n4 (Byzantine) fabricates commits for a digest nobody pre-prepared, in everyone's name.
    for (const victim of ['n1', 'n2', 'n3']) {
      const payload = commitPayload(0, 1, 'bogus', nodeId(victim));
      for (const to of ['n1', 'n2', 'n3']) {
        c.inFlight.push({ type: 'commit', from: nodeId(victim), to: nodeId(to), view: 0, seq: 1, digest: 'bogus', replica: nodeId(victim), macs: macVector(n4, payload, c.ids) });
      }
    }
    c.deliverAll();
    for (const id of ['n1', 'n2', 'n3']) assert.equal(c.replica(id).status().invalidAuthenticators, 3, id);
    c.request('c1', 'x');
    c.deliverAll();
    assert.deepEqual(c.accepted('c1'), ['1:x']);
    c.assertAgree();
  });

  it('replayed old messages change nothing', () => {
    const c = new PbftCluster(4);
    const recorded: PbftMessage[] = [];
    c.rule((m) => {
      if (m.type !== 'reply' && m.type !== 'request') recorded.push(m);
      return m;
    });
    c.request('c1', 'x');
    c.deliverAll();
    c.request('c1', 'y');
    c.deliverAll();
    c.inFlight.push(...recorded);
    c.deliverAll();
    assert.deepEqual([...c.executed('n3').values()], ['x', 'y']);
    assert.equal(c.machines.get(nodeId('n3'))!.ops.length, 2);
  });
});

describe('PBFT checkpoints and state transfer', () => {
  it('a checkpoint is stable at 2f + 1 matching CHECKPOINTs; the low water mark moves and older slots are discarded', () => {
    const c = new PbftCluster(4, { checkpointIntervalSeqs: 4 });
    for (let i = 1; i <= 9; i++) {
      c.request('c1', `x${i}`);
      c.deliverAll();
    }
    for (const id of c.ids) assert.equal(c.replica(id).status().stableCheckpoint, 8);
  });

  it('a replica lying about its checkpoint digest cannot make a checkpoint stable, and the honest ones still do', () => {
    const c = new PbftCluster(4, { checkpointIntervalSeqs: 4 });
    const liar = c.auth('n4');
    c.rule((m) => {
      if (m.type !== 'checkpoint' || m.from !== 'n4') return m;
      const cp = { ...m.checkpoint, stateDigest: 'lie' };
      return { ...m, checkpoint: { ...cp, signature: liar.sign(`K|${cp.seq}|lie|n4`) } };
    });
    for (let i = 1; i <= 4; i++) {
      c.request('c1', `x${i}`);
      c.deliverAll();
    }
    for (const id of ['n1', 'n2', 'n3']) assert.equal(c.replica(id).status().stableCheckpoint, 4);
  });

  it('a replica that missed whole checkpoints fetches the state, refuses a corrupt copy and verifies the right one', () => {
    const c = new PbftCluster(4, { checkpointIntervalSeqs: 4, logWindowSeqs: 8 });
    c.drop((m) => m.to === 'n4' || m.from === 'n4');
    for (let i = 1; i <= 18; i++) {
      c.request('c1', `x${i}`);
      c.deliverAll();
    }
    assert.equal(c.replica('n4').status().lastExecuted, 0);
    c.clearRules();
    // n1 serves a corrupt state; n4 must refuse it and ask another replica.
    c.rule((m) => (m.type === 'state' && m.from === 'n1' ? { ...m, data: new Uint8Array([...m.data].map((b, i) => (i === 5 ? b ^ 1 : b))) } : m));
    c.tickUntil(() => c.replica('n4').status().lastExecuted >= 16);
    assert.ok(c.replica('n4').status().stateTransfers >= 1);
    assert.deepEqual(c.machines.get(nodeId('n4'))!.ops.slice(0, 16), c.machines.get(nodeId('n1'))!.ops.slice(0, 16));
    // 17 and 18 were executed while n4 was away and are not retransmitted: n4 catches up at the
    // next stable checkpoint (20), then executes the sequence numbers above it with the others.
    for (const op of ['a', 'b', 'c']) {
      c.request('c1', op);
      c.deliverAll();
    }
    c.tickUntil(() => c.replica('n4').status().lastExecuted === 21);
    assert.deepEqual(c.machines.get(nodeId('n4'))!.ops, c.machines.get(nodeId('n1'))!.ops);
  });
});
