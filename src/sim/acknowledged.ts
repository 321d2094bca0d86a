/**
 * What a member's storage acknowledged, kept beside the real storage as the oracle a restart is
 * judged by: after crashes and power losses alone, the storage must restore exactly what it
 * acknowledged followed by a prefix of what was still in flight (saves and snapshots are written
 * in the order made; of the save at the cut, its first records may have reached the disk: its
 * snapshot and truncation, some of its entries, its hard state last).
 *
 * A protocol notices a lost save only when the loss happens to break one of its invariants (a
 * forgotten vote must meet a second candidate in the same term); this check notices the loss
 * itself, on the restart after it, whatever the protocol would have done next.
 */
import { assert } from '../core/assert.js';
import { pack } from '../core/codec.js';
import { sameBytes } from '../core/bytes.js';
import { truncationPoint, type LogEntry, type Persist, type RestoredState, type Snapshot } from '../core/replica.js';
import { emptyEntries, putAt } from '../storage/entries.js';
import { objectSlots } from './shapes.js';

/** In-flight slots an AcknowledgedState starts with (more grow the array). */
const IN_FLIGHT_SLOTS = 4;

/** A save or snapshot made and not yet acknowledged: it may have reached the disk, whole or in part. */
export type InFlight =
  | { readonly kind: 'save'; readonly persist: Persist<unknown>; readonly hardState: Uint8Array | null }
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot };

/** The durable state a storage restores: hard state (packed: pack's bytes are its own), snapshot, entries after it. */
class DurableState {
  constructor(
    public hardState: Uint8Array | null = null,
    public snapshot: Snapshot | null = null,
    public entries: LogEntry[] = emptyEntries(),
  ) {}

  static of(r: RestoredState<unknown>): DurableState {
    const entries = emptyEntries();
    for (const e of r.entries) entries.push(e);
    return new DurableState(r.hardState === null ? null : pack(r.hardState), r.snapshot, entries);
  }

  clone(): DurableState {
    return new DurableState(this.hardState, this.snapshot, [...this.entries]);
  }

  /** A save's records, as the storage applies them; `entries`: how many of its entries reached the disk. */
  applySave(s: { persist: Persist<unknown>; hardState: Uint8Array | null }, entries = s.persist.entries.length, withHardState = true): this {
    const p = s.persist;
    if (p.snapshot !== null) this.applySnapshot(p.snapshot);
    const from = truncationPoint(p);
    if (from !== null) {
      let keep = this.entries.length;
      while (keep > 0 && this.entries[keep - 1]!.index >= from) keep--;
      this.entries.length = keep;
    }
    const snapshotIndex = this.snapshot?.meta.index ?? 0;
    for (let i = 0; i < entries; i++) {
      const e = p.entries[i]!;
      if (e.index > snapshotIndex) putAt(this.entries, e);
    }
    if (withHardState && s.hardState !== null) this.hardState = s.hardState;
    return this;
  }

  applySnapshot(snapshot: Snapshot): this {
    if (this.snapshot !== null && this.snapshot.meta.index >= snapshot.meta.index) return this;
    this.snapshot = snapshot;
    this.entries = this.entries.filter((e) => e.index > snapshot.meta.index);
    return this;
  }

  /** How `other` differs from this state (null: it does not). */
  differenceFrom(other: DurableState): string | null {
    if (!sameHardState(other.hardState, this.hardState)) return `its hard state is ${other.hardState === null ? 'gone' : 'not the one it acknowledged'}`;
    const mine = this.snapshot;
    const theirs = other.snapshot;
    if ((mine?.meta.index ?? 0) !== (theirs?.meta.index ?? 0)) return `its snapshot is at ${theirs?.meta.index ?? 0}, not at ${mine?.meta.index ?? 0}`;
    if (mine !== null && theirs !== null && (mine.meta.term !== theirs.meta.term || !sameBytes(mine.data, theirs.data))) return `its snapshot at ${mine.meta.index} holds another state`;
    const have = new Map(other.entries.map((e) => [e.index, e]));
    for (const e of this.entries) {
      const r = have.get(e.index);
      if (r === undefined) return `the entry at ${e.index} (term ${e.term}) is gone`;
      if (!sameEntry(r, e)) return `the entry at ${e.index} reads term ${r.term}, not term ${e.term}`;
      have.delete(e.index);
    }
    const extra = [...have.values()][0];
    if (extra !== undefined) return `it holds an entry at ${extra.index} (term ${extra.term}) that is not there (a truncation lost)`;
    return null;
  }
}

