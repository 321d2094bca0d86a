/** Thrown for bad command-line input: printed as one line without a stack trace, exit code 3. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
