/**
 * How long a PBFT checkpoint holds the event loop: four members on the etcd state machine, each
 * starting from the same state of `keys` keys, take writes with a checkpoint every 16 batches.
 * "whole": a state machine without beginSnapshot, snapshotted in the turn that executes the
 * checkpoint's batch (what every checkpoint cost before checkpoints were encoded in slices);
 * "sliced": beginSnapshot, a `slice bytes` slice per turn while later batches execute. Prints how
 * much CPU time one turn's stretch of checkpoint encoding took (median, 90th percentile, longest), the
 * slices, and the requests executed while checkpoints were being encoded. Then the same for the
 * replica's compaction that follows each encoding (the state packed with the client table and its
 * parts digested: PbftReplica.stepCompact), whole (one step) or a slice per turn.
 *
 *   node dist/bench/pbft-checkpoint-turns.js [keys] [value bytes] [slice bytes]   (default 50000 keys, 100 bytes, 4 MiB)
 */
import type { Index } from '../src/core/ids.js';
import type { SnapshotEncoding, StateMachine } from '../src/core/replica.js';
import type { PbftReplica } from '../src/protocols/pbft/pbft.js';
import { protocolByName } from '../src/protocols/registry.js';
import { KvStateMachine, encodeKvCommand, type KvOutcome } from '../src/statemachine/mvcc/index.js';
import { Answer, TestCluster } from '../test/driver/harness.js';

const keys = Number(process.argv[2] ?? 50_000);
const valueBytes = Number(process.argv[3] ?? 100);
const sliceBytes = Number(process.argv[4] ?? 4 * 1024 * 1024);
const WRITES = 64;

function put(client: string, seq: number, key: string): Uint8Array {
  return encodeKvCommand({
    client, seq, lowestPending: seq,
    request: { op: 'put', key: Buffer.from(key), value: new Uint8Array(valueBytes).fill(seq & 0xff), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false },
  });
}

/** Times every stretch of checkpoint encoding (a whole snapshot, or one slice) on one member. */
class Timed implements StateMachine<KvOutcome> {
  /** Every stretch spent encoding (a whole snapshot, a beginSnapshot, a slice), in ms. */
  readonly stretchesMs: number[] = [];
  totalMs = 0;
  checkpoints = 0;
  slices = 0;
  encoding = false;
  appliedWhileEncoding = 0;
  beginSnapshot?: () => SnapshotEncoding;
  constructor(readonly kv: KvStateMachine, sliced: boolean) {
    if (sliced) this.beginSnapshot = () => this.begin();
  }
  apply(command: Uint8Array, index: Index, origin?: string): KvOutcome {
    if (this.encoding) this.appliedWhileEncoding++;
    return this.kv.apply(command, index, origin);
  }
  snapshot(): Uint8Array {
    this.checkpoints++;
    return this.time(() => this.kv.snapshot());
  }
  restore(data: Uint8Array): void {
    this.kv.restore(data);
  }
  applyConfig(data: Uint8Array, index: Index): void {
    this.kv.applyConfig(data, index);
  }
  private begin(): SnapshotEncoding {
    this.checkpoints++;
    this.encoding = true;
    const inner = this.time(() => this.kv.beginSnapshot());
    return {
      step: (budget) => {
        this.slices++;
        const bytes = this.time(() => inner.step(budget));
        if (bytes !== null) this.encoding = false;
        return bytes;
      },
      abandon: () => {
        this.encoding = false;
        inner.abandon();
      },
    };
  }
  /** CPU time (user + system), not wall time: other processes on a loaded machine do not count. */
  private time<T>(fn: () => T): T {
    const t0 = process.cpuUsage();
    const r = fn();
    const used = process.cpuUsage(t0);
    const ms = (used.user + used.system) / 1000;
    this.totalMs += ms;
    this.stretchesMs.push(ms);
    return r;
  }
}

