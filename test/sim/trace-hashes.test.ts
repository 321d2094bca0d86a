/**
 * A few simulator runs have their trace hash pinned (trace-hashes.json): a change to the driver,
 * the storage, a core or the simulator that changes behaviour shows here, on purpose or not. After
 * an intended change, regenerate with `REWRITE=1 node --test dist/test/sim/trace-hashes.test.js`
 * and say in the commit why the runs changed.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { runSeed } from '../../src/sim/run.js';

/** The pinned runs: short, so this stays quick. */
const RUNS = [
  { protocol: 'raft', nodes: 5, seed: 1 },
  { protocol: 'raft', nodes: 3, seed: 2 },
  { protocol: 'multipaxos', nodes: 5, seed: 1 },
  { protocol: 'pbft', nodes: 4, seed: 1 },
  { protocol: 'raft', nodes: 5, seed: 3, stateMachine: 'etcd' as const },
  // A liar: follow-laggard holds messages back from its core and releases them later, an order
  // nothing else pins (the pbft run above has no liars).
  { protocol: 'pbft', nodes: 6, seed: 2, byzantine: 'follow-laggard' },
  { protocol: 'vr', nodes: 5, seed: 1 },
];
const SHORT = { faultWindowMs: 1_500, livenessBoundMs: 1_500 };

/** The JSON file beside this test's source (not its compiled copy). */
const FILE = fileURLToPath(new URL('../../../test/sim/trace-hashes.json', import.meta.url));

const key = (r: (typeof RUNS)[number]): string =>
  `${r.protocol} nodes=${r.nodes} seed=${r.seed}${'stateMachine' in r ? ` ${r.stateMachine}` : ''}${'byzantine' in r ? ` byzantine=${r.byzantine}` : ''}`;

/** The run's options: a Byzantine run names its liars' behaviours. */
const optionsOf = (r: (typeof RUNS)[number]) => {
  const { byzantine, ...rest } = r as (typeof RUNS)[number] & { byzantine?: string };
  return byzantine === undefined ? rest : { ...rest, byzantine: new Set([byzantine]) };
};

it('pinned simulator runs keep their trace hashes', () => {
  const observed: Record<string, string> = {};
  for (const r of RUNS) observed[key(r)] = runSeed({ ...optionsOf(r), ...SHORT }).traceHash;
  if (process.env['REWRITE'] === '1') {
    writeFileSync(FILE, `${JSON.stringify(observed, null, 2)}\n`);
    return;
  }
  const pinned = JSON.parse(readFileSync(FILE, 'utf8')) as Record<string, string>;
  assert.deepEqual(observed, pinned, 'a pinned run changed behaviour; if intended, rewrite with REWRITE=1 and say why');
});

it('largeWrites set to what a run draws leaves the run unchanged: the option never shifts the buggify stream', () => {
  // bench/sim.ts fixes the workload with largeWrites; the draw happens either way, so every later
  // buggify choice (and the trace) is the run's own. Seeds 1 and 2 draw differently (one each way).
  for (const seed of [1, 2]) {
    const options = { protocol: 'raft', nodes: 3, seed, ...SHORT };
    const drawn = runSeed(options).traceHash;
    const set = [true, false].map((largeWrites) => runSeed({ ...options, largeWrites }).traceHash);
    assert.ok(set.includes(drawn), `seed ${seed}: the unset run (${drawn}) is one of the set runs: ${set.join(', ')}`);
    assert.notEqual(set[0], set[1], `seed ${seed}: the option changes the workload`);
  }
});
