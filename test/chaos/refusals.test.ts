/**
 * What `quorate chaos` refuses before anything is made (no root): an --out an earlier run used
 * (its members' data would be the new cluster's initial state, and every key already written
 * reads as an anomaly), and a mutant it does not know.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBadInput, quorate } from '../cli/run-quorate.js';

test('chaos refuses an --out an earlier run used, before it needs root', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-chaos-out-'));
  try {
    mkdirSync(join(dir, 'data', 'n1'), { recursive: true });
    assertBadInput(quorate(['chaos', '--out', dir]), /holds an earlier run \(data\)/, 'data/');
    rmSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'history.jsonl'), '');
    assertBadInput(quorate(['chaos', '--out', dir]), /holds an earlier run \(history\.jsonl\)/, 'history.jsonl');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chaos lists the mutants it knows, each once', () => {
  const r = quorate(['chaos', '--unsafe-mutant', 'no-such-bug', '--protocol', 'raft']);
  assertBadInput(r, /has no mutant 'no-such-bug'; known: stale-read, /, 'unknown mutant');
  assert.equal(r.stderr.split('stale-read').length - 1, 1, r.stderr);
});
