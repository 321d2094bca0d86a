/**
 * PBFT's compaction of a checkpoint (packing the encoded state with the client table and digesting
 * its parts: ~150 ms per 50 MiB, in one turn before) runs a snapshotSliceBytes slice per turn, and
 * what it produces is byte for byte what the whole compaction produced: the same checkpoint state,
 * the same digest. The `compact-reads-live-client-table` mutant packs the client table as it is when
 * the copy ends: requests executed between the slices are in it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binHeader, pack, unpack } from '../../src/core/codec.js';
import { checkpointClientTable, checkpointServiceState, type PbftReplica } from '../../src/protocols/pbft/pbft.js';
import type { StableCheckpointData } from '../../src/protocols/pbft/types.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { KvStateMachine, encodeKvCommand, type KvOutcome } from '../../src/statemachine/mvcc/index.js';
import { Answer, TestCluster } from './harness.js';

const PBFT_TIMING = { tickMs: 100, heartbeatIntervalMs: 100, electionTimeoutMs: 1_000 };
/** Bytes of each value written: a checkpoint's state grows by about three of these a wave. */
const VALUE_BYTES = 24 * 1024;
/** The slice of the sliced runs: a compaction of the states here takes tens of slices. */
const SLICE_BYTES = 4 * 1024;
const WAVES = 8;

function put(n: number): Uint8Array {
  return encodeKvCommand({
    client: `c${n}`, seq: 1, lowestPending: 1,
    request: { op: 'put', key: Buffer.from(`key-${n}`), value: new Uint8Array(VALUE_BYTES).fill(n & 0xff), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false },
  });
}

/** One call of a member's stepCompact while a compaction was in flight. */
interface Step {
  readonly budget: number;
  readonly done: boolean;
  /** The member's applied index when the step ran. */
  readonly applied: number;
}

/**
 * Four members on the etcd state machine, a checkpoint every 4 batches, `sliceBytes` slices. A
 * slice's next turn (a 0 ms timer) fires 1 ms later here, so the test lets each member run one
 * slice at a time and, between them, delivers messages and proposes the next wave: batches execute
 * between the slices of a compaction, as other work does between turns of the event loop.
 */
function run(sliceBytes: number, mutant?: string): { c: TestCluster<KvOutcome>; steps: Map<string, Step[]> } {
  const protocol = protocolByName('pbft');
  const c = new TestCluster<KvOutcome>(['n1', 'n2', 'n3', 'n4'], {
    protocol,
    protocolOptions: { ...protocol.timingOptions(PBFT_TIMING), checkpointIntervalSeqs: 4, logWindowSeqs: 16 },
    stateMachine: () => new KvStateMachine(),
    limits: () => ({ snapshotSliceBytes: sliceBytes }),
    ...(mutant === undefined ? {} : { mutant }),
  });
  const setTimer = c.clock.setTimer.bind(c.clock);
  c.clock.setTimer = (ms, fn) => setTimer(Math.max(ms, 1), fn);
  const steps = new Map<string, Step[]>();
  for (const [id, m] of c.members) {
    const replica = m.driver.replica as unknown as PbftReplica;
    const record: Step[] = [];
    steps.set(id, record);
    const stepCompact = replica.stepCompact.bind(replica);
    replica.stepCompact = (budget: number): boolean => {
      if (!replica.compactionInFlight()) return stepCompact(budget);
      const done = stepCompact(budget);
      record.push({ budget, done, applied: m.driver.replica.status().appliedIndex as number });
      return done;
    };
  }
  let n = 0;
  for (let wave = 0; wave < WAVES; wave++) {
    for (const name of ['n1', 'n2', 'n3']) c.driver(name).propose(put(n++), new Answer<KvOutcome>().reply);
    c.settle();
    for (let turn = 0; turn < 6; turn++) {
      c.clock.advance(1);
      c.settle();
    }
  }
  c.runFor(3_000);
  return { c, steps };
}

/** A member's compactions, each the steps from its first to the one that finished it. */
function compactions(steps: readonly Step[]): Step[][] {
  const out: Step[][] = [];
  let current: Step[] = [];
  for (const s of steps) {
    current.push(s);
    if (s.done) {
      out.push(current);
      current = [];
    }
  }
  return out;
}

