/**
 * A small manual world around the shipped Driver, for driver tests: a clock that moves only when
 * a test moves it, a network that delivers only inside settle() (with links that can be cut and
 * frames that can be held back), and an in-memory storage whose writes complete on the next turn
 * or, once held, when the test releases them. No wall time anywhere: a test reads like a script.
 */
import { Driver, type DriverEvents } from '../../src/driver/driver.js';
import type { DriverLimits } from '../../src/driver/limits.js';
import type { ClockPort, Done, StoragePort, StorageStats, TimerHandle } from '../../src/driver/ports.js';
import type { Reply } from '../../src/driver/waiters.js';
import type { NodeMessage } from '../../src/driver/wire.js';
import { pack } from '../../src/core/codec.js';
import { nodeId, type NodeId } from '../../src/core/ids.js';
import { Prng } from '../../src/core/prng.js';
import type { ProtocolDefinition } from '../../src/core/protocol.js';
import type { Persist, RestoredState, Snapshot, StateMachine } from '../../src/core/replica.js';
import { SimKeyring } from '../../src/sim/sim-authenticator.js';
import { encodeKvCommand } from '../../src/statemachine/mvcc/index.js';

interface ManualTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Time moves only through advance(); deferred work runs only through runDeferred(). */
export class ManualClock implements ClockPort {
  private nowMs = 0;
  private timers: ManualTimer[] = [];
  private timerSeq = 0;
  private deferred: (() => void)[] = [];

  now(): number {
    return this.nowMs;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const t: ManualTimer = { at: this.nowMs + ms, seq: this.timerSeq++, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => { t.cancelled = true; } };
  }

  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  /** Run deferred work (and what it defers) until none is left; how many ran. */
  runDeferred(): number {
    let ran = 0;
    for (let fn = this.deferred.shift(); fn !== undefined; fn = this.deferred.shift()) {
      fn();
      ran++;
    }
    return ran;
  }

  /** Move time forward by `ms`, firing each timer that falls due, in deadline order. */
  advance(ms: number): void {
    const until = this.nowMs + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.nowMs = Math.max(this.nowMs, due.at);
      due.fn();
    }
    this.nowMs = until;
  }
}

/** Storage that keeps nothing but what it was asked: saves complete on the next turn, or when released. */
export class MemoryStorage implements StoragePort<unknown> {
  readonly saves: Persist<unknown>[] = [];
  readonly snapshots: Snapshot[] = [];
  /** While true, writes wait for release(). */
  holding = false;
  /** While true, snapshots (only) wait for release(). */
  holdingSnapshots = false;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly clock: ManualClock) {}

  restored(): RestoredState<unknown> {
    return { hardState: null, snapshot: null, entries: [] };
  }

  save(persist: Persist<unknown>, done: Done): void {
    this.saves.push(persist);
    this.complete(() => done(null));
  }

  saveSnapshot(snapshot: Snapshot, done: Done): void {
    this.snapshots.push(snapshot);
    if (this.holdingSnapshots) this.waiting.push(() => done(null));
    else this.complete(() => done(null));
  }

  close(done: Done): void {
    done(null);
  }

  /** Complete every held write, in order. */
  release(): void {
    for (const w of this.waiting.splice(0)) w();
  }

  stats(): StorageStats {
    return { segments: 0, fsyncs: 0, saves: this.saves.length, bytesWritten: 0, lastFsyncMs: 0, repairs: [] };
  }

  private complete(fn: () => void): void {
    if (this.holding) this.waiting.push(fn);
    else this.clock.defer(fn);
  }
}

export interface Member<R> {
  readonly id: NodeId;
  readonly driver: Driver<R>;
  readonly storage: MemoryStorage;
  readonly stateMachine: StateMachine<R>;
}

export interface ClusterOptions<R> {
  readonly protocol: ProtocolDefinition;
  readonly stateMachine: (id: NodeId) => StateMachine<R>;
  readonly protocolOptions?: Readonly<Record<string, unknown>>;
  readonly limits?: (id: NodeId) => Partial<DriverLimits>;
  /** Test-only: a driver or protocol mutant for every member. */
  readonly mutant?: string;
  /** Each member's driver events (what the simulator's checks listen to). */
  readonly events?: (id: NodeId) => DriverEvents<R>;
}

/** Raft-style options for short, quiet runs: no pre-vote or check-quorum, so a test decides who campaigns. */
export const QUIET_LEADER_OPTIONS = { electionTimeoutTicks: 10, heartbeatIntervalTicks: 1, preVote: false, checkQuorum: false };

