/**
 * `quorate sim --shard I/N` and `quorate sim merge`: shards of a sweep run its seeds once between
 * them, and their --json outputs merge into the verdict of the whole sweep; a missing or cut-short
 * shard is not a clean sweep, and outputs of two sweeps do not mix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeSweeps, parseShard, progressText, shardSeeds } from '../../src/cli/commands/sim-sweep.js';
import { seedAt } from '../../src/sim/seed-pool.js';
import { UsageError } from '../../src/cli/command.js';
import { assertBadInput, quorate } from './run-quorate.js';

const seedsOf = (from: number, to: number, i: number, n: number): number[] => {
  const list = shardSeeds(from, to, i, n);
  return Array.from({ length: list.count }, (_, k) => seedAt(list, k));
};

test('the shards of a range run each of its seeds once, interleaved', () => {
  for (const [from, to, n] of [[1, 10, 3], [5, 5, 4], [1, 2000, 7], [100, 131, 32]] as const) {
    const all = Array.from({ length: n }, (_, i) => seedsOf(from, to, i + 1, n)).flat().sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: to - from + 1 }, (_, k) => from + k), `${from}..${to} in ${n}`);
  }
  assert.deepEqual(seedsOf(1, 10, 2, 3), [2, 5, 8]);
  assert.deepEqual(seedsOf(5, 5, 3, 4), []);
  assert.deepEqual(parseShard('2/8'), { index: 2, count: 8 });
  for (const bad of ['0/3', '4/3', '1/0', '1', '1/2/3', 'a/b', '-1/2']) assert.throws(() => parseShard(bad), UsageError, bad);
});

test('the progress line says seeds per second and the time left', () => {
  assert.equal(progressText(50, 200, 1, 25), '50/200 seeds, 1 failures, 2.00 seeds/s, 1 min 15 s left');
  assert.equal(progressText(200, 200, 0, 40), '200/200 seeds, 0 failures, 5.00 seeds/s, done');
});

/** A shard's --json output, as quorate sim prints it. */
function output(shard: string | null, seeds: { seed: number; ok: boolean; failure?: string }[], extra: Record<string, unknown> = {}): string {
  const lines = seeds.map((s) => JSON.stringify({ type: 'seed', seed: s.seed, ok: s.ok, outcome: s.ok ? 'ok' : 'safety', linearizability: 'linearizable', traceHash: '0', events: 1, operations: 2, failure: s.failure ?? null }));
  const failed = seeds.filter((s) => !s.ok).length;
  lines.push(JSON.stringify({
    type: 'summary', protocol: 'raft', nodes: 5, runs: seeds.length, safetyViolations: failed, livenessFailures: 0, nonLinearizable: 0, unknownVerdicts: 0,
    operations: 2 * seeds.length, messages: 10 * seeds.length, simulatedMs: 1000 * seeds.length, wallSeconds: seeds.length, exitCode: failed > 0 ? 1 : 0,
    command: 'quorate sim --protocol raft --nodes 5 --faults all', seeds: '1..4', shard, ...extra,
  }));
  return lines.join('\n') + '\n';
}

test('merge: two shards give the whole sweep, failures in seed order', () => {
  const m = mergeSweeps([
    { name: 'b', text: output('2/2', [{ seed: 2, ok: true }, { seed: 4, ok: false, failure: 'safety: x' }]) },
    { name: 'a', text: output('1/2', [{ seed: 1, ok: true }, { seed: 3, ok: false, failure: 'safety: y' }]) },
  ]);
  assert.equal(m.summary.runs, 4);
  assert.equal(m.summary.safetyViolations, 2);
  assert.equal(m.summary.operations, 8);
  assert.equal(m.wallSeconds, 2);
  assert.deepEqual(m.summary.failures, [{ seed: 3, what: 'safety: y' }, { seed: 4, what: 'safety: x' }]);
  assert.deepEqual(m.missingShards, []);
  assert.deepEqual(m.cutShort, []);
});

