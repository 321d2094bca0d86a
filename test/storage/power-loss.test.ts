/**
 * Power losses that keep part of what was not synced: a torn last write (at a sector boundary,
 * or with garbage to the end of its sector), later writes kept without earlier ones, directory
 * changes half kept. Whatever survives, open must succeed, and the state must be what some save
 * at or after the last acknowledged one left: nothing acknowledged is lost, nothing invented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/core/prng.js';
import type { PowerLossPlan } from '../../src/sim/model-fs.js';
import { entry, indexes, openStorage, range, save, segmentNames, stepUntil, strictPowerLoss, walDir, world, type World } from './model-world.js';
import { describeRestored, describeState, hs, matches, nextOp, type State } from './wal-workload.js';

for (const fate of ['torn-at-sector', 'torn-with-garbage'] as const) {
  test(`a last write torn (${fate}) is cut off on open as a torn tail; every acknowledged save survives, and the repair holds`, () => {
    let repaired = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const w = world(seed, { syncLatencyMs: 5 });
      const s = openStorage(w);
      for (let i = 1; i <= 4; i++) save(w, s, { hardState: hs(i), entries: [entry(i, 1, 700)], snapshot: null });
      const segment = `${walDir}/${segmentNames(w).at(-1)!}`;
      const before = w.fs.size(segment);
      s.save({ hardState: hs(8), entries: range(5, 8, 1, 600), snapshot: null }, () => assert.fail('never acknowledged'));
      stepUntil(w, () => w.fs.size(segment) > before); // one multi-sector write, not yet synced
      w.fs.powerLoss({ files: fate, dirs: 'kept' });
      assert.match(w.fs.lastPowerLoss(), new RegExp(fate), `seed ${seed}`);
      const logs: string[] = [];
      const r = openStorage(w, { logger: (m) => logs.push(m) });
      const got = indexes(r);
      assert.deepEqual(got.slice(0, 4), ['1@1', '2@1', '3@1', '4@1'], `seed ${seed}: acknowledged entries`);
      assert.ok(got.length === 4 || got.length === 8, `seed ${seed}: the torn save is gone or whole records of it remain (${got})`);
      assert.deepEqual(r.restored().hardState, hs(4), `seed ${seed}: the torn save's hard state (its last record) is gone`);
      repaired += r.stats().repairs.length;
      if (r.stats().repairs.length > 0) assert.match(logs.join('\n'), /truncated torn tail/);
      save(w, r, { hardState: hs(9, 2), entries: [entry(got.length + 1, 2)], snapshot: null });
      strictPowerLoss(w);
      const again = openStorage(w);
      assert.deepEqual(indexes(again), [...got, `${got.length + 1}@2`], `seed ${seed}: appends after the repair survive`);
      assert.equal(again.stats().repairs.length, 0, `seed ${seed}: the repair was durable`);
    }
    assert.ok(repaired >= 35, `${repaired} of 40 power losses left a torn record to repair`);
  });
}

// ---- a seeded workload under crashes and partial power losses -----------------------------------

/** Cycles of: open, check against the history, run a workload for a while, crash or lose power. */
function runSeed(seed: number, plan: PowerLossPlan, cycles: number): string[] {
  const rng = new Prng(seed * 7919 + 13);
  const w = world(seed, { writeLatencyMs: rng.int(0, 2), syncLatencyMs: rng.int(0, 5) });
  const options = { segmentBytes: 1024, snapshotChunkBytes: 128, keepSnapshots: 2 };
  let states: State[] = [{ entries: new Map(), hardState: null, snapshot: 0 }];
  let acked = 0;
  const notes: string[] = [];
  for (let cycle = 0; cycle <= cycles; cycle++) {
    const s = openStorage(w, options);
    const r = s.restored();
    let j = states.length - 1;
    while (j >= acked && !matches(r, states[j]!)) j--;
    assert.ok(j >= acked, `seed ${seed} cycle ${cycle}: restored state is no state at or after the last acknowledged save\n` +
      `  restored:     ${describeRestored(r)}\n  acknowledged: ${describeState(states[acked]!)}\n  power loss:   ${w.fs.lastPowerLoss()}`);
    if (cycle === cycles) break;
    states = states.slice(0, j + 1);
    acked = j;
    let expectDone = j + 1;
    const ops = rng.int(5, 40);
    let issued = 0;
    const horizon = ops + rng.int(0, 300);
    for (let step = 0; step < horizon; step++) {
      if (issued < ops && rng.chance(0.4)) {
        const { op, state } = nextOp(states[states.length - 1]!, rng);
        const idx = states.length;
        states.push(state);
        const done = (err: Error | null) => {
          assert.equal(err, null, `seed ${seed}: ${err?.message}`);
          assert.equal(idx, expectDone++, `seed ${seed}: completions in order`);
          acked = idx;
        };
        if (op.kind === 'save') s.save(op.persist, done);
        else s.saveSnapshot(op.snapshot, done);
        issued++;
      } else if (!w.clock.step() && issued >= ops) {
        break;
      }
    }
    if (rng.chance(0.25)) w.fs.crash();
    else {
      w.fs.powerLoss(plan);
      notes.push(w.fs.lastPowerLoss());
    }
  }
  return notes;
}

test('reordered unsynced writes (a later one kept, an earlier one lost): open never refuses and no acknowledged save is lost (120 seeds)', () => {
  let reorderedSnapshots = 0;
  for (let seed = 1; seed <= 120; seed++) {
    const notes = runSeed(seed, { files: 'reordered', dirs: 'seeded' }, 4);
    reorderedSnapshots += notes.filter((n) => /\.snap\.tmp: reordered/.test(n)).length;
  }
  // The WAL never has two unsynced writes to one file; the snapshot temp file does, and must be harmless.
  assert.ok(reorderedSnapshots >= 5, `only ${reorderedSnapshots} power losses reordered a snapshot temp file's writes`);
});

test('a write whose sectors reached the platter out of order (some never did): open never refuses and no acknowledged save is lost (120 seeds)', () => {
  let holedWal = 0;
  for (let seed = 1; seed <= 120; seed++) {
    const notes = runSeed(seed, { files: 'sector-holes', dirs: 'seeded' }, 4);
    holedWal += notes.filter((n) => /\.wal: sector-holes/.test(n)).length;
  }
  // (Most WAL writes of this workload are under two sectors: few can have a whole sector missing.)
  assert.ok(holedWal >= 3, `only ${holedWal} power losses left holes in a WAL write`);
});

test('seeded crashes and power losses (torn, reordered, prefix, lost; directory changes half kept): open never refuses and no acknowledged save is lost (200 seeds)', () => {
  const seen = new Set<string>();
  for (let seed = 1; seed <= 200; seed++) {
    for (const n of runSeed(seed, {}, 4)) for (const m of n.matchAll(/: (lost|kept|prefix|torn-at-sector|torn-with-garbage|reordered|sector-holes),/g)) seen.add(m[1]!);
  }
  assert.deepEqual([...seen].sort(), ['kept', 'lost', 'prefix', 'reordered', 'sector-holes', 'torn-at-sector', 'torn-with-garbage'], 'every fate was exercised');
});

test('a strict power loss at every point of a workload loses no acknowledged save (directory changes all lost)', () => {
  for (let seed = 1; seed <= 60; seed++) runSeed(seed, { files: 'lost', dirs: 'lost' }, 3);
});
