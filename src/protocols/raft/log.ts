/**
 * The in-memory Raft log: a snapshot boundary (index and term of the last compacted entry)
 * followed by the entries after it. Tracks which entries are durable ("stable") so that the
 * leader counts only what it has fsynced towards commitment.
 */
import { assert } from '../../core/assert.js';
import { emptyObjectArray, objectArrayOf } from '../../core/shapes.js';
import type { Index, Term } from '../../core/ids.js';
import type { LogEntry } from '../../core/replica.js';

export class RaftLog {
  /** Index and term of the last entry covered by the snapshot (0/0: none). */
  snapshotIndex: Index;
  snapshotTerm: Term;
  /** entries[i] has index snapshotIndex + 1 + i. */
  private entries: LogEntry[];
  /** Highest index known durable on this node's disk. */
  stableIndex: Index;
  /** Entries after this index have not yet been handed to the driver to persist. */
  unpersistedFrom: Index;

  constructor(snapshotIndex: Index, snapshotTerm: Term, entries: readonly LogEntry[]) {
    this.snapshotIndex = snapshotIndex;
    this.snapshotTerm = snapshotTerm;
    this.entries = objectArrayOf(entries);
    // A log's terms never decrease (each leader appends after what it inherited): a restored log
    // where they do holds a stale tail a snapshot install should have dropped.
    this.entries.forEach((e, i) => {
      assert(e.index === snapshotIndex + 1 + i, () => `restored log is contiguous at ${e.index}`);
      const before = i === 0 ? snapshotTerm : this.entries[i - 1]!.term;
      assert(e.term >= before, () => `restored log's term falls from ${before} to ${e.term} at ${e.index}`);
    });
    this.stableIndex = this.lastIndex();
    this.unpersistedFrom = (this.lastIndex() + 1) as Index;
  }

  firstIndex(): Index {
    return (this.snapshotIndex + 1) as Index;
  }

  lastIndex(): Index {
    return (this.snapshotIndex + this.entries.length) as Index;
  }

  lastTerm(): Term {
    // Not entries[-1] when empty: index -1 is looked up by name along the prototype chain (slow).
    return this.entries.length === 0 ? this.snapshotTerm : this.entries[this.entries.length - 1]!.term;
  }

  /** Term of the entry at i; the snapshot's term at its own index; undefined if compacted or absent. */
  termAt(i: number): Term | undefined {
    if (i === this.snapshotIndex) return this.snapshotTerm;
    return this.entryAt(i)?.term;
  }

  entryAt(i: number): LogEntry | undefined {
    const at = i - this.snapshotIndex - 1;
    // Below the snapshot: undefined without reading a negative index, which V8 looks up by name
    // along the prototype chain, a hundred times slower than reading past the end.
    return at < 0 ? undefined : this.entries[at];
  }

  matchTerm(i: number, t: Term): boolean {
    return this.termAt(i) === t;
  }

  /** Entries in [from, to] (inclusive), clipped to what exists; caller checks from >= firstIndex. */
  slice(from: number, to: number): LogEntry[] {
    const lo = Math.max(from, this.firstIndex()) - this.snapshotIndex - 1;
    const hi = Math.min(to, this.lastIndex()) - this.snapshotIndex;
    return lo < hi ? this.entries.slice(lo, hi) : [];
  }

  /** Entries starting at `from`, at most maxEntries and (after the first) maxBytes of data. */
  sliceForMessage(from: number, maxEntries: number, maxBytes: number): LogEntry[] {
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let i = from; i <= this.lastIndex() && out.length < maxEntries; i++) {
      const e = this.entryAt(i);
      assert(e !== undefined, () => `entry ${i} present`);
      bytes += e.data.byteLength;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Leader append: never truncates. */
  append(entry: LogEntry): void {
    assert(entry.index === this.lastIndex() + 1, () => `append at ${entry.index} after ${this.lastIndex()}`);
    this.entries.push(entry);
  }

  /**
   * Follower append (Figure 2, AppendEntries receiver steps 3-4): skip entries already present,
   * truncate at the first conflicting entry, append the rest. Never truncates at or below `commit`.
   */
  appendFromLeader(entries: readonly LogEntry[], commit: Index): void {
    for (const e of entries) {
      if (e.index <= this.snapshotIndex) continue;
      const existing = this.termAt(e.index);
      if (existing === e.term) continue;
      if (existing !== undefined) {
        assert(e.index > commit, () => `conflict at committed index ${e.index} (commit ${commit})`);
        this.truncateFrom(e.index);
      }
      assert(e.index === this.lastIndex() + 1, () => `append at ${e.index} after ${this.lastIndex()}`);
      this.entries.push(e);
    }
  }

  private truncateFrom(i: Index): void {
    this.entries.length = i - this.snapshotIndex - 1;
    if (this.stableIndex >= i) this.stableIndex = (i - 1) as Index;
    if (this.unpersistedFrom > i) this.unpersistedFrom = i;
  }

  /** Entries not yet handed to the driver for persistence; marks them handed. */
  takeUnpersisted(): readonly LogEntry[] {
    // Most Readies have none: one shared empty list rather than a new one each time.
    const out = this.hasUnpersisted() ? this.slice(this.unpersistedFrom, this.lastIndex()) : NONE;
    this.unpersistedFrom = (this.lastIndex() + 1) as Index;
    return out;
  }

  hasUnpersisted(): boolean {
    return this.unpersistedFrom <= this.lastIndex();
  }

  /** The driver made entries up to (index, term) durable; ignore if they were since replaced. */
  stableTo(index: Index, term: Term): void {
    if (index > this.stableIndex && this.termAt(index) === term) this.stableIndex = index;
  }

  /** Discard entries up to and including `index` (which the state machine has snapshotted). */
  compact(index: Index, offByOne: boolean): void {
    if (index <= this.snapshotIndex) return;
    assert(index <= this.lastIndex(), () => `compact ${index} beyond last ${this.lastIndex()}`);
    const t = this.termAt(index);
    assert(t !== undefined, () => `term at compaction index ${index}`);
    // The off-by-one mutant drops one entry more than the snapshot covers.
    const drop = Math.min(index + (offByOne ? 1 : 0), this.lastIndex());
    this.entries = this.entries.slice(drop - this.snapshotIndex);
    this.snapshotIndex = drop as Index;
    this.snapshotTerm = offByOne ? (this.entries[0]?.term ?? t) : t;
    if (this.stableIndex < this.snapshotIndex) this.stableIndex = this.snapshotIndex;
    if (this.unpersistedFrom <= this.snapshotIndex) this.unpersistedFrom = (this.snapshotIndex + 1) as Index;
  }

  /**
   * Install a leader's snapshot: keep entries after it only if the log agrees at its index.
   * Returns whether entries after it were dropped (the stored log must drop them too).
   */
  restoreSnapshot(index: Index, term: Term): boolean {
    let dropped = false;
    if (this.matchTerm(index, term) && index <= this.lastIndex()) {
      this.entries = this.entries.slice(index - this.snapshotIndex);
    } else {
      dropped = this.lastIndex() > index;
      this.entries = emptyObjectArray();
    }
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.stableIndex = Math.max(this.stableIndex, index) as Index;
    if (this.stableIndex > this.lastIndex()) this.stableIndex = this.lastIndex();
    if (this.unpersistedFrom <= index) this.unpersistedFrom = (index + 1) as Index;
    return dropped;
  }
}

const NONE: readonly LogEntry[] = Object.freeze([]);
