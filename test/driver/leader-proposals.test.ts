/**
 * Proposals and reads under the leader client model, as a caller sees them: what a follower
 * forwards, when it answers, and what it answers when leadership moves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Envelope } from '../../src/core/replica.js';
import type { NodeMessage } from '../../src/driver/wire.js';
import type { DriverLimits } from '../../src/driver/limits.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { RegisterKv, encodeCommand, type RegisterResult } from '../../src/statemachine/register-kv.js';
import { Answer, QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';

/** Three members, n1 leading; `limits` for n2 only. */
function threeMembers(limits: Partial<DriverLimits> = {}): TestCluster<RegisterResult> {
  const c = new TestCluster<RegisterResult>(['n1', 'n2', 'n3'], {
    protocol: protocolByName('raft'),
    protocolOptions: QUIET_LEADER_OPTIONS,
    stateMachine: () => new RegisterKv(),
    limits: (id) => (id === 'n2' ? limits : {}),
  });
  c.elect('n1');
  return c;
}

const putCommand = (client: number, key: string, value: number): Uint8Array => encodeCommand({ client, seq: 1, op: { f: 'put', key, value } });
const registers = (c: TestCluster<RegisterResult>, name: string): RegisterKv => c.member(name).stateMachine as RegisterKv;
const isProtocolMessage = (f: NodeMessage, type: string): boolean => f.kind === 'protocol' && (f.message as Envelope & { type?: string }).type === type;

test('a follower with too many forwarded proposals waiting refuses the next one and does not forward it', () => {
  const c = threeMembers({ maxPendingProposals: 1 });
  const first = new Answer<RegisterResult>();
  const second = new Answer<RegisterResult>();
  c.driver('n2').propose(putCommand(1, 'first', 1), first.reply);
  c.driver('n2').propose(putCommand(2, 'second', 2), second.reply);
  assert.equal(second.outcome, 'TOO_MANY_REQUESTS');
  c.tick(3, 'n1');
  assert.equal(first.outcome, 'ok');
  assert.equal(c.sent.filter((f) => f.kind === 'forward-proposal').length, 1, 'only the accepted command was forwarded');
  for (const name of ['n1', 'n2', 'n3']) {
    assert.equal(registers(c, name).get('first'), 1);
    assert.equal(registers(c, name).get('second'), null, `the refused command never reached ${name}'s log`);
  }
});

test('a follower with too many reads waiting refuses the next one and does not ask the leader for it', () => {
  const c = threeMembers({ maxPendingReads: 1 });
  const first = new Answer<void>();
  const second = new Answer<void>();
  c.driver('n2').readBarrier(first.reply);
  c.driver('n2').readBarrier(second.reply);
  assert.equal(second.outcome, 'TOO_MANY_REQUESTS');
  c.tick(3, 'n1');
  assert.equal(first.outcome, 'ok');
  const asked = c.sent.filter((f) => f.from === 'n2' && isProtocolMessage(f, 'read-index'));
  assert.equal(asked.length, 1, 'the leader was asked for one read point');
});

test('a follower answers a forwarded proposal only once it applied the command itself (read your writes there)', () => {
  const c = threeMembers();
  const n2 = c.driver('n2');
  // n2 hears nothing of the leader's log for now: n1 and n3 commit the command without it.
  c.hold = (f) => f.from === 'n1' && f.to === 'n2' && f.kind === 'protocol';
  const a = new Answer<RegisterResult>();
  let seenWhenAnswered: number | null | undefined;
  n2.propose(putCommand(1, 'x', 1), (err, value) => {
    seenWhenAnswered = registers(c, 'n2').get('x');
    a.reply(err, value);
  });
  c.tick(3, 'n1');
  assert.ok(c.sent.some((f) => f.kind === 'forward-result' && f.to === 'n2'), 'the leader applied it and answered n2');
  assert.equal(a.answered, false, 'n2 has not applied it: its caller waits');
  c.hold = () => false;
  c.releaseHeld();
  c.tick(2, 'n1');
  assert.equal(a.outcome, 'ok');
  assert.equal(seenWhenAnswered, 1, 'when the caller is answered, a read at n2 sees the write');
});

