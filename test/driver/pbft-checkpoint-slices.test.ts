/**
 * A PBFT checkpoint over a large state is encoded a slice per turn while later batches execute
 * (issue 15 item 3: snapshots off the event loop's critical path), and what the core gets, and
 * every replica signs, is the state AS OF the checkpoint's sequence number, not as of the
 * encoding's end. Before, the host snapshotted the whole state in the turn that executed the
 * checkpoint's batch. The `checkpoint-sees-later-batches` mutant hands the core the state as it
 * is when the encoding ends: the kept checkpoint then holds later batches (or the replicas'
 * digests disagree and a replica stops on it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Index } from '../../src/core/ids.js';
import type { SnapshotEncoding, StateMachine } from '../../src/core/replica.js';
import { checkpointServiceState } from '../../src/protocols/pbft/pbft.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { KvStateMachine, encodeKvCommand, type KvOutcome } from '../../src/statemachine/mvcc/index.js';
import { Answer, TestCluster } from './harness.js';

/** What one encoding of a member's checkpoint did. */
interface EncodingRecord {
  /** The state machine's whole snapshot when the encoding began (the state as of the checkpoint). */
  readonly atBegin: string;
  /** Steps with a slice's budget (each in its own turn but the first), and with no bound (finished at once). */
  slices: number;
  finishedAtOnce: number;
  /** Commands applied between the encoding's begin and its end. */
  appliedMeanwhile: number;
  done: boolean;
}

