/** "did you mean": the closest known name to a mistyped one, if it is close enough to be the intent. */

/** Edits from a to b, a swap of neighbours counting as one (the commonest typo: --nmae). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known name nearest to `typed`: within 2 edits (1 for short names), or one it begins. */
export function closest(typed: string, known: Iterable<string>): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of known) {
    const d = name.startsWith(typed) && typed.length >= 3 ? 0.5 : distance(typed, name);
    if (best === undefined || d < best.d) best = { name, d };
  }
  const bound = typed.length <= 4 ? 1 : 2;
  return best !== undefined && best.d <= bound ? best.name : undefined;
}

/** ` (did you mean '--x'?)`, or nothing. */
export function didYouMean(typed: string, known: Iterable<string>, prefix = '--'): string {
  const c = closest(typed, known);
  return c === undefined ? '' : ` (did you mean '${prefix}${c}'?)`;
}
