/**
 * Review of the install that keeps talking (install-talks): what a member installing a snapshot
 * in slices owes its callers when leadership moves, or a snapshot of its own is asked for, while
 * the state machine stands behind the core.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Answer } from './harness.js';
import { compactPastN3, installWhileWriting } from './install-scenario.js';

test('a read whose point was confirmed during an install (held behind it) survives a leader change, as a confirmed read does', () => {
  const read = new Answer<void>();
  let confirmedBeforeChange = false;
  let answeredBeforeInstallEnd: boolean | null = null;
  const r = installWhileWriting({
    keys: 2000, sliceBytes: 4096,
    atStep: (step, { cluster: c }) => {
      const n3 = c.driver('n3');
      if (step === 3) {
        // n3 asks the leader for a read point; the leader confirms it and n3's core hands it out
        // in a Ready, which the driver holds behind the install.
        const before = c.sent.length;
        n3.readBarrier(read.reply);
        c.settle();
        c.tick(1);
        const confirmed = c.sent.slice(before).some((f) => f.kind === 'protocol' && f.from === 'n1' && f.to === 'n3'
          && (f.message as { type?: string }).type === 'read-index-response');
        confirmedBeforeChange = confirmed && !read.answered;
      }
      if (step === 5) {
        // Leadership moves: n1 is cut off, n3 wins with n2's vote.
        c.heal();
        c.isolate('n1');
        c.elect('n3');
        answeredBeforeInstallEnd = read.answered;
      }
    },
  });
  assert.ok(confirmedBeforeChange, 'the leader confirmed the read point, and the read still waited (for the install)');
  assert.equal(answeredBeforeInstallEnd === null || answeredBeforeInstallEnd === false || read.outcome === 'ok', true,
    `the read was not answered with an error at the leader change (${read.outcome})`);
  assert.equal(read.outcome, 'ok', 'a read whose point was confirmed is answered once the state machine reaches it');
  assert.deepEqual(r.watched.appliedWhileInstalling, []);
});

for (const how of ['stop', 'kill'] as const) {
  test(`a ${how} while the entries held behind an install are being applied (after it) stops the applying at once`, () => {
    let stoppedAt = -1;
    let heldAtStop = -1;
    const r = installWhileWriting({
      keys: 2000, sliceBytes: 512,
      atInstalled: ({ cluster: c }) => {
        const n3 = c.driver('n3');
        // The first slice of the held entries applies in this turn; stop before the next.
        c.clock.setTimer(0, () => {
          if (!n3.running) return;
          stoppedAt = n3.appliedPosition().index;
          heldAtStop = n3.status().commitIndex - stoppedAt;
          if (how === 'stop') n3.stop((err) => assert.equal(err, null));
          else n3.kill();
        });
      },
    });
    const n3 = r.cluster.driver('n3');
    assert.equal(n3.running, false);
    assert.ok(heldAtStop > 0, `entries were still held when the member stopped (${heldAtStop})`);
    assert.ok(stoppedAt > r.snapshotIndex, `stopped during the applying after the install (at ${stoppedAt}, snapshot ${r.snapshotIndex})`);
    assert.equal(n3.appliedPosition().index, stoppedAt, 'nothing applied after the stop');
    assert.deepEqual(r.watched.appliedWhileInstalling, []);
  });
}

test('a newer snapshot arriving while the entries held behind an install are being applied replaces them: the end state is the same', () => {
  let compacted = false;
  let drainingWhenSent = false;
  const r = installWhileWriting({
    keys: 2000, sliceBytes: 512,
    atInstalled: (s) => {
      const n3 = s.cluster.driver('n3');
      s.cluster.clock.setTimer(0, () => {
        if (!n3.running) return;
        drainingWhenSent = n3.status().commitIndex > n3.appliedPosition().index;
        // n3 misses the next writes; the leader compacts past them and sends n3 a newer snapshot
        // while n3 still applies what it held.
        compactPastN3(s, (ok) => { compacted = ok; }, 60);
      });
    },
  });
  assert.ok(compacted, 'the leader compacted again');
  assert.ok(drainingWhenSent, 'n3 was still applying the entries held behind its first install');
  const installed = r.cluster.member('n3').storage.saves.filter((p) => p.snapshot !== null).map((p) => p.snapshot!.meta.index);
  assert.equal(installed.length, 2, `n3 was sent two snapshots (${installed})`);
  assert.equal(r.watched.installs, 2, 'both were installed');
  const n3 = r.cluster.driver('n3');
  assert.equal(n3.running, true);
  assert.equal(n3.appliedPosition().index, r.cluster.driver('n1').appliedPosition().index, 'n3 caught up with the leader');
  assert.ok(Buffer.from(r.kvs.get('n3')!.snapshot()).equals(Buffer.from(r.kvs.get('n1')!.snapshot())), 'n3 has the leader\'s state');
});

test('snapshotNow asked during an install is answered after it, with a snapshot of the state machine at an index it holds', () => {
  const asked = new Answer<void>();
  let answeredDuring: boolean | null = null;
  let ownDuring = -1;
  const r = installWhileWriting({
    keys: 2000, sliceBytes: 4096,
    atStep: (step, { cluster: c }) => {
      const n3 = c.driver('n3');
      if (step === 2) n3.snapshotNow(asked.reply);
      if (step === 8) {
        answeredDuring = asked.answered;
        ownDuring = c.member('n3').storage.snapshots.length;
      }
    },
  });
  assert.equal(answeredDuring, false, 'not answered during the install');
  assert.equal(ownDuring, 0, 'no snapshot of its own was taken during the install');
  assert.equal(asked.outcome, 'ok');
  const own = r.cluster.member('n3').storage.snapshots;
  for (const s of own) {
    assert.ok(s.meta.index >= r.snapshotIndex, `a snapshot of its own (${s.meta.index}) is not behind the installed one (${r.snapshotIndex})`);
  }
});

test(`a member elected leader in the middle of its install answers a ReadIndex read only once its state machine reached the read point, after the install`, () => {
  const read = new Answer<void>();
  let answeredDuring: boolean | null = null;
  let readAskedAt = -1;
  let positionWhenAnswered = -1;
  let commitWhenAsked = -1;
  const r = installWhileWriting({
    keys: 2000, sliceBytes: 4096,
    atStep: (step, { cluster: c }) => {
      const n3 = c.driver('n3');
      if (step === 5) {
        c.heal();
        c.isolate('n1');
        c.elect('n3');
        readAskedAt = n3.appliedPosition().index;
        commitWhenAsked = n3.status().commitIndex;
        n3.readBarrier((err) => {
          positionWhenAnswered = n3.appliedPosition().index;
          read.reply(err);
        });
        c.settle();
        c.tick(2);
      }
      if (step === 8) answeredDuring = read.answered;
    },
  });
  assert.ok(commitWhenAsked > readAskedAt, 'n3 had committed entries its state machine had not applied');
  assert.equal(answeredDuring, false, 'the read was not answered during the install');
  assert.equal(read.outcome, 'ok');
  assert.ok(positionWhenAnswered >= commitWhenAsked, `answered at applied ${positionWhenAnswered}, not below the commit index when asked (${commitWhenAsked})`);
  assert.ok(positionWhenAnswered > r.snapshotIndex);
});