export class TestCluster<R> {
  readonly clock = new ManualClock();
  readonly members = new Map<NodeId, Member<R>>();
  /** Every frame a member sent, in order (delivered or not). */
  readonly sent: NodeMessage[] = [];
  /** Frames held back by `hold`, in order; deliver them with releaseHeld(). */
  readonly held: NodeMessage[] = [];
  /** Frames for which this answers true are held back instead of delivered. */
  hold: (frame: NodeMessage) => boolean = () => false;
  private readonly queue: NodeMessage[] = [];
  private readonly cut = new Set<string>();
  private readonly ids: NodeId[];

  constructor(names: readonly string[], o: ClusterOptions<R>) {
    this.ids = names.map(nodeId);
    const keyring = o.protocol.keys === 'per-member' ? new SimKeyring(new Prng(7)) : null;
    for (const [i, id] of this.ids.entries()) {
      const storage = new MemoryStorage(this.clock);
      const stateMachine = o.stateMachine(id);
      const driver = new Driver<R>({
        id,
        protocol: o.protocol,
        storage,
        network: { send: (frame) => { this.sent.push(frame); this.queue.push(frame); return true; } },
        clock: this.clock,
        stateMachine,
        encodeResult: (r) => pack(r),
        membership: { voters: this.ids, outgoingVoters: [], learners: [] },
        protocolOptions: o.protocolOptions ?? {},
        random: new Prng(i + 1),
        ...(keyring === null ? {} : { authenticatorFor: (p) => keyring.authenticatorFor(p), firstClientTimestamp: 1 }),
        limits: o.limits?.(id) ?? {},
        ...(o.mutant === undefined ? {} : { mutant: o.mutant }),
        ...(o.events === undefined ? {} : { events: o.events(id) }),
      });
      this.members.set(id, { id, driver, storage, stateMachine });
    }
  }

  member(name: string): Member<R> {
    const m = this.members.get(nodeId(name));
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  driver(name: string): Driver<R> {
    return this.member(name).driver;
  }

  /** Run deferred work and deliver frames until nothing moves. */
  settle(): void {
    for (let round = 0; round < 10_000; round++) {
      const ran = this.clock.runDeferred();
      if (ran === 0 && this.queue.length === 0) return;
      for (const f of this.queue.splice(0)) this.deliver(f);
    }
    throw new Error('the cluster did not settle');
  }

  /** Tick the named members (all when none is named) `times` times, settling after each. */
  tick(times = 1, ...names: string[]): void {
    const drivers = names.length === 0 ? [...this.members.values()].map((m) => m.driver) : names.map((n) => this.driver(n));
    for (let i = 0; i < times; i++) {
      for (const d of drivers) if (d.running) d.tick();
      this.settle();
    }
  }

  /** Let `ms` of time pass in steps of `tickMs`, ticking every running member at each step. */
  runFor(ms: number, tickMs = 100): void {
    for (let t = 0; t < ms; t += tickMs) {
      this.clock.advance(tickMs);
      this.tick(1);
    }
  }

  /** Tick only `name` until it leads (elections it wins once its own timeout fires). */
  elect(name: string): void {
    for (let i = 0; i < 200 && !this.driver(name).isLeader(); i++) this.tick(1, name);
    if (!this.driver(name).isLeader()) throw new Error(`${name} did not become the leader`);
    this.tick(3, name); // its first entry commits; the others learn who leads
  }

  isolate(name: string): void {
    for (const other of this.ids) if (other !== nodeId(name)) this.link(name, other, false);
  }

  link(a: string, b: string, up: boolean): void {
    for (const k of [`${a}>${b}`, `${b}>${a}`]) {
      if (up) this.cut.delete(k);
      else this.cut.add(k);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Deliver the held frames now (the hold predicate still applies to anything they cause). */
  releaseHeld(): void {
    for (const f of this.held.splice(0)) this.deliver(f, true);
    this.settle();
  }

  private deliver(f: NodeMessage, released = false): void {
    if (this.cut.has(`${f.from}>${f.to}`)) return;
    if (!released && this.hold(f)) {
      this.held.push(f);
      return;
    }
    this.members.get(f.to)?.driver.receive(f);
  }
}

/** A reply that records what it was answered with (and how often: at most once is the rule). */
export class Answer<T> {
  readonly answers: { err: Error | null; value: T | undefined }[] = [];
  readonly reply: Reply<T> = (err, value) => { this.answers.push({ err, value }); };

  get answered(): boolean {
    return this.answers.length > 0;
  }

  /** The error code of the one answer, or 'ok'. */
  get outcome(): string | undefined {
    const a = this.answers[0];
    if (a === undefined) return undefined;
    return a.err === null ? 'ok' : ((a.err as { code?: string }).code ?? a.err.message);
  }
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A KV put of `value` at `key` by the one writer client 'w', as its `seq`-th command. */
export function kvPut(seq: number, key: string, value: Uint8Array): Uint8Array {
  return encodeKvCommand({ client: 'w', seq, lowestPending: seq, request: { op: 'put', key: Buffer.from(key), value, lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false } });
}