const base = new KvStateMachine();
for (let i = 0; i < keys; i++) base.apply(put('preload', i + 1, `key-${String(i).padStart(8, '0')}`), (i + 1) as Index);
const start = base.snapshot();
console.log(`state: ${keys} keys of ${valueBytes} bytes, snapshot ${(start.byteLength / 1024 / 1024).toFixed(1)} MiB; ${WRITES} writes, a checkpoint every 16 batches, 4 members`);

for (const sliced of [false, true]) {
  const machines: Timed[] = [];
  const protocol = protocolByName('pbft');
  const c = new TestCluster<KvOutcome>(['n1', 'n2', 'n3', 'n4'], {
    protocol,
    protocolOptions: { ...protocol.timingOptions({ tickMs: 100, heartbeatIntervalMs: 100, electionTimeoutMs: 1_000 }), checkpointIntervalSeqs: 16 },
    stateMachine: () => {
      const kv = new KvStateMachine();
      kv.restore(start);
      const m = new Timed(kv, sliced);
      machines.push(m);
      return m;
    },
    limits: () => ({ snapshotSliceBytes: sliceBytes }),
  });
  /** CPU time of every step of the replicas' compactions, in ms. */
  const compactionStepsMs: number[] = [];
  for (const m of c.members.values()) {
    const replica = m.driver.replica as unknown as PbftReplica;
    const step = replica.stepCompact.bind(replica);
    replica.stepCompact = (budget: number): boolean => {
      if (!replica.compactionInFlight()) return step(budget);
      const t = process.cpuUsage();
      const done = step(budget);
      const used = process.cpuUsage(t);
      compactionStepsMs.push((used.user + used.system) / 1000);
      return done;
    };
  }
  const t0 = performance.now();
  for (let w = 0; w < WRITES; w++) {
    c.driver(`n${(w % 3) + 1}`).propose(put(`w${w}`, 1, `key-${String(w).padStart(8, '0')}`), new Answer<KvOutcome>().reply);
    if (w % 3 === 2) {
      c.settle();
      c.runFor(100);
    }
  }
  c.runFor(2_000);
  const ms = performance.now() - t0;
  const stable = [...c.members.values()].map((m) => m.driver.replica.status() as unknown as { stableCheckpoint: number }).map((s) => s.stableCheckpoint);
  const stretches = machines.flatMap((m) => m.stretchesMs).sort((a, b) => a - b);
  const at = (q: number): string => (stretches[Math.min(stretches.length - 1, Math.floor(q * stretches.length))] ?? 0).toFixed(1);
  const total = machines.reduce((a, m) => a + m.totalMs, 0);
  const checkpoints = machines.reduce((a, m) => a + m.checkpoints, 0);
  const slices = machines.reduce((a, m) => a + m.slices, 0);
  const meanwhile = machines.reduce((a, m) => a + m.appliedWhileEncoding, 0);
  const steps = compactionStepsMs.sort((a, b) => a - b);
  const stepAt = (q: number): string => (steps[Math.min(steps.length - 1, Math.floor(q * steps.length))] ?? 0).toFixed(1);
  console.log(`${sliced ? 'sliced' : 'whole '}: CPU time of a step of the replicas' compaction: median ${stepAt(0.5)} ms, 90th ${stepAt(0.9)} ms, longest ${stepAt(1)} ms; ` +
    `${steps.length} steps, ${steps.reduce((a, b) => a + b, 0).toFixed(0)} ms in all`);
  console.log(`${sliced ? 'sliced' : 'whole '}: CPU time of a turn's stretch of checkpoint encoding: median ${at(0.5)} ms, 90th ${at(0.9)} ms, longest ${at(1)} ms (a GC pause may land in one); ${checkpoints} checkpoints (all members) in ${total.toFixed(0)} ms of encoding CPU, ${sliced ? `${slices} slices of ${sliceBytes} bytes` : 'each in one turn'}; requests executed while one was encoding: ${meanwhile}; stable checkpoints ${stable.join(', ')}; run ${ms.toFixed(0)} ms`);
}
