/**
 * The simulator's disk: what a node wrote is durable only once synced. On a crash, unsynced
 * writes are lost — or, like a real disk that flushed some of its cache, a prefix of them
 * survives and the record after it is torn (detected by its checksum and dropped on restart,
 * as the WAL does). A correct protocol never acknowledged any of them, so it must not care.
 */
import type { Random } from '../core/prng.js';
import { truncationPoint, type LogEntry, type Persist, type RestoredState, type Snapshot } from '../core/replica.js';
import { putAt } from '../storage/entries.js';

type DiskRecord<H> =
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot }
  | { readonly kind: 'entry'; readonly entry: LogEntry }
  | { readonly kind: 'truncate'; readonly from: number }
  | { readonly kind: 'hard'; readonly hardState: H };

export class ModelDisk<H> {
  private hardState: H | null = null;
  private snapshot: Snapshot | null = null;
  private entries: LogEntry[] = [];
  private unsynced: DiskRecord<H>[] = [];
  syncs = 0;
  lostRecords = 0;

  /** Queue a Persist's records in WAL order: snapshot, truncation, entries, hard state. */
  write(p: Persist<H>): void {
    if (p.snapshot !== null) this.unsynced.push({ kind: 'snapshot', snapshot: p.snapshot });
    const from = truncationPoint(p);
    if (from !== null) this.unsynced.push({ kind: 'truncate', from });
    for (const entry of p.entries) this.unsynced.push({ kind: 'entry', entry });
    if (p.hardState !== null) this.unsynced.push({ kind: 'hard', hardState: p.hardState });
  }

  sync(): void {
    for (const r of this.unsynced) this.applyRecord(r);
    this.unsynced = [];
    this.syncs++;
  }

  /**
   * Crash: unsynced records are lost. With `partialFlush`, a random prefix of them had reached
   * the platter before the crash and survives (the next one is torn and dropped on restart).
   */
  crash(random: Random, partialFlush: boolean): void {
    const keep = partialFlush && this.unsynced.length > 0 ? random.int(0, this.unsynced.length) : 0;
    for (let i = 0; i < keep; i++) this.applyRecord(this.unsynced[i]!);
    this.lostRecords += this.unsynced.length - keep;
    this.unsynced = [];
  }

  /** The state machine's own snapshot, written and synced by the driver (temp file + rename). */
  saveSnapshot(snapshot: Snapshot): void {
    this.applyRecord({ kind: 'snapshot', snapshot });
  }

  restore(): RestoredState<H> {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }

  private applyRecord(r: DiskRecord<H>): void {
    switch (r.kind) {
      case 'snapshot': {
        if (this.snapshot !== null && this.snapshot.meta.index >= r.snapshot.meta.index) return;
        const at = r.snapshot.meta.index;
        this.entries = this.entries.filter((e) => e.index > at);
        this.snapshot = r.snapshot;
        return;
      }
      case 'truncate': {
        let keep = this.entries.length;
        while (keep > 0 && this.entries[keep - 1]!.index >= r.from) keep--;
        this.entries.length = keep;
        return;
      }
      case 'entry': {
        const e = r.entry;
        if (e.index <= (this.snapshot?.meta.index ?? 0)) return; // already covered by the snapshot
        putAt(this.entries, e);
        return;
      }
      case 'hard':
        this.hardState = r.hardState;
        return;
    }
  }
}
