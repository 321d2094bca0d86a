/**
 * Arrays made holding objects from the start. V8 gives `[]` small-integer elements and changes
 * that on the first object stored; when that happens long after the array was made (too late for
 * V8's allocation-site feedback, as for arrays a replica makes when it starts and fills later),
 * every run's new arrays change kind again under code optimized for the previous run's, and that
 * code is thrown away and compiled again (--trace-deopt: "wrong map", "not a Smi"). The contents
 * and every result are the same either way. (src/sim/shapes.ts says more.)
 */

/** An empty array for objects. */
export function emptyObjectArray<T>(): T[] {
  const a: unknown[] = [null];
  a.pop();
  return a as T[];
}

/** A copy of `items` in an array for objects (a spread copy of an empty array has small-integer elements). */
export function objectArrayOf<T>(items: readonly T[]): T[] {
  const a = emptyObjectArray<T>();
  for (let i = 0; i < items.length; i++) a.push(items[i]!);
  return a;
}
