/**
 * Stopping a driver, cleanly or by a crash, answers every caller still waiting with STOPPED:
 * a snapshot being written, a proposal, a read. None is left hanging.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocolByName } from '../../src/protocols/registry.js';
import { RegisterKv, encodeCommand, type RegisterResult } from '../../src/statemachine/register-kv.js';
import { Answer, QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';

function threeMembers(): TestCluster<RegisterResult> {
  const c = new TestCluster<RegisterResult>(['n1', 'n2', 'n3'], {
    protocol: protocolByName('raft'),
    protocolOptions: QUIET_LEADER_OPTIONS,
    stateMachine: () => new RegisterKv(),
  });
  c.elect('n1');
  return c;
}

const putCommand = (client: number, key: string, value: number): Uint8Array => encodeCommand({ client, seq: 1, op: { f: 'put', key, value } });

/** n1 starts writing a snapshot its storage does not finish; a second caller asks meanwhile. */
function snapshotInFlight(c: TestCluster<RegisterResult>): { writing: Answer<void>; next: Answer<void> } {
  const n1 = c.driver('n1');
  c.member('n1').storage.holding = true;
  const writing = new Answer<void>();
  n1.snapshotNow(writing.reply);
  c.settle();
  assert.equal(c.member('n1').storage.snapshots.length, 1, 'the snapshot is being written');
  const next = new Answer<void>();
  n1.snapshotNow(next.reply);
  c.settle();
  assert.equal(writing.answered || next.answered, false, 'both wait for the storage');
  return { writing, next };
}

test('stop answers the callers of a snapshot still being written with STOPPED', () => {
  const c = threeMembers();
  const { writing, next } = snapshotInFlight(c);
  let stopped = false;
  c.driver('n1').stop(() => { stopped = true; });
  assert.equal(writing.outcome, 'STOPPED', 'the caller of the snapshot in flight');
  assert.equal(next.outcome, 'STOPPED', 'the caller waiting behind it');
  c.member('n1').storage.release();
  c.settle();
  assert.equal(stopped, true);
  assert.equal(writing.answers.length + next.answers.length, 2, 'each answered once, also after the write completes');
});

test('a crash (kill) answers every waiting caller with STOPPED: snapshot, proposal, read', () => {
  const c = threeMembers();
  const { writing, next } = snapshotInFlight(c);
  const n1 = c.driver('n1');
  // Cut off, n1 can neither commit a proposal nor confirm a read point.
  c.isolate('n1');
  const write = new Answer<RegisterResult>();
  const read = new Answer<void>();
  n1.propose(putCommand(1, 'x', 1), write.reply);
  n1.readBarrier(read.reply);
  c.settle();
  assert.equal(write.answered || read.answered, false, 'both wait on a quorum');
  n1.kill();
  for (const [what, a] of [['snapshot in flight', writing], ['snapshot behind it', next], ['proposal', write], ['read', read]] as const) {
    assert.equal(a.outcome, 'STOPPED', what);
  }
  assert.equal(n1.pendingProposals(), 0);
  c.member('n1').storage.release();
  c.clock.advance(60_000);
  c.settle();
  for (const a of [writing, next, write, read]) assert.equal(a.answers.length, 1, 'answered once');
});
