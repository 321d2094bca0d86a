/**
 * Watchers of one member's store: each follows a key range from a start revision, fed live
 * with every applied revision while it keeps up (synced), and from the store's history when it
 * starts in the past or falls behind (unsynced). Nothing here is replicated: a watch streams
 * from the applied state of the member it is connected to.
 *
 * Memory is bounded: a watcher buffers at most `maxBufferedEventsPerWatcher` events. A live
 * revision that does not fit makes the watcher unsynced instead of being dropped; it is then
 * caught up from history, in batches of `catchUpMaxEvents`, once its consumer has drained the
 * buffer. If compaction overtakes a watcher that fell behind, the watcher is cancelled with
 * the compaction revision. An event is never silently skipped.
 */
import { assert } from '../../core/assert.js';
import { TooManyRequests } from '../../core/errors.js';
import { keyString } from './key-index.js';
import type { Bytes } from './requests.js';
import type { MvccEvent, MvccStore } from './store.js';

export interface WatchLimits {
  /** Watchers on one member, all streams together. */
  readonly maxWatchers: number;
  /** Watchers on one client stream. */
  readonly maxWatchersPerStream: number;
  /** Events a watcher holds for its consumer before it stops taking live events and falls back to history. */
  readonly maxBufferedEventsPerWatcher: number;
  /** Events read from history per catch-up step (a revision is never split). */
  readonly catchUpMaxEvents: number;
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = {
  maxWatchers: 100_000,
  maxWatchersPerStream: 10_000,
  maxBufferedEventsPerWatcher: 1_024,
  catchUpMaxEvents: 1_000,
};

export interface WatchSpec {
  readonly key: Bytes;
  /** Same conventions as a range request's `rangeEnd`. */
  readonly rangeEnd: Bytes;
  /** First revision to deliver. */
  readonly startRevision: number;
  readonly noPut: boolean;
  readonly noDelete: boolean;
}

export type WatchDelivery =
  /** Events of revisions up to and including `revision` (possibly none, after filtering). */
  | { readonly kind: 'events'; readonly revision: number; readonly events: readonly MvccEvent[] }
  /** The watcher needs history that compaction removed; it is finished. */
  | { readonly kind: 'compacted'; readonly compactRevision: number };

interface Batch {
  readonly revision: number;
  readonly events: readonly MvccEvent[];
}

export class Watcher {
  private readonly from: string;
  private readonly to: string;
  /**
   * The first revision this watcher has not yet buffered or delivered. While synced it may lag
   * behind: the hub offers a revision only to watchers it may concern, so `settle()` first.
   */
  private next: number;
  private synced: boolean;
  private readonly buffer: Batch[] = [];
  private bufferedEvents = 0;
  private finished = false;

  constructor(
    private readonly hub: WatchHub,
    readonly spec: WatchSpec,
    /** Called (synchronously, possibly often) when the watcher has something to deliver. */
    private readonly onReady: (w: Watcher) => void,
  ) {
    this.from = keyString(spec.key);
    this.to = keyString(spec.rangeEnd);
    this.next = spec.startRevision;
    this.synced = spec.startRevision > hub.store.revision;
  }

  /** Every revision below this one has been delivered or buffered (or did not concern this watcher). */
  get nextRevision(): number {
    this.settle();
    return this.next;
  }

  /** Watches exactly one key (the hub indexes these by key). */
  get singleKey(): string | null {
    return this.to === '' ? this.from : null;
  }

  /** A synced watcher has seen everything the hub dispatched: catch `next` up with it. */
  private settle(): void {
    if (this.synced && this.next <= this.hub.dispatchedThrough) this.next = this.hub.dispatchedThrough + 1;
  }

  /** True when the watcher has nothing left to deliver up to the store's revision. */
  get idle(): boolean {
    return this.synced && this.buffer.length === 0;
  }

  get hasWork(): boolean {
    return !this.finished && !this.idle;
  }

  matches(key: string): boolean {
    if (this.to === '') return key === this.from;
    if (key < this.from) return false;
    return this.to === '\u0000' || key < this.to;
  }

  private keep(e: MvccEvent): boolean {
    if (e.type === 'PUT' ? this.spec.noPut : this.spec.noDelete) return false;
    return this.matches(keyString(e.kv.key));
  }

  /** A live revision from the store. */
  offer(revision: number, events: readonly MvccEvent[]): void {
    if (!this.synced || this.finished || revision < this.next) return;
    const kept = events.filter((e) => this.keep(e));
    if (kept.length === 0) return;
    assert(revision > this.hub.dispatchedThrough, 'the hub offers each revision once, in order');
    if (this.bufferedEvents > 0 && this.bufferedEvents + kept.length > this.hub.limits.maxBufferedEventsPerWatcher) {
      // The consumer is slow: stop buffering, read this revision and later ones from history
      // once the buffer has drained. Every earlier revision was buffered or did not concern us.
      this.next = revision;
      this.synced = false;
      this.hub.fellBehind++;
    } else {
      this.buffer.push({ revision, events: kept });
      this.bufferedEvents += kept.length;
      this.next = revision + 1;
    }
    this.onReady(this);
  }

