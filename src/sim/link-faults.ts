/**
 * The nemesis's faults on links: links cut in one or both directions, a share of messages
 * dropped and a share duplicated, and delay spikes on some links (messages on them take much
 * longer and arrive out of order with the rest). Endpoints are simulated processes by name (a
 * twin has its own name), so a partition can put two twins of one replica on different sides.
 */
import type { Random } from '../core/prng.js';

/** The most a lossy link drops, and duplicates, of what is sent on it. */
export const MAX_DROP_RATE = 0.3;
export const MAX_DUPLICATE_RATE = 0.1;
/** The longest extra delay a delay spike adds to a message, in ms. */
export const MAX_DELAY_SPIKE_MS = 300;

/** Which part of the link faults a heal undoes. */
export type LinkFaultKind = 'cut' | 'lossy' | 'slow';

export class LinkFaults {
  /**
   * Cut links, by sender then receiver: looked up for every message while a partition is on
   * (twice: when it is sent and when it arrives), where a "from>to" key was a string made per look.
   */
  private readonly cut = new Map<string, Set<string>>();
  private readonly slow = new Map<string, Map<string, number>>();
  private dropRate = 0;
  private duplicateRate = 0;
  /**
   * Each fault replaces the previous one of its kind (one partition at a time, as Jepsen's
   * nemeses do) and heals only itself: a heal scheduled for an earlier fault of the kind does
   * nothing once a later one took its place.
   */
  private readonly generation: Record<LinkFaultKind, number> = { cut: 0, lossy: 0, slow: 0 };

  constructor() {
    // Rates become fractions and generations count up only once faults start, often many runs
    // into a process: give them their final kind now (see shapes.ts).
    this.dropRate = 0.5;
    this.duplicateRate = 0.5;
    this.dropRate = 0;
    this.duplicateRate = 0;
    for (const kind of ['cut', 'lossy', 'slow'] as const) {
      this.generation[kind]++;
      this.generation[kind]--;
    }
  }

  isCut(from: string, to: string): boolean {
    return this.cut.size > 0 && this.cut.get(from)?.has(to) === true;
  }

  /** Is a message sent now from `from` to `to` lost? (A cut link loses all; otherwise the drop rate.) */
  loses(rng: Random, from: string, to: string): boolean {
    return this.isCut(from, to) || (this.dropRate > 0 && rng.chance(this.dropRate));
  }

  /** How many copies of a message that was not lost arrive. */
  copies(rng: Random): number {
    return this.duplicateRate > 0 && rng.chance(this.duplicateRate) ? 2 : 1;
  }

  /** Extra delay on the link, in ms (0 unless a delay spike is on). */
  extraDelay(rng: Random, from: string, to: string): number {
    if (this.slow.size === 0) return 0;
    const max = this.slow.get(from)?.get(to);
    return max === undefined ? 0 : rng.float() * max;
  }

  /** Cut the links from `from` to each of `to` (replacing the partition in force); returns a token for heal. */
  cutOneWay(from: string, to: readonly string[]): number {
    this.cut.clear();
    for (const y of to) if (y !== from) this.cutLink(from, y);
    return ++this.generation.cut;
  }

  /** Cut the links from every other endpoint to each of `deaf` (replacing the partition in force): they hear nobody. */
  cutInbound(deaf: readonly string[], all: readonly string[]): number {
    this.cut.clear();
    for (const y of deaf) for (const x of all) if (x !== y) this.cutLink(x, y);
    return ++this.generation.cut;
  }

  /** Cut every link between the two groups (replacing the partition in force); returns a token for heal. */
  cutBoth(a: readonly string[], b: readonly string[]): number {
    this.cut.clear();
    for (const x of a) for (const y of b) {
      if (x === y) continue;
      this.cutLink(x, y);
      this.cutLink(y, x);
    }
    return ++this.generation.cut;
  }

  /** Make every link lossy; returns a line for the trace and a token for heal. */
  makeLossy(rng: Random): { line: string; token: number } {
    this.dropRate = rng.float() * MAX_DROP_RATE;
    this.duplicateRate = rng.float() * MAX_DUPLICATE_RATE;
    return { line: `drop=${this.dropRate.toFixed(2)} dup=${this.duplicateRate.toFixed(2)}`, token: ++this.generation.lossy };
  }

  /** Delay spikes on the links from each of `from` to each of `to`; returns a token for heal. */
  slowDown(rng: Random, from: readonly string[], to: readonly string[]): number {
    this.slow.clear();
    for (const x of from) {
      for (const y of to) {
        if (x === y) continue;
        let links = this.slow.get(x);
        if (links === undefined) this.slow.set(x, links = new Map());
        links.set(y, rng.float() * MAX_DELAY_SPIKE_MS);
      }
    }
    return ++this.generation.slow;
  }

  private cutLink(from: string, to: string): void {
    let links = this.cut.get(from);
    if (links === undefined) this.cut.set(from, links = new Set());
    links.add(to);
  }

  /** Undo the fault of `kind` that returned `token`, unless a later one replaced it; true if healed. */
  healFault(kind: LinkFaultKind, token: number): boolean {
    if (this.generation[kind] !== token) return false;
    if (kind === 'cut') this.cut.clear();
    else if (kind === 'slow') this.slow.clear();
    else {
      this.dropRate = 0;
      this.duplicateRate = 0;
    }
    return true;
  }

  /** Heal every link fault. */
  heal(): void {
    // Heals scheduled for faults made before this are void.
    this.generation.cut++;
    this.generation.lossy++;
    this.generation.slow++;
    this.cut.clear();
    this.slow.clear();
    this.dropRate = 0;
    this.duplicateRate = 0;
  }
}
