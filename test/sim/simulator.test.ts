/**
 * The simulator over Raft. Seed ranges and faults are named in each test; every failure message
 * carries the seed, so `quorate sim --seeds N --trace` replays it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/core/index.js';
import { RAFT_MUTANTS } from '../../src/protocols/raft/index.js';
import { ModelDisk } from '../../src/sim/disk.js';
import { failed, runSeed } from '../../src/sim/run.js';
import { encodeCommand, RegisterKv } from '../../src/statemachine/register-kv.js';
import type { Index, Term } from '../../src/core/ids.js';

test('determinism: the same seed and options give the same event trace; another seed does not', () => {
  const a = runSeed({ seed: 42, faultWindowMs: 2000, livenessBoundMs: 2000, trace: true });
  const b = runSeed({ seed: 42, faultWindowMs: 2000, livenessBoundMs: 2000, trace: true });
  const c = runSeed({ seed: 43, faultWindowMs: 2000, livenessBoundMs: 2000, trace: true });
  assert.equal(a.traceHash, b.traceHash);
  assert.deepEqual(a.trace, b.trace);
  assert.notEqual(a.traceHash, c.traceHash);
  assert.ok(a.trace.length > 100);
});

/**
 * The default seed range of `quorate sim`: the random simulator catches every mutant within it,
 * and correct Raft passes all of it.
 */
export const DEFAULT_MUTANT_SEEDS = { from: 1, to: 100 };

test(`raft survives seeds ${DEFAULT_MUTANT_SEEDS.from}..${DEFAULT_MUTANT_SEEDS.to} with all faults (partition, crash, drop, skew, disk, pause): safe, live, linearizable`, () => {
  for (let seed = DEFAULT_MUTANT_SEEDS.from; seed <= DEFAULT_MUTANT_SEEDS.to; seed++) {
    const r = runSeed({ seed });
    assert.ok(!failed(r), `seed ${seed}: ${JSON.stringify(r.outcome)} ${r.linearizability} ${r.checkMessage}`);
    assert.ok(r.stats.faultsInjected > 3, `seed ${seed} injected faults`);
    assert.ok(r.history.length > 100, `seed ${seed} ran a workload`);
  }
});

for (const m of RAFT_MUTANTS) {
  test(`mutant ${m.name} is caught by the simulator within seeds ${DEFAULT_MUTANT_SEEDS.from}..${DEFAULT_MUTANT_SEEDS.to}`, () => {
    for (let seed = DEFAULT_MUTANT_SEEDS.from; seed <= DEFAULT_MUTANT_SEEDS.to; seed++) {
      const r = runSeed({ seed, mutant: m.name });
      if (failed(r)) return;
    }
    assert.fail(`mutant ${m.name} survived seeds ${DEFAULT_MUTANT_SEEDS.from}..${DEFAULT_MUTANT_SEEDS.to}`);
  });
}

test('model disk: a crash loses unsynced writes; with partial flush a prefix survives', () => {
  const entry = (i: number) => ({ index: i as Index, term: 1 as Term, kind: 'command' as const, data: new Uint8Array([i]) });
  const d = new ModelDisk<{ term: number }>();
  d.write({ hardState: { term: 1 }, entries: [entry(1), entry(2)], snapshot: null });
  d.sync();
  d.write({ hardState: { term: 2 }, entries: [entry(3), entry(4)], snapshot: null });
  d.crash(new Prng(1), false);
  assert.deepEqual(d.restore().entries.map((e) => e.index), [1, 2]);
  assert.deepEqual(d.restore().hardState, { term: 1 });
  const kept = new Set<number>();
  for (let seed = 1; seed <= 40; seed++) {
    const p = new ModelDisk<{ term: number }>();
    p.write({ hardState: null, entries: [entry(1), entry(2), entry(3)], snapshot: null });
    p.crash(new Prng(seed), true);
    const idx = p.restore().entries.map((e) => e.index);
    assert.deepEqual(idx, [1, 2, 3].slice(0, idx.length), 'what survives is a prefix');
    kept.add(idx.length);
  }
  assert.ok(kept.size >= 3, 'different crashes keep different prefixes');
});

test('sessions: a retried command takes effect once and answers as the first time, across a snapshot', () => {
  const sm = new RegisterKv();
  const put = encodeCommand({ client: 1, seq: 1, op: { f: 'cas', key: 'k', expected: null, value: 5 } });
  assert.deepEqual(sm.apply(put, 1 as Index), { ok: true, value: 5 });
  sm.apply(encodeCommand({ client: 2, seq: 1, op: { f: 'put', key: 'k', value: 9 } }), 2 as Index);
  const copy = new RegisterKv();
  copy.restore(sm.snapshot());
  assert.deepEqual(copy.apply(put, 3 as Index), { ok: true, value: 5 }, 'the retry answers as before');
  assert.equal(copy.get('k'), 9, 'and does not take effect again');
});