export class AcknowledgedState {
  private acknowledged = new DurableState();
  /**
   * Saves and snapshots in the order made (the storage takes them in one queue, in that order);
   * the acknowledged ones are applied to `acknowledged` as they are. The first `inFlightCount`
   * slots, reused: there are one or two at a time, and a splice per acknowledgement made an
   * array, and emptied this one, to be grown again by the next save.
   */
  private readonly inFlight: (InFlight | null)[] = objectSlots<InFlight>(IN_FLIGHT_SLOTS);
  private inFlightCount = 0;

  /** A save made; pass what this returns to saveRefused if the storage refuses it at once. */
  saveMade(persist: Persist<unknown>): InFlight {
    // Packed now: the core may build its next hard state in the same object. (Kept as bytes: a
    // hex string of them was built a character at a time on every save.)
    const made: InFlight = { kind: 'save', persist, hardState: persist.hardState === null ? null : pack(persist.hardState) };
    this.add(made);
    return made;
  }

  /** A save or snapshot the storage refused (it wrote nothing of it). */
  refused(made: InFlight): void {
    const i = this.indexOf(made);
    assert(i >= 0, 'a refused save or snapshot was made');
    this.removeAt(i);
  }

  /** The oldest save made is acknowledged (saves complete in the order made). */
  saveAcknowledged(): void {
    let i = 0;
    while (i < this.inFlightCount && this.inFlight[i]!.kind !== 'save') i++;
    assert(i < this.inFlightCount, 'a save is acknowledged after it was made');
    this.apply(this.removeAt(i));
  }

  snapshotMade(snapshot: Snapshot): InFlight {
    const made: InFlight = { kind: 'snapshot', snapshot };
    this.add(made);
    return made;
  }

  snapshotAcknowledged(made: InFlight): void {
    const i = this.indexOf(made);
    assert(i >= 0, 'a snapshot is acknowledged after it was made');
    this.apply(this.removeAt(i));
  }

  /**
   * What `restored` lost of what was acknowledged (null: nothing): it must be the acknowledged
   * state followed by a prefix of what was in flight, the last of it perhaps in part.
   */
  lost(restored: RestoredState<unknown>): string | null {
    const target = DurableState.of(restored);
    let state = this.acknowledged.clone();
    if (state.differenceFrom(target) === null) return null;
    for (let i = 0; i < this.inFlightCount; i++) {
      const made = this.inFlight[i]!;
      if (made.kind === 'save') {
        // In part: its snapshot and truncation, some of its entries, not its hard state.
        for (let k = 0; k <= made.persist.entries.length; k++) {
          if (state.clone().applySave(made, k, false).differenceFrom(target) === null) return null;
        }
        state = state.clone().applySave(made);
      } else {
        state = state.clone().applySnapshot(made.snapshot);
      }
      if (state.differenceFrom(target) === null) return null;
    }
    const what = this.acknowledged.differenceFrom(target) ?? 'it is no state the saves in flight could leave';
    return `${what} (${this.inFlightCount} save(s) and snapshot(s) in flight)`;
  }

  /** After a restart, what the storage restored is what is durable: in-flight fates are settled. */
  rebase(restored: RestoredState<unknown>): void {
    this.acknowledged = DurableState.of(restored);
    while (this.inFlightCount > 0) this.inFlight[--this.inFlightCount] = null;
  }

  private add(made: InFlight): void {
    if (this.inFlightCount === this.inFlight.length) this.inFlight.push(made);
    else this.inFlight[this.inFlightCount] = made;
    this.inFlightCount++;
  }

  private indexOf(made: InFlight): number {
    for (let i = 0; i < this.inFlightCount; i++) if (this.inFlight[i] === made) return i;
    return -1;
  }

  /** Take the in-flight save or snapshot at `i` out, the later ones moving up. */
  private removeAt(i: number): InFlight {
    const made = this.inFlight[i]!;
    for (let k = i + 1; k < this.inFlightCount; k++) this.inFlight[k - 1] = this.inFlight[k]!;
    this.inFlight[--this.inFlightCount] = null;
    return made;
  }

  private apply(made: InFlight): void {
    if (made.kind === 'save') this.acknowledged.applySave(made);
    else this.acknowledged.applySnapshot(made.snapshot);
  }
}

function sameHardState(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === null || b === null ? a === b : sameBytes(a, b);
}

function sameEntry(a: LogEntry, b: LogEntry): boolean {
  return a.term === b.term && a.kind === b.kind && sameBytes(a.data, b.data);
}
