/**
 * Invariant checks. A failed assertion is a bug report, never a code path: it throws an
 * AssertionFailure that callers must not catch and continue from.
 */

export class AssertionFailure extends Error {
  override readonly name = 'AssertionFailure';
}

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionFailure(typeof message === 'function' ? message() : message);
  }
}

/** Exhaustiveness check for discriminated unions handled by `switch`. */
export function unreachable(value: never, what = 'value'): never {
  throw new AssertionFailure(`unreachable: unexpected ${what} ${JSON.stringify(value)}`);
}
