/**
 * The simulator's event queue: events ordered by (time, sequence number). Ties in time are
 * broken by insertion order, so a seed always replays the same order.
 *
 * Most events go to a binary min-heap kept as three parallel arrays (times, sequence numbers,
 * events) rather than one object per entry: the simulator pushes and pops an event per message,
 * timer and disk callback, and a wrapper per entry was a large share of its garbage. The arrays
 * are slots with a count beside them, never shortened: popping a time off a double array boxed
 * it (garbage per event), and a shortened array grew again on the next push.
 *
 * Events pushed a fixed delay after a clock that never goes back arrive in time order, so they
 * can go to a lane instead: a first-in-first-out queue, O(1) each way. Clients' timeouts are
 * such events, and nearly all of them are stale (the answer came first): in the heap they were
 * most of its entries and most of the cost of every push and pop. Taking the earliest of the
 * heap's top and the lanes' heads, by (time, sequence number), gives exactly the order of one
 * heap holding everything.
 */
import { doubleArray, objectArray } from './shapes.js';

export interface Scheduled<E> {
  readonly at: number;
  readonly seq: number;
  readonly event: E;
}

/** A lane: events in the order pushed, which is their time order (see EventQueue.pushToLane). */
class Lane<E> {
  readonly times: number[] = doubleArray();
  readonly seqs: number[] = [];
  readonly events: (E | null)[] = objectArray();
  /** Index of the first event still queued. */
  head = 0;
  /** Events dropped from the front of the arrays so far: an event's place (see pushToLane) is this plus its index. */
  dropped = 0;
  /**
   * The first queued event's time and sequence number (headSeq -1: the lane is empty), kept
   * beside the arrays. Every take compares them; the arrays' slots there were written long
   * before (a client's timeout, hundreds of milliseconds of events ago) and read cold each time.
   */
  headAt = 0.5;
  headSeq = -1;

  get size(): number {
    return this.events.length - this.head;
  }

  push(at: number, seq: number, event: E): void {
    if (this.head === this.events.length) {
      this.headAt = at;
      this.headSeq = seq;
    }
    this.times.push(at);
    this.seqs.push(seq);
    this.events.push(event);
  }

  shift(): void {
    this.events[this.head] = null; // let it go
    this.head++;
    // Drop the consumed prefix now and then, so the arrays stay about as long as the queue.
    if (this.head >= LANE_COMPACT_AT && this.head * 2 >= this.events.length) {
      this.times.splice(0, this.head);
      this.seqs.splice(0, this.head);
      this.events.splice(0, this.head);
      this.dropped += this.head;
      this.head = 0;
    }
    if (this.head < this.events.length) {
      this.headAt = this.times[this.head]!;
      this.headSeq = this.seqs[this.head]!;
    } else {
      this.headSeq = -1;
    }
  }
}

/** A lane drops the events it has handed out once it has this many (and they are half of it). */
const LANE_COMPACT_AT = 1024;

export class EventQueue<E> {
  /** The heap: its first `count` slots (those after hold nothing: their events are let go). */
  private readonly times: number[] = doubleArray();
  private readonly seqs: number[] = [];
  private readonly events: (E | null)[] = objectArray();
  private count = 0;
  private readonly lanes: Lane<E>[] = objectArray();
  private nextSeq = 0;
  /** The time of the event the last take() or takeUntil() returned (a fraction from the start: see shapes.ts). */
  takenAt = 0.5;

  get size(): number {
    let n = this.count;
    for (const lane of this.lanes) n += lane.size;
    return n;
  }

  /** The time of the next event, if any. */
  peekTime(): number | undefined {
    let at = this.count === 0 ? undefined : this.times[0];
    for (let l = 0; l < this.lanes.length; l++) {
      const lane = this.lanes[l]!;
      if (lane.head < lane.events.length && (at === undefined || lane.times[lane.head]! < at)) at = lane.times[lane.head]!;
    }
    return at;
  }

  /** A new lane, for events whose times never decrease from one push to the next (see pushToLane). */
  addLane(): number {
    this.lanes.push(new Lane<E>());
    return this.lanes.length - 1;
  }

  /**
   * Queue `event` at `at` in a lane. Its times must not decrease from one push to the next; an
   * event that would break that goes to the heap (the order of events is the same either way).
   * Returns the event's place in the lane, for replaceInLane (-1: it went to the heap).
   */
  pushToLane(lane: number, at: number, event: E): number {
    const l = this.lanes[lane]!;
    const n = l.events.length;
    if (n > l.head && !(at >= l.times[n - 1]!)) {
      this.push(at, event);
      return -1;
    }
    l.push(at, this.nextSeq++, event);
    return l.dropped + n;
  }

