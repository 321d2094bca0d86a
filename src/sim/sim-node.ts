/**
 * One simulated member: the driver the node runtime ships, on model ports — virtual time (skewed
 * and paused per process), the model network (a turn's messages leave together at its end), and
 * the storage on the member's own model disk. It crashes (the process dies: the kernel keeps
 * what it was given), loses power (only what was fsynced survives), restarts from its disk, and
 * pauses (it runs nothing until it resumes, then handles what waited, in order).
 */
import type { Authenticator, Principal } from '../core/authenticator.js';
import type { NodeId } from '../core/ids.js';
import type { Random } from '../core/prng.js';
import type { AppliedPosition, ProtocolDefinition } from '../core/protocol.js';
import type { Membership, StateMachine } from '../core/replica.js';
import { Driver, type DriverEvents } from '../driver/driver.js';
import type { DriverLimits } from '../driver/limits.js';
import type { ClockPort, StoragePort } from '../driver/ports.js';
import type { NodeMessage } from '../driver/wire.js';
import { doubleArray, objectArray, objectSlots } from './shapes.js';
import { EventQueue } from './event-queue.js';
import type { CallEvent, Timer, TurnOwner, World } from './world.js';

/** Everything a member needs from its simulation. */
export interface NodeEnvironment<R> {
  readonly world: World<never>;
  readonly protocol: ProtocolDefinition;
  readonly membership: Membership;
  readonly protocolOptions: Readonly<Record<string, unknown>>;
  readonly limits: Partial<DriverLimits>;
  readonly tickMs: number;
  readonly mutant: string | undefined;
  /** The state machine persists itself as it applies (it then survives a process crash). */
  readonly durableStateMachine: boolean;
  createStateMachine(): StateMachine<R>;
  encodeResult(result: R): Uint8Array;
  /** A fresh random stream for a new incarnation's core. */
  fork(): Random;
  /** This member's keys (Byzantine protocols). */
  authenticatorFor?(principal: Principal): Authenticator;
  /** Where a turn's messages go (the model network): the first `count` of `frames`. */
  release(from: SimNode<R>, frames: readonly (NodeMessage | null)[], count: number): void;
  /** Driver events of this member (the simulator's checks listen). */
  events(node: SimNode<R>): DriverEvents<R>;
  /** This member's storage refused to open (a check judges whether its disk gave it cause). */
  refusedToStart(node: SimNode<R>): void;
  /** This member's process died (a crash or a power loss) while it was up: its TCP connections reset. */
  processDied(node: SimNode<R>): void;
}

/** How a turn ends for a member the nemesis chose to kill in it. */
export interface TurnEndCrash {
  /** 'crash': the process dies (unsynced writes survive in the kernel); 'power-loss': only synced data survives. */
  readonly kind: 'crash' | 'power-loss';
  /** The messages of the turn never leave (killed before its end-of-turn socket writes). */
  readonly loseMessages: boolean;
  readonly restartAfterMs: number;
}

/** The storage under a member: its model disk, opened as a member opens its data directory. */
export interface SimDisk {
  /**
   * Open the storage as a restarting process does: `ready` once what it restored is durable.
   * Throws when it refuses to start (a damaged log).
   */
  open(ready: (storage: StoragePort<unknown>) => void): void;
  /** The process died: the kernel keeps what it was given; pending I/O callbacks never run. */
  crash(): void;
  /** Power loss: only synced data survives (and, per seed, torn or reordered parts of the rest). */
  /** `immediate`: right after the write the fault was aimed at (it has most likely not reached the platter). */
  powerLoss(immediate: boolean): string;
}

/** Outbox slots a member starts with (a turn that sends more grows them). */
const OUTBOX_SLOTS = 16;
/**
 * Timer delays that get a lane of their own in a member's timer queue (see setTimer): the driver
 * sets its timers with a few fixed delays (its proposal and read timeouts), and more lanes than
 * that would only lengthen every take's look at the lanes' heads.
 */
const MAX_TIMER_LANES = 4;

