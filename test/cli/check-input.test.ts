/**
 * `quorate check` and its input files: whatever keeps a file from being read or judged is bad
 * input, one line and exit 3, never a stack trace or a verdict about nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
