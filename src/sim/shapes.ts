/**
 * Objects and arrays made in their final shape, so that code V8 optimized for them stays valid.
 *
 * A bench line or a test runs many short simulations in one process, and a large share of its
 * CPU went to compiling the hot path again and again (--trace-deopt, --trace-generalization):
 * - V8 gives a new `[]` small-integer elements and changes that the first time an object (or a
 *   fraction) is stored in it. Arrays made when a simulation or a member starts are filled only
 *   later, too late for V8's allocation-site feedback, so each run's new arrays changed kind again
 *   under code optimized for the previous run's: that code was thrown away and compiled again.
 * - A field written only when its object was made is a constant to V8, and a small integer stays
 *   a small-integer field; the first later write (the first crash bumps an incarnation, the first
 *   clock skew makes a rate a fraction), often many runs in, throws away every piece of optimized
 *   code that relied on it.
 * The helpers below make arrays in their final kind; classes whose fields faults change write
 * each such field once with a value of its final kind when the object is made (a settleShape()
 * method), before anything is optimized for it. None of this changes what is computed.
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

