/**
 * The simulator's event queue: a binary min-heap ordered by (time, sequence number). Ties in
 * time are broken by insertion order, so a seed always replays the same order.
 *
 * The heap is kept as three parallel arrays (times, sequence numbers, events) rather than one
 * object per entry: the simulator pushes and pops an event per message, timer and disk
 * callback, and a wrapper per entry was a large share of its garbage.
 */
import { doubleArray, objectArray } from './arrays.js';

export interface Scheduled<E> {
  readonly at: number;
  readonly seq: number;
  readonly event: E;
}

export class EventQueue<E> {
  private readonly times: number[] = doubleArray();
  private readonly seqs: number[] = [];
  private readonly events: E[] = objectArray();
  private nextSeq = 0;

  get size(): number {
    return this.events.length;
  }

  /** The time of the next event, if any. */
  peekTime(): number | undefined {
    return this.events.length === 0 ? undefined : this.times[0];
  }

  push(at: number, event: E): void {
    const times = this.times;
    const seqs = this.seqs;
    const events = this.events;
    const seq = this.nextSeq++;
    let i = events.length;
    // Grow by one, then sift the hole up to where the new entry belongs.
    times.push(at);
    seqs.push(seq);
    events.push(event);
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
    const times = this.times;
    const seqs = this.seqs;
    const events = this.events;
    const n = events.length;
    if (n === 0) return undefined;
    const top = events[0]!;
    const lastAt = times.pop()!;
    const lastSeq = seqs.pop()!;
    const last = events.pop()!;
    const size = n - 1;
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

  /** Remove the next event and return it with its time and sequence number. */
  pop(): Scheduled<E> | undefined {
    if (this.events.length === 0) return undefined;
    const at = this.times[0]!;
    const seq = this.seqs[0]!;
    return { at, seq, event: this.take()! };
  }
}
