/**
 * Empty arrays that already hold the kind of element they will. V8 gives a new `[]` small-integer
 * elements and changes that the first time an object (or a fraction) is stored in it. Arrays made
 * when a simulation or a member starts are filled only later, so each new run's arrays changed
 * kind again under code optimized for the changed arrays of the previous run: that code was
 * thrown away and compiled again, run after run (a large share of the simulator's cost when each
 * run is short). Starting them in their final kind keeps optimized code valid across runs.
 */

/** An empty array for objects (or functions, or any mix). */
export function objectArray<T>(): T[] {
  const a: unknown[] = [null];
  a.pop();
  return a as T[];
}

/**
 * `slots` nulls, for an array used as reusable slots with a count beside it: stores stay within
 * its length (a store past the end, in a new run's empty array, also threw optimized code away).
 */
export function objectSlots<T>(slots: number): (T | null)[] {
  const a = objectArray<T | null>();
  for (let i = 0; i < slots; i++) a.push(null);
  return a;
}

/** An empty array for numbers that are not all small integers (times, rates). */
export function doubleArray(): number[] {
  const a = [0.5];
  a.pop();
  return a;
}
