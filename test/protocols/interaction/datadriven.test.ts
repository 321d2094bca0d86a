/** The scenario file format itself: parsing, a mismatch that names file:line, and the rewrite mode. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseScenario, runScenarioFile, ScenarioMismatch, type CommandRunner } from './datadriven.js';

const FILE = `# a comment

cluster n1 n2 learners=(n3, n4) seed=2
n1 log=(1,1,4)
----
old output

propose n1 "put x=1" term>=4
----
ok: index 1 term 1
`;

/** Prints the command's words back, one a line. */
const echo: CommandRunner = {
  run: (d) => [d.command, ...d.args.map((a) => `arg ${a}`), ...[...d.options].map(([k, v]) => `option ${k}=${v}`), ...d.input.map((l) => `input ${l}`)].join('\n'),
};

test('a directive: command, positional words, key=value options (lists, quotes), input lines, expected output', () => {
  const [cluster, propose] = parseScenario(FILE, 'f.txt');
  assert.ok(cluster !== undefined && propose !== undefined);
  assert.equal(cluster.line, 3);
  assert.deepEqual(cluster.args, ['n1', 'n2']);
  assert.equal(cluster.options.get('learners'), 'n3,n4');
  assert.deepEqual(cluster.input, ['n1 log=(1,1,4)']);
  assert.equal(cluster.expected, 'old output');
  assert.deepEqual(propose.args, ['n1', 'put x=1', 'term>=4'], 'a quoted word and a comparison stay positional');
  assert.equal(propose.expected, 'ok: index 1 term 1');
});

test('a directive without ---- is refused with its file:line', () => {
  assert.throws(() => parseScenario('tick n1\n\n', 'g.txt'), /g\.txt:1: 'tick n1' has no ---- line/);
});

test('a mismatch fails with file:line, the command, what was expected and what came out; REWRITE writes the observed output back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-datadriven-'));
  try {
    const file = join(dir, 'scenario.txt');
    writeFileSync(file, FILE);
    assert.throws(
      () => runScenarioFile(file, 'scenario.txt', () => echo, false),
      (err: unknown) => err instanceof ScenarioMismatch
        && /scenario\.txt:3: output of 'cluster n1 n2 learners=\(n3, n4\) seed=2' differs/.test(err.message)
        && /expected:\n {4}old output/.test(err.message)
        && /\+ arg n1/.test(err.message),
    );
    runScenarioFile(file, 'scenario.txt', () => echo, true);
    const rewritten = readFileSync(file, 'utf8');
    assert.match(rewritten, /^# a comment\n\ncluster n1 n2 learners=\(n3, n4\) seed=2\nn1 log=\(1,1,4\)\n----\ncluster\narg n1\narg n2\noption learners=n3,n4\noption seed=2\ninput n1 log=\(1,1,4\)\n\npropose/);
    runScenarioFile(file, 'scenario.txt', () => echo, false); // and now it passes
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
