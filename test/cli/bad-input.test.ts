/**
 * Every command, given an unknown flag or a bad value, answers with one line on stderr and exit
 * code 3: never a stack trace (the issue: five of six commands printed Node's
 * ERR_PARSE_ARGS_UNKNOWN_OPTION trace and exited 70).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/cli/registry.js';
import type { CommandInfo } from '../../src/cli/command.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** Refusing a flag is immediate: a run this long is stuck. */
const RUN_TIMEOUT_MS = 30_000;

function quorate(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: RUN_TIMEOUT_MS, env }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** The words before the options: a command with a subcommand needs it to get as far as its options. */
function prefix(c: CommandInfo): string[] {
  return c.positionals?.words?.[0] === undefined ? [c.name] : [c.name, c.positionals.words[0]];
}

/** A value the command's declarations refuse: a word for a number, or one outside the choices. */
function badValue(c: CommandInfo): string[] {
  for (const [name, o] of Object.entries(c.options)) {
    if (o.type === 'integer') return [`--${name}`, 'lots'];
    if (o.type === 'string' && o.choices !== undefined) return [`--${name}`, 'no-such-choice'];
  }
  return ['--help=maybe']; // a command whose only option is --help: a boolean takes true or false
}

function assertOneLine(r: { code: number; stdout: string; stderr: string }, what: string, pattern: RegExp): void {
  assert.equal(r.code, 3, `${what}: exit code\n${r.stderr}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: one line\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |ERR_PARSE_ARGS/, `${what}: no stack trace`);
  assert.match(r.stderr, pattern, what);
}

test('every command: an unknown flag and a bad value are one line and exit 3', { timeout: 300_000 }, async () => {
  assert.ok(COMMANDS.length >= 8);
  for (const c of COMMANDS) {
    const unknown = await quorate([...prefix(c), '--no-such-option']);
    assertOneLine(unknown, `${c.name} --no-such-option`, new RegExp(`^quorate ${c.name}: unknown option '--no-such-option'`));
    const bad = badValue(c);
    const r = await quorate([...prefix(c), ...bad]);
    assertOneLine(r, `${c.name} ${bad.join(' ')}`, new RegExp(`^quorate ${c.name}: ${bad[0]!.replace(/=.*/, '')} (must be|is true or false)`));
  }
});

test('the messages the issue asks for: did-you-mean, the value refused, where it came from', async () => {
  assertOneLine(await quorate(['sim', '--seed', '3']), 'sim --seed', /^quorate sim: unknown option '--seed' \(did you mean '--seeds'\?\)$/m);
  assertOneLine(await quorate(['sim', '--protocol', 'nope']), 'sim --protocol nope', /^quorate sim: --protocol must be one of .*, got 'nope'$/m);
  assertOneLine(await quorate(['serve', '--nmae', 'x']), 'serve --nmae', /did you mean '--name'/);
  assertOneLine(await quorate(['serve', '--heartbeat-interval', 'fast']), 'serve --heartbeat-interval', /--heartbeat-interval must be an integer from 1 to 10000, got 'fast'/);
  assertOneLine(await quorate(['serve'], { ...process.env, ETCD_ELECTION_TIMEOUT: 'soon' }), 'ETCD_ELECTION_TIMEOUT', /^quorate serve: ETCD_ELECTION_TIMEOUT must be an integer from 1 to 50000, got 'soon'$/m);
  assertOneLine(await quorate(['dev', '--port-offset=-5']), 'dev --port-offset', /--port-offset must be an integer from 0 to 30000, got '-5'/);
  assertOneLine(await quorate(['check', '--format', 'csv', 'x']), 'check --format', /--format must be one of jepsen, jsonl, got 'csv'/);
  assertOneLine(await quorate(['keys', 'generate', '--out']), 'keys --out without a value', /option '--out' needs a value/);
  assertOneLine(await quorate(['snapshot', 'restore']), 'snapshot restore without FILE', /expected 'restore FILE', got 'restore'/);
  assertOneLine(await quorate(['sim', 'extra']), 'sim with an argument', /unexpected argument 'extra'/);
  assertOneLine(await quorate(['simulate']), 'an unknown command', /^quorate: unknown command 'simulate'/);
});
