/** Runs the built `quorate` as a user would, and checks the one-line bad-input answer. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** Every run here answers at once: one this long is stuck (the seed-loop bug ran forever). */
const RUN_TIMEOUT_MS = 30_000;

export interface Run { readonly code: number | null; readonly stdout: string; readonly stderr: string }

/** `quorate ARGS`, with `input` on its standard input and only the variables in `env`. */
export function quorate(args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    input: options.input ?? '',
    env: options.env ?? { PATH: process.env.PATH },
    timeout: RUN_TIMEOUT_MS,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit code 3 and one line on stderr matching `pattern`, without a stack trace. */
export function assertBadInput(r: Run, pattern: RegExp, what: string): void {
  assert.equal(r.code, 3, `${what}: exit code (stderr: ${r.stderr})`);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: one line\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
  assert.match(r.stderr, pattern, what);
}
