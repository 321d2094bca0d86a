/**
 * `quorate check --model list-append --format jsonl`: the verdict and exit code (0 valid,
 * 1 invalid, 2 unknown, 3 bad input), the anomalies printed as Elle does, and JSON lines that
 * round-trip through toListAppendJsonLines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListAppendJsonLines, toListAppendJsonLines } from '../../src/check/elle/index.js';
import { Prng } from '../../src/core/prng.js';
import { randomHistory } from '../check/elle/generate.js';
import { assertBadInput, quorate } from './run-quorate.js';

const ARGS = ['check', '--model', 'list-append', '--format', 'jsonl', '-'];

const G2 = [
  '# write skew',
  '{"client":0,"txn":[["r","x",null],["append","y",1]],"outcome":"ok","invoke":0,"complete":10}',
  '{"client":1,"txn":[["r","y",null],["append","x",1]],"outcome":"ok","invoke":0,"complete":10}',
  '{"client":2,"txn":[["r","x",[1]],["r","y",[1]]],"outcome":"ok","invoke":20,"complete":30}',
  '{"client":3,"txn":[["append","z",1],["r","z",null]],"outcome":"unknown","invoke":20}',
  '',
].join('\n');

test('check list-append: a valid history is exit 0, an anomaly exit 1 with its cycle and transactions', () => {
  const valid = toListAppendJsonLines(randomHistory(new Prng(3), { transactions: 500, spread: 30, failRate: 0.05, unknownRate: 0.05 }));
  const ok = quorate(ARGS, { input: valid });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'valid\n');
  const bad = quorate(ARGS, { input: G2 });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stdout, /^invalid\nanomalies: G2 ×1\nG2: T[01] -rw\([xy]\)-> T[01] -rw\([xy]\)-> T[01]\n {2}T0 \(client 0, ok, 0\.\.10\): \[r x nil\] \[append y 1\]\n/);
  const json = quorate(['check', '--json', ...ARGS.slice(1)], { input: G2 });
  const line = JSON.parse(json.stdout) as { verdict: string; window: string[]; exitCode: number };
  assert.equal(line.verdict, 'invalid');
  assert.equal(line.exitCode, 1);
  assert.match(line.window.join('\n'), /G2: /);
});

test('check list-append: a budget too small is exit 2 (unknown)', () => {
  const r = quorate(['check', '--model', 'list-append', '--format', 'jsonl', '--max-steps', '1', '-'], { input: G2 });
  // The cycle is found by a search in its component, which the budget stops.
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /^unknown\n/);
});

test('check list-append: bad input is one line and exit 3', () => {
  assertBadInput(quorate(ARGS, { input: '{"client":0,"txn":[["put","x",1]],"outcome":"ok","invoke":0,"complete":1}\n' }), /-:1: micro-op 0: unknown micro-op "put"/, 'an unknown micro-op');
  assertBadInput(quorate(ARGS, { input: '{"client":0,"txn":[["append","x",1]],"outcome":"ok","invoke":0}\n' }), /"complete" must be a number/, 'no completion');
  assertBadInput(quorate(ARGS, { input: '{"client":0,"txn":[["append","x",1]],"outcome":"ok","invoke":0,"complete":1}\n{"client":1,"txn":[["append","x",1]],"outcome":"ok","invoke":0,"complete":1}\n' }), /appended to key x twice/, 'a value appended twice');
  assertBadInput(quorate(ARGS, { input: '# nothing\n' }), /no operations/, 'no transactions');
  assertBadInput(quorate(['check', '--model', 'list-append', '-'], { input: G2 }), /--format jsonl/, 'the Jepsen format');
});

test('list-append JSON lines round-trip, unknown completions as null', () => {
  const h = randomHistory(new Prng(11), { transactions: 200, spread: 10, failRate: 0.1, unknownRate: 0.1 });
  assert.deepEqual(parseListAppendJsonLines(toListAppendJsonLines(h), 'h.jsonl'), h);
});
