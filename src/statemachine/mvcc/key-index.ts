/**
 * The multi-version key index: every key ever written (until compaction) with its history of
 * revisions, and the keys in byte order for range scans.
 *
 * Keys are held as latin1 strings: one char per byte, so JavaScript's string order is exactly
 * the byte order etcd uses, and strings are cheap Map keys.
 */
import { assert } from '../../core/assert.js';
import type { LeaseId } from './lease-id.js';
import { SortedKeys } from './sorted-keys.js';
import { encodedKeyBytes, encodedVersionBytes } from './encoded-size.js';
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

/**
 * What one kept version costs in memory besides its value's bytes: the revision record, the
 * value's array objects and its slot in the history and the change log. With KEY_OVERHEAD_BYTES,
 * measured on this store (bench/store.ts prints measured against counted): the quota and the
 * reported db size count what the process really holds, within a few tens of percent, not a
 * third of it (an earlier 32 bytes let a store reach 3.5 times its quota in memory).
 */
export const VERSION_OVERHEAD_BYTES = 320;
/** What one key with a history costs besides its versions: its text, its map entry, its place in the sorted keys. */
export const KEY_OVERHEAD_BYTES = 96;

/** The bytes one kept version is counted as (see KeyIndex.bytes). */
export function versionBytes(rev: KeyRevision): number {
  return (rev.value?.byteLength ?? 0) + VERSION_OVERHEAD_BYTES;
}

/** The bytes a key with a history is counted as, besides its versions. */
export function keyHeldBytes(key: string): number {
  return key.length + KEY_OVERHEAD_BYTES;
}

export class KeyIndex {
  /** Every key with a history, in byte order. */
  private sorted = new SortedKeys();
  private readonly history = new Map<string, KeyRevision[]>();
  /** Sum of versionBytes over every kept version, kept as versions come and go (size reports read it often). */
  private heldBytes = 0;
  /** What every key's history takes in a snapshot (see encoded-size.ts), kept as they change. */
  private encodedBytes = 0;
  /** The most `heldBytes` has been since the last resetPeak(). */
  private peakBytes = 0;

  get keyCount(): number {
    return this.sorted.size;
  }

  /** Roughly the bytes of keys and values held (every kept version), without walking them. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** What every key's history takes in a snapshot, without walking them (a snapshot sizes its buffer by it). */
  get snapshotBytes(): number {
    return this.encodedBytes;
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
      this.sorted.insert(key);
      this.heldBytes += keyHeldBytes(key);
      this.encodedBytes += encodedKeyBytes(key, 1);
    } else {
      const last = revs[revs.length - 1];
      assert(last === undefined || last.main < rev.main || (last.main === rev.main && last.sub < rev.sub), 'revisions of a key only grow');
      this.encodedBytes += encodedKeyBytes(key, revs.length + 1) - encodedKeyBytes(key, revs.length);
      revs.push(rev);
    }
    this.encodedBytes += encodedVersionBytes(rev);
    this.heldBytes += versionBytes(rev);
    if (this.heldBytes > this.peakBytes) this.peakBytes = this.heldBytes;
  }

  /** Keys (with any history) in the range, in byte order. See requests.ts for the conventions. */
  keysInRange(key: string, rangeEnd: string): string[] {
    return [...this.keysIn(key, rangeEnd)];
  }

  /** keysInRange, one at a time: the set must not change while they are read. */
  keysIn(key: string, rangeEnd: string): Iterable<string> {
    if (rangeEnd === '') return this.history.has(key) ? [key] : [];
    if (key === ZERO_BYTE && rangeEnd === ZERO_BYTE) return this.sorted;
    return this.sorted.range(key, rangeEnd === ZERO_BYTE ? null : rangeEnd);
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
      if (from === 0) continue;
      this.encodedBytes -= encodedKeyBytes(key, revs.length);
      for (let i = 0; i < from; i++) {
        this.heldBytes -= versionBytes(revs[i]!);
        this.encodedBytes -= encodedVersionBytes(revs[i]!);
      }
      if (from === revs.length) {
        this.history.delete(key);
        this.heldBytes -= keyHeldBytes(key);
        emptied = true;
      } else {
        // A new array, the old one untouched: a snapshot being encoded may still read it.
        this.history.set(key, revs.slice(from));
        this.encodedBytes += encodedKeyBytes(key, revs.length - from);
      }
    }
    if (emptied) this.sorted.retain((k) => this.history.has(k));
  }

  /** Every key and its history, for a snapshot. */
  entries(): IterableIterator<[string, KeyRevision[]]> {
    return this.history.entries();
  }

  static fromEntries(entries: Iterable<[string, KeyRevision[]]>): KeyIndex {
    const index = new KeyIndex();
    const keys: string[] = [];
    for (const [key, revs] of entries) {
      index.restoreKey(key, revs);
      keys.push(key);
    }
    keys.sort(byCodeUnits);
    index.restoreOrder(keys);
    return index;
  }

  /**
   * Building an index being restored, a key at a time (a snapshot restored in slices, see
   * snapshot-decoding.ts): `key` and its history, which it owns from now on. Then restoreOrder.
   */
  restoreKey(key: string, revs: KeyRevision[]): void {
    assert(revs.length > 0, 'a restored key has history');
    assert(!this.history.has(key), () => `key ${JSON.stringify(key)} restored twice`);
    this.history.set(key, revs);
    this.heldBytes += keyHeldBytes(key);
    this.encodedBytes += encodedKeyBytes(key, revs.length);
    for (const r of revs) {
      this.heldBytes += versionBytes(r);
      this.encodedBytes += encodedVersionBytes(r);
    }
    if (this.heldBytes > this.peakBytes) this.peakBytes = this.heldBytes;
  }

  /** The last step of a restore: every key restoreKey was given, in ascending order. */
  restoreOrder(sortedKeys: readonly string[]): void {
    assert(sortedKeys.length === this.history.size, () => `${sortedKeys.length} keys ordered of ${this.history.size} restored`);
    this.peakBytes = this.heldBytes;
    this.sorted = SortedKeys.fromSorted(sortedKeys);
  }
}

/** JavaScript's string order (by UTF-16 code units): for latin1 keys, etcd's byte order. */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
