/**
 * The store's keys in byte order, for range scans: a sorted set of latin1 strings (one char per
 * byte, so string order is etcd's byte order).
 *
 * Why chunks: one sorted array made every new key an O(n) insertion (a million distinct keys took
 * minutes to write); a balanced tree costs an object per key. Here the keys live in sorted chunks
 * of at most MAX_CHUNK_KEYS, found by a binary search over each chunk's last key: an insertion
 * moves at most one chunk's worth of keys, and a scan walks arrays.
 */
import { assert } from '../../core/assert.js';

/** Most keys in one chunk: an insertion moves up to this many; a full chunk splits in two. */
export const MAX_CHUNK_KEYS = 512;

export class SortedKeys {
  /** Non-empty, each sorted, every key of a chunk below every key of the next. */
  private chunks: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Add a key not in the set. */
  insert(key: string): void {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.count = 1;
      return;
    }
    // The first chunk whose last key is above `key`, or the last chunk (the key goes at its end).
    const c = Math.min(this.chunkFor(key), this.chunks.length - 1);
    const chunk = this.chunks[c]!;
    const at = lowerBound(chunk, key);
    assert(chunk[at] !== key, () => `key ${JSON.stringify(key)} is already in the set`);
    chunk.splice(at, 0, key);
    this.count++;
    if (chunk.length > MAX_CHUNK_KEYS) this.chunks.splice(c + 1, 0, chunk.splice(chunk.length >>> 1));
  }

  has(key: string): boolean {
    const c = this.chunkFor(key);
    if (c === this.chunks.length) return false;
    const chunk = this.chunks[c]!;
    return chunk[lowerBound(chunk, key)] === key;
  }

  /** Keep only the keys `keep` says yes to (compaction's sweep), in one pass. */
  retain(keep: (key: string) => boolean): void {
    const next: string[][] = [];
    let count = 0;
    for (const chunk of this.chunks) {
      const kept = chunk.filter(keep);
      if (kept.length === 0) continue;
      // Merge small neighbours so that many deletions do not leave a long list of tiny chunks.
      const last = next[next.length - 1];
      if (last !== undefined && last.length + kept.length <= MAX_CHUNK_KEYS >>> 1) last.push(...kept);
      else next.push(kept);
      count += kept.length;
    }
    this.chunks = next;
    this.count = count;
  }

  /** Keys `from` (inclusive) up to `to` (exclusive; null: to the end), in order. */
  *range(from: string, to: string | null): Generator<string, void, undefined> {
    const first = this.chunkFor(from);
    for (let c = first; c < this.chunks.length; c++) {
      const chunk = this.chunks[c]!;
      for (let i = c === first ? lowerBound(chunk, from) : 0; i < chunk.length; i++) {
        const key = chunk[i]!;
        if (to !== null && key >= to) return;
        yield key;
      }
    }
  }

  /** Every key, in order. */
  *[Symbol.iterator](): Generator<string, void, undefined> {
    for (const chunk of this.chunks) yield* chunk;
  }

  /** A set of keys given in strictly ascending order (a snapshot's restore), in chunks at once. */
  static fromSorted(keys: readonly string[]): SortedKeys {
    const set = new SortedKeys();
    // Chunks half full, so the first insertions into them do not split them at once.
    const per = MAX_CHUNK_KEYS >>> 1;
    for (let i = 0; i < keys.length; i += per) set.chunks.push(keys.slice(i, i + per));
    for (let i = 1; i < keys.length; i++) assert(keys[i - 1]! < keys[i]!, 'restored keys are strictly ascending');
    set.count = keys.length;
    return set;
  }

  /** The index of the first chunk whose last key is >= `key` (chunks.length if none). */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (chunk[chunk.length - 1]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
