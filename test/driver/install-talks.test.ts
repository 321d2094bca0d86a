/**
 * A member installing a received snapshot in slices keeps talking: once the snapshot is durable
 * its Ready's acknowledgements leave, and later Readies are persisted and acknowledged while the
 * restore runs; only what reads the state machine (applies, reads, answers, snapshots of its own)
 * waits for the install to end. So a leader with one follower installing and the other cut off
 * still commits, and the installing member ends with the state of a member that never sliced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeKvCommand, type KvOutcome } from '../../src/statemachine/mvcc/index.js';
import { Answer } from './harness.js';
import { compactPastN3, installWhileWriting, type InstallScenarioResult } from './install-scenario.js';

function assertEndsLikeAWholeInstall(r: InstallScenarioResult): void {
  const c = r.cluster;
  const n3 = c.driver('n3');
  assert.equal(n3.running, true);
  assert.equal(n3.appliedPosition().index, c.driver('n1').appliedPosition().index, 'n3 caught up with the leader');
  assert.equal(n3.appliedPosition().index, c.driver('n2').appliedPosition().index, 'n3 is where n2 is');
  const n2State = Buffer.from(r.kvs.get('n2')!.snapshot());
  assert.ok(Buffer.from(r.kvs.get('n3')!.snapshot()).equals(n2State), 'n3 has the state of n2, which never sliced');
  assert.ok(Buffer.from(r.kvs.get('n1')!.snapshot()).equals(n2State), 'and of the leader');
}

test('a member installing a snapshot in slices acknowledges the leader\'s later appends meanwhile, and the leader commits with it', () => {
  const r = installWhileWriting({ keys: 2000, sliceBytes: 4096 });
  assert.ok(r.steps >= 10, `the install took ${r.steps} turns`);
  assert.ok(r.writesDuringInstall >= 10, 'the leader took writes during the install');
  const acks = r.sentDuringInstall.get('append-response') ?? 0;
  assert.ok(acks > 0, `n3 acknowledged appends during its install (sent: ${JSON.stringify([...r.sentDuringInstall])})`);
  assert.equal(r.sentDuringInstall.get('snapshot-response') !== undefined, true, 'the snapshot\'s own acknowledgement left during the install');
  assert.ok(r.leaderCommitDuring > r.leaderCommitAtStart,
    `with n2 cut off, the leader committed writes made during the install with n3 (commit ${r.leaderCommitAtStart} → ${r.leaderCommitDuring})`);
  assert.ok(r.answeredDuringInstall > 0, 'the leader answered writes made during the install before it ended');
  // What reads the state machine waited.
  assert.deepEqual(r.watched.appliedWhileInstalling, [], 'n3 applied nothing while its install was in progress');
  assert.equal(r.positionsDuringInstall.size, 1, `n3's applied position stood still during the install (saw ${[...r.positionsDuringInstall]})`);
  assert.ok([...r.positionsDuringInstall][0]! < r.snapshotIndex, 'at the old state\'s, below the snapshot');
  assertEndsLikeAWholeInstall(r);
});

test('the apply-while-installing mutant applies onto the old state during the install (caught by the test above)', () => {
  const r = installWhileWriting({ keys: 2000, sliceBytes: 4096, mutant: 'apply-while-installing' });
  assert.notDeepEqual(r.watched.appliedWhileInstalling, [], 'the mutant applied during the install');
  assert.throws(() => assertEndsLikeAWholeInstall(r), /n3 has the state of n2|caught up/);
});

test('a newer snapshot arriving during a sliced install replaces it: the entries held behind the first are covered, the end state is the same', () => {
  let compacted = false;
  const r = installWhileWriting({
    keys: 2000, sliceBytes: 4096,
    atStep: (step, s) => {
      if (step !== 5) return;
      // n3 has acknowledged (and holds) a few entries past the first snapshot; it misses the
      // next ones and the leader sends it a newer snapshot.
      compactPastN3(s, (ok) => { compacted = ok; });
    },
  });
  assert.ok(compacted, 'the leader compacted again');
  const installed = r.cluster.member('n3').storage.saves.filter((p) => p.snapshot !== null).map((p) => p.snapshot!.meta.index);
  assert.equal(installed.length, 2, `n3 was sent two snapshots (${installed})`);
  assert.equal(r.watched.installs, 1, 'the first install was dropped for the second, which was installed');
  assert.deepEqual(r.watched.appliedWhileInstalling, []);
  assert.equal(r.cluster.driver('n3').appliedPosition().index >= installed[1]!, true);
  assertEndsLikeAWholeInstall(r);
});

test('entries held behind an install are bounded (maxEntriesHeldWhileInstalling): at the bound the member takes no further Ready until the install ends', () => {
  const unbounded = installWhileWriting({ keys: 2000, sliceBytes: 4096 });
  const r = installWhileWriting({ keys: 2000, sliceBytes: 4096, limits: { maxEntriesHeldWhileInstalling: 5 } });
  const acks = (x: InstallScenarioResult): number => x.sentDuringInstall.get('append-response') ?? 0;
  assert.ok(acks(r) > 0, 'n3 acknowledged appends until the bound');
  const progress = r.leaderCommitDuring - r.leaderCommitAtStart;
  assert.ok(progress > 0 && progress <= 5 + 2, `the leader committed a few entries with n3, then no more (commit ${r.leaderCommitAtStart} → ${r.leaderCommitDuring})`);
  assert.ok(unbounded.leaderCommitDuring - unbounded.leaderCommitAtStart > progress, 'without the bound it commits on');
  assert.deepEqual(r.watched.appliedWhileInstalling, []);
  assertEndsLikeAWholeInstall(r);
});

for (const how of ['stop', 'kill'] as const) {
  test(`a ${how} in the middle of an install with entries held behind it is clean: no more slices, nothing applied, the old state as it was`, () => {
    let old: Buffer | null = null;
    let stoppedAt = -1;
    const r = installWhileWriting({
      keys: 2000, sliceBytes: 4096,
      atStep: (step, { cluster: c }) => {
        if (step !== 6) return;
        const n3 = c.driver('n3');
        old = Buffer.from(c.member('n3').stateMachine.snapshot());
        assert.ok(n3.status().appliedIndex < n3.status().commitIndex, 'n3 holds committed entries it has not applied');
        stoppedAt = n3.appliedPosition().index;
        if (how === 'stop') n3.stop((err) => assert.equal(err, null));
        else n3.kill();
      },
    });
    const n3 = r.cluster.driver('n3');
    assert.equal(n3.running, false);
    assert.equal(r.steps, 6, 'no slice after the stop');
    assert.equal(r.watched.installs, 0, 'the install was dropped');
    assert.deepEqual(r.watched.appliedWhileInstalling, []);
    assert.equal(n3.appliedPosition().index, stoppedAt);
    assert.ok(old !== null && Buffer.from(r.kvs.get('n3')!.snapshot()).equals(old), 'n3\'s state is as it was before the install');
  });
}

test('a member elected leader in the middle of its install answers the proposals made to it only once its state machine applied them, after the install', () => {
  const answer = new Answer<KvOutcome>();
  let answeredDuring: boolean | null = null;
  const r = installWhileWriting({
    keys: 2000, sliceBytes: 4096,
    atStep: (step, { cluster: c }) => {
      if (step === 5) {
        // n1 is cut off; n3 (up to date in its log, its state machine behind) wins with n2's vote.
        c.heal();
        c.isolate('n1');
        c.elect('n3');
        const put = encodeKvCommand({ client: 'x', seq: 1, lowestPending: 1, request: { op: 'put', key: Buffer.from('by-n3'), value: new Uint8Array([3]), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false } });
        c.driver('n3').propose(put, answer.reply);
        c.settle();
        const s = c.driver('n3').status();
        assert.ok(s.commitIndex > c.driver('n3').appliedPosition().index, 'n3 committed entries with n2 that its state machine has not applied');
        assert.equal(s.appliedIndex, c.driver('n3').appliedPosition().index, 'n3 reports the applied index of its state machine');
      }
      if (step === 8) answeredDuring = answer.answered;
    },
  });
  assert.equal(answeredDuring, false, 'the proposal was not answered during the install');
  assert.equal(answer.outcome, 'ok', 'it was answered after');
  assert.deepEqual(r.watched.appliedWhileInstalling, []);
  assertEndsLikeAWholeInstall(r);
});
