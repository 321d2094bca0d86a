/** A `quorate` subcommand. Each lives in its own file under commands/ and is listed in registry.ts. */
export interface Command {
  readonly name: string;
  /** One line for `quorate help`. */
  readonly summary: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** Thrown for bad command-line input: printed without a stack trace, exit code 3. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