/** The etcd state machine, recording each encoding the PBFT host begins. */
class Recording implements StateMachine<KvOutcome> {
  readonly encodings: EncodingRecord[] = [];
  /** Encodings begun and not yet done or abandoned (the host allows one). */
  open = 0;
  maxOpen = 0;
  constructor(readonly kv: KvStateMachine) {}
  apply(command: Uint8Array, index: Index, origin?: string): KvOutcome {
    for (const e of this.encodings) if (!e.done) e.appliedMeanwhile++;
    return this.kv.apply(command, index, origin);
  }
  snapshot(): Uint8Array {
    return this.kv.snapshot();
  }
  beginSnapshot(): SnapshotEncoding {
    const record: EncodingRecord = { atBegin: hex(this.kv.snapshot()), slices: 0, finishedAtOnce: 0, appliedMeanwhile: 0, done: false };
    this.encodings.push(record);
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    const inner = this.kv.beginSnapshot();
    const end = (): void => {
      if (record.done) return;
      record.done = true;
      this.open--;
    };
    return {
      step: (budgetBytes) => {
        if (budgetBytes === Number.POSITIVE_INFINITY) record.finishedAtOnce++;
        else record.slices++;
        const bytes = inner.step(budgetBytes);
        if (bytes !== null) end();
        return bytes;
      },
      abandon: () => {
        end();
        inner.abandon();
      },
    };
  }
  restore(data: Uint8Array): void {
    this.kv.restore(data);
  }
  applyConfig(data: Uint8Array, index: Index): void {
    this.kv.applyConfig(data, index);
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const PBFT_TIMING = { tickMs: 100, heartbeatIntervalMs: 100, electionTimeoutMs: 1_000 };

/** A put of `size` bytes under a key of its own, by a session of its own. */
function put(n: number, size: number): Uint8Array {
  return encodeKvCommand({
    client: `c${n}`, seq: 1, lowestPending: 1,
    request: { op: 'put', key: Buffer.from(`key-${n}`), value: new Uint8Array(size).fill(n & 0xff), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false },
  });
}

/**
 * Four members write a state of a few KiB in waves of three writes (three batches: a checkpoint
 * falls inside a wave now and then), a checkpoint every 8 batches (unless told), 64-byte
 * slices. Within a wave only deferred work and messages run (settle), so a checkpoint's later
 * slices, which wait for the clock, run only once the batches after it in its wave have executed.
 */
function run(o: { mutant?: string; checkpointIntervalSeqs?: number; waves?: number; stopInLastWave?: boolean } = {}): { c: TestCluster<KvOutcome>; machines: Map<string, Recording> } {
  const interval = o.checkpointIntervalSeqs ?? 8;
  const machines = new Map<string, Recording>();
  const protocol = protocolByName('pbft');
  const c = new TestCluster<KvOutcome>(['n1', 'n2', 'n3', 'n4'], {
    protocol,
    protocolOptions: { ...protocol.timingOptions(PBFT_TIMING), checkpointIntervalSeqs: interval, logWindowSeqs: 4 * interval },
    stateMachine: (id) => {
      const m = new Recording(new KvStateMachine());
      machines.set(id, m);
      return m;
    },
    limits: () => ({ snapshotSliceBytes: 64 }),
    ...(o.mutant === undefined ? {} : { mutant: o.mutant }),
  });
  let n = 0;
  for (let wave = 0; wave < (o.waves ?? 16); wave++) {
    for (const name of ['n1', 'n2', 'n3']) c.driver(name).propose(put(n++, 300), new Answer<KvOutcome>().reply);
    c.settle();
    if (o.stopInLastWave === true && wave === (o.waves ?? 16) - 1) return { c, machines }; // its clock not moved
    c.runFor(300);
  }
  c.runFor(3_000);
  return { c, machines };
}

test('a PBFT checkpoint is encoded a slice per turn while later batches execute, and every replica signs the state as of its sequence number', () => {
  const { c, machines } = run();
  let meanwhile = 0;
  for (const [id, m] of machines) {
    const member = c.member(id);
    assert.ok(member.driver.running, `${id} runs`);
    assert.equal(m.maxOpen, 1, `${id}: at most one checkpoint encoding in flight`);
    assert.ok(m.encodings.length >= 3, `${id}: ${m.encodings.length} checkpoints encoded`);
    for (const e of m.encodings) {
      assert.ok(e.done, `${id}: every encoding ended`);
      // A few KiB of keys in 64-byte slices (a key or so per slice): several turns.
      assert.ok(e.slices >= 8 && e.finishedAtOnce === 0, `${id}: ${e.slices} slices, ${e.finishedAtOnce} finished at once`);
      meanwhile += e.appliedMeanwhile;
    }
    // Every stable checkpoint kept holds the state as of its sequence number: the one its encoding began with.
    const kept = member.storage.snapshots;
    assert.ok(kept.length >= 2, `${id}: ${kept.length} stable checkpoints kept`);
    const begun = new Set(m.encodings.map((e) => e.atBegin));
    for (const s of kept) assert.ok(begun.has(hex(checkpointServiceState(s.data))), `${id}: the checkpoint at ${s.meta.index} is the state as of ${s.meta.index}`);
    assert.equal(member.driver.replica.status().appliedIndex, 48, `${id} executed every wave`);
  }
  assert.ok(meanwhile > 0, 'later batches executed while checkpoints were encoded');
  // The last stable checkpoint is the same everywhere (2f + 1 signed one digest).
  const last = [...machines.keys()].map((id) => c.member(id).storage.snapshots.at(-1)!.meta.index);
  assert.ok(last.every((i) => i === last[0]), `stable checkpoints ${last}`);
});

test('the checkpoint-sees-later-batches mutant signs a state with later batches in it', () => {
  let problem: string | null = null;
  try {
    const { c, machines } = run({ mutant: 'checkpoint-sees-later-batches' });
    for (const [id, m] of machines) {
      const begun = new Set(m.encodings.map((e) => e.atBegin));
      for (const s of c.member(id).storage.snapshots) {
        if (!begun.has(hex(checkpointServiceState(s.data)))) problem ??= `${id}: the checkpoint at ${s.meta.index} holds later batches`;
      }
    }
  } catch (err) {
    problem = (err as Error).message; // a replica's digest differed from the proven one
  }
  assert.notEqual(problem, null, 'the mutant is seen');
});

test('a checkpoint still encoding when the next one executes is finished at once, not skipped: every replica signs every checkpoint', () => {
  // A checkpoint every 2 batches, 3 batches a wave: the next checkpoint often executes in the same turn.
  const { c, machines } = run({ checkpointIntervalSeqs: 2 });
  for (const [id, m] of machines) {
    assert.ok(c.member(id).driver.running, `${id} runs`);
    assert.equal(m.maxOpen, 1, `${id}: at most one checkpoint encoding in flight`);
    assert.equal(m.encodings.length, 48 / 2, `${id}: every checkpoint was encoded`);
    assert.ok(m.encodings.some((e) => e.finishedAtOnce === 1), `${id}: one was finished at once`);
    const begun = new Set(m.encodings.map((e) => e.atBegin));
    for (const s of c.member(id).storage.snapshots) assert.ok(begun.has(hex(checkpointServiceState(s.data))), `${id}: the checkpoint at ${s.meta.index} is the state as of ${s.meta.index}`);
    assert.equal(c.member(id).storage.snapshots.at(-1)?.meta.index, 48, `${id}: the last checkpoint is stable`);
  }
});

test('a member stopped in the middle of a checkpoint\'s encoding drops it: nothing of it is kept or sent', () => {
  const { c, machines } = run({ waves: 3, stopInLastWave: true });
  const n4 = machines.get('n4')!;
  // The checkpoint at 8 began in wave 3 and its later slices wait for the clock.
  assert.equal(n4.open, 1, 'n4 is encoding a checkpoint');
  const kept = c.member('n4').storage.snapshots.length;
  const checkpointsSent = (): number => c.sent.filter((f) => f.from === 'n4' && f.kind === 'protocol' && (f.message as { type?: string }).type === 'checkpoint').length;
  const sent = checkpointsSent();
  c.driver('n4').kill();
  c.runFor(1_000);
  assert.equal(n4.open, 0, 'the encoding was dropped');
  assert.equal(n4.encodings.at(-1)!.done, true);
  assert.equal(c.member('n4').storage.snapshots.length, kept, 'no checkpoint kept after the stop');
  assert.equal(checkpointsSent(), sent, 'no CHECKPOINT sent after the stop');
});
