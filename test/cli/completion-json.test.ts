/**
 * `quorate completion bash|zsh` completes from the declarations, and `--json` on sim and check
 * prints one object per line with the fields docs/cli.md documents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCommand } from '../../src/cli/commands/check.js';
import { simCommand } from '../../src/cli/commands/sim.js';
import type { Command } from '../../src/cli/command.js';
import { PROTOCOLS } from '../../src/protocols/registry.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function quorate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** Each line's fields are exactly those the command declares for its type, in that order. */
function assertDeclared(command: Command, stdout: string): Record<string, unknown>[] {
  const lines = stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const line of lines) {
    const record = command.json?.find((r) => r.type === line.type);
    assert.ok(record !== undefined, `undeclared type ${String(line.type)}`);
    assert.deepEqual(Object.keys(line), record.fields.map(([f]) => f));
  }
  return lines;
}

test('bash completion offers commands, options, choices from the registry, and subcommands', async () => {
  const script = (await quorate('completion', 'bash')).stdout;
  const complete = (line: string): string[] => {
    const words = line.split(' ');
    const r = spawnSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _quorate; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter((w) => w !== '');
  };
  assert.deepEqual(complete('quorate si'), ['sim']);
  assert.deepEqual(complete('quorate sim --see'), ['--seeds']);
  assert.deepEqual(complete('quorate sim --protocol '), [...PROTOCOLS.keys()]);
  assert.deepEqual(complete('quorate serve --initial-cluster-state '), ['new', 'existing']);
  assert.deepEqual(complete('quorate keys '), ['generate']);
  assert.deepEqual(complete('quorate completion '), ['bash', 'zsh']);
  assert.deepEqual(complete('quorate sim --nodes '), []);
});

test('zsh completion: one _arguments branch per command, with every option', async () => {
  const r = await quorate('completion', 'zsh');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^#compdef quorate\n/);
  assert.match(r.stdout, /'--protocol=\[the protocol to simulate \(`quorate help protocols` describes each\)\]:NAME:\(/);
  assert.match(r.stdout, /'--trace\[print every event of every run \(with one seed\\: to reproduce a failure\)\]'/);
  const zsh = spawnSync('zsh', ['-n'], { input: r.stdout });
  if (zsh.error === undefined) assert.equal(zsh.status, 0, zsh.stderr.toString());
});

test('sim --json: one object per run and a summary, with the declared fields', async () => {
  const r = await quorate('sim', '--seeds', '1..2', '--duration-ms', '3000', '--json');
  assert.equal(r.code, 0, r.stderr);
  const lines = assertDeclared(simCommand, r.stdout);
  assert.deepEqual(lines.map((l) => l.type), ['seed', 'seed', 'summary']);
  assert.equal(lines[2]!.runs, 2);
  assert.equal(lines[2]!.exitCode, 0);
});

test('check --json: one object per file, bad input included, with the declared fields', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-check-json-'));
  try {
    const good = join(dir, 'good.jsonl');
    writeFileSync(good, '{"client":1,"f":"write","key":"k1","value":3,"outcome":"ok","invoke":10.5,"complete":12.0}\n{"client":2,"f":"read","key":"k1","outcome":"ok","result":3,"invoke":13.0,"complete":13.2}\n');
    const r = await quorate('check', '--format', 'jsonl', '--json', good, join(dir, 'missing.jsonl'));
    const lines = assertDeclared(checkCommand, r.stdout);
    assert.deepEqual(lines.map((l) => [l.verdict, l.exitCode]), [['linearizable', 0], ['bad-input', 3]]);
    assert.equal(r.code, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
