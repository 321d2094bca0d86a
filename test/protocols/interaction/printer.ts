/**
 * What a command prints, at the level of detail the scenario asked for: `full` (every Ready and
 * every dropped message), `events` (role changes, client results, violations) or `none`
 * (violations only). Long runs print events; a step the scenario is about prints in full.
 */
export type Level = 'full' | 'events' | 'none';

export const LEVELS: readonly Level[] = ['full', 'events', 'none'];

export class Printer {
  private lines: string[] = [];
  level: Level = 'full';
  /** Put before event lines (a run's tick number). */
  prefix = '';

  /** Shown in full traces only. */
  full(line: string): void {
    if (this.level === 'full') this.lines.push(line);
  }

  /** Shown unless the scenario asked for nothing. */
  event(line: string): void {
    if (this.level !== 'none') this.lines.push(this.prefix + line);
  }

  /** Always shown: a command's answer, a violation. */
  always(line: string): void {
    this.lines.push(this.prefix + line);
  }

  /** How many lines are printed so far (see `cut`). */
  mark(): number {
    return this.lines.length;
  }

  /** Take back the lines printed since `mark`, keeping those `keep` accepts; returns how many went. */
  cut(mark: number, keep: (line: string) => boolean): number {
    const after = this.lines.splice(mark);
    const kept = after.filter(keep);
    this.lines.push(...kept);
    return after.length - kept.length;
  }

  /** Run `fn` at `level`, then restore the previous level. */
  at<T>(level: Level, fn: () => T): T {
    const before = this.level;
    this.level = level;
    try {
      return fn();
    } finally {
      this.level = before;
    }
  }

  take(): string {
    const out = this.lines.join('\n');
    this.lines = [];
    this.prefix = '';
    this.level = 'full';
    return out;
  }
}
