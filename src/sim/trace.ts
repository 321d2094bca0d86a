/**
 * A run's trace: readable lines (kept only when asked for) and an FNV-1a hash over every event,
 * equal for equal seeds and options. Both simulators record through it, so "same seed, same
 * run" is checked the same way for every protocol.
 */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export class SimTrace {
  readonly lines: string[] = [];
  private h = FNV_OFFSET;

  constructor(private readonly keepLines: boolean) {}

  /** Record `line` at simulated time `now`. */
  note(now: number, line: string): void {
    if (this.keepLines) this.lines.push(`${now.toFixed(3).padStart(10)} ${line}`);
    let h = this.h ^ Math.floor(now * 1000);
    for (let i = 0; i < line.length; i++) h = Math.imul(h ^ line.charCodeAt(i), FNV_PRIME);
    this.h = h;
  }

  /** Keep a readable line for an event already hashed by `mix` (the hash must not depend on tracing). */
  keep(now: number, line: string): void {
    if (this.keepLines) this.lines.push(`${now.toFixed(3).padStart(10)} ${line}`);
  }

  /** Record an event by a few numbers, without building a line (the delivery hot path). */
  mix(now: number, a: number, b: number, c?: number): void {
    let h = this.h ^ Math.floor(now * 1000);
    h = Math.imul(h ^ a, FNV_PRIME);
    h = Math.imul(h ^ b, FNV_PRIME);
    if (c !== undefined) h = Math.imul(h ^ c, FNV_PRIME);
    this.h = h;
  }

  get hash(): string {
    return (this.h >>> 0).toString(16).padStart(8, '0');
  }
}
