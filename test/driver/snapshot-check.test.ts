/**
 * A snapshot received from the leader (up to maxSnapshotBytesDecodedBeforeAck) is acknowledged only
 * once the state machine decoded it: one that does not decode is refused, the follower keeps its
 * state (nothing persisted, nothing applied, still running) and the leader sends it again, at once
 * when it has a newer snapshot, else after a stall's wait. A good one is acknowledged after its
 * last decoding slice, and its install then swaps in what the check decoded (no second decode).
 * The driver mutant ack-before-decode acknowledges the snapshot that does not decode. Raft and Multi-Paxos.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocolByName } from '../../src/protocols/registry.js';
import { KvStateMachine, type KvOutcome } from '../../src/statemachine/mvcc/index.js';
import type { StateMachine } from '../../src/core/replica.js';
import type { NodeMessage } from '../../src/driver/wire.js';
import { QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';
import { WatchedKv, writePastIsolatedN3 } from './install-scenario.js';

/** Raft's snapshot-response, Multi-Paxos's snapshot-ack: what the tests read of them. */
interface SnapshotResponse { readonly type: 'snapshot-response' | 'snapshot-ack'; readonly done: boolean; readonly refused?: boolean }

/** The answers to snapshot chunks n3 sent, in order. */
function responsesOf(c: TestCluster<KvOutcome>, from = 'n3'): SnapshotResponse[] {
  return c.sent
    .filter((f: NodeMessage) => f.kind === 'protocol' && f.from === from && ['snapshot-response', 'snapshot-ack'].includes((f.message as { type?: string }).type ?? ''))
    .map((f) => (f as unknown as { readonly message: SnapshotResponse }).message);
}

/**
 * n1 leads with a state machine whose snapshots are cut in half while `corrupt.on` (its state is
 * fine; what it sends is not); n3 is cut off while n1 takes writes and compacts past it.
 */
function cluster(protocol: string, n3Machine: StateMachine<KvOutcome>, corrupt: { on: boolean }, mutant?: string) {
  const kvs = new Map<string, KvStateMachine>();
  const c = new TestCluster<KvOutcome>(['n1', 'n2', 'n3'], {
    protocol: protocolByName(protocol),
    protocolOptions: QUIET_LEADER_OPTIONS,
    stateMachine: (id) => {
      if (id === 'n3') return n3Machine;
      const kv = new KvStateMachine();
      kvs.set(id, kv);
      return {
        apply: (cmd, i, o) => kv.apply(cmd, i, o),
        snapshot: () => {
          const whole = kv.snapshot();
          return id === 'n1' && corrupt.on ? whole.slice(0, whole.byteLength >> 1) : whole;
        },
        restore: (d) => kv.restore(d),
        applyConfig: (d, i) => kv.applyConfig(d, i),
      };
    },
    limits: () => ({ snapshotEveryEntries: 20, snapshotSliceBytes: 256 }),
    ...(mutant === undefined ? {} : { mutant }),
  });
  const put = writePastIsolatedN3(c, 100);
  return { c, kvs, put };
}

