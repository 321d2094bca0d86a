/**
 * The nemesis's faults on links, shared by both simulators: links cut in one or both
 * directions, a share of messages dropped and a share duplicated. Random draws happen in the
 * same order as the simulators made them before, so seeds keep reproducing the same runs.
 */
import type { NodeId } from '../core/ids.js';
import type { Random } from '../core/prng.js';

/** The most a lossy link drops, and duplicates, of what is sent on it. */
export const MAX_DROP_RATE = 0.3;
export const MAX_DUPLICATE_RATE = 0.1;

export class LinkFaults {
  private readonly cut = new Set<string>();
  private dropRate = 0;
  private duplicateRate = 0;

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.size > 0 && this.cut.has(`${from}>${to}`);
  }

  /** Is a message sent now from `from` to `to` lost? (A cut link loses all; otherwise the drop rate.) */
  loses(rng: Random, from: NodeId, to: NodeId): boolean {
    return this.isCut(from, to) || rng.chance(this.dropRate);
  }

  /** How many copies of a message that was not lost arrive. */
  copies(rng: Random): number {
    return rng.chance(this.duplicateRate) ? 2 : 1;
  }

  cutOneWay(from: NodeId, to: readonly NodeId[]): void {
    for (const y of to) if (y !== from) this.cut.add(`${from}>${y}`);
  }

  cutBoth(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) for (const y of b) {
      this.cut.add(`${x}>${y}`);
      this.cut.add(`${y}>${x}`);
    }
  }

  /** Make every link lossy; returns a line for the trace. */
  makeLossy(rng: Random): string {
    this.dropRate = rng.float() * MAX_DROP_RATE;
    this.duplicateRate = rng.float() * MAX_DUPLICATE_RATE;
    return `drop=${this.dropRate.toFixed(2)} dup=${this.duplicateRate.toFixed(2)}`;
  }

  heal(): void {
    this.cut.clear();
    this.dropRate = 0;
    this.duplicateRate = 0;
  }
}
