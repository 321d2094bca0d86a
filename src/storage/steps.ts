/**
 * Sequencing callback-style file operations without Promises. The simulator completes every
 * file-system callback on its own virtual clock; a Promise would resolve only on the real event
 * loop, outside the simulated run, so the storage chains steps by hand.
 */
import { AssertionFailure, assert } from '../core/assert.js';
import type { Done } from './fs.js';

/** One operation: calls `next` exactly once, with the error that ended it or null. */
export type Step = (next: Done) => void;

/**
 * Run `steps` one after another; `done` gets the first error (no later step runs) or null after
 * the last. `steps` may be a generator: it is advanced only once the previous step completed, so
 * a step can be decided from what the earlier ones did. Steps that complete synchronously are
 * run in a loop, not by recursion, so a long sequence cannot overflow the stack.
 */
export function runSteps(steps: Iterable<Step>, done: Done): void {
  const it = steps[Symbol.iterator]();
  let finished = false;
  let looping = false;
  let again = false;
  const next: Done = (err) => {
    assert(!finished, 'a step completed after its sequence had finished');
    if (err !== null) {
      finished = true;
      done(err);
      return;
    }
    if (looping) {
      again = true; // completed synchronously: the loop below runs the next one
      return;
    }
    looping = true;
    do {
      again = false;
      const r = it.next();
      if (r.done === true) {
        looping = false;
        finished = true;
        done(null);
        return;
      }
      r.value(next);
    } while (again && !finished);
    looping = false;
  };
  next(null);
}

/** A step made of synchronous file-system calls: a thrown error ends the sequence. */
export function syncStep(fn: () => void): Step {
  return (next) => {
    let err: Error | null = null;
    try {
      fn();
    } catch (e) {
      err = asError(e);
    }
    next(err);
  };
}

/** An error thrown by an I/O call, as an Error. A failed assertion is never one: it propagates. */
export function asError(e: unknown): Error {
  if (e instanceof AssertionFailure) throw e;
  return e instanceof Error ? e : new Error(String(e));
}
