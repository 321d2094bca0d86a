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