  /** The next thing to deliver, or null when there is nothing (the watcher is idle). */
  take(): WatchDelivery | null {
    if (this.finished) return null;
    const batch = this.buffer.shift();
    if (batch !== undefined) {
      this.bufferedEvents -= batch.events.length;
      return { kind: 'events', revision: batch.revision, events: batch.events };
    }
    if (this.synced) return null;
    const store = this.hub.store;
    if (store.compactRevision > 0 && this.next < store.compactRevision) {
      this.finished = true;
      return { kind: 'compacted', compactRevision: store.compactRevision };
    }
    const current = store.revision;
    if (this.next > current) {
      this.synced = true;
      return null;
    }
    const { events, nextRevision } = store.eventsBetween(this.spec.key, this.spec.rangeEnd, this.next, current, this.hub.limits.catchUpMaxEvents);
    assert(nextRevision > this.next, 'a catch-up step covers at least one revision');
    this.next = nextRevision;
    if (nextRevision > current) this.synced = true;
    return { kind: 'events', revision: nextRevision - 1, events: events.filter((e) => this.keep(e)) };
  }

  /** The store was replaced by a snapshot: whatever this watcher has not buffered comes from history. */
  resync(): void {
    if (this.finished) return;
    this.settle();
    if (this.next <= this.hub.store.revision) {
      this.synced = false;
      this.onReady(this);
    }
  }

  cancel(): void {
    this.finished = true;
    this.buffer.length = 0;
    this.bufferedEvents = 0;
    this.hub.remove(this);
  }
}

export class WatchHub {
  readonly limits: WatchLimits;
  private readonly watchers = new Set<Watcher>();
  /** Watchers of a range, offered every revision; watchers of one key, offered only its changes. */
  private readonly ranged = new Set<Watcher>();
  private readonly byKey = new Map<string, Set<Watcher>>();
  /** The last revision offered to the watchers it concerns (see Watcher.settle). */
  dispatchedThrough = 0;
  /** How many times a watcher stopped taking live events because its consumer was slow. */
  fellBehind = 0;
  /** Subscribed to the store only while there are watchers (the store builds events only then). */
  private unsubscribe: (() => void) | null = null;
  private readonly unsubscribeRestore: () => void;

  constructor(readonly store: MvccStore, limits: Partial<WatchLimits> = {}) {
    this.limits = { ...DEFAULT_WATCH_LIMITS, ...limits };
    this.unsubscribeRestore = store.onRestore(() => {
      // Before the store was replaced, synced watchers had seen everything up to here.
      for (const w of this.watchers) w.resync();
      this.dispatchedThrough = store.revision;
    });
  }

  get size(): number {
    return this.watchers.size;
  }

  watch(spec: WatchSpec, onReady: (w: Watcher) => void): Watcher {
    if (this.watchers.size >= this.limits.maxWatchers) throw new TooManyRequests('maxWatchers', this.limits.maxWatchers);
    if (this.unsubscribe === null) {
      this.dispatchedThrough = this.store.revision;
      this.unsubscribe = this.store.onRevision((revision, events) => this.dispatch(revision, events));
    }
    const w = new Watcher(this, spec, onReady);
    this.watchers.add(w);
    const key = w.singleKey;
    if (key === null) {
      this.ranged.add(w);
    } else {
      let set = this.byKey.get(key);
      if (set === undefined) this.byKey.set(key, (set = new Set()));
      set.add(w);
    }
    return w;
  }

  private dispatch(revision: number, events: readonly MvccEvent[]): void {
    for (const w of this.ranged) w.offer(revision, events);
    if (this.byKey.size > 0) {
      const concerned = new Set<Watcher>();
      for (const e of events) {
        const set = this.byKey.get(keyString(e.kv.key));
        if (set !== undefined) for (const w of set) concerned.add(w);
      }
      for (const w of concerned) w.offer(revision, events);
    }
    this.dispatchedThrough = revision;
  }

  /** @internal (Watcher.cancel) */
  remove(w: Watcher): void {
    this.watchers.delete(w);
    this.ranged.delete(w);
    const key = w.singleKey;
    if (key !== null) {
      const set = this.byKey.get(key);
      set?.delete(w);
      if (set !== undefined && set.size === 0) this.byKey.delete(key);
    }
    if (this.watchers.size === 0 && this.unsubscribe !== null) {
      this.unsubscribe();
      this.unsubscribe = null;
    }
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.unsubscribeRestore();
    for (const w of [...this.watchers]) w.cancel();
  }
}
