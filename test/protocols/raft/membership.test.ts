import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeIds } from '../../../src/core/index.js';
import { Cluster } from './harness.js';

/** Enter C_old,new = {n1,n2,n3} → {n1,n4,n5} while n4 and n5 are unreachable. */
function enterJoint(stripAfterJointFor: string[] = []) {
  const c = new Cluster('n1 n2 n3 n4 n5', { spares: ['n4', 'n5'] });
  c.elect('n1');
  c.partition(['n4', 'n5'], ['n1', 'n2', 'n3']);
  const { index: jointIndex } = c.node('n1').proposeConfigChange({ kind: 'joint', voters: nodeIds('n1', 'n4', 'n5'), learners: [] });
  // Optionally keep everything after the joint entry away from some members.
  c.filter = (m) =>
    m.type === 'append' && stripAfterJointFor.includes(m.to) ? { ...m, entries: m.entries.filter((e) => e.index <= jointIndex) } : m;
  c.deliverAll(); // C_old,new commits under C_old (it is not applied yet) and is then applied
  assert.deepEqual(c.node('n1').status().membership.outgoingVoters, nodeIds('n1', 'n2', 'n3'), 'the cluster is joint');
  return { c, jointIndex };
}

test('joint consensus: a majority of C_old alone decides nothing during the joint phase', () => {
  const { c } = enterJoint();
  const { index } = c.propose('n1', 'old-only');
  c.tick('n1', 1);
  c.deliverAll();
  assert.ok(c.node('n2').lastIndex() >= index, 'C_old holds the entry');
  assert.ok(c.node('n1').status().commitIndex < index, 'but it is not committed');
  c.heal();
  c.filter = null;
  c.tickAll(5);
  const l = c.tickUntilLeader();
  c.tickAll(5);
  assert.deepEqual(c.node(l).status().membership, { voters: nodeIds('n1', 'n4', 'n5'), outgoingVoters: [], learners: [] });
  assert.ok(c.commands('n4').includes('old-only'), 'committed once both majorities had it');
});

test('joint consensus: a majority of C_new alone decides nothing during the joint phase', () => {
  const { c } = enterJoint(['n2', 'n3']);
  // Now only C_new can be reached: n1, n4, n5.
  c.heal();
  c.filter = null;
  c.partition(['n2', 'n3'], ['n1', 'n4', 'n5']);
  const { index } = c.propose('n1', 'new-only');
  c.tick('n1', 1);
  c.deliverAll();
  assert.ok(c.node('n4').lastIndex() >= index, 'C_new holds the entry');
  assert.ok(c.node('n1').status().commitIndex < index, 'but it is not committed');
  assert.equal(c.node('n1').status().membership.outgoingVoters.length, 3, 'still joint: leaving needs C_old too');
  c.heal();
  c.tickAll(5);
  assert.ok(c.commands('n5').includes('new-only'));
});

test('joint consensus: an election during the joint phase needs both majorities', () => {
  const c = new Cluster('n1 n2 n3 n4 n5', { spares: ['n4', 'n5'] });
  c.elect('n1');
  c.partition(['n4', 'n5'], ['n1', 'n2', 'n3']);
  c.node('n1').proposeConfigChange({ kind: 'joint', voters: nodeIds('n1', 'n4', 'n5'), learners: [] });
  c.deliverAll();
  c.heal();
  // n4 and n5 receive the log (and apply C_old,new), but their acknowledgements are lost, so
  // leaving the joint configuration cannot commit.
  c.filter = (m) => (m.type === 'append-response' && m.success && (m.from === 'n4' || m.from === 'n5') ? null : m);
  c.tickAll(1);
  c.filter = null;
  assert.deepEqual(c.node('n5').status().membership.outgoingVoters, nodeIds('n1', 'n2', 'n3'), 'n5 is in the joint configuration');
  c.crash('n1');
  // n2 and n3 are a majority of C_old but not of C_new; n4 and n5 the reverse.
  c.partition(['n2', 'n3'], ['n4', 'n5']);
  c.tickAll(100);
  assert.equal(c.leader(['n2', 'n3', 'n4', 'n5']), null, 'no leader without both majorities');
  c.heal();
  const l = c.tickUntilLeader(['n2', 'n3', 'n4', 'n5']);
  const s = c.node(l).status();
  assert.ok(s.membership.outgoingVoters.length > 0 || s.membership.voters.includes(l));
});

test('single-server changes take a 3-node cluster to 5 (via learners) and back to 3', () => {
  const c = new Cluster('n1 n2 n3 n4 n5', { spares: ['n4', 'n5'] });
  c.elect('n1');
  c.propose('n1', 'before');
  c.deliverAll();
  const steps: [string, 'add-learner' | 'add-voter' | 'remove'][] = [
    ['n4', 'add-learner'], ['n4', 'add-voter'], ['n5', 'add-learner'], ['n5', 'add-voter'],
  ];
  for (const [node, kind] of steps) {
    c.node('n1').proposeConfigChange({ kind, node: nodeIds(node)[0]! });
    c.deliverAll();
    c.tickAll(2);
  }
  assert.deepEqual(c.node('n1').status().membership.voters, nodeIds('n1', 'n2', 'n3', 'n4', 'n5'));
  c.propose('n1', 'five');
  c.deliverAll();
  assert.deepEqual(c.commands('n5'), ['before', 'five'], 'the new members caught up');
  for (const node of ['n5', 'n4']) {
    c.node('n1').proposeConfigChange({ kind: 'remove', node: nodeIds(node)[0]! });
    c.deliverAll();
    c.tickAll(2);
  }
  assert.deepEqual(c.node('n1').status().membership.voters, nodeIds('n1', 'n2', 'n3'));
  c.propose('n1', 'three');
  c.deliverAll();
  assert.deepEqual(c.commands('n2'), ['before', 'five', 'three']);
});

test('one configuration change at a time', () => {
  const c = new Cluster('n1 n2 n3 n4 n5', { spares: ['n4', 'n5'] });
  c.elect('n1');
  c.node('n1').proposeConfigChange({ kind: 'add-learner', node: nodeIds('n4')[0]! });
  assert.throws(() => c.node('n1').proposeConfigChange({ kind: 'add-learner', node: nodeIds('n5')[0]! }), /CONFIG_CHANGE_IN_PROGRESS|still being applied/);
});

test('a removed leader steps down once its removal is applied, and the rest elect a new leader', () => {
  const c = new Cluster('n1 n2 n3');
  c.elect('n1');
  c.node('n1').proposeConfigChange({ kind: 'remove', node: nodeIds('n1')[0]! });
  c.deliverAll();
  assert.notEqual(c.node('n1').status().role, 'leader');
  const l = c.tickUntilLeader(['n2', 'n3']);
  c.propose(l, 'after-removal');
  c.deliverAll();
  assert.deepEqual(c.node(l).status().membership.voters, nodeIds('n2', 'n3'));
  assert.ok(c.commands(l === 'n2' ? 'n3' : 'n2').includes('after-removal'));
});