export class SimNode<R> implements TurnOwner {
  incarnation = 0;
  paused = false;
  up = false;
  /** This process's monotonic clock, which runs at `rate` × true time: its reading at `clockSetAt`. */
  private clockBase = 0;
  private clockSetAt = 0;
  private clockRate = 1;
  /** A Byzantine member whose inner core tripped over what it was fed: it has stopped. */
  broken = false;
  driver: Driver<R> | null = null;
  sm: StateMachine<R> | null = null;
  /** Events that arrived while paused, run in order on resume. */
  private readonly parked: CallEvent[] = objectArray();
  /** The driver's timers (see setTimer); a crash drops them. */
  private timers = new EventQueue<NodeTimer>();
  /** The delay of each lane of `timers`, by lane number (a new queue after a crash gets the same lanes). */
  private readonly timerLaneDelays: number[] = doubleArray();
  /**
   * The messages sent in the current turn: the first `outboxCount` slots (slots are reused from
   * turn to turn and cleared once released; emptying the array itself each turn cost more).
   */
  private readonly outbox = objectSlots<NodeMessage>(OUTBOX_SLOTS);
  private outboxCount = 0;
  /** A crash decided during the current turn, applied at its end. */
  private crashAtTurnEnd: TurnEndCrash | null = null;
  /** Where a state machine that persists itself stood when the process died (see restart). */
  private keptState: { sm: StateMachine<R>; at: AppliedPosition } | null = null;
  /** Checks' memory across steps: commit and term never go back. */
  lastCommit = 0;
  /** The driver's Ready count when the checks last looked at this member. */
  observedReadies = -1;
  lastTerm = 0;
  wasLeader = false;
  /** Crashes and power losses of this process so far. */
  crashes = 0;
  /** The member refused to start (its disk failed a check): it stays down. */
  refused: string | null = null;
  /** Opening its storage (the process runs but serves nothing yet). */
  private starting = false;
  /**
   * A removed member stopped for good (Simulation.retire): no restart brings it back, not even
   * one a crash of its own scheduled before it was retired (see endTurn).
   */
  retired = false;
  /**
   * A member that joined: the configuration its join answer told it (with `since`), which it
   * starts with every time, as the node runtime passes its stored identity's; null: the cluster's
   * initial one.
   */
  told: Membership | null = null;

  constructor(
    /** The process's name (a twin has its own). */
    readonly key: string,
    readonly id: NodeId,
    /** 1-based position in the cluster (a cheap number for the trace hash). */
    readonly index: number,
    readonly byzantine: boolean,
    private readonly env: NodeEnvironment<R>,
    readonly disk: SimDisk,
  ) {
    this.settleShape();
  }

  /**
   * Faults change these fields, often many runs into a process: each gets a value of its final
   * kind now, then its own back, so code optimized before the first fault stays valid (see shapes.ts).
   */
  private settleShape(): void {
    const { incarnation, crashes, rate, paused, broken, starting, refused, timers, crashAtTurnEnd } = this;
    this.incarnation = incarnation + 1;
    this.crashes = crashes + 1;
    this.rate = 0.5;
    this.paused = !paused;
    this.broken = !broken;
    this.starting = !starting;
    this.refused = 'refused';
    this.timers = this.newTimerQueue();
    this.crashAtTurnEnd = { kind: 'crash', loseMessages: false, restartAfterMs: 0 };
    this.incarnation = incarnation;
    this.crashes = crashes;
    this.rate = rate;
    this.paused = paused;
    this.broken = broken;
    this.starting = starting;
    this.refused = refused;
    this.timers = timers;
    this.crashAtTurnEnd = crashAtTurnEnd;
  }

  // ---- the process ---------------------------------------------------------------------------

  /**
   * Start (or restart) from the disk. `keepStateMachine`: the state machine persisted itself as
   * it applied (like etcd's backend with its consistent index) and survived a process crash; the
   * driver then starts the core at that applied index.
   */
  start(keepStateMachine: boolean): void {
    if (this.up || this.starting || this.refused !== null) return;
    if (this.retired) {
      this.env.world.note(`${this.key} stays stopped (removed)`);
      return;
    }
    this.starting = true;
    const incarnation = this.incarnation;
    try {
      this.disk.open((storage) => {
        if (this.incarnation !== incarnation) return; // it died again while opening
        this.starting = false;
        this.boot(storage, keepStateMachine);
      });
    } catch (err) {
      // A member whose storage fails its checks refuses to start, as the node runtime does.
      this.starting = false;
      this.refused = (err as Error).message;
      this.env.world.note(`${this.key} refuses to start: ${this.refused}`);
      this.env.refusedToStart(this);
    }
  }

