import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../src/core/index.js';
import { Cluster } from './harness.js';

test('election safety: never two leaders in one term, under random message loss and ticks', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const c = new Cluster('n1 n2 n3 n4 n5', { seed });
    const r = new Prng(seed * 7919);
    for (let step = 0; step < 400; step++) {
      const id = r.pick(c.ids);
      c.tick(id);
      // Deliver a random subset of what is in flight; drop some; keep the rest for later.
      const keep = [];
      for (const m of c.inFlight.splice(0)) {
        const roll = r.float();
        if (roll < 0.15) continue; // lost
        if (roll < 0.35) keep.push(m); // delayed
        else c.node(m.to).step(m);
      }
      c.inFlight.push(...keep);
      c.process(); // the harness asserts election safety on every Ready
    }
    assert.ok(c.leaders.size > 0, `seed ${seed}: some leader was elected`);
  }
});

test('a split vote recovers: a later term elects exactly one leader', () => {
  const c = new Cluster('n1 n2 n3 n4', { preVote: false, seed: 3 });
  // n1 and n2 campaign at once; n3 hears n1 first, n4 hears n2 first: 2 votes each, no majority of 4.
  c.node('n1').campaign();
  c.node('n2').campaign();
  c.process();
  const order = (m: { from: string; to: string }) => (m.to === 'n3' ? (m.from === 'n1' ? 0 : 1) : m.to === 'n4' ? (m.from === 'n2' ? 0 : 1) : 0);
  c.inFlight.sort((a, b) => order(a) - order(b));
  c.deliverAll();
  assert.equal(c.leader(), null, 'no leader in the split term');
  assert.equal(c.node('n1').status().term, 1);
  const leader = c.tickUntilLeader();
  assert.ok(c.node(leader).status().term > 1, 'elected in a later term');
});

test('pre-vote: a partitioned node does not raise its term or disrupt the leader when it returns', () => {
  const c = new Cluster('n1 n2 n3');
  c.elect('n1');
  const term = c.node('n1').status().term;
  c.partition(['n3'], ['n1', 'n2']);
  c.tickAll(100); // many election timeouts for n3
  assert.equal(c.node('n3').status().term, term, 'pre-candidate never bumps its term');
  c.heal();
  c.tickAll(30);
  assert.equal(c.leader(), 'n1', 'the leader is undisturbed');
  assert.equal(c.node('n1').status().term, term);
});

test('without pre-vote the same partition does disrupt the leader (the test above can fail)', () => {
  const c = new Cluster('n1 n2 n3', { preVote: false });
  c.elect('n1');
  const term = c.node('n1').status().term;
  c.partition(['n3'], ['n1', 'n2']);
  c.tickAll(100);
  assert.ok(c.node('n3').status().term > term + 3, 'the isolated node keeps raising its term');
  c.heal();
  c.tickAll(30);
  assert.ok(c.node('n1').status().term > term, 'the cluster had to move to a higher term');
});

test('check-quorum: a leader that hears from no majority for an election timeout steps down', () => {
  const c = new Cluster('n1 n2 n3');
  c.elect('n1');
  c.partition(['n1'], ['n2', 'n3']);
  c.tick('n1', 25);
  assert.equal(c.node('n1').status().role, 'follower');
  assert.equal(c.node('n1').status().leader, null);
});

test('check-quorum lease: followers of a live leader ignore vote requests of a higher term', () => {
  const c = new Cluster('n1 n2 n3', { preVote: false });
  c.elect('n1');
  const term = c.node('n1').status().term;
  c.node('n3').campaign(); // e.g. a node with a faster clock
  c.deliverAll();
  assert.equal(c.leader(), 'n1');
  assert.equal(c.node('n2').status().term, term, 'n2 did not even adopt the higher term');
});

test('a learner never campaigns and its vote never counts', () => {
  const c = new Cluster('n1 n2 n3 n4', { learners: ['n4'] });
  c.elect('n1');
  c.propose('n1', 'x');
  c.deliverAll();
  c.partition(['n4'], ['n1', 'n2', 'n3']);
  c.tick('n4', 200);
  assert.equal(c.node('n4').status().role, 'follower');
  assert.deepEqual(c.commands('n4'), ['x'], 'learners receive the log');
});
