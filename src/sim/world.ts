/**
 * The simulator's one event loop: virtual time, one queue of events, and turns. Each event is a
 * turn of the event loop of the node it belongs to: the node handles it, then the work it
 * deferred (the driver's Ready loop runs at the end of a turn, as setImmediate does in the node
 * runtime), then the messages it sent in the turn leave together (the node runtime writes a
 * turn's messages to its sockets at the end of the turn: a process killed mid-turn never sends
 * them). One seeded PRNG drives every choice, so a seed reproduces the run event for event.
 */
import { InvariantViolation } from '../core/replica.js';
import { doubleArray, objectSlots } from './shapes.js';
import { EventQueue } from './event-queue.js';
import { SimTrace } from './trace.js';

/** Something that runs turns: a simulated member, with an incarnation that a crash ends. */
export interface TurnOwner {
  /** Bumped by every crash: events of an earlier incarnation are dropped. */
  readonly incarnation: number;
  /** A paused process runs nothing; its events wait and run, in order, when it resumes. */
  readonly paused: boolean;
  park(event: CallEvent): void;
  /** The turn is over: release the messages sent in it, apply a crash decided in it. */
  endTurn(): void;
  /** Something this owner ran threw: true if the owner absorbs it (a Byzantine member just stops). */
  failed(err: unknown): boolean;
  /** Who this is, for reports. */
  describe(): string;
}

/**
 * A function to run at a time, as a turn of its owner's incarnation. It is its own Timer: a
 * separate handle (and a closure to cancel through) per event was garbage on the hot path.
 */
export class CallEvent implements Timer {
  readonly kind = 'call';
  cancelled = false;

  constructor(readonly fn: () => void, readonly owner: TurnOwner | null, readonly incarnation: number) {}

  cancel(): void {
    this.cancelled = true;
  }
}

/** What a superseded call becomes (see World.supersede): cancelled, so it runs nothing. */
const SUPERSEDED = new CallEvent(() => {}, null, 0);
SUPERSEDED.cancel();

/** Events other modules define (the hot path: message deliveries) handled by the world's handler. */
export interface CustomEvent {
  readonly kind: 'custom';
}

/**
 * What the world calls besides call events: a method of one object rather than closures made
 * per run (a call site that saw one run's closure is recompiled when the next run's arrives).
 */
export interface WorldHandler<E extends CustomEvent> {
  /** Handle a custom event; it calls `enter(owner)` for the node the event belongs to. */
  onEvent(e: E): void;
  /** After a turn, for every owner the turn touched. */
  afterTurn(owner: TurnOwner): void;
}

type Event = CallEvent | CustomEvent;

/**
 * A member's code threw while it ran a turn: the process would die there. An assertion is a bug
 * report the core or driver wrote; any other error (a TypeError on data read back from disk, a
 * command the state machine could not apply) is one nobody wrote, and the simulator reports both.
 */