for (const protocol of ['raft', 'multipaxos']) {
  test(`${protocol}: a snapshot that does not decode is refused, not acknowledged: the follower keeps its state and runs on, and the leader sends it again`, () => {
    const watched = new WatchedKv(new KvStateMachine());
    const corrupt = { on: true };
    const { c, kvs, put } = cluster(protocol, watched.machine(), corrupt);
    const n3 = c.driver('n3');
    const before = { applied: n3.appliedPosition().index, state: Buffer.from(watched.kv.snapshot()) };
    c.heal();
    c.runFor(1000);
    let responses = responsesOf(c);
    assert.ok(responses.some((r) => r.refused === true), `n3 refused the snapshot: ${JSON.stringify(responses)}`);
    assert.ok(!responses.some((r) => r.done), 'n3 acknowledged no snapshot');
    assert.equal(n3.running, true, 'n3 runs on');
    assert.equal(watched.installs, 0, 'nothing was installed');
    // (A Multi-Paxos acceptor may learn that slots it held before it was cut off were chosen: its
    // own log, below the snapshot; a Raft follower's log ends where it was cut off.)
    const sentIndexes = c.sent.filter((f) => f.kind === 'protocol' && f.to === 'n3' && ['snapshot', 'install-snapshot'].includes((f.message as { type?: string }).type ?? ''))
      .map((f) => (f as unknown as { readonly message: { readonly meta: { readonly index: number } } }).message.meta.index);
    assert.ok(sentIndexes.length > 0);
    assert.ok(n3.appliedPosition().index < Math.min(...sentIndexes), `n3 applied nothing of the snapshot (at ${n3.appliedPosition().index})`);
    if (protocol === 'raft') {
      assert.equal(n3.appliedPosition().index, before.applied, 'n3 applied nothing');
      assert.ok(Buffer.from(watched.kv.snapshot()).equals(before.state), 'n3\'s state is as it was');
    }
    assert.ok(!c.member('n3').storage.saves.some((p) => p.snapshot !== null), 'no snapshot was persisted on n3');
    assert.ok(n3.status().commitIndex < Math.min(...sentIndexes), `n3's commit index did not move to the snapshot (${n3.status().commitIndex})`);
    // The leader sends it again (after a stall's wait: the same snapshot, still cut in half).
    const refusedOnce = responses.filter((r) => r.refused === true).length;
    c.runFor(3000);
    responses = responsesOf(c);
    assert.ok(responses.filter((r) => r.refused === true).length > refusedOnce, 'the leader sent the snapshot again, and n3 refused it again');
    if (protocol === 'raft') assert.ok((n3.status().counters?.['snapshotsRefused'] ?? 0) >= 2);
    // The leader's snapshots are whole again: its next one goes at the next refusal, and n3 takes it.
    corrupt.on = false;
    for (let i = 100; i < 130; i++) put(i);
    c.runFor(4000);
    assert.ok(responsesOf(c).some((r) => r.done), 'n3 acknowledged the good snapshot');
    assert.equal(watched.installs, 1);
    assert.equal(n3.appliedPosition().index, c.driver('n1').appliedPosition().index, 'n3 caught up with the leader');
    assert.ok(Buffer.from(watched.kv.snapshot()).equals(Buffer.from(kvs.get('n1')!.snapshot())), 'n3 has the leader\'s state');
  });

  test(`${protocol}: a snapshot that decodes is acknowledged only after its last decoding slice, and installed without a second decode`, () => {
    const watched = new WatchedKv(new KvStateMachine());
    const { c, kvs } = cluster(protocol, watched.machine(), { on: false });
    const n3 = c.driver('n3');
    /** At each decoding slice: whether n3 had acknowledged a snapshot yet. */
    const ackedAtStep: boolean[] = [];
    watched.onStep = () => ackedAtStep.push(responsesOf(c).some((r) => r.done));
    c.heal();
    c.runFor(3000);
    assert.ok(ackedAtStep.length > 3, `the decode took ${ackedAtStep.length} slices`);
    assert.ok(ackedAtStep.every((acked) => !acked), 'no acknowledgement left n3 while it decoded');
    assert.ok(responsesOf(c).some((r) => r.done), 'n3 acknowledged the snapshot after decoding it');
    assert.equal(watched.installs, 1);
    assert.equal(watched.steps, ackedAtStep.length, 'the install swapped in what the check decoded: no slice after the acknowledgement');
    assert.deepEqual(watched.appliedWhileInstalling, []);
    assert.equal(n3.appliedPosition().index, c.driver('n1').appliedPosition().index, 'n3 caught up with the leader');
    assert.ok(Buffer.from(watched.kv.snapshot()).equals(Buffer.from(kvs.get('n1')!.snapshot())), 'n3 has the leader\'s state');
  });

  test(`${protocol}: the ack-before-decode mutant acknowledges a snapshot that does not decode (the first test catches it)`, () => {
    const watched = new WatchedKv(new KvStateMachine());
    const { c } = cluster(protocol, watched.machine(), { on: true }, 'ack-before-decode');
    c.heal();
    // The install then fails on the bytes n3 acknowledged (in the real node: a member that stops, and
    // again at every restart, from the snapshot it persisted).
    assert.throws(() => c.runFor(1000));
    assert.ok(responsesOf(c).some((r) => r.done), 'n3 acknowledged the snapshot that does not decode');
    assert.ok(c.member('n3').storage.saves.some((p) => p.snapshot !== null), 'and persisted it');
  });
}
