/**
 * The nemesis's fault budget and voters that have no process yet: a spare added as a voter before
 * it starts is a voter down until it joins (NemesisSite.mayAddVoterNotStarted). The admin cycle's
 * promotion of every learner (a joint change) must not make such a voter of a spare added as a
 * learner and not started yet (its join answer lost with its leader, or the nemesis still
 * retrying) when the budget has no room for it: the simulator counted only add-voter changes, so
 * the damaged disks and that spare could leave the voters without a quorum, beyond the faults
 * the protocol tolerates.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeId, type NodeId } from '../../src/core/ids.js';
import type { Membership } from '../../src/core/replica.js';
import { FAULTS, type AdminChange, type NemesisSite } from '../../src/sim/nemesis.js';

function site(o: { learners: NodeId[]; budget: boolean; voters?: NodeId[] }): { site: NemesisSite; proposed: AdminChange[] } {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'].map((id) => ({ id: nodeId(id), key: id, up: true, byzantine: false }));
  const proposed: AdminChange[] = [];
  const membership: Membership = { voters: o.voters ?? nodes.map((n) => n.id), outgoingVoters: [], learners: o.learners };
  const fake = {
    // Every chance taken: the admin strike changes the membership.
    rng: { chance: () => true, int: (min: number) => min, pick: <T>(xs: readonly T[]) => xs[0]!, shuffle: <T>(xs: readonly T[]) => [...xs] },
    faults: new Set(['admin']),
    nodes,
    healed: false,
    leader: () => nodes[0],
    membership: () => membership,
    mayAddVoterNotStarted: () => o.budget,
    demotable: () => 2,
    changeMembership: (_leader: unknown, change: AdminChange) => void proposed.push(change),
    note: () => {},
    after: () => {},
  };
  return { site: fake as unknown as NemesisSite, proposed };
}

test('the admin cycle does not promote a learner that has not started when the fault budget has no room for it', () => {
  const { site: s, proposed } = site({ learners: [nodeId('n6')], budget: false });
  FAULTS.admin.inject(s, 0);
  for (const c of proposed) {
    assert.ok(c.kind !== 'joint' || !c.voters.includes(nodeId('n6')), `proposed ${JSON.stringify(c)}: n6 has no process yet`);
  }
});

test('the admin cycle promotes started learners and leaves the one not started a learner', () => {
  // n5 is a started member demoted earlier.
  const { site: s, proposed } = site({ voters: ['n1', 'n2', 'n3', 'n4'].map(nodeId), learners: [nodeId('n5'), nodeId('n6')], budget: false });
  FAULTS.admin.inject(s, 0);
  assert.equal(proposed.length, 1);
  const c = proposed[0]!;
  assert.ok(c.kind === 'joint');
  assert.deepEqual(c.voters, ['n1', 'n2', 'n3', 'n4', 'n5']);
  assert.deepEqual(c.learners, ['n6'], 'n6 stays a learner (a joint change lists every learner it keeps)');
});

test('with room in the fault budget, a learner not started is promoted with the others', () => {
  const { site: s, proposed } = site({ learners: [nodeId('n6')], budget: true });
  FAULTS.admin.inject(s, 0);
  assert.equal(proposed.length, 1);
  const c = proposed[0]!;
  assert.ok(c.kind === 'joint' && c.voters.includes(nodeId('n6')));
});