/** A member's kept stable checkpoints by index: the checkpoint state's bytes and its digest. */
function kept(c: TestCluster<KvOutcome>, id: string): Map<number, { state: Uint8Array; digest: string; service: Uint8Array; clients: ReadonlyMap<string, number> }> {
  return new Map(c.member(id).storage.snapshots.map((s) => {
    const cp = unpack(s.data) as StableCheckpointData;
    return [s.meta.index as number, { state: cp.state, digest: cp.digest, service: checkpointServiceState(s.data), clients: checkpointClientTable(s.data) }];
  }));
}

test('a PBFT compaction runs a snapshotSliceBytes slice per turn while later batches execute, and keeps the same checkpoints, byte for byte, as one whole compaction', { timeout: 60_000 }, () => {
  const sliced = run(SLICE_BYTES);
  const whole = run(1 << 30);
  let longest = 0;
  let executedBetweenSlices = 0;
  for (const id of ['n1', 'n2', 'n3', 'n4']) {
    assert.ok(sliced.c.driver(id).running && whole.c.driver(id).running, `${id} runs`);
    for (const steps of compactions(sliced.steps.get(id)!)) {
      longest = Math.max(longest, steps.length);
      if (steps.at(-1)!.applied > steps[0]!.applied) executedBetweenSlices++;
      // Every step but the last stopped within its slice and went back to the event loop.
      assert.ok(steps.slice(0, -1).every((s) => !s.done && s.budget === SLICE_BYTES), `${id}: ${JSON.stringify(steps)}`);
    }
    for (const steps of compactions(whole.steps.get(id)!)) assert.equal(steps.length, 1, `${id}: a compaction under a slice of 1 GiB is done in one step`);
    const a = kept(sliced.c, id);
    const b = kept(whole.c, id);
    const common = [...a.keys()].filter((i) => b.has(i));
    assert.ok(common.length >= 3, `${id}: checkpoints kept in both runs: ${common.join(', ')}`);
    for (const i of common) {
      assert.ok(Buffer.from(a.get(i)!.state).equals(Buffer.from(b.get(i)!.state)), `${id}: the checkpoint state at ${i} is the whole compaction's`);
      assert.equal(a.get(i)!.digest, b.get(i)!.digest, `${id}: the digest at ${i}`);
      // And it is what pack() makes of the service state and the client table.
      const { service, clients, state } = a.get(i)!;
      assert.ok(Buffer.from(pack({ service, clients: [...clients] })).equals(Buffer.from(state)), `${id}: the state at ${i} is pack({ service, clients })`);
    }
    assert.ok(a.size > 0 && [...a.values()].at(-1)!.service.byteLength > 10 * SLICE_BYTES, `${id}: the state is many slices`);
  }
  assert.ok(longest >= 20, `the longest compaction took ${longest} steps`);
  assert.ok(executedBetweenSlices > 0, 'batches executed between the slices of a compaction');
});

test('the compact-reads-live-client-table mutant keeps a checkpoint whose client table holds requests executed while it was compacted', { timeout: 60_000 }, () => {
  const whole = run(1 << 30);
  let problem: string | null = null;
  try {
    const mutated = run(SLICE_BYTES, 'compact-reads-live-client-table');
    for (const id of ['n1', 'n2', 'n3', 'n4']) {
      const a = kept(mutated.c, id);
      const b = kept(whole.c, id);
      for (const [i, cp] of a) {
        const right = b.get(i);
        if (right !== undefined && right.digest !== cp.digest) problem ??= `${id}: the checkpoint at ${i} is not the one as of ${i}`;
      }
      if (!mutated.c.driver(id).running) problem ??= `${id} stopped`;
      if (a.size < b.size) problem ??= `${id}: ${a.size} checkpoints stable, not ${b.size}`;
    }
  } catch (err) {
    problem = (err as Error).message; // a replica's digest differed from the proven one
  }
  assert.notEqual(problem, null, 'the mutant is seen');
});

test('binHeader(n) followed by n bytes is pack() of those bytes, at every size boundary', () => {
  for (const n of [0, 1, 255, 256, 65_535, 65_536, 200_000]) {
    const bytes = new Uint8Array(n).fill(n & 0xff);
    const header = binHeader(n);
    const joined = new Uint8Array(header.byteLength + n);
    joined.set(header);
    joined.set(bytes, header.byteLength);
    assert.ok(Buffer.from(joined).equals(Buffer.from(pack(bytes))), `n=${n}`);
  }
  assert.throws(() => binHeader(2 ** 32));
  assert.throws(() => binHeader(-1));
});