  /** The storage is open and what it restored is durable: start the driver on it. */
  private boot(storage: StoragePort<unknown>, keepStateMachine: boolean): void {
    const kept = keepStateMachine ? this.keptState : null;
    this.keptState = null;
    this.sm = kept === null ? this.env.createStateMachine() : kept.sm;
    this.up = true;
    this.paused = false;
    this.wasLeader = false;
    this.lastCommit = 0;
    this.observedReadies = -1;
    this.env.world.enter(this);
    const env = this.env;
    const node = this;
    const clock: ClockPort = {
      now: () => node.localNow(),
      setTimer: (ms, fn) => node.setTimer(ms, fn),
      defer: (fn) => env.world.defer(node, fn),
    };
    this.driver = new Driver<R>({
      id: this.id,
      protocol: env.protocol,
      storage,
      network: { send: (frame) => (this.send(frame), true) },
      clock,
      stateMachine: this.sm,
      stateMachineDurable: this.env.durableStateMachine,
      ...(kept === null ? {} : { stateMachineApplied: kept.at }),
      encodeResult: (r) => env.encodeResult(r),
      membership: this.told ?? env.membership,
      protocolOptions: env.protocolOptions,
      random: env.fork(),
      tickMs: env.tickMs,
      ...(env.authenticatorFor === undefined ? {} : { authenticatorFor: (p: Principal) => env.authenticatorFor!(p) }),
      firstClientTimestamp: Math.floor(env.world.now * 1000) + 1,
      limits: env.limits,
      events: env.events(this),
      ...(env.mutant === undefined ? {} : { mutant: env.mutant }),
      // A liar's frames carry any name in their messages' `from`: the cores' own checks must catch it.
      senderHostsMessage: false,
    });
    this.lastTerm = this.driver.status().term;
    this.scheduleTick();
  }

  /** The process dies now (`powerLoss`: and its machine loses power). Nothing it queued leaves. */
  stop(powerLoss: boolean, immediate = false): string {
    if (!this.up && !this.starting) return '';
    const wasUp = this.up;
    this.starting = false;
    const at = this.driver?.appliedPosition() ?? null;
    this.driver?.kill();
    this.driver = null;
    this.up = false;
    this.crashes++;
    this.paused = false;
    this.incarnation++;
    this.parked.length = 0;
    this.timers = this.newTimerQueue();
    this.clearOutbox();
    this.crashAtTurnEnd = null;
    // A state machine that persisted itself keeps what it applied across a process crash; a
    // power loss takes the kernel's unsynced pages with it, so it is rebuilt from the snapshot.
    this.keptState = this.env.durableStateMachine && !powerLoss && this.sm !== null && at !== null ? { sm: this.sm, at } : null;
    this.sm = null;
    if (wasUp) this.env.processDied(this);
    if (powerLoss) return this.disk.powerLoss(immediate);
    this.disk.crash();
    return '';
  }

  /** Clock rate of this process (1: true time; the nemesis skews it). */
  get rate(): number {
    return this.clockRate;
  }

  set rate(r: number) {
    this.clockBase = this.localNow();
    this.clockSetAt = this.env.world.now;
    this.clockRate = r;
  }

  /** What this process's monotonic clock reads now (it keeps running while the process is paused or down). */
  localNow(): number {
    return this.clockBase + (this.env.world.now - this.clockSetAt) * this.clockRate;
  }

  /** Kill the process at the end of the current turn (see TurnEndCrash). */
  crashAtEndOfTurn(c: TurnEndCrash): void {
    if (this.crashAtTurnEnd === null) this.crashAtTurnEnd = c;
  }

  pause(): void {
    if (this.up) this.paused = true;
  }

