/**
 * Raft's classic implementation mistakes. Each test runs the scenario twice: on the correct core
 * (the good outcome) and on the mutant that makes the mistake (the bad outcome), so each test
 * demonstrably fails if the mistake is introduced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { index, nodeId, term, type Term } from '../../../src/core/index.js';
import type { RaftMessage } from '../../../src/protocols/raft/index.js';
import { Cluster } from './harness.js';

// (1) Committing previous-term entries by counting: the Figure 8 tests in replication.test.ts.

function doubleVote(mutant?: string) {
  const c = new Cluster('n1 n2 n3', { preVote: false, checkQuorum: false, ...(mutant === undefined ? {} : { mutant }) });
  // Every Ready that grants a vote must persist that vote in the same Ready.
  c.node('n1').campaign();
  c.process();
  c.deliverAll();
  assert.equal(c.leader(), 'n1');
  const t = c.node('n3').status().term;
  // n3 voted for n1 in term t, then crashes and restarts from what it persisted.
  c.crash('n3');
  c.restart('n3');
  // n2, cut off from n1, asks n3 for a vote in the same term t.
  const request: RaftMessage = {
    type: 'vote-request', from: nodeId('n2'), to: nodeId('n3'), term: t, lastLogIndex: c.node('n2').lastIndex(),
    lastLogTerm: c.node('n2').termAt(c.node('n2').lastIndex()) ?? term(0), preVote: false, transfer: false,
  };
  c.node('n3').step(request);
  const rd = c.node('n3').ready();
  return rd.send.find((m) => m.type === 'vote-response');
}

test('(2) a vote is durable before it is sent: after a crash a node does not vote twice in a term', () => {
  const answer = doubleVote();
  assert.ok(answer?.type === 'vote-response' && !answer.granted, 'the restarted node remembers its vote');
});

test('(2) with the vote-before-persist mutant the restarted node votes twice in one term', () => {
  const answer = doubleVote('vote-before-persist');
  assert.ok(answer?.type === 'vote-response' && answer.granted, 'the mutant forgot its vote');
});

test('(2) every Ready that sends a granted vote also persists that vote', () => {
  const c = new Cluster('n1 n2 n3 n4 n5', { preVote: false });
  for (let round = 0; round < 20; round++) {
    c.tickAll(1);
    for (const n of c.nodes.values()) {
      if (!n.hasReady()) continue;
      const rd = n.ready();
      for (const m of rd.sendBeforePersist) {
        assert.ok(m.type !== 'vote-response' && m.type !== 'vote-request', 'votes never leave before their persist');
      }
      for (const m of rd.send) {
        if (m.type === 'vote-response' && m.granted && !m.preVote) {
          assert.equal(rd.persist?.hardState?.vote, m.to, 'the grant and the durable vote travel together');
        }
      }
      n.advance(rd);
      c.inFlight.push(...rd.sendBeforePersist, ...rd.send);
    }
  }
});

function snapshotCatchUp(mutant?: string) {
  const c = new Cluster('n1 n2 n3', mutant === undefined ? {} : { mutant });
  c.elect('n1');
  c.crash('n3');
  for (let i = 0; i < 10; i++) c.propose('n1', `w${i}`);
  c.deliverAll();
  c.propose('n1', 'tail'); // appended, not yet replicated, when the leader compacts
  c.compact('n1');
  c.deliverAll();
  c.restart('n3');
  c.tickAll(30);
  return c;
}

test('(3) snapshot boundary: a follower behind the compaction point catches up exactly', () => {
  const c = snapshotCatchUp();
  const all = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8', 'w9', 'tail'];
  for (const id of c.ids) assert.deepEqual(c.commands(id), all, `${id} has every entry, once`);
  assert.ok(c.countDelivered('snapshot') >= 1, 'n3 was caught up by InstallSnapshot');
});

test('(3) with the snapshot-off-by-one mutant an entry past the snapshot is lost', () => {
  let caught: string;
  try {
    const c = snapshotCatchUp('snapshot-off-by-one');
    caught = c.ids.every((id) => c.commands(id).includes('tail')) ? 'not caught' : 'entry lost';
  } catch (err) {
    caught = `invariant: ${(err as Error).message}`;
  }
  assert.notEqual(caught, 'not caught');
});

function timerScenario(mutant?: string) {
  // No leader lease here, so a fresh-term vote request is considered at all.
  const c = new Cluster('n1 n2 n3', { checkQuorum: false, ...(mutant === undefined ? {} : { mutant }) });
  c.elect('n1');
  const f = c.node('n2');
  const t = f.status().term;
  c.partition(['n1'], ['n2', 'n3']);
  const timer = () => f.electionTimer().elapsed;
  c.tick('n2', 5);
  const before = timer();
  // A stale-term AppendEntries (from an old leader) must not reset the timer.
  f.step({ type: 'append', from: nodeId('n3'), to: nodeId('n2'), term: (t - 1) as Term, prevLogIndex: index(0), prevLogTerm: term(0), entries: [], commit: index(0) });
  const afterStale = timer();
  c.tick('n2', 1);
  // A denied vote (n2 already voted for n1 in term t) must not either.
  f.step({ type: 'vote-request', from: nodeId('n3'), to: nodeId('n2'), term: t, lastLogIndex: index(99), lastLogTerm: t, preVote: false, transfer: false });
  const afterDenied = timer();
  c.tick('n2', 1);
  // A valid AppendEntries from the current leader does.
  f.step({ type: 'append', from: nodeId('n1'), to: nodeId('n2'), term: t, prevLogIndex: f.lastIndex(), prevLogTerm: f.termAt(f.lastIndex())!, entries: [], commit: index(0) });
  const afterValid = timer();
  // A granted vote does: n3 (in a later term) grants a candidate whose log is ahead.
  c.tick('n2', 1);
  f.step({ type: 'vote-request', from: nodeId('n3'), to: nodeId('n2'), term: (t + 5) as Term, lastLogIndex: index(99), lastLogTerm: (t + 1) as Term, preVote: false, transfer: false });
  const granted = f.ready().send.some((m) => m.type === 'vote-response' && m.granted);
  const afterGrant = timer();
  return { before, afterStale, afterDenied, afterValid, granted, afterGrant };
}

test('(4) the election timer resets on a granted vote and a valid AppendEntries, never on stale or denied ones', () => {
  const r = timerScenario();
  assert.equal(r.before, 5);
  assert.equal(r.afterStale, 5, 'a stale-term AppendEntries left the timer alone');
  assert.equal(r.afterDenied, 6, 'a denied vote left the timer alone');
  assert.equal(r.afterValid, 0, 'a valid AppendEntries reset it');
  assert.ok(r.granted);
  assert.equal(r.afterGrant, 0, 'a granted vote reset it');
});

test('(4) with the reset-timer-wrongly mutant the timer resets on the wrong events', () => {
  const r = timerScenario('reset-timer-wrongly');
  assert.equal(r.afterStale, 0, 'the mutant reset on a stale AppendEntries');
  assert.equal(r.afterDenied, 0, 'the mutant reset on a denied vote');
  assert.equal(r.afterValid, 1, 'the mutant did not reset on a valid AppendEntries');
});

function restartWithDurableStateMachine(mutant?: string) {
  const c = new Cluster('n1 n2 n3');
  c.elect('n1');
  for (let i = 0; i < 5; i++) c.propose('n1', `w${i}`);
  c.deliverAll();
  c.tickAll(2); // commit index reaches followers
  const applied = c.node('n2').status().appliedIndex;
  c.crash('n2');
  // n2's state machine persisted itself through `applied` (like etcd's consistent index).
  c.restart('n2', { applied, ...(mutant === undefined ? {} : { mutant }) });
  c.tickAll(5);
  return c;
}

test('(5) after a restart no entry is applied twice or out of order', () => {
  const c = restartWithDurableStateMachine();
  assert.deepEqual(c.commands('n2'), ['w0', 'w1', 'w2', 'w3', 'w4']);
});

test('(5) with the apply-twice mutant the restarted node re-applies entries', () => {
  assert.throws(() => restartWithDurableStateMachine('apply-twice'), /applies in order/);
});
