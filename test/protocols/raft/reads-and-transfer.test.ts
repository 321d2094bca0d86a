import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotLeader, nodeId, QuorateError, TooManyRequests } from '../../../src/core/index.js';
import { Cluster } from './harness.js';

const enc = new TextEncoder();

test('ReadIndex returns only after the leader confirmed leadership with a quorum in its term', () => {
  const c = new Cluster('n1 n2 n3');
  c.elect('n1');
  c.propose('n1', 'x');
  c.deliverAll();
  c.node('n1').readIndex('r1');
  c.process();
  assert.deepEqual(c.readStates.get(nodeId('n1')), [], 'no answer before the heartbeat round');
  c.deliverAll();
  const rs = c.readStates.get(nodeId('n1'))!;
  assert.equal(rs.length, 1);
  assert.equal(rs[0]!.index, c.node('n1').status().commitIndex);
});

test('a new leader answers ReadIndex only after committing an entry of its own term', () => {
  const c = new Cluster('m1 m2 m3');
  c.filter = (m) => (m.type === 'append' ? null : m); // appends never arrive: the no-op cannot commit
  c.elect('m1');
  c.node('m1').readIndex('early');
  c.deliverAll();
  assert.deepEqual(c.readStates.get(nodeId('m1')), [], 'held until the no-op commits');
  c.filter = null;
  c.tickAll(2);
  assert.equal(c.readStates.get(nodeId('m1'))!.length, 1, 'answered once the term has a committed entry');
});

function deposedLeaderRead(mutant?: string) {
  const c = new Cluster('n1 n2 n3', mutant === undefined ? {} : { mutant });
  c.elect('n1');
  c.partition(['n1'], ['n2', 'n3']);
  const l = c.tickUntilLeader(['n2', 'n3']);
  c.propose(l, 'new-write');
  c.deliverAll();
  // n1 has not noticed yet (no ticks): it still believes it leads.
  assert.equal(c.node('n1').status().role, 'leader');
  c.node('n1').readIndex('stale?');
  c.deliverAll();
  return c.readStates.get(nodeId('n1'))!;
}

test('a deposed, partitioned leader never answers a ReadIndex', () => {
  assert.deepEqual(deposedLeaderRead(), []);
});

test('with the stale-read mutant the deposed leader answers (a stale read)', () => {
  assert.equal(deposedLeaderRead('stale-read').length, 1);
});

test('ReadIndex from a follower is forwarded to the leader and answered to the follower', () => {
  const c = new Cluster('n1 n2 n3');
  c.elect('n1');
  c.propose('n1', 'x');
  c.deliverAll();
  c.node('n2').readIndex('f1');
  c.deliverAll();
  const rs = c.readStates.get(nodeId('n2'))!;
  assert.deepEqual(rs.map((r) => r.requestId), ['f1']);
  assert.equal(rs[0]!.index, c.node('n1').status().commitIndex);
});

test('lease-based reads answer without a heartbeat round', () => {
  const c = new Cluster('n1 n2 n3', { readOnly: 'lease-based' });
  c.elect('n1');
  c.node('n1').readIndex('lease');
  c.process();
  assert.equal(c.readStates.get(nodeId('n1'))!.length, 1);
});

test('leadership transfer catches the target up, then hands over with TimeoutNow', () => {
  const c = new Cluster('n1 n2 n3');
  c.elect('n1');
  c.partition(['n2'], ['n1', 'n3']);
  for (let i = 0; i < 5; i++) c.propose('n1', `w${i}`);
  c.deliverAll();
  c.heal();
  const term = c.node('n1').status().term;
  c.node('n1').transferLeadership(nodeId('n2'));
  assert.throws(() => c.node('n1').propose(enc.encode('during')), (e: Error) => e instanceof QuorateError && e.code === 'PROPOSAL_DROPPED');
  c.deliverAll();
  assert.equal(c.leader(), 'n2');
  assert.equal(c.node('n2').status().term, term + 1);
  assert.deepEqual(c.commands('n2'), ['w0', 'w1', 'w2', 'w3', 'w4']);
});

test('a follower refuses proposals with NotLeader and a hint', () => {
  const c = new Cluster('n1 n2 n3');
  c.elect('n1');
  assert.throws(() => c.node('n2').propose(enc.encode('x')), (e: Error) => e instanceof NotLeader && e.leaderHint === 'n1');
});

test('limits: at most maxInflightMessages appends in flight to a silent follower', () => {
  const c = new Cluster('n1 n2 n3', { maxInflightMessages: 2, maxEntriesPerMessage: 1 });
  c.elect('n1');
  c.propose('n1', 'warm'); // n2 and n3 move to replicate state
  c.deliverAll();
  c.filter = (m) => (m.type === 'append-response' && m.from === 'n2' ? null : m);
  for (let i = 0; i < 10; i++) c.propose('n1', `w${i}`);
  c.deliverAll();
  const toN2 = c.delivered.filter((m) => m.type === 'append' && m.to === 'n2' && m.entries.length > 0 && m.entries[0]!.index > 3);
  assert.ok(toN2.length <= 2, `sent ${toN2.length} appends with entries to the silent follower`);
  assert.equal(c.node('n1').status().progress.get(nodeId('n2'))!.inflight, 2);
});

test('limits: maxUncommittedEntries turns proposals away with TooManyRequests', () => {
  const c = new Cluster('n1 n2 n3', { maxUncommittedEntries: 5 });
  c.elect('n1');
  c.partition(['n1'], ['n2', 'n3']);
  assert.throws(() => {
    for (let i = 0; i < 10; i++) c.propose('n1', `w${i}`);
  }, (e: Error) => e instanceof TooManyRequests);
});

test('limits: a chunked InstallSnapshot sends bounded chunks', () => {
  const c = new Cluster('n1 n2 n3', { snapshotChunkBytes: 16 });
  c.elect('n1');
  c.crash('n3');
  for (let i = 0; i < 20; i++) c.propose('n1', `write-number-${i}`);
  c.deliverAll();
  c.compact('n1');
  c.restart('n3');
  c.tickAll(20);
  const chunks = c.delivered.filter((m) => m.type === 'snapshot');
  assert.ok(chunks.length > 5, `snapshot sent in ${chunks.length} chunks`);
  assert.ok(chunks.every((m) => m.type === 'snapshot' && m.chunk.byteLength <= 16));
  assert.equal(c.commands('n3').length, 20);
});
