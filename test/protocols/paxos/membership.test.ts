/**
 * Multi-Paxos configurations and ballot ranks (src/protocols/paxos/membership.ts): ranks are fixed
 * and never reused, a configuration written before ranks (an old data directory) reads with the
 * ranks ballots had then, ranks that run out are refused, and flexible quorum sizes refuse every
 * change. The scenarios (testdata/membership-*.txt) show the protocol around them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeId, type Index, type NodeId, type Term } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import type { Membership } from '../../../src/core/replica.js';
import { configOfEntry, encodeConfigEntry, MAX_REPLICAS, MultiPaxosReplica, NO_BALLOT, PaxosConfig } from '../../../src/protocols/paxos/index.js';

const ids = (...names: string[]): NodeId[] => names.map(nodeId);
const plain = (voters: string[]): Membership => ({ voters: ids(...voters), outgoingVoters: [], learners: [] });

test('a configuration without ranks (written before them) ranks its members by sorted position, as ballots did', () => {
  const c = PaxosConfig.from(plain(['n3', 'n1', 'n2']));
  assert.deepEqual([...c.ranks].sort(), [['n1', 1], ['n2', 2], ['n3', 3]]);
  assert.equal(c.nextRank, 4);
  // Stored as before: no ranks written while they are the default.
  assert.deepEqual(c.toMembership(), { voters: ids('n1', 'n2', 'n3'), outgoingVoters: [], learners: [] });
});

test('a member added gets the next rank; a removed member\'s rank is never given to anyone else', () => {
  let c = PaxosConfig.from(plain(['n1', 'n2', 'n3']));
  c = c.apply({ kind: 'remove', node: nodeId('n2') });
  assert.equal(c.rankOf(nodeId('n2')), undefined);
  c = c.apply({ kind: 'add-voter', node: nodeId('n0') });
  assert.equal(c.rankOf(nodeId('n0')), 4, 'not rank 2, which n2 (removed, maybe unaware) may still campaign with');
  c = c.apply({ kind: 'add-learner', node: nodeId('n2') });
  assert.equal(c.rankOf(nodeId('n2')), 5, 'a member added again is a new member');
  assert.equal(c.nextRank, 6);
  // Now written out, and read back the same (a snapshot, a configuration entry).
  const m = c.toMembership();
  assert.deepEqual(m.ranks, { n0: 4, n1: 1, n2: 5, n3: 3 });
  const back = PaxosConfig.from(m);
  assert.deepEqual([...back.ranks].sort(), [...c.ranks].sort());
  assert.equal(back.nextRank, 6);
  // A configuration entry carries the configuration it leads to.
  const entry = configOfEntry(encodeConfigEntry({ kind: 'add-voter', node: nodeId('n9') }, c.apply({ kind: 'add-voter', node: nodeId('n9') })));
  assert.equal(entry?.rankOf(nodeId('n9')), 6);
});

test('joint changes: demoted voters keep their vote in C_old and their rank; both halves make a quorum', () => {
  const c = PaxosConfig.from(plain(['n1', 'n2', 'n3', 'n4', 'n5'])).apply({ kind: 'joint', voters: ids('n1', 'n2', 'n3'), learners: ids('n4', 'n5') });
  assert.ok(c.isJoint() && c.isVoter(nodeId('n4')) && c.learnersNext.has(nodeId('n4')));
  assert.equal(c.hasQuorum(new Set(ids('n1', 'n2'))), false, 'a majority of C_new alone');
  assert.equal(c.hasQuorum(new Set(ids('n1', 'n2', 'n4'))), true);
  const left = c.apply({ kind: 'leave-joint' });
  assert.deepEqual([...left.learners].sort(), ids('n4', 'n5'));
  assert.equal(left.rankOf(nodeId('n4')), 4);
  assert.equal(left.hasQuorum(new Set(ids('n1', 'n2'))), true);
  assert.equal(left.hasQuorum(new Set(ids('n1', 'n4', 'n5'))), false, 'learners never count');
});

test('ranks that run out are refused with a clear error', () => {
  let c = PaxosConfig.from({ ...plain(['n1']), ranks: { n1: 1 }, nextRank: MAX_REPLICAS - 1 });
  c = c.apply({ kind: 'add-voter', node: nodeId('n2') });
  assert.equal(c.rankOf(nodeId('n2')), MAX_REPLICAS - 1);
  assert.throws(() => c.apply({ kind: 'add-learner', node: nodeId('n3') }), /INVALID_CONFIG_CHANGE|ballot ranks have run out/);
});

test('flexible quorum sizes are for a fixed membership: a change is refused', () => {
  const r = new MultiPaxosReplica({ id: nodeId('n1'), membership: plain(['n1']), random: new Prng(1), phase1QuorumSize: 1, phase2QuorumSize: 1, prePrepare: false });
  for (let i = 0; i < 100 && r.status().role !== 'leader'; i++) {
    r.tick();
    while (r.hasReady()) r.advance(r.ready());
  }
  assert.equal(r.status().role, 'leader');
  assert.throws(() => r.proposeConfigChange({ kind: 'add-voter', node: nodeId('n2') }), /flexible quorum sizes/);
});

test('a replica restarted from a snapshot whose configuration has ranks keeps them (and campaigns with its own)', () => {
  const membership: Membership = { ...plain(['n1', 'n5']), ranks: { n1: 1, n5: 7 }, nextRank: 8 };
  const r = new MultiPaxosReplica({
    id: nodeId('n5'), membership: plain(['n1', 'n5']), random: new Prng(1), prePrepare: false,
    restored: { hardState: { promised: NO_BALLOT }, snapshot: { meta: { index: 3 as Index, term: 1025 as Term, membership }, data: new Uint8Array(0) }, entries: [] },
  });
  assert.deepEqual(r.status().membership.ranks, { n1: 1, n5: 7 });
  for (let i = 0; i < 100 && r.status().role === 'follower'; i++) r.tick();
  assert.equal(r.status().promised % MAX_REPLICAS, 7, 'its ballots carry its own rank, not its sorted position');
});