test('merge: a missing shard and a file cut before its summary are reported, not guessed', () => {
  const whole = output('3/3', [{ seed: 3, ok: true }]);
  const cut = whole.split('\n')[0]! + '\n';
  const m = mergeSweeps([{ name: 'a', text: output('1/3', [{ seed: 1, ok: true }, { seed: 4, ok: true }]) }, { name: 'c', text: cut }]);
  assert.deepEqual(m.missingShards, ['2/3', '3/3']);
  assert.deepEqual(m.cutShort, ['c']);
});

test('merge: two sweeps, a shard twice or a seed twice is bad input', () => {
  const a = output('1/2', [{ seed: 1, ok: true }]);
  assert.throws(() => mergeSweeps([{ name: 'a', text: a }, { name: 'b', text: output('2/2', [{ seed: 2, ok: true }], { command: 'quorate sim --protocol multipaxos --nodes 5 --faults all' }) }]), /another sweep/);
  assert.throws(() => mergeSweeps([{ name: 'a', text: a }, { name: 'a2', text: output('1/2', [{ seed: 3, ok: true }]) }]), /shard 1\/2 is in a and a2/);
  assert.throws(() => mergeSweeps([{ name: 'a', text: a }, { name: 'b', text: output('2/2', [{ seed: 1, ok: true }]) }]), /seed 1 is in a:1 and b:1/);
  assert.throws(() => mergeSweeps([{ name: 'x', text: 'seed 1: trace hash 00\n' }]), /x:1 is not a JSON line/);
  assert.throws(() => mergeSweeps([{ name: 'a', text: a }, { name: 'b', text: output('2/3', [{ seed: 2, ok: true }]) }]), /one shard count/);
});

test('quorate sim --shard: the shards\' outputs merge into the sweep run whole (exit 0), a missing one exits 4', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-shards-'));
  try {
    const quick = ['sim', '--protocol', 'raft', '--nodes', '3', '--seeds', '1..4', '--duration-ms', '1500', '--jobs', '1', '--json'];
    const whole = quorate(quick);
    assert.equal(whole.code, 0, whole.stderr);
    const files: string[] = [];
    for (const shard of ['1/2', '2/2']) {
      const r = quorate([...quick, '--shard', shard]);
      assert.equal(r.code, 0, r.stderr);
      const file = join(dir, `${shard.replace('/', '-of-')}.jsonl`);
      writeFileSync(file, r.stdout);
      files.push(file);
    }
    const merged = quorate(['sim', 'merge', '--json', ...files]);
    assert.equal(merged.code, 0, merged.stderr);
    const summary = JSON.parse(merged.stdout.trim().split('\n').pop()!) as { runs: number; operations: number };
    const wholeSummary = JSON.parse(whole.stdout.trim().split('\n').pop()!) as { runs: number; operations: number };
    assert.equal(summary.runs, 4);
    assert.equal(summary.operations, wholeSummary.operations);
    const missing = quorate(['sim', 'merge', files[0]!]);
    assert.equal(missing.code, 4, missing.stdout);
    assert.match(missing.stdout, /INCOMPLETE: no output of shard 2\/2/);
    assertBadInput(quorate(['sim', 'merge', '--nodes', '3', files[0]!]), /takes --json only/, 'merge with a sweep option');
    assertBadInput(quorate(['sim', 'frobnicate']), /unexpected argument 'frobnicate'/, 'unknown word');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the sweep command (and so every reproduce line) keeps the options that change a run, --clients and --keys too', () => {
  const r = quorate(['sim', '--protocol', 'raft', '--nodes', '3', '--clients', '2', '--keys', '4', '--seeds', '1', '--duration-ms', '1500', '--jobs', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { command: string };
  assert.equal(summary.command, 'quorate sim --protocol raft --nodes 3 --faults all --clients 2 --keys 4 --duration-ms 1500');
});
