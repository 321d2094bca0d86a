/**
 * The multi-version key index: every key ever written (until compaction) with its history of
 * revisions, and the keys in byte order for range scans.
 *
 * Keys are held as latin1 strings: one char per byte, so JavaScript's string order is exactly
 * the byte order etcd uses, and strings are cheap Map keys.
 */
import { assert } from '../../core/assert.js';
import type { LeaseId } from './lease-id.js';
import type { Bytes } from './requests.js';

/** One version of one key. `value === null` marks a deletion (a tombstone). */
export interface KeyRevision {
  /** The store revision that wrote this version. */
  readonly main: number;
  /** Position of the write inside its revision (a txn writes several keys at one revision). */
  readonly sub: number;
  readonly createRevision: number;
  readonly version: number;
  readonly value: Bytes | null;
  readonly lease: LeaseId;
}

export function keyString(key: Bytes): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

const ZERO_BYTE = '\u0000';

/** What one kept version costs besides its key and value (revisions, version, lease), for size reports. */
export const VERSION_OVERHEAD_BYTES = 32;

/** The bytes one kept version of `key` is counted as (see KeyIndex.bytes). */
export function versionBytes(key: string, rev: KeyRevision): number {
  return key.length + (rev.value?.byteLength ?? 0) + VERSION_OVERHEAD_BYTES;
}

export class KeyIndex {
  /** Every key with a history, in byte order. */
  private sorted: string[] = [];
  private readonly history = new Map<string, KeyRevision[]>();
  /** Sum of versionBytes over every kept version, kept as versions come and go (size reports read it often). */
  private heldBytes = 0;
  /** The most `heldBytes` has been since the last resetPeak(). */
  private peakBytes = 0;

  get keyCount(): number {
    return this.sorted.length;
  }

  /** Roughly the bytes of keys and values held (every kept version), without walking them. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** The most `bytes` has been since the last resetPeak() (or since this index was built). */
  get peak(): number {
    return this.peakBytes;
  }

  /** Start the peak over from what is held now (a defragment: etcd's file shrinks to what is in use). */
  resetPeak(): void {
    this.peakBytes = this.heldBytes;
  }

  /** The version of `key` visible at `revision`, or null if it did not exist then. */
  at(key: string, revision: number): KeyRevision | null {
    const revs = this.history.get(key);
    if (revs === undefined) return null;
    // Histories are short and reads are mostly of recent revisions: scan from the end.
    for (let i = revs.length - 1; i >= 0; i--) {
      const r = revs[i]!;
      if (r.main <= revision) return r.value === null ? null : r;
    }
    return null;
  }

  /** The latest version of `key`, or null if it does not exist now. */
  latest(key: string): KeyRevision | null {
    const revs = this.history.get(key);
    const last = revs?.[revs.length - 1];
    return last === undefined || last.value === null ? null : last;
  }

  /** Every version of `key` still held, oldest first (empty if none). */
  historyOf(key: string): readonly KeyRevision[] {
    return this.history.get(key) ?? [];
  }

  append(key: string, rev: KeyRevision): void {
    const revs = this.history.get(key);
    if (revs === undefined) {
      this.history.set(key, [rev]);
      this.sorted.splice(this.lowerBound(key), 0, key);
    } else {
      const last = revs[revs.length - 1];
      assert(last === undefined || last.main < rev.main || (last.main === rev.main && last.sub < rev.sub), 'revisions of a key only grow');
      revs.push(rev);
    }
    this.heldBytes += versionBytes(key, rev);
    if (this.heldBytes > this.peakBytes) this.peakBytes = this.heldBytes;
  }

  /** Keys (with any history) in the range, in byte order. See requests.ts for the conventions. */
  keysInRange(key: string, rangeEnd: string): string[] {
    if (rangeEnd === '') return this.history.has(key) ? [key] : [];
    const from = key === ZERO_BYTE && rangeEnd === ZERO_BYTE ? 0 : this.lowerBound(key);
    const to = rangeEnd === ZERO_BYTE ? this.sorted.length : this.lowerBound(rangeEnd);
    return from < to ? this.sorted.slice(from, to) : [];
  }

  /**
   * Forget history no read at `revision` or later can see: for each key keep the version
   * visible at `revision` (unless it is a deletion) and everything newer.
   */
  compact(revision: number): void {
    let emptied = false;
    for (const [key, revs] of this.history) {
      let keep = revs.length;
      for (let i = revs.length - 1; i >= 0; i--) {
        if (revs[i]!.main <= revision) { keep = i; break; }
      }
      if (keep === revs.length) continue; // every version is newer than the compaction point
      const visible = revs[keep]!;
      // A deletion at exactly the compaction revision is kept: a watcher may still start there
      // (etcd allows start_revision == compact revision) and must see it.
      const from = visible.value === null && visible.main < revision ? keep + 1 : keep;
      if (from > 0) {
        for (const dropped of revs.splice(0, from)) this.heldBytes -= versionBytes(key, dropped);
      }
      if (revs.length === 0) {
        this.history.delete(key);
        emptied = true;
      }
    }
    if (emptied) this.sorted = this.sorted.filter((k) => this.history.has(k));
  }

  /** Every key and its history, for a snapshot. */
  entries(): IterableIterator<[string, KeyRevision[]]> {
    return this.history.entries();
  }

  static fromEntries(entries: Iterable<[string, KeyRevision[]]>): KeyIndex {
    const index = new KeyIndex();
    for (const [key, revs] of entries) {
      assert(revs.length > 0, 'a restored key has history');
      index.history.set(key, revs);
      index.sorted.push(key);
      for (const r of revs) index.heldBytes += versionBytes(key, r);
    }
    index.peakBytes = index.heldBytes;
    index.sorted.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return index;
  }

  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
