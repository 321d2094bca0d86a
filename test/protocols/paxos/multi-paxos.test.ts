/**
 * Multi-Paxos scenario tests, each named after the rule it protects ("Paxos Made Simple",
 * "Paxos Made Moderately Complex", "Flexible Paxos"). Every script is small: who campaigns,
 * which links are cut, who crashes, what is proposed, and what every replica ends up applying.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantViolation } from '../../../src/core/replica.js';
import { ballotRank, InvalidQuorumConfig, MultiPaxosReplica } from '../../../src/protocols/paxos/index.js';
import { nodeIds } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import { cmd, PaxosCluster } from './harness.js';

test('phase 1 once, then phase 2 per slot: a leader commits batched commands and every replica applies the same log', () => {
  const c = new PaxosCluster(3);
  c.campaign('n1');
  assert.equal(c.leader(), 'n1');
  const prepares = c.delivered;
  // Ten proposals arrive while the leader is busy: they go out as one batch per follower.
  for (let i = 1; i <= 10; i++) c.replica('n1').propose(cmd(`put ${i}`));
  c.process('n1');
  c.deliverAll();
  c.tickAll(2); // a heartbeat carries the commit point to the followers
  const last = c.replica('n1').status().lastSlot;
  for (const id of ['n1', 'n2', 'n3']) assert.equal(c.node(id).appliedThrough, last, `${id} applied everything`);
  for (let s = 1; s <= last; s++) assert.equal(new Set(c.appliedAt(s).values()).size, 1, `slot ${s} is the same everywhere`);
  assert.deepEqual([...c.appliedAt(last).values()], ['put 10', 'put 10', 'put 10']);
  // One Accept batch per follower and its answer, then two heartbeat rounds: no further phase 1.
  assert.equal(c.delivered - prepares, 2 * 2 + 2 * 2 * 2, `messages after phase 1: ${c.delivered - prepares}`);
});

test('quorum intersection (P2c): a value chosen by a phase-2 quorum is found by every phase-1 quorum, and the next leader re-proposes it', () => {
  const c = new PaxosCluster(5);
  c.campaign('n1');
  // n4 and n5 never hear of the command: it is chosen by {n1, n2, n3}.
  c.isolate('n1', 'n4', 'n5');
  const { index } = c.propose('n1', 'x=1');
  c.deliverAll();
  assert.ok(c.replica('n1').status().commitIndex >= index, 'chosen at n1');
  c.crash('n1');
  // n5's phase-1 quorum {n3, n4, n5} misses n2, but must still meet the phase-2 quorum in n3.
  c.heal();
  c.isolate('n5', 'n2');
  c.isolate('n2', 'n3', 'n4');
  c.campaign('n5');
  assert.equal(c.leader(), 'n5');
  c.tickAll(3);
  assert.equal(c.appliedAt(index).get('n5'), 'x=1', 'the new leader re-proposed the chosen value');
  c.heal();
  c.restart('n1');
  c.tickAll(5);
  assert.deepEqual(new Set(c.appliedAt(index).values()), new Set(['x=1']));
  assert.equal(c.appliedAt(index).size, 5);
});

test('mutant ignore-prior-accepted: the next leader ignores what its phase-1 quorum reported and replaces a chosen value', () => {
  const c = new PaxosCluster(5, { mutant: 'ignore-prior-accepted' });
  c.campaign('n1');
  c.isolate('n1', 'n4', 'n5');
  c.propose('n1', 'x=1');
  c.deliverAll();
  c.crash('n1');
  c.heal();
  c.isolate('n5', 'n2');
  c.isolate('n2', 'n3', 'n4');
  assert.throws(() => c.campaign('n5'), (err: unknown) => err instanceof InvariantViolation && /chosen value is never replaced/.test(err.message));
});

test('the highest ballot wins: when a phase-1 quorum reports different values for a slot, the leader re-proposes the one accepted in the highest ballot', () => {
  const c = new PaxosCluster(3);
  c.campaign('n1');
  // A partitioned n1 accepts "a" in its ballot, alone: never chosen.
  c.isolate('n1', 'n2', 'n3');
  const { index } = c.propose('n1', 'a');
  c.deliverAll();
  // n2 leads a higher ballot with n3; its own no-op lands on the same slot, then "b" is chosen.
  c.heal();
  c.isolate('n2', 'n1');
  c.campaign('n2');
  const b = c.propose('n2', 'b');
  c.deliverAll();
  assert.ok(c.replica('n2').status().commitIndex >= b.index);
  c.crash('n2');
  c.heal();
  c.tickAll(1); // n1's heartbeat meets n3's higher promise: n1 steps down
  assert.equal(c.replica('n1').status().role, 'follower');
  // Phase-1 quorum {n1, n3}: at slot `index` n1 reports "a" (lower ballot), n3 the no-op (higher).
  c.campaign('n1');
  c.tickAll(3);
  assert.equal(c.appliedAt(index).get('n1'), 'noop', 'the value accepted in the higher ballot wins');
  assert.equal(c.appliedAt(b.index).get('n1'), 'b');
});

test('a proposer crashing mid-phase-2: a value accepted by a minority is chosen by the next leader if its phase-1 quorum saw it...', () => {
  const c = new PaxosCluster(5);
  c.campaign('n1');
  c.isolate('n1', 'n3', 'n4', 'n5');
  const { index } = c.propose('n1', 'half');
  c.deliverAll(); // accepted by n1 and n2 only
  c.crash('n1');
  c.heal();
  c.isolate('n3', 'n5'); // n3's phase-1 quorum: {n2, n3, n4}
  c.campaign('n3');
  c.tickAll(3);
  assert.equal(c.appliedAt(index).get('n3'), 'half');
  c.heal();
  c.restart('n1');
  c.tickAll(5);
  assert.deepEqual([...new Set(c.appliedAt(index).values())], ['half']);
});

test('...and filled with a no-op if it did not: holes never block the log, and every replica agrees', () => {
  const c = new PaxosCluster(5);
  c.campaign('n1');
  c.isolate('n1', 'n3', 'n4', 'n5');
  const first = c.propose('n1', 'lost');
  c.deliverAll();
  c.crash('n1');
  c.heal();
  c.isolate('n2', 'n3', 'n4', 'n5'); // n2 (the only one with "lost") takes no part
  c.campaign('n3');
  const later = c.propose('n3', 'after');
  c.tickAll(3);
  assert.equal(c.appliedAt(first.index).get('n3'), 'noop', 'the hole is filled with a no-op');
  assert.equal(c.appliedAt(later.index).get('n3'), 'after');
  c.heal();
  c.restart('n1');
  c.tickAll(6);
  for (const id of ['n1', 'n2', 'n3', 'n4', 'n5']) {
    assert.equal(c.appliedAt(first.index).get(id), 'noop', `${id} replaced its unchosen "lost" with the chosen no-op`);
    assert.equal(c.appliedAt(later.index).get(id), 'after');
  }
});

test('acceptors persist before replying: an acceptor whose fsync is in flight has not answered, so a crash then loses no vote', () => {
  const c = new PaxosCluster(3);
  c.campaign('n1');
  c.isolate('n1', 'n3');
  c.holdSyncOf('n2');
  const { index } = c.propose('n1', 'x');
  c.deliverAll();
  assert.ok(c.replica('n1').status().commitIndex < index, 'not chosen: n2 has not answered yet');
  c.crash('n2');
  c.crash('n1');
  c.heal();
  c.restart('n2');
  c.campaign('n3'); // {n2, n3}: nobody accepted "x"; a no-op is safe
  c.tickAll(3);
  assert.equal(c.appliedAt(index).get('n3'), 'noop');
});

test('mutant accept-before-persist: the acceptor answers, crashes before its fsync and forgets a vote that chose a value', () => {
  const c = new PaxosCluster(3, { mutant: 'accept-before-persist' });
  c.campaign('n1');
  c.isolate('n1', 'n3');
  c.holdSyncOf('n2');
  const { index } = c.propose('n1', 'x');
  c.deliverAll();
  assert.ok(c.replica('n1').status().commitIndex >= index, 'chosen: n1 and n2 said they accepted');
  c.crash('n2');
  c.crash('n1');
  c.heal();
  assert.throws(() => c.restart('n2'), (err: unknown) => err instanceof InvariantViolation && /acceptances are durable/.test(err.message));
  // What the forgotten vote leads to: n3's phase-1 quorum {n2, n3} reports nothing at that slot,
  // so n3 fills it with a no-op, replacing the "x" that n1 and n2 chose.
  assert.throws(() => c.campaign('n3'), (err: unknown) => err instanceof InvariantViolation && /chosen value is never replaced/.test(err.message));
});

test('a promise never goes backwards: an acceptor refuses Prepare and Accept below its promise (a Nack), and the old leader steps down', () => {
  const c = new PaxosCluster(3);
  c.campaign('n1');
  c.isolate('n1', 'n2', 'n3');
  c.campaign('n2');
  const promised = c.replica('n3').status().promised;
  assert.equal(ballotRank(promised), 2, 'n3 promised n2\'s ballot');
  c.heal();
  c.propose('n1', 'stale'); // n1 still believes it leads
  c.deliverAll();
  assert.equal(c.replica('n3').status().promised, promised);
  assert.equal(c.replica('n1').status().role, 'follower', 'the Nack told n1 of the higher ballot');
  c.tickAll(3);
  assert.ok(![...c.appliedAt(1).values(), ...c.appliedAt(2).values()].includes('stale'));
});

test('a lagging replica catches up from the leader\'s log, or from its snapshot once the log was compacted', () => {
  const c = new PaxosCluster(3);
  c.campaign('n1');
  c.crash('n3');
  for (let i = 0; i < 30; i++) c.propose('n1', `c${i}`);
  c.deliverAll();
  c.tickAll(2);
  const applied = c.node('n1').appliedThrough;
  for (const id of ['n1', 'n2']) c.replica(id).compact(c.node(id).appliedThrough as never, new Uint8Array([42]));
  assert.equal(c.replica('n1').compactedThrough(), applied);
  c.restart('n3');
  c.tickAll(6);
  assert.equal(c.replica('n3').compactedThrough(), applied, 'n3 installed the snapshot');
  assert.equal(c.replica('n3').status().commitIndex, applied);
  c.propose('n1', 'after-snapshot');
  c.tickAll(3);
  assert.equal(c.node('n3').appliedThrough, c.node('n1').appliedThrough, 'and follows the log after it');
});

test('ReadIndex: a read point only after a phase-2 quorum confirmed the ballot; a deposed, partitioned leader never answers', () => {
  const c = new PaxosCluster(3);
  c.campaign('n1');
  c.tickAll(2);
  c.read('n1', 'r1');
  assert.deepEqual(c.node('n1').reads, [], 'not before the quorum round');
  c.deliverAll();
  assert.deepEqual(c.node('n1').reads, ['r1']);
  c.read('n2', 'r2'); // forwarded to the leader
  c.deliverAll();
  assert.deepEqual(c.node('n2').reads, ['r2']);
  c.isolate('n1', 'n2', 'n3');
  c.campaign('n2');
  c.propose('n2', 'newer');
  c.tickAll(3);
  c.read('n1', 'stale');
  c.deliverAll();
  assert.deepEqual(c.node('n1').reads, ['r1'], 'the old leader cannot confirm its ballot');
});

test('a new leader serves reads only once its own no-op is chosen (it then knows every earlier choice)', () => {
  const c = new PaxosCluster(3);
  c.campaign('n1');
  c.isolate('n1', 'n2', 'n3');
  c.campaign('n2');
  c.heal();
  c.isolate('n2', 'n3');
  c.isolate('n2', 'n1'); // n2 leads but can reach nobody: its no-op cannot be chosen
  c.read('n2', 'r');
  c.tickAll(3);
  assert.deepEqual(c.node('n2').reads, []);
  c.heal();
  c.tickAll(3);
  assert.deepEqual(c.node('n2').reads, ['r']);
});

test('flexible quorums: |Q1| + |Q2| <= N is refused at configuration time, with what to use instead', () => {
  const make = (q1: number, q2: number) => new MultiPaxosReplica({
    id: nodeIds('n1')[0]!, membership: { voters: nodeIds('n1', 'n2', 'n3', 'n4', 'n5'), outgoingVoters: [], learners: [] },
    random: new Prng(1), phase1QuorumSize: q1, phase2QuorumSize: q2,
  });
  assert.throws(() => make(3, 2), (err: unknown) => err instanceof InvalidQuorumConfig && /must exceed the number of acceptors \(5\)/.test(err.message) && /use 4 and 2/.test(err.message));
  assert.throws(() => make(6, 1), InvalidQuorumConfig);
  assert.equal(make(4, 2).status().quorums.phase2, 2);
});

test('flexible quorums: with |Q1| = 4 and |Q2| = 2 of 5, a leader commits with one other acceptor, and a new leader still finds the value', () => {
  const c = new PaxosCluster(5, { phase1QuorumSize: 4, phase2QuorumSize: 2 });
  c.campaign('n1');
  c.isolate('n1', 'n3', 'n4', 'n5');
  const { index } = c.propose('n1', 'small-quorum');
  c.deliverAll();
  assert.ok(c.replica('n1').status().commitIndex >= index, 'chosen by {n1, n2}');
  c.crash('n1');
  c.heal();
  c.campaign('n5'); // any 4 of the remaining include n2
  c.tickAll(3);
  assert.equal(c.appliedAt(index).get('n5'), 'small-quorum');
});
