/**
 * The seed pool: seeds run on worker threads give the runs they give on the main thread, in seed
 * order; a run's error surfaces at its seed's turn; stopping early stops the workers.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runSeeds, type SeedResult } from '../../src/sim/seed-pool.js';
import type { SimOptions } from '../../src/sim/options.js';

const SHORT: Partial<SimOptions> = { faultWindowMs: 600, livenessBoundMs: 1_200 };

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
