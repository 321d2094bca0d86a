/**
 * Waiters: every caller is answered exactly once. A proposal's waiter is keyed by its log index,
 * which a later leader can reuse after the log was truncated there; the caller whose command was
 * truncated away must then be told (dropped), not forgotten when a new waiter takes the key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionFailure } from '../../src/core/assert.js';
import { ProposalDropped } from '../../src/core/errors.js';
import type { Driver } from '../../src/driver/driver.js';
import { Waiters } from '../../src/driver/waiters.js';
import type { ReplicaStatus } from '../../src/core/replica.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { RegisterKv, encodeCommand, type RegisterResult } from '../../src/statemachine/register-kv.js';
import { Answer, ManualClock, QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';

test('a waiter superseded under its key is answered with the superseding error; its timer no longer fires', () => {
  const clock = new ManualClock();
  const w = new Waiters<number, string>(clock, 'limit', 10, (key) => new ProposalDropped(`index ${key} reused`));
  const first = new Answer<string>();
  const second = new Answer<string>();
  w.wait(7, 1_000, 'proposal', first.reply);
  w.wait(7, 1_000, 'proposal', second.reply);
  assert.equal(first.outcome, 'PROPOSAL_DROPPED');
  assert.equal(second.answered, false);
  assert.equal(w.size, 1);
  w.resolve(7, 'done');
  clock.advance(5_000);
  assert.deepEqual(first.answers.length, 1, 'answered once');
  assert.deepEqual(second.answers, [{ err: null, value: 'done' }]);
});

test('waiters keyed by unique request ids refuse a second waiter under one key (a bug, not a code path)', () => {
  const w = new Waiters<string, string>(new ManualClock(), 'limit', 10);
  w.wait('n1/a/1', 1_000, 'read', () => {});
  assert.throws(() => w.wait('n1/a/1', 1_000, 'read', () => {}), AssertionFailure);
});

/** The last index of a member's log (the Raft core reports it beside the common status). */
const lastIndex = (d: Driver<RegisterResult>): number => (d.status() as ReplicaStatus & { readonly lastIndex: number }).lastIndex;

// Through the driver, the lost commands' callers are told when n1 is deposed (leader changed),
// before their indexes are reused; the test above covers the reuse itself.
test('a proposal whose log index a re-elected leader reuses after a truncation is answered exactly once', () => {
  const c = new TestCluster<RegisterResult>(['n1', 'n2', 'n3'], {
    protocol: protocolByName('raft'), protocolOptions: QUIET_LEADER_OPTIONS, stateMachine: () => new RegisterKv(),
  });
  c.elect('n1');
  const n1 = c.driver('n1');
  // n1 appends three commands nobody else hears of.
  c.isolate('n1');
  const lost = ['A', 'B', 'C'].map((v, i) => {
    const a = new Answer<RegisterResult>();
    n1.propose(encodeCommand({ client: 1, seq: i + 1, op: { f: 'put', key: v, value: i } }), a.reply);
    return a;
  });
  c.settle();
  const lastLost = lastIndex(n1);
  // n2 leads a later term; n1 hears from it and truncates its log behind the new leader's.
  c.elect('n2');
  c.heal();
  c.tick(3, 'n2');
  assert.ok(lastIndex(n1) < lastLost, 'n1 truncated its unreplicated commands');
  // n1 leads again and appends until it writes over the last lost command's index.
  c.isolate('n2');
  c.elect('n1');
  const later: Answer<RegisterResult>[] = [];
  while (lastIndex(n1) < lastLost) {
    const a = new Answer<RegisterResult>();
    n1.propose(encodeCommand({ client: 2, seq: later.length + 1, op: { f: 'put', key: 'D', value: later.length } }), a.reply);
    later.push(a);
    c.tick(1, 'n1');
  }
  c.clock.advance(60_000);
  c.settle();
  for (const a of [...lost, ...later]) assert.equal(a.answers.length, 1, 'every caller is answered exactly once');
  for (const a of lost) assert.equal(a.outcome, 'LEADER_CHANGED');
  for (const a of later) assert.equal(a.outcome, 'ok');
});
