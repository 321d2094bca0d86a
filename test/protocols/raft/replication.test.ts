import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './harness.js';

// The paper's Figure 7: a leader for term 8 and six possible follower logs.
const LEADER = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
const FOLLOWERS: Record<string, number[]> = {
  a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
  b: [1, 1, 1, 4],
  c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
  d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
  e: [1, 1, 1, 4, 4, 4, 4],
  f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
};

for (const [name, follower] of Object.entries(FOLLOWERS)) {
  test(`log matching: Figure 7 follower (${name}) converges to the term-8 leader's log`, () => {
    const c = new Cluster('n1 n2 n3', { logs: { n1: LEADER, n2: follower, n3: [] }, terms: { n1: 7, n2: 7, n3: 7 } });
    c.elect('n1'); // n3 (empty log) votes for it: term 8
    assert.equal(c.node('n1').status().term, 8);
    c.propose('n1', 'x');
    c.deliverAll();
    const expected = [...LEADER, 8, 8]; // the new leader's no-op and the command
    assert.deepEqual(c.logTerms('n2'), expected);
    assert.deepEqual(c.logTerms('n3'), expected);
    // Fast backtracking: a handful of rejections, not one per divergent entry.
    const rejections = c.delivered.filter((m) => m.type === 'append-response' && !m.success && m.from === 'n2').length;
    assert.ok(rejections <= 3, `follower (${name}) needed ${rejections} rejections`);
  });
}

test('divergence repair never truncates committed entries and all nodes apply the same commands', () => {
  const c = new Cluster('n1 n2 n3 n4 n5');
  c.elect('n1');
  for (let i = 0; i < 5; i++) c.propose('n1', `a${i}`);
  c.deliverAll();
  // The leader appends entries only it has, then loses leadership.
  c.partition(['n1'], ['n2', 'n3', 'n4', 'n5']);
  for (let i = 0; i < 5; i++) c.propose('n1', `lost${i}`);
  const next = c.tickUntilLeader(['n2', 'n3', 'n4', 'n5']);
  c.propose(next, 'b0');
  c.deliverAll();
  c.heal();
  c.tickAll(30);
  for (const id of c.ids) {
    assert.deepEqual(c.commands(id), ['a0', 'a1', 'a2', 'a3', 'a4', 'b0'], `${id} applied the committed history`);
  }
});

/**
 * The paper's Figure 8. S1 leads term 4 and replicates its term-2 entry at index 2 to a
 * majority, while its own term-4 entry reaches nobody. Counting replicas would commit index 2;
 * then S5 (last log term 3) can still win term 5 and overwrite index 2.
 */
function figure8(mutant?: string) {
  const c = new Cluster('s1 s2 s3 s4 s5', {
    logs: { s1: [1, 2], s2: [1, 2], s3: [1], s4: [1], s5: [1, 3] },
    terms: { s1: 3, s2: 3, s3: 3, s4: 3, s5: 3 },
    // The paper's basic Raft: no pre-vote, no leader lease, so S5 can win as in Figure 8 (d).
    preVote: false,
    checkQuorum: false,
    ...(mutant === undefined ? {} : { mutant }),
  });
  // S1's own term-4 entries never leave it: strip them from its appends.
  c.filter = (m) => (m.type === 'append' && m.from === 's1' ? { ...m, entries: m.entries.filter((e) => e.term < 4) } : m);
  c.partition(['s5'], ['s1', 's2', 's3', 's4']);
  c.elect('s1'); // votes from s2, s3, s4: term 4
  assert.equal(c.node('s1').status().term, 4);
  c.tickAll(3);
  const s1Commit = c.node('s1').status().commitIndex;
  // S1 crashes; S5 returns and is elected by s2, s3, s4 with its term-3 log.
  c.crash('s1');
  c.filter = null;
  c.heal();
  // Term 4 is taken (s2-s4 voted for s1), so s5 wins term 5, as in the figure.
  for (let attempt = 0; attempt < 2 && c.leader() === null; attempt++) {
    c.node('s5').campaign();
    c.deliverAll();
  }
  return { c, s1Commit };
}

test('Figure 8: an entry from a previous term is not committed by counting replicas', () => {
  const { c, s1Commit } = figure8();
  assert.ok(s1Commit < 2, `index 2 (term 2) sat on a majority but was not committed (commit ${s1Commit})`);
  assert.equal(c.leader(), 's5');
  c.propose('s5', 'after');
  c.deliverAll();
  assert.deepEqual(c.logTerms('s2').slice(0, 2), [1, 3], 'the uncommitted entry was safely overwritten');
});

test('Figure 8 with the commit-old-term mutant: a committed entry is overwritten', () => {
  assert.throws(() => {
    const { c, s1Commit } = figure8('commit-old-term');
    assert.equal(s1Commit, 2, 'the mutant committed index 2 by counting');
    c.propose('s5', 'after');
    c.deliverAll();
    c.restart('s1');
    c.tickAll(20); // s1 learns s5's log: its applied index 2 disagrees with everyone else's
  }, /state machine safety/);
});

test('a leader replicates before its own write is durable, but counts itself toward commitment only once it is', () => {
  const c = new Cluster('n1 n2 n3 n4 n5');
  c.elect('n1');
  const leader = c.node('n1');
  const { index } = leader.propose(new TextEncoder().encode('x'));
  const rd = leader.ready();
  assert.ok(rd.persist !== null && rd.persist.entries.some((e) => e.index === index), 'the entry is being written');
  const appends = rd.sendBeforePersist.filter((m) => m.type === 'append');
  assert.equal(appends.length, 4, 'appends leave while the leader\'s own write is in flight');
  // Only n2 and n3 receive it and answer: with the leader's copy not yet durable, that is two
  // durable copies of five, not a majority.
  for (const m of appends) if (m.to === 'n2' || m.to === 'n3') c.node(m.to).step(m);
  for (const id of ['n2', 'n3']) {
    const frd = c.node(id).ready();
    c.node(id).advance(frd);
    for (const m of [...frd.sendBeforePersist, ...frd.send]) leader.step(m);
  }
  assert.ok(leader.status().commitIndex < index, 'not committed on two durable copies of five');
  leader.advance(rd); // the leader's write is durable now: three of five
  assert.ok(leader.status().commitIndex >= index, 'committed once the leader\'s own copy is durable');
});
