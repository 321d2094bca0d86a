/**
 * A follower installs a large snapshot from the leader in slices while the leader keeps taking
 * writes, with the third member cut off during the install: the leader can then commit only with
 * the installing follower's acknowledgements. Used by install-talks.test.ts
 * (small states) and bench/install-talks.ts (the figures for a large one); its two state machines
 * (wholeKv, WatchedKv) also by sliced-install.test.ts.
 *
 * n1 leads; n2 restores whole (it never slices), n3 restores in slices and records what happens
 * while its restore is in progress: what it applied, where its applied position stood, what it
 * sent, and how far the leader's commit index got.
 */
import { protocolByName } from '../../src/protocols/registry.js';
import { KvStateMachine, type KvOutcome } from '../../src/statemachine/mvcc/index.js';
import type { SnapshotRestoring, StateMachine } from '../../src/core/replica.js';
import type { NodeMessage } from '../../src/driver/wire.js';
import type { DriverLimits } from '../../src/driver/limits.js';
import { Answer, kvPut, QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';

/** A state machine that snapshots and restores whole (no beginSnapshot, no beginRestore). */
export function wholeKv(kv: KvStateMachine): StateMachine<KvOutcome> {
  return { apply: (c, i, o) => kv.apply(c, i, o), snapshot: () => kv.snapshot(), restore: (d) => kv.restore(d), applyConfig: (d, i) => kv.applyConfig(d, i) };
}

/** A KV state machine that restores in slices and records what happens while a restore is in progress. */
export class WatchedKv {
  installing = false;
  steps = 0;
  installs = 0;
  readonly appliedWhileInstalling: number[] = [];
  /** Called at each step of a restore (before it runs): the test lets input arrive there. */
  onStep: (step: number) => void = () => {};
  /** Called when a restore begins (before the driver goes on with the Ready that carries it). */
  onBegin: () => void = () => {};
  /** Called once a restore is installed (swapped in). */
  onInstalled: () => void = () => {};

  constructor(readonly kv: KvStateMachine) {}

  machine(): StateMachine<KvOutcome> {
    const kv = this.kv;
    return {
      apply: (c, i, o) => {
        if (this.installing) this.appliedWhileInstalling.push(i);
        return kv.apply(c, i, o);
      },
      snapshot: () => kv.snapshot(),
      restore: (d) => kv.restore(d),
      applyConfig: (d, i) => kv.applyConfig(d, i),
      beginRestore: (data): SnapshotRestoring => {
        const inner = kv.beginRestore(data);
        this.installing = true;
        this.onBegin();
        return {
          step: (budget) => {
            this.onStep(++this.steps);
            return inner.step(budget);
          },
          install: () => {
            inner.install();
            this.installs++;
            this.installing = false;
            this.onInstalled();
          },
        };
      },
    };
  }
}

export interface InstallScenarioOptions {
  /** Keys in the leader's state when it snapshots (the snapshot n3 installs). */
  readonly keys: number;
  /** n3's snapshotSliceBytes: how much of the snapshot one turn restores. */
  readonly sliceBytes: number;
  /** Bytes of each value. */
  readonly valueBytes?: number;
  /** A mutant for every member (test-only). */
  readonly mutant?: string;
  /** More of n3's driver limits. */
  readonly limits?: Partial<DriverLimits>;
  /** Raft options over QUIET_LEADER_OPTIONS, for every member. */
  readonly protocolOptions?: Readonly<Record<string, unknown>>;
  /** Called between two slices of n3's installs (after the scenario's own write and tick), with what a test needs to act there. */
  readonly atStep?: (step: number, s: InstallScenarioScope) => void;
  /** Called when n3's first install is swapped in (before the entries held behind it are applied). */
  readonly atInstalled?: (s: InstallScenarioScope) => void;
}

/** What a test acts with inside the scenario: the cluster, and a write at the leader. */
export interface InstallScenarioScope {
  readonly cluster: TestCluster<KvOutcome>;
  readonly propose: (key: string) => void;
}

/**
 * Inside the scenario (n2 cut off): n3 misses the next 30 writes (n2 back, for the leader to commit
 * them; leader and n2 then ticked `ticksAfterWrites` times), the leader compacts past them, and n2
 * is cut off again, so the leader sends n3 a newer snapshot. `compacted` learns whether the
 * leader's compaction succeeded.
 */
export function compactPastN3({ cluster: c, propose }: InstallScenarioScope, compacted: (ok: boolean) => void, ticksAfterWrites = 0): void {
  c.heal();
  c.isolate('n3');
  for (let i = 0; i < 30; i++) propose(`cut-${i}`);
  if (ticksAfterWrites > 0) c.tick(ticksAfterWrites, 'n1', 'n2');
  c.settle();
  c.driver('n1').snapshotNow((err) => compacted(err === null));
  c.settle();
  c.heal();
  c.isolate('n2');
  c.tick(3, 'n1');
}

export interface InstallScenarioResult {
  readonly cluster: TestCluster<KvOutcome>;
  readonly kvs: ReadonlyMap<string, KvStateMachine>;
  readonly watched: WatchedKv;
  /** Restore steps (turns) of n3's first install. */
  readonly steps: number;
  /** Writes the leader took while n3's first install ran. */
  readonly writesDuringInstall: number;
  /** Frames n3 sent while its first install ran, by message type. */
  readonly sentDuringInstall: ReadonlyMap<string, number>;
  /** The leader's commit index when n3 began its first install, and the highest while it ran. */
  readonly leaderCommitAtStart: number;
  readonly leaderCommitDuring: number;
  /** n3's applied index, each value seen while its first install ran. */
  readonly positionsDuringInstall: ReadonlySet<number>;
  /** The index of the snapshot n3 installed first. */
  readonly snapshotIndex: number;
  /** Proposals taken during the install that were answered (applied at the leader) before it ended. */
  readonly answeredDuringInstall: number;
}

/** Run the scenario to its end (everything healed and settled). */
export function installWhileWriting(o: InstallScenarioOptions): InstallScenarioResult {
  const kvs = new Map<string, KvStateMachine>();
  const watched = new WatchedKv(new KvStateMachine());
  const c = new TestCluster<KvOutcome>(['n1', 'n2', 'n3'], {
    protocol: protocolByName('raft'),
    protocolOptions: { ...QUIET_LEADER_OPTIONS, ...o.protocolOptions },
    stateMachine: (id) => {
      if (id === 'n3') { kvs.set(id, watched.kv); return watched.machine(); }
      const kv = new KvStateMachine(); kvs.set(id, kv); return wholeKv(kv);
    },
    // Snapshots only when asked (the leader's, once its state is built): one install for n3.
    // n3 takes the snapshot as one over maxSnapshotBytesDecodedBeforeAck (a large one): acknowledged
    // once durable, decoded while it is installed, which is the install this scenario is about.
    limits: (id) => ({ snapshotEveryEntries: 1_000_000_000, ...(id === 'n3' ? { snapshotSliceBytes: o.sliceBytes, maxSnapshotBytesDecodedBeforeAck: 0, ...o.limits } : {}) }),
    ...(o.mutant === undefined ? {} : { mutant: o.mutant }),
  });
  c.elect('n1');
  const n1 = c.driver('n1');
  const n3 = c.driver('n3');
  const value = new Uint8Array(o.valueBytes ?? 40);
  let seq = 0;
  const propose = (key: string, reply = new Answer<KvOutcome>().reply): void => {
    seq++;
    n1.propose(kvPut(seq, key, value.fill(seq & 0xff)), reply);
  };
  for (let i = 0; i < 5; i++) propose(`k${i}`);
  c.settle();
  c.isolate('n3');
  // The leader's state, in batches (each settled: the proposals' bound is far above a batch).
  for (let i = 0; i < o.keys; i++) {
    propose(`key-${i}`);
    if (i % 500 === 499) c.settle();
  }
  c.settle();
  const snapshotted = new Answer<void>();
  n1.snapshotNow(snapshotted.reply);
  c.settle();
  if (snapshotted.outcome !== 'ok') throw new Error(`the leader's snapshot: ${snapshotted.outcome}`);

  let startSent = -1;
  let endSent = -1;
  let leaderCommitAtStart = -1;
  let leaderCommitDuring = -1;
  let writesDuringInstall = 0;
  const positions = new Set<number>();
  const during: Answer<KvOutcome>[] = [];
  const commit = (): number => n1.status().commitIndex;
  let began = false;
  watched.onBegin = () => {
    if (began) return; // only n3's first install is measured
    began = true;
    startSent = c.sent.length;
    leaderCommitAtStart = commit();
    // From now on the leader commits only with n3 (and n2's elections reach no one).
    c.isolate('n2');
  };
  watched.onStep = (step) => {
    if (watched.installs > 0 || !n3.running) return;
    positions.add(n3.appliedPosition().index);
    // Between two slices: a write at the leader, a tick everywhere (heartbeats), all delivered.
    const a = new Answer<KvOutcome>();
    during.push(a);
    propose(`during-${step}`, a.reply);
    writesDuringInstall++;
    c.tick(1);
    leaderCommitDuring = Math.max(leaderCommitDuring, commit());
    o.atStep?.(step, { cluster: c, propose: (key) => propose(key) });
  };
  let answeredDuringInstall = -1;
  watched.onInstalled = () => {
    if (watched.installs !== 1) return;
    endSent = c.sent.length;
    answeredDuringInstall = during.filter((a) => a.answered).length;
    o.atInstalled?.({ cluster: c, propose: (key) => propose(key) });
  };
  c.heal();
  c.tick(3, 'n1');
  if (!watched.installing && watched.installs === 0) throw new Error('n3 did not begin an install in slices');
  c.runFor(2000);
  c.heal();
  c.runFor(2000);

  const sentDuringInstall = new Map<string, number>();
  for (const f of c.sent.slice(startSent, endSent < 0 ? c.sent.length : endSent) as NodeMessage[]) {
    if (f.from !== 'n3') continue;
    const type = f.kind === 'protocol' ? (f.message as { type?: string }).type ?? f.kind : f.kind;
    sentDuringInstall.set(type, (sentDuringInstall.get(type) ?? 0) + 1);
  }
  const installedAt = c.member('n3').storage.saves.find((p) => p.snapshot !== null)?.snapshot?.meta.index ?? -1;
  return {
    cluster: c, kvs, watched, steps: watched.steps, writesDuringInstall, sentDuringInstall,
    leaderCommitAtStart, leaderCommitDuring, positionsDuringInstall: positions, snapshotIndex: installedAt,
    answeredDuringInstall,
  };
}

/**
 * n1 leads `c` and takes `total` puts of 40 bytes over 97 keys, each settled; n3 is cut off after
 * the first 10, so the leader compacts past it. `put` takes one more.
 */
export function writePastIsolatedN3(c: TestCluster<KvOutcome>, total: number): (i: number) => void {
  c.elect('n1');
  let seq = 0;
  const put = (i: number): void => {
    seq++;
    c.driver('n1').propose(kvPut(seq, `k${i % 97}`, new Uint8Array(40).fill(i & 0xff)), new Answer<KvOutcome>().reply);
    c.settle();
  };
  for (let i = 0; i < 10; i++) put(i);
  c.isolate('n3');
  for (let i = 10; i < total; i++) put(i);
  return put;
}
