/**
 * The small things around the commands: `quorate help WORD` for a word that is neither a command
 * nor a topic is bad input; `quorate --version` prints the version; the simulator's listings
 * follow --json like its other output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { simCommand } from '../../src/cli/commands/sim.js';
import { assertBadInput, quorate } from './run-quorate.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

test('quorate help WORD: an unknown word is one line and exit 3, with a suggestion when close', () => {
  assertBadInput(quorate(['help', 'nonsense']), /^quorate help: no command or topic 'nonsense'; `quorate help` lists the commands$/m, 'help nonsense');
  assertBadInput(quorate(['help', 'simm']), /^quorate help: no command or topic 'simm' \(did you mean 'sim'\?\)/m, 'help simm');
  const sim = quorate(['help', 'sim']);
  assert.equal(sim.code, 0);
  assert.match(sim.stdout, /^usage: quorate sim /);
  assert.equal(quorate(['help', 'protocols']).code, 0);
  assert.equal(quorate(['help']).code, 0);
});

test('quorate --version prints the package version and exits 0, as quorate version does', () => {
  const r = quorate(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^quorate ${VERSION.replace(/\./g, '\\.')} \\(node `));
  assert.equal(r.stdout, quorate(['version']).stdout);
});

test('sim --list-mutants and --list-faults with --json print one declared JSON object per line', () => {
  const declared = new Map((simCommand.json ?? []).map((r) => [r.type, r.fields.map(([f]) => f)]));
  const check = (args: string[], types: string[]): void => {
    const r = quorate(['sim', ...args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual([...new Set(lines.map((l) => l.type))], types, args.join(' '));
    for (const l of lines) assert.deepEqual(Object.keys(l), declared.get(String(l.type)), JSON.stringify(l));
    // The same entries as the text listing, in the same order.
    const text = quorate(['sim', ...args]).stdout.trimEnd().split('\n');
    assert.deepEqual(lines.map((l) => l.name), text.map((t) => t.replace(/^byzantine /, '').split('  ')[0]));
  };
  check(['--list-mutants'], ['mutant']);
  check(['--list-faults'], ['fault']);
  check(['--list-faults', '--protocol', 'pbft'], ['fault', 'byzantine']);
});
