/**
 * A follower whose own snapshot is being encoded in slices installs the leader's snapshot, (a)
 * with no slice run in between, (b) with slices (and the encoding's end) run while the install is
 * being written. Either way the follower ends with the leader's state, nothing throws, and its
 * core's snapshot is the installed one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocolByName } from '../../src/protocols/registry.js';
import { KvStateMachine, type KvOutcome } from '../../src/statemachine/mvcc/index.js';
import type { StateMachine } from '../../src/core/replica.js';
import { Answer, kvPut, QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';

/** The leader's state machine snapshots at once (no beginSnapshot), so it compacts without turns. */
function whole(kv: KvStateMachine): StateMachine<KvOutcome> {
  return { apply: (c, i, o) => kv.apply(c, i, o), snapshot: () => kv.snapshot(), restore: (d) => kv.restore(d), applyConfig: (d, i) => kv.applyConfig(d, i) };
}

for (const slicesDuringInstall of [false, true]) {
  test(`a follower encoding its own snapshot installs the leader's (${slicesDuringInstall ? 'slices run while the install is written' : 'no slice in between'})`, () => {
    const kvs = new Map<string, KvStateMachine>();
    const c = new TestCluster<KvOutcome>(['n1', 'n2', 'n3'], {
      protocol: protocolByName('raft'),
      protocolOptions: QUIET_LEADER_OPTIONS,
      stateMachine: (id) => { const kv = new KvStateMachine(); kvs.set(id, kv); return id === 'n1' ? whole(kv) : kv; },
      limits: () => ({ snapshotEveryEntries: 20, snapshotSliceBytes: 64, maxSnapshotBytesDecodedBeforeAck: 0 }),
    });
    c.elect('n1');
    let seq = 0;
    const put = (i: number): void => {
      seq++;
      c.driver('n1').propose(kvPut(seq, `k${i % 37}`, new Uint8Array(50).fill(i & 0xff)), new Answer<KvOutcome>().reply);
      c.settle();
    };
    for (let i = 0; i < 25; i++) put(i);
    // n3 began its own snapshot (sliced: its next slices wait for the clock).
    const n3 = c.member('n3');
    assert.equal(n3.storage.snapshots.length, 0, 'n3 is still encoding');
    c.isolate('n3');
    for (let i = 25; i < 120; i++) put(i);
    c.heal();
    if (slicesDuringInstall) n3.storage.holding = true;
    const encodingBefore = (c.driver("n3") as unknown as { encoding: unknown }).encoding !== null;
    c.tick(3, "n1");
    if (slicesDuringInstall) {
      for (let i = 0; i < 200; i++) c.clock.advance(1);
      n3.storage.holding = false;
      n3.storage.release();
      c.settle();
    }
    c.runFor(1000);
    assert.equal(c.driver('n3').running, true);
    assert.deepEqual(Buffer.from(kvs.get('n3')!.snapshot()).equals(Buffer.from(kvs.get('n1')!.snapshot())), true, 'n3 has the leader\'s state');
    const snaps = n3.storage.snapshots.map((s) => s.meta.index);
    const installed = n3.storage.saves.filter((p) => p.snapshot !== null).map((p) => p.snapshot!.meta.index);
    assert.ok(encodingBefore, "n3 was encoding when the leader reached it");
    assert.ok(installed.length > 0, 'n3 installed a snapshot from the leader');
    assert.ok(c.driver('n3').status().appliedIndex >= installed[0]!, `applied ${c.driver('n3').status().appliedIndex}, own snapshots ${snaps}, installed ${installed}`);
  });
}