  /** Resume: handle, in order, what arrived while paused (a stalled process still has it in its buffers). */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const parked = this.parked.splice(0);
    for (const e of parked) this.env.world.runCall(e);
  }

  // ---- TurnOwner -------------------------------------------------------------------------------

  describe(): string {
    return this.key;
  }

  failed(err: unknown): boolean {
    if (!this.byzantine) return false;
    // A liar's inner core may trip over what it is fed or over its own altered messages: it stops.
    this.broken = true;
    this.driver?.kill();
    this.env.world.note(`byzantine ${this.key} stopped: ${(err as Error).message}`);
    return true;
  }

  /** Messages sent so far in the current turn. */
  get sentThisTurn(): number {
    return this.outboxCount;
  }

  private send(frame: NodeMessage): void {
    if (this.outboxCount === this.outbox.length) this.outbox.push(frame);
    else this.outbox[this.outboxCount] = frame;
    this.outboxCount++;
  }

  private clearOutbox(): void {
    for (let i = 0; i < this.outboxCount; i++) this.outbox[i] = null;
    this.outboxCount = 0;
  }

  park(event: CallEvent): void {
    this.parked.push(event);
  }

  endTurn(): void {
    const crash = this.crashAtTurnEnd;
    if (crash === null || !crash.loseMessages) {
      if (this.outboxCount > 0) {
        // Release hands the frames to the network and keeps nothing of the array.
        this.env.release(this, this.outbox, this.outboxCount);
        this.clearOutbox();
      }
    }
    if (crash !== null) {
      this.crashAtTurnEnd = null;
      const what = this.stop(crash.kind === 'power-loss', true);
      this.env.world.note(`nemesis ${crash.kind} ${this.key}${crash.loseMessages ? ' mid-turn' : ''}${what === '' ? '' : ` (${what})`}`);
      this.env.world.after(crash.restartAfterMs, () => this.start(crash.kind === 'crash'));
    }
  }

  /** A crash or power loss is set for the end of this turn. */
  get crashScheduled(): boolean {
    return this.crashAtTurnEnd !== null;
  }

  /** The process is opening its storage (started, not yet up). */
  get opening(): boolean {
    return this.starting;
  }

  /** The driver, if the process is up (what a request arriving in this turn reaches; nothing if it is down). */
  get runningDriver(): Driver<R> | null {
    return this.up ? this.driver : null;
  }

  /**
   * The driver's timeouts (a proposal's, a read's, a client's retry) fire on the process's own
   * ticks rather than as events of their own: almost all are cancelled (the answer came first),
   * and the event queue stays as small as the number of things that really happen.
   */
  setTimer(ms: number, fn: () => void): Timer {
    const t = new NodeTimer(fn, this.timers);
    const at = this.env.world.now + ms / this.rate;
    // Timers of one delay come due in the order they are set: a lane takes them in O(1), where
    // the heap (holding hundreds of them, nearly all cancelled) took a sift per timer. The order
    // in which timers fire is the same either way (see EventQueue).
    const delays = this.timerLaneDelays;
    for (let i = 0; i < delays.length; i++) {
      if (delays[i] === ms) {
        t.placed(i, this.timers.pushToLane(i, at, t));
        return t;
      }
    }
    if (delays.length < MAX_TIMER_LANES) {
      delays.push(ms);
      const lane = this.timers.addLane();
      t.placed(lane, this.timers.pushToLane(lane, at, t));
      return t;
    }
    this.timers.push(at, t);
    return t;
  }

  /** An empty timer queue with a lane for each delay seen so far. */
  private newTimerQueue(): EventQueue<NodeTimer> {
    const q = new EventQueue<NodeTimer>();
    for (let i = 0; i < this.timerLaneDelays.length; i++) q.addLane();
    return q;
  }

  /** Ticks every tickMs (at this process's clock rate) while this incarnation lives; one closure per incarnation. */
  private scheduleTick(): void {
    const incarnation = this.incarnation;
    const world = this.env.world;
    const tick = (): void => {
      if (!this.up || this.incarnation !== incarnation) return;
      world.after(this.env.tickMs / this.rate, tick, this);
      this.fireTimers();
      this.driver?.tick();
    };
    world.after(this.env.tickMs / this.rate, tick, this);
  }

  private fireTimers(): void {
    const now = this.env.world.now;
    for (;;) {
      const t = this.timers.takeUntil(now);
      if (t === undefined) return;
      if (!t.cancelled) t.fn();
    }
  }
}

/** A driver timer: its own cancel handle (one object per timer, not three). */
class NodeTimer implements Timer {
  cancelled = false;
  /** Where it waits in its queue's lanes (see EventQueue.pushToLane; -1: in the heap). */
  private lane = -1;
  private place = -1;

  constructor(public fn: () => void, private readonly queue: EventQueue<NodeTimer>) {}

  placed(lane: number, place: number): void {
    this.lane = lane;
    this.place = place;
  }

  /**
   * Almost every driver timer (a proposal's or a read's timeout) is cancelled soon after it is
   * set, yet stays queued until it is due: dropping its function at once lets what the function
   * holds (the caller's reply, a client's request) die young instead of surviving collections.
   * One waiting in a lane gives its place to a shared cancelled timer: it dies young too, and the
   * tick it comes due on does not read it, long cold by then (a cache miss per timer).
   */
  cancel(): void {
    this.cancelled = true;
    this.fn = noop;
    if (this.place >= 0) this.queue.replaceInLane(this.lane, this.place, CANCELLED_TIMER);
  }
}

function noop(): void {}

/** What a cancelled timer waiting in a lane becomes (see NodeTimer.cancel). */
const CANCELLED_TIMER = new NodeTimer(noop, new EventQueue<NodeTimer>());
CANCELLED_TIMER.cancelled = true;
