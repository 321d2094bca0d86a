/**
 * The scenario's state machine: it remembers what was applied at each index, as text. Its
 * snapshot is that list, so a node that installs a leader's snapshot knows what it covers.
 */
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface AppliedEntry {
  readonly index: number;
  readonly text: string;
}

export class AppliedLog {
  entries: AppliedEntry[] = [];
  /** The last index a snapshot (or a state transfer) brought without listing it. */
  restoredThrough = 0;

  apply(index: number, text: string): void {
    this.entries.push({ index, text });
  }

  through(): number {
    return Math.max(this.entries[this.entries.length - 1]?.index ?? 0, this.restoredThrough);
  }

  /** The state as of `index` (what compaction hands the replica). */
  snapshot(index: number): Uint8Array {
    return enc.encode(JSON.stringify(this.entries.filter((e) => e.index <= index)));
  }

  /** A state transfer replaced the state through `index` with one this log cannot list. */
  replaceThrough(index: number): void {
    this.entries = [];
    this.restoredThrough = index;
  }

  restore(data: Uint8Array, index: number): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(dec.decode(data));
    } catch {
      parsed = null;
    }
    this.entries = Array.isArray(parsed) ? (parsed as AppliedEntry[]) : [];
    this.restoredThrough = index;
  }

  /** A restart: the state machine holds what it applied through `index`, no more. */
  keepThrough(index: number): void {
    this.entries = this.entries.filter((e) => e.index <= index);
    if (this.restoredThrough > index) this.restoredThrough = index;
  }
}