  /**
   * Put `event` in the place of the event pushToLane queued at `place` in `lane`, if that one is
   * still queued (nothing otherwise): at the same time and turn in the order. For an event that
   * is known to do nothing when it comes due (a timeout whose answer came first), a shared
   * stand-in that does the same nothing: the event itself, made long before, is no longer read
   * (a cache miss per timeout) and dies young instead of waiting in the lane.
   */
  replaceInLane(lane: number, place: number, event: E): void {
    const l = this.lanes[lane]!;
    const i = place - l.dropped;
    if (i >= l.head && i < l.events.length) l.events[i] = event;
  }

  push(at: number, event: E): void {
    const times = this.times;
    const seqs = this.seqs;
    const events = this.events;
    const seq = this.nextSeq++;
    let i = this.count++;
    // Grow by one (a new slot only when every slot is in use), then sift the hole up to where
    // the new entry belongs.
    if (i === events.length) {
      times.push(at);
      seqs.push(seq);
      events.push(event);
    }
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent]!;
      if (!(at < pt || (at === pt && seq < seqs[parent]!))) break;
      times[i] = pt;
      seqs[i] = seqs[parent]!;
      events[i] = events[parent]!;
      i = parent;
    }
    times[i] = at;
    seqs[i] = seq;
    events[i] = event;
  }

  /** Remove the next event and return it (its time is what peekTime() said before the call). */
  take(): E | undefined {
    return this.takeUntil(Infinity);
  }

  /**
   * Remove the next event and return it if its time is at most `until` (then `takenAt` is its
   * time); otherwise leave it and return undefined. One look at the heap and the lanes, where a
   * peekTime() and a take() took two: the event loop asks this once per event.
   */
  takeUntil(until: number): E | undefined {
    // The earliest of the heap's top (-1) and the lanes' heads.
    let from = -1;
    let at = 0;
    let seq = 0;
    const count = this.count;
    if (count > 0) {
      at = this.times[0]!;
      seq = this.seqs[0]!;
    }
    for (let l = 0; l < this.lanes.length; l++) {
      const lane = this.lanes[l]!;
      const ls = lane.headSeq;
      if (ls < 0) continue;
      const lt = lane.headAt;
      // Every comparison is made each time (not short-circuited): one that a first run never
      // reached would make optimized code bail out when a later run did.
      const nothingYet = from === -1 && count === 0;
      const earlier = lt < at;
      const sameTime = lt === at;
      const earlierSeq = ls < seq;
      if (nothingYet || earlier || (sameTime && earlierSeq)) {
        from = l;
        at = lt;
        seq = ls;
      }
    }
    if (from === -1 && count === 0) return undefined;
    if (!(at <= until)) return undefined;
    this.takenAt = at;
    if (from >= 0) {
      const lane = this.lanes[from]!;
      const e = lane.events[lane.head]!;
      lane.shift();
      return e;
    }
    return this.takeFromHeap();
  }

  /** Remove the next event and return it with its time and sequence number. */
  pop(): Scheduled<E> | undefined {
    const at = this.peekTime();
    if (at === undefined) return undefined;
    const seq = this.nextSeqOfTop();
    return { at, seq, event: this.take()! };
  }

  private nextSeqOfTop(): number {
    let best = this.count === 0 ? Infinity : this.seqs[0]!;
    let at = this.count === 0 ? Infinity : this.times[0]!;
    for (const lane of this.lanes) {
      if (lane.size === 0) continue;
      const lt = lane.times[lane.head]!;
      const ls = lane.seqs[lane.head]!;
      if (lt < at || (lt === at && ls < best)) {
        at = lt;
        best = ls;
      }
    }
    return best;
  }

  private takeFromHeap(): E | undefined {
    const times = this.times;
    const seqs = this.seqs;
    const events = this.events;
    const n = this.count;
    if (n === 0) return undefined;
    const top = events[0]!;
    const size = n - 1;
    const lastAt = times[size]!;
    const lastSeq = seqs[size]!;
    const last = events[size]!;
    events[size] = null; // let it go
    this.count = size;
    if (size > 0) {
      // Sift the hole at the root down to where the last entry belongs.
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= size) break;
        const r = l + 1;
        let child = l;
        if (r < size && (times[r]! < times[l]! || (times[r] === times[l] && seqs[r]! < seqs[l]!))) child = r;
        const ct = times[child]!;
        if (!(ct < lastAt || (ct === lastAt && seqs[child]! < lastSeq))) break;
        times[i] = ct;
        seqs[i] = seqs[child]!;
        events[i] = events[child]!;
        i = child;
      }
      times[i] = lastAt;
      seqs[i] = lastSeq;
      events[i] = last;
    }
    return top;
  }
}