export class MemberCrashed extends InvariantViolation {
  override readonly name = 'MemberCrashed';
  constructor(readonly owner: TurnOwner, readonly error: unknown) {
    super(isAssertion(error) ? 'assertion' : 'member crashed', `${owner.describe()}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
}

function isAssertion(err: unknown): boolean {
  return err instanceof Error && err.name === 'AssertionFailure';
}

function memberCrashed(owner: TurnOwner, err: unknown): Error {
  // A violation the checks raised inside the turn is already a report: pass it on as it is.
  return err instanceof InvariantViolation ? err : new MemberCrashed(owner, err);
}

export interface Timer {
  cancel(): void;
}

/** Slots for the work deferred in one turn and the owners it touches (more grow the arrays). */
const TURN_SLOTS = 16;

export class World<E extends CustomEvent = CustomEvent> {
  now = 0;
  events = 0;
  readonly trace: SimTrace;
  private readonly queue = new EventQueue<Event>();
  /** Delays with a lane of their own, by lane number (see useLaneFor). */
  private readonly laneDelays: number[] = doubleArray();
  /** Work deferred to the end of the turn, as parallel arrays of slots (the hot path allocates nothing). */
  private readonly deferredFns = objectSlots<() => void>(TURN_SLOTS);
  private readonly deferredOwners = objectSlots<TurnOwner>(TURN_SLOTS);
  private readonly deferredIncarnations: number[] = new Array<number>(TURN_SLOTS).fill(0);
  /** How many of the deferred slots are in use (the arrays are reused, never truncated). */
  private deferredCount = 0;
  private touchedCount = 0;
  private readonly touched = objectSlots<TurnOwner>(TURN_SLOTS);
  /** The owner whose turn is running (null: the simulator itself). */
  current: TurnOwner | null = null;
  constructor(trace: boolean, private readonly handler: WorldHandler<E>) {
    this.trace = new SimTrace(trace);
    // The clock holds fractions from the first jittered delivery on: a fraction now, then zero,
    // gives the field its final kind before anything is optimized for it (see shapes.ts).
    this.now = 0.5;
    this.now = 0;
  }

  note(line: string): void {
    this.trace.note(this.now, line);
  }

  /** note() of the parts joined (see SimTrace.noteParts). */
  noteParts(a: string, b: string, c: string, d: string, e = '', f = '', g = ''): void {
    this.trace.noteParts(this.now, a, b, c, d, e, f, g);
  }

  /** Run `fn` at `at` as a turn of `owner` (or of the simulator, for null). */
  at(at: number, fn: () => void, owner: TurnOwner | null = null): Timer {
    const e = new CallEvent(fn, owner, owner === null ? 0 : owner.incarnation);
    this.queue.push(at, e);
    return e;
  }

  after(ms: number, fn: () => void, owner: TurnOwner | null = null): Timer {
    for (let i = 0; i < this.laneDelays.length; i++) {
      if (this.laneDelays[i] !== ms) continue;
      const e = new CallEvent(fn, owner, owner === null ? 0 : owner.incarnation);
      this.queue.pushToLane(i, this.now + ms, e);
      return e;
    }
    return this.at(this.now + ms, fn, owner);
  }

  /**
   * after(), as a call of the simulator, for a delay with a lane of its own (see useLaneFor) and
   * a call that most likely turns out to do nothing (a client's timeout): returns its place, for
   * `supersede` once it is known to do nothing (-1: it has none, and cannot be superseded).
   */
  afterInLane(ms: number, fn: () => void): number {
    const lane = this.laneDelays.indexOf(ms);
    const e = new CallEvent(fn, null, 0);
    if (lane < 0) {
      this.queue.push(this.now + ms, e);
      return -1;
    }
    return this.queue.pushToLane(lane, this.now + ms, e);
  }

  /**
   * The call afterInLane(`ms`) queued at `place` will do nothing when it comes due (its caller
   * says so): a shared call that does nothing takes its place, at the same time and turn, so the
   * run is the same (an event is still taken and counted then), but the call and what it holds
   * die young, and its memory, long cold by then, is not read.
   */
  supersede(ms: number, place: number): void {
    if (place < 0) return;
    this.queue.replaceInLane(this.laneDelays.indexOf(ms), place, SUPERSEDED);
  }

  /**
   * Events set `ms` after now (e.g. clients' timeouts) wait in a lane of their own: they arrive
   * in time order, and the heap stays small (see EventQueue). The order of events is unchanged.
   */
  useLaneFor(ms: number): void {
    if (this.laneDelays.includes(ms)) return;
    this.laneDelays.push(ms);
    this.queue.addLane();
  }

  schedule(at: number, e: E): void {
    this.queue.push(at, e);
  }

  /** Run `fn` at the end of the current turn of `owner`. */
  defer(owner: TurnOwner, fn: () => void): void {
    const i = this.deferredCount++;
    this.deferredFns[i] = fn;
    this.deferredOwners[i] = owner;
    this.deferredIncarnations[i] = owner.incarnation;
  }

  /** The current turn touches `owner` (its messages leave and its checks run at the turn's end). */
  enter(owner: TurnOwner): void {
    this.current = owner;
    for (let i = 0; i < this.touchedCount; i++) if (this.touched[i] === owner) return;
    this.touched[this.touchedCount++] = owner;
  }

  /** Run until the queue is empty or time passes `endMs`; the handler sees every owner a turn touched. */
  run(endMs: number): void {
    const queue = this.queue;
    for (;;) {
      const e = queue.takeUntil(endMs);
      if (e === undefined) break;
      this.now = queue.takenAt;
      this.events++;
      if (e.kind === 'call') this.runCall(e);
      else this.handler.onEvent(e as E);
      this.finishTurn();
    }
  }

  /** Run a call event now (also used to replay a paused owner's parked events). */
  runCall(e: CallEvent): void {
    if (e.cancelled) return;
    const owner = e.owner;
    if (owner === null) {
      this.current = null;
      e.fn();
      return;
    }
    if (owner.incarnation !== e.incarnation) return;
    if (owner.paused) {
      owner.park(e);
      return;
    }
    this.enter(owner);
    try {
      e.fn();
    } catch (err) {
      if (!owner.failed(err)) throw memberCrashed(owner, err);
    }
  }

  private finishTurn(): void {
    // Deferred work may defer more (a Ready loop that kicks itself): run until quiet.
    for (let i = 0; i < this.deferredCount; i++) {
      const owner = this.deferredOwners[i]!;
      const fn = this.deferredFns[i]!;
      const incarnation = this.deferredIncarnations[i]!;
      if (owner.incarnation !== incarnation) continue;
      if (owner.paused) {
        owner.park(new CallEvent(fn, owner, incarnation));
        continue;
      }
      this.enter(owner);
      try {
        fn();
      } catch (err) {
        if (!owner.failed(err)) throw memberCrashed(owner, err);
      }
    }
    this.deferredCount = 0;
    for (let i = 0; i < this.touchedCount; i++) this.touched[i]!.endTurn();
    for (let i = 0; i < this.touchedCount; i++) this.handler.afterTurn(this.touched[i]!);
    this.touchedCount = 0;
    this.current = null;
  }
}