test('a forwarded proposal the follower cannot apply in time is answered by its deadline, and forgotten', () => {
  const c = threeMembers({ proposalTimeoutMs: 5_000 });
  const n2 = c.driver('n2');
  c.hold = (f) => f.from === 'n1' && f.to === 'n2' && f.kind === 'protocol';
  const a = new Answer<RegisterResult>();
  n2.propose(putCommand(1, 'x', 1), a.reply);
  c.tick(3, 'n1');
  assert.equal(a.answered, false);
  c.clock.advance(5_000);
  assert.equal(a.outcome, 'TIMEOUT');
  assert.equal(n2.pendingProposals(), 0);
  c.hold = () => false;
  c.releaseHeld();
  c.tick(2, 'n1');
  assert.equal(a.answers.length, 1, 'answered once');
});

/**
 * n1 leads; cut off, it takes `waiting` (which cannot reach a quorum); n2 is elected meanwhile. The
 * link heals, but n2's log-carrying appends to n1 are held back: n1 learns of the new term from a
 * heartbeat and steps down, and nothing n1 applies could answer what waits there. The test's
 * clock never moves, so no deadline can have fired.
 */
function deposeN1(waiting: (n1: ReturnType<TestCluster<RegisterResult>['driver']>) => void): TestCluster<RegisterResult> {
  const c = threeMembers();
  c.isolate('n1');
  waiting(c.driver('n1'));
  c.settle();
  c.elect('n2');
  c.heal();
  c.hold = (f) => f.to === 'n1' && isProtocolMessage(f, 'append');
  c.tick(2, 'n2');
  assert.equal(c.driver('n1').isLeader(), false, 'n1 stepped down');
  assert.ok(c.driver('n1').status().term > 2 || c.driver('n1').status().leader === 'n2', 'n1 knows the new term');
  return c;
}

test('a proposal waiting on a leader that is deposed is answered at once with leader-changed, not by its timeout', () => {
  const a = new Answer<RegisterResult>();
  deposeN1((n1) => n1.propose(putCommand(1, 'x', 1), a.reply));
  assert.equal(a.outcome, 'LEADER_CHANGED', 'answered when n1 stepped down, with no time passed');
  const err = a.answers[0]!.err as Error & { leaderHint?: string };
  assert.equal(err.leaderHint, 'n2', 'the caller learns where to retry');
});

test('a read waiting on a leader that is deposed is answered at once with leader-changed, not by its timeout', () => {
  const read = new Answer<void>();
  deposeN1((n1) => n1.readBarrier(read.reply));
  assert.equal(read.outcome, 'LEADER_CHANGED', 'answered when n1 stepped down, with no time passed');
  const err = read.answers[0]!.err as Error & { leaderHint?: string };
  assert.equal(err.leaderHint, 'n2');
});

test('a read and a forwarded proposal waiting at a follower whose leader is deposed are answered with leader-changed', () => {
  const c = threeMembers();
  const n3 = c.driver('n3');
  // n1 never answers: the read point and the forwarded command reach it, nothing comes back.
  c.hold = (f) => f.from === 'n1' && f.to === 'n3';
  const read = new Answer<void>();
  const write = new Answer<RegisterResult>();
  n3.readBarrier(read.reply);
  n3.propose(putCommand(1, 'x', 1), write.reply);
  c.settle();
  assert.equal(read.answered || write.answered, false, 'both wait on n1');
  c.isolate('n1');
  c.hold = () => false;
  c.held.length = 0;
  c.elect('n2');
  assert.equal(n3.status().leader, 'n2');
  assert.equal(read.outcome, 'LEADER_CHANGED');
  assert.equal(write.outcome, 'LEADER_CHANGED');
});

test('a follower with disableProposalForwarding answers NotLeader naming the leader, and forwards nothing', () => {
  const c = new TestCluster<RegisterResult>(['n1', 'n2', 'n3'], {
    protocol: protocolByName('raft'),
    protocolOptions: { ...QUIET_LEADER_OPTIONS, disableProposalForwarding: true },
    stateMachine: () => new RegisterKv(),
  });
  c.elect('n1');
  const atFollower = new Answer<RegisterResult>();
  c.driver('n2').propose(putCommand(1, 'k', 1), atFollower.reply);
  c.tick(3, 'n1');
  assert.equal(atFollower.outcome, 'NOT_LEADER');
  assert.match(String(atFollower.answers[0]?.err?.message), /n1/, 'the refusal names the leader');
  assert.equal(c.sent.filter((f) => f.kind === 'forward-proposal').length, 0, 'nothing was forwarded');
  const atLeader = new Answer<RegisterResult>();
  c.driver('n1').propose(putCommand(1, 'k', 1), atLeader.reply);
  c.tick(3, 'n1');
  assert.equal(atLeader.outcome, 'ok', 'the leader still takes commands');
});
