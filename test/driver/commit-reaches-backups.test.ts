/**
 * A VR primary tells its backups of a commit at once (a COMMIT with its next Ready), not at its
 * next heartbeat: a backup applies a write a round trip after the primary answered it, as a Raft
 * follower does. Without it a client that wrote through the primary and then read or watched on a
 * backup could find the backup a heartbeat behind: watch-lease.test.ts, on VR, created a watch on
 * a backup below a compaction the primary had just answered, and the backup, which had not applied
 * the compaction yet, did not refuse it. The `commit-on-heartbeat-only` mutant puts the wait back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocolByName } from '../../src/protocols/registry.js';
import { RegisterKv, encodeCommand, type RegisterResult } from '../../src/statemachine/register-kv.js';
import { Answer, TestCluster } from './harness.js';

for (const mutant of [undefined, 'commit-on-heartbeat-only'] as const) {
  test(`a VR backup applies a write ${mutant === undefined ? 'without waiting for a heartbeat' : 'only at the next heartbeat (the mutant)'}`, () => {
    const c = new TestCluster<RegisterResult>(['n1', 'n2', 'n3'], {
      protocol: protocolByName('vr'),
      // Neither a heartbeat nor a view change within the test: only the write's own messages move.
      protocolOptions: { viewChangeTimeoutTicks: 1_000, heartbeatIntervalTicks: 500 },
      stateMachine: () => new RegisterKv(),
      ...(mutant === undefined ? {} : { mutant }),
    });
    c.tick(1);
    assert.equal(c.driver('n1').isLeader(), true, 'n1 is the primary of view 0');
    const write = new Answer<RegisterResult>();
    c.driver('n1').propose(encodeCommand({ client: 1, seq: 1, op: { f: 'put', key: 'k', value: 1 } }), write.reply);
    c.settle();
    assert.equal(write.answered, true, 'the primary answered the write');
    const at = c.driver('n1').status().appliedIndex;
    for (const backup of ['n2', 'n3']) {
      const applied = c.driver(backup).status().appliedIndex;
      if (mutant === undefined) assert.equal(applied, at, `${backup} applied what the primary applied`);
      else assert.ok(applied < at, `${backup} is behind until the next heartbeat (${applied} < ${at})`);
    }
  });
}
