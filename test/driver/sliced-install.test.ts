/**
 * A follower installs the leader's KV snapshot in slices (ReplicaHost.beginInstall): the restore
 * is stepped over several timer turns, input keeps arriving between the slices, nothing is applied
 * and the applied position does not move until the install is done; then the follower goes on
 * exactly as after a whole install and ends with the leader's state. A stop in the middle of an
 * install is clean: no more slices, nothing applied, the old state untouched. The driver mutant
 * apply-while-installing (entries applied onto the old state during the install) fails the first
 * test. That the member keeps talking meanwhile is install-talks.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toldMembership } from '../../src/core/replica.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { KvStateMachine, type KvOutcome } from '../../src/statemachine/mvcc/index.js';
import { QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';
// The leader's state machine snapshots whole (so it compacts without turns); n3's restores in slices.
import { wholeKv, WatchedKv, writePastIsolatedN3 } from './install-scenario.js';

function cluster(watched: WatchedKv, mutant?: string): { c: TestCluster<KvOutcome>; kvs: Map<string, KvStateMachine>; put: (i: number) => void } {
  const kvs = new Map<string, KvStateMachine>();
  const c = new TestCluster<KvOutcome>(['n1', 'n2', 'n3'], {
    protocol: protocolByName('raft'),
    protocolOptions: QUIET_LEADER_OPTIONS,
    stateMachine: (id) => {
      if (id === 'n3') { kvs.set(id, watched.kv); return watched.machine(); }
      const kv = new KvStateMachine(); kvs.set(id, kv); return wholeKv(kv);
    },
    // Snapshots taken as ones over maxSnapshotBytesDecodedBeforeAck: decoded as they are installed (snapshot-check.test.ts has the others).
    limits: () => ({ snapshotEveryEntries: 20, snapshotSliceBytes: 256, maxSnapshotBytesDecodedBeforeAck: 0 }),
    ...(mutant === undefined ? {} : { mutant }),
  });
  const put = writePastIsolatedN3(c, 300);
  return { c, kvs, put };
}

function installsInSlices(mutant?: string): void {
  const watched = new WatchedKv(new KvStateMachine());
  const { c, kvs, put } = cluster(watched, mutant);
  const n3 = c.driver('n3');
  // The applied position at each step, by the install it belongs to (the leader may compact again, and send another).
  const positions = new Map<number, Set<number>>();
  let extra = 300;
  // Between slices: the leader takes more writes and its appends reach n3 (which acknowledges
  // them and holds their entries for the install's end).
  watched.onStep = (step) => {
    const during = positions.get(watched.installs) ?? new Set<number>();
    during.add(n3.appliedPosition().index);
    positions.set(watched.installs, during);
    if (step % 3 === 0 && extra < 330) put(extra++);
  };
  c.heal();
  c.tick(3, 'n1');
  assert.equal(watched.installs, 0, 'the install has not run yet: its slices wait for timer turns');
  assert.ok(watched.installing, 'n3 began an install in slices');
  c.runFor(2000);
  assert.ok(watched.installs >= 1, 'the install finished');
  assert.ok(!watched.installing, 'no install is left in progress');
  assert.ok(watched.steps > 5, `the install took ${watched.steps} steps`);
  assert.deepEqual(watched.appliedWhileInstalling, [], 'nothing was applied while the install was in progress');
  for (const [n, during] of positions) assert.equal(during.size, 1, `the applied position stood still during install ${n + 1} (saw ${[...during]})`);
  assert.ok(extra > 300, 'writes were made between the slices');
  c.runFor(1000);
  assert.equal(n3.running, true);
  assert.equal(n3.appliedPosition().index, c.driver('n1').appliedPosition().index, 'n3 caught up with the leader');
  assert.ok(Buffer.from(kvs.get('n3')!.snapshot()).equals(Buffer.from(kvs.get('n1')!.snapshot())), 'n3 has the leader\'s state');
}

test('a follower installs the leader\'s snapshot over several turns, applying nothing meanwhile, then catches up', () => {
  installsInSlices();
});

test('the apply-while-installing mutant applies during the install (the test above catches it)', () => {
  assert.throws(() => installsInSlices('apply-while-installing'), /nothing was applied while the install was in progress|the applied position stood still/);
});

test('a stop in the middle of an install is clean: no more slices, nothing applied, the old state as it was', () => {
  const watched = new WatchedKv(new KvStateMachine());
  const { c } = cluster(watched);
  const n3 = c.driver('n3');
  const old = watched.kv.snapshot();
  let stopped = false;
  watched.onStep = (step) => {
    if (step === 3) n3.stop((err) => { assert.equal(err, null); stopped = true; });
  };
  c.heal();
  c.tick(3, 'n1');
  assert.ok(watched.installing, 'n3 began an install in slices');
  c.runFor(2000);
  assert.ok(stopped, 'n3 stopped');
  assert.equal(n3.running, false);
  assert.equal(watched.steps, 3, 'no slice after the stop');
  assert.equal(watched.installs, 0, 'the install was dropped');
  assert.deepEqual(watched.appliedWhileInstalling, []);
  assert.ok(Buffer.from(watched.kv.snapshot()).equals(Buffer.from(old)), 'n3\'s state is as it was before the install');
});

test('during an install in slices, status() shows the state machine\'s applied index with the core\'s configuration and the index it holds at: a join answer from it tells that index', () => {
  const watched = new WatchedKv(new KvStateMachine());
  const { c } = cluster(watched);
  const n3 = c.driver('n3');
  const seen: { applied: number; since: number; core: number }[] = [];
  watched.onStep = () => {
    const s = n3.status();
    seen.push({ applied: s.appliedIndex, since: toldMembership(s).since ?? -1, core: n3.replica.status().appliedIndex });
  };
  c.heal();
  c.tick(3, 'n1');
  assert.ok(watched.installing, 'n3 began an install in slices');
  c.runFor(2000);
  assert.ok(seen.length > 1, 'the install took several steps');
  for (const x of seen) {
    assert.ok(x.applied < x.core, `the state machine (${x.applied}) is behind the core (${x.core}) during the install`);
    // Told the applied index, a member joining from this answer would apply the configuration
    // entries between it and the snapshot again, over a configuration that holds them.
    assert.equal(x.since, x.core, `the configuration holds at the core's applied index ${x.core}, and the answer says so (since ${x.since}, applied ${x.applied})`);
  }
});
