/**
 * Review of the install that keeps talking (install-talks): what a member installing a snapshot
 * in slices owes its callers when leadership moves, or a snapshot of its own is asked for, while
 * the state machine stands behind the core.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KvOutcome } from '../../src/statemachine/mvcc/index.js';
import { Answer } from './harness.js';
import { installWhileWriting } from './install-scenario.js';

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
