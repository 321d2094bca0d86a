/** Index-ordered entry arrays that may have gaps (shared by the WAL and the simulator's disk). */
import type { LogEntry } from '../core/replica.js';

/**
 * An empty array for entries, made holding objects from the start: V8 gives `[]` small-integer
 * elements and changes that on the first entry stored; when that happens long after the array
 * was made (a storage opened empty, written to later), code optimized for arrays that had already
 * changed is thrown away and compiled again.
 */
export function emptyEntries(): LogEntry[] {
  const a: (LogEntry | null)[] = [null];
  a.pop();
  return a as LogEntry[];
}

/** Write `e` into an index-ordered array of entries, replacing the one at its index if any. */
export function putAt(entries: LogEntry[], e: LogEntry): void {
  // Not entries[-1] when empty: index -1 is looked up by name along the prototype chain (slow).
  const last = entries.length === 0 ? undefined : entries[entries.length - 1];
  if (last === undefined || last.index < e.index) {
    entries.push(e);
    return;
  }
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.index < e.index) lo = mid + 1;
    else hi = mid;
  }
  if (entries[lo]?.index === e.index) entries[lo] = e;
  else entries.splice(lo, 0, e);
}
