/**
 * One node's disk, as a driver keeps it: fed only by `Ready.persist` (and the state machine's
 * own snapshots), so a restarted node comes back with exactly what its Readys made durable.
 *
 * Writes are applied in the order replica.ts prescribes (snapshot, truncation, entries, hard
 * state). A write is durable once synced; a crash loses what was written and not synced, which
 * is how a scenario shows what a reply sent before its fsync costs.
 */
import { truncationPoint, type LogEntry, type Persist, type RestoredState, type Snapshot } from '../../../src/core/replica.js';

export class DurableStore<H> {
  private hardState: H | null = null;
  private snapshot: Snapshot | null = null;
  /** Index-ordered; may have gaps (a Paxos acceptor writes single slots). */
  private entries: LogEntry[] = [];
  private unsynced: Persist<H>[] = [];

  /** A store that already holds `state` (a scenario's initial logs, e.g. Figure 7). */
  static holding<H>(state: RestoredState<H>): DurableStore<H> {
    const s = new DurableStore<H>();
    s.hardState = state.hardState;
    s.snapshot = state.snapshot;
    s.entries = [...state.entries].sort((a, b) => a.index - b.index);
    return s;
  }

  write(p: Persist<H>): void {
    this.unsynced.push(p);
  }

  sync(): void {
    for (const p of this.unsynced) this.apply(p);
    this.unsynced = [];
  }

  hasUnsynced(): boolean {
    return this.unsynced.length > 0;
  }

  /** A crash: what was not synced never reached the disk. Returns how many writes were lost. */
  loseUnsynced(): number {
    const lost = this.unsynced.length;
    this.unsynced = [];
    return lost;
  }

  /** The state machine's own snapshot at `snapshot.meta.index` (written atomically; durable at once). */
  saveSnapshot(snapshot: Snapshot): void {
    if (this.snapshot !== null && this.snapshot.meta.index >= snapshot.meta.index) return;
    this.snapshot = snapshot;
    this.entries = this.entries.filter((e) => e.index > snapshot.meta.index);
  }

  restore(): RestoredState<H> {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }

  /** The durable entry at `index`, if any. */
  entryAt(index: number): LogEntry | undefined {
    return this.entries.find((e) => e.index === index);
  }

  private apply(p: Persist<H>): void {
    if (p.snapshot !== null) this.saveSnapshot(p.snapshot);
    const from = truncationPoint(p);
    if (from !== null) this.entries = this.entries.filter((e) => e.index < from);
    const floor = this.snapshot?.meta.index ?? 0;
    for (const e of p.entries) {
      if (e.index <= floor) continue; // covered by the snapshot already
      const at = this.entries.findIndex((x) => x.index >= e.index);
      if (at < 0) this.entries.push(e);
      else if (this.entries[at]!.index === e.index) this.entries[at] = e;
      else this.entries.splice(at, 0, e);
    }
    if (p.hardState !== null) this.hardState = p.hardState;
  }
}
