/**
 * The seed pool: seeds run on worker threads give the runs they give on the main thread, in seed
 * order; a run's error surfaces at its seed's turn; stopping early stops the workers.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runSeeds, type SeedResult } from '../../src/sim/seed-pool.js';
import type { SimOptions } from '../../src/sim/options.js';

const SHORT: Partial<SimOptions> = { faultWindowMs: 600, livenessBoundMs: 1_200 };
/** Seeds 1..8. */
const EIGHT = { first: 1, step: 1, count: 8 };

async function collect2(sweep: AsyncGenerator<{ seed: number; result: SeedResult }>): Promise<number[]> {
  const seeds: number[] = [];
  for await (const r of sweep) seeds.push(r.seed);
  return seeds;
}

async function collect(options: Partial<SimOptions>, from: number, to: number, jobs: number): Promise<{ seed: number; result: SeedResult }[]> {
  const out: { seed: number; result: SeedResult }[] = [];
  for await (const r of runSeeds(options, { first: from, step: 1, count: to - from + 1 }, jobs)) out.push(r);
  return out;
}

it('two workers give the serial runs, in seed order', async () => {
  const options: Partial<SimOptions> = { ...SHORT, protocol: 'raft', nodes: 3 };
  const serial = await collect(options, 1, 5, 1);
  const pooled = await collect(options, 1, 5, 2);
  assert.deepEqual(pooled.map((r) => r.seed), [1, 2, 3, 4, 5]);
  assert.deepEqual(pooled.map((r) => r.result.traceHash), serial.map((r) => r.result.traceHash));
  assert.deepEqual(pooled.map((r) => r.result.stats.events), serial.map((r) => r.result.stats.events));
  // Distinct runs, so the comparison above compares something.
  assert.equal(new Set(serial.map((r) => r.result.traceHash)).size, 5);
});

it('a run that throws fails the sweep at its seed, with its error code', async () => {
  // Phase-1 and phase-2 quorums of 1 and 2 out of 5 cannot intersect: every run is refused.
  const options: Partial<SimOptions> = { ...SHORT, protocol: 'multipaxos', nodes: 5, protocolOptions: { phase1QuorumSize: 1, phase2QuorumSize: 2 } };
  await assert.rejects(collect(options, 7, 9, 2), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return true;
  });
});

it('breaking out stops the sweep: later seeds are not handed back', async () => {
  const options: Partial<SimOptions> = { ...SHORT, protocol: 'raft', nodes: 3 };
  const seen: number[] = [];
  for await (const r of runSeeds(options, { first: 1, step: 1, count: 50 }, 2)) {
    seen.push(r.seed);
    if (r.seed === 2) break;
  }
  assert.deepEqual(seen, [1, 2]);
});

it('reports wait for a slow seed in a bounded window: no seed is handed out past maxAhead', async () => {
  // The consumer stops after seed 1 (as a slow seed 2 would hold the sweep): the workers finish
  // what they hold, then wait, rather than run the sweep to its end into the reorder buffer.
  const options: Partial<SimOptions> = { ...SHORT, protocol: 'raft', nodes: 3, faults: new Set() };
  const handedOut: number[] = [];
  const replies = new Set<number>();
  const sweep = runSeeds(options, { first: 1, step: 1, count: 12 }, 2, {
    maxAhead: 2,
    observe: (event, seed) => {
      if (event === 'hand-out') handedOut.push(seed);
      else replies.add(seed);
    },
  });
  try {
    const first = await sweep.next();
    assert.equal(first.done, false);
    // Seeds 2 and 3 (the most the window allows past seed 1) come back; a worker free after that
    // would take seed 4 at once, in the same message's handler, if nothing held it.
    for (let waitedMs = 0; !(replies.has(2) && replies.has(3)); waitedMs += 20) {
      assert.ok(waitedMs < 120_000, 'seeds 2 and 3 finish');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual([...handedOut].sort((a, b) => a - b), [1, 2, 3]);
    // The window moves as reports are handed on, and the sweep still ends with every seed in order.
    const rest: number[] = [];
    for (let r = await sweep.next(); r.done !== true; r = await sweep.next()) rest.push(r.value.seed);
    assert.deepEqual(rest, Array.from({ length: 11 }, (_, i) => i + 2));
    assert.deepEqual(handedOut.length, 12);
  } finally {
    await sweep.return(undefined);
  }
});

it('workers that fail outside a run fail the sweep with their error, and a late one does not crash the process', async () => {
  // Every worker throws after its first seed. The first error ends the sweep; the others arrive
  // while or after it tears the pool down, and had no listener then: an uncaught 'error' event.
  // The race goes either way on one try, so a few.
  const workerScript = new URL('./fixtures/failing-seed-worker.js', import.meta.url);
  for (let attempt = 0; attempt < 8; attempt++) {
    await assert.rejects(collect2(runSeeds({}, EIGHT, 4, { workerScript })), /worker failed after seed/);
    // Stopping at the first report (a caught mutant) while the workers fail behind it (or a
    // worker's error comes in before seed 1's report does: then that is the sweep's end).
    try {
      for await (const r of runSeeds({}, EIGHT, 2, { workerScript })) if (r.seed === 1) break;
    } catch (err) {
      assert.match((err as Error).message, /worker failed after seed [12]$/);
    }
  }
  // Late errors are delivered on later turns of the event loop.
  await new Promise((resolve) => setTimeout(resolve, 100));
});

it('a worker that exits with code 0 while seeds remain fails the sweep (no wait for seeds that never come)', { timeout: 60_000 }, async () => {
  const workerScript = new URL('./fixtures/exiting-seed-worker.js', import.meta.url);
  await assert.rejects(collect2(runSeeds({}, EIGHT, 2, { workerScript })), /a simulation worker exited/);
});
