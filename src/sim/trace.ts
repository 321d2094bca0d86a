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
    this.h = hashChars(this.h ^ Math.floor(now * 1000), line);
  }

  /**
   * note() of the line `a + b + c + d + e + f + g`, hashed part by part (the same hash): the line
   * is made only when lines are kept. A client's record of each operation built a string, and
   * flattened it to hash it, on every operation.
   */
  noteParts(now: number, a: string, b: string, c: string, d: string, e = '', f = '', g = ''): void {
    if (this.keepLines) this.lines.push(`${now.toFixed(3).padStart(10)} ${a}${b}${c}${d}${e}${f}${g}`);
    let h = this.h ^ Math.floor(now * 1000);
    h = hashChars(h, a);
    h = hashChars(h, b);
    h = hashChars(h, c);
    h = hashChars(h, d);
    h = hashChars(h, e);
    h = hashChars(h, f);
    this.h = hashChars(h, g);
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

/** FNV-1a of `s`'s UTF-16 code units, continued from `h`. */
function hashChars(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}
