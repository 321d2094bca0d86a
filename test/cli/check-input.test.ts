/**
 * `quorate check` and its input files: whatever keeps a file from being read or judged is bad
 * input, one line and exit 3, never a stack trace or a verdict about nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { assertBadInput, quorate } from './run-quorate.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-check-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('check: a directory, or a path through a file, is one line and exit 3', () => {
  withDir((dir) => {
    assertBadInput(quorate(['check', dir]), new RegExp(`: ${dir.replace(/[/.]/g, '\\$&')}: is a directory`), 'a directory');
    writeFileSync(join(dir, 'h.log'), '');
    assertBadInput(quorate(['check', join(dir, 'h.log', 'x')]), /a part of the path is not a directory/, 'a path through a file');
    const json = quorate(['check', '--json', dir]);
    assert.equal(json.code, 3);
    assert.equal(JSON.parse(json.stdout).verdict, 'bad-input');
  });
});

test('check: a file with no operations gets no verdict: one line and exit 3', () => {
  withDir((dir) => {
    const cases: [string, string, string[], RegExp][] = [
      ['empty.log', '', [], /no operations in .*empty\.log: it is empty$/m],
      ['garbage.log', 'this is not a history\n', [], /no operations in .*garbage\.log: no Jepsen :read, :write or :cas lines$/m],
      ['ops.jsonl', '{"client":1,"f":"write","value":3,"outcome":"ok","invoke":1,"complete":2}\n', [], /no operations in .*ops\.jsonl: .*\(JSON lines need --format jsonl\)$/m],
      ['empty.jsonl', '', ['--format', 'jsonl'], /no operations in .*empty\.jsonl: it is empty$/m],
      ['comments.jsonl', '# nothing yet\n\n', ['--format', 'jsonl'], /no operations in .*comments\.jsonl: only blank and # lines$/m],
    ];
    for (const [name, text, flags, pattern] of cases) {
      writeFileSync(join(dir, name), text);
      const r = quorate(['check', ...flags, join(dir, name)]);
      assertBadInput(r, pattern, name);
      assert.equal(r.stdout, '', `${name}: no verdict`);
    }
    // The same file as JSON lines is judged.
    assert.equal(quorate(['check', '--format', 'jsonl', join(dir, 'ops.jsonl')]).stdout, 'linearizable\n');
  });
});

test('check: a bad file is named as every command names bad input, "quorate check: ..."', () => {
  withDir((dir) => {
    assertBadInput(quorate(['check', join(dir, 'missing.log')]), new RegExp(`^quorate check: ${dir.replace(/[/.]/g, '\\$&')}/missing\\.log: no such file$`, 'm'), 'a missing file');
    writeFileSync(join(dir, 'broken.log'), 'INFO  jepsen.util - 0 :ok :write 1\n');
    assertBadInput(quorate(['check', join(dir, 'broken.log')]), /^quorate check: .*broken\.log:1: /, 'a malformed file');
  });
});

test('check: - reads the history from standard input, once', () => {
  const history = 'INFO  jepsen.util - 0 :invoke :write 1\nINFO  jepsen.util - 0 :ok :write 1\nINFO  jepsen.util - 1 :invoke :read nil\nINFO  jepsen.util - 1 :ok :read 1\n';
  const r = quorate(['check', '-'], { input: history });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'linearizable\n');
  assertBadInput(quorate(['check', '-'], { input: '' }), /^quorate check: no operations in -: it is empty$/m, 'empty standard input');
  assertBadInput(quorate(['check', '-', '-'], { input: history }), /^quorate check: '-' \(standard input\) can be given only once$/m, '- twice');
});

test('check loads its own module, not the registry of every command (the node runtime, servers, protocols)', () => {
  // A module hook that names every file the process loads, on stderr.
  const hook = 'data:text/javascript,export async function resolve(s,c,n){const r=await n(s,c);if(r.url.startsWith("file:"))process.stderr.write("loaded "+r.url+"\\n");return r}';
  const register = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(hook)})`;
  const root = new URL('../../', import.meta.url).href; // the build's root: src/..., test/...
  const main = new URL('src/cli/main.js', root).pathname;
  const history = 'INFO  jepsen.util - 0 :invoke :write 1\nINFO  jepsen.util - 0 :ok :write 1\n';
  const r = spawnSync(process.execPath, ['--import', register, main, 'check', '-'], { input: history, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'linearizable\n');
  const loaded = r.stderr.split('\n').filter((l) => l.startsWith('loaded ')).map((l) => l.slice('loaded '.length).replace(root, ''));
  assert.ok(loaded.includes('src/cli/commands/check.js'), loaded.join('\n'));
  const heavy = loaded.filter((f) => /registry\.js$|^src\/(protocols|driver|node|server|sim)\//.test(f));
  assert.deepEqual(heavy, [], 'modules check does not need');
  // Every other command still comes through the registry.
  assert.match(quorate(['version']).stdout, /^quorate /);
});
