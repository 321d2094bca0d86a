/**
 * A snapshot being written does not silence a leader: Readies go on while the storage writes it
 * (the storage writes in the order it is asked), so the leader's heartbeats keep leaving. Found by
 * the simulator: on a slow disk a compaction (snapshot file, renames, directory fsyncs) took five
 * fsyncs, longer than an election timeout, and with two of five members down the cluster changed
 * leaders for good. The `hold-readies-while-snapshotting` mutant puts the stall back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Envelope } from '../../src/core/replica.js';
import type { NodeMessage } from '../../src/driver/wire.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { RegisterKv, type RegisterResult } from '../../src/statemachine/register-kv.js';
import { Answer, QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';

const isHeartbeatFrom = (f: NodeMessage, from: string): boolean =>
  f.from === from && f.kind === 'protocol' && (f.message as Envelope & { type?: string }).type === 'heartbeat';

for (const mutant of [undefined, 'hold-readies-while-snapshotting'] as const) {
  test(`a leader writing a snapshot ${mutant === undefined ? 'keeps sending heartbeats' : 'falls silent (the mutant)'}`, () => {
    const c = new TestCluster<RegisterResult>(['n1', 'n2', 'n3'], {
      protocol: protocolByName('raft'),
      protocolOptions: QUIET_LEADER_OPTIONS,
      stateMachine: () => new RegisterKv(),
      ...(mutant === undefined ? {} : { mutant }),
    });
    c.elect('n1');
    c.member('n1').storage.holdingSnapshots = true;
    const written = new Answer<void>();
    c.driver('n1').snapshotNow(written.reply);
    c.settle();
    assert.equal(c.member('n1').storage.snapshots.length, 1, 'the snapshot is being written');
    const before = c.sent.filter((f) => isHeartbeatFrom(f, 'n1')).length;
    c.tick(5, 'n1');
    const during = c.sent.filter((f) => isHeartbeatFrom(f, 'n1')).length - before;
    if (mutant === undefined) assert.ok(during >= 4, `${during} heartbeats while the snapshot was written`);
    else assert.equal(during, 0);
    c.member('n1').storage.release();
    c.settle();
    assert.equal(written.answered, true, 'the snapshot completes');
  });
}
