/**
 * What `quorate chaos` refuses before anything is made (no root): an --out an earlier run used
 * (its members' data would be the new cluster's initial state, and every key already written
 * reads as an anomaly), a mutant it does not know, and faults the system cannot take.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROTOCOLS } from '../../src/protocols/registry.js';
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

test('chaos refuses clock skew for etcd (libfaketime does not reach Go\'s clock) and member changes for a protocol with a fixed membership, before it needs root', () => {
  assertBadInput(quorate(['chaos', '--system', 'etcd', '--nemesis', 'skew']), /--nemesis skew: not applicable to etcd: Go reads the clock through the vDSO/, 'etcd under skew');
  const fixed = [...PROTOCOLS.values()].find((p) => p.membership === undefined);
  assert.ok(fixed !== undefined);
  assertBadInput(quorate(['chaos', '--nemesis', 'member', '--protocol', fixed.name]), new RegExp(`--nemesis member: not applicable to ${fixed.name}: its membership is fixed`), 'fixed membership');
  assertBadInput(quorate(['chaos', '--nemesis', 'member,kill', '--nodes', '2']), /--nemesis member: needs at least 3 members/, 'two members');
});
