/**
 * Single-decree Paxos properties that are not scenarios: the order of ballots, and safety under
 * random interleavings of duelling proposers (driven through the interaction environment, whose
 * learner records a second chosen value as a violation).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../../src/core/prng.js';
import { makeBallot } from '../../../src/protocols/paxos/index.js';
import { commandDirective } from '../interaction/datadriven.js';
import { environment } from '../interaction/run-testdata.js';
import { DecreeAdapter } from './decree-interaction.js';

test('ballots are (counter, node) ordered lexicographically: distinct per proposer, and there is always a higher one', () => {
  assert.ok(makeBallot(1, 2) > makeBallot(1, 1));
  assert.ok(makeBallot(2, 1) > makeBallot(1, 999));
  assert.notEqual(makeBallot(3, 1), makeBallot(3, 2));
});

const SEEDS = 200;
const STEPS = 300;

test(`duelling proposers under random interleavings and loss: never two values chosen (seeds 1-${SEEDS})`, () => {
  let decided = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const rng = new Prng(seed);
    const adapter = new DecreeAdapter();
    const env = environment(adapter);
    const cluster = commandDirective('cluster a1 a2 a3 p1 p2 p3', 1);
    env.run({ ...cluster, input: ['p1 value=x', 'p2 value=y', 'p3 value=z'] });
    const proposers = ['p1', 'p2', 'p3'].map((p) => env.node(p));
    env.out.level = 'none';
    for (let step = 0; step < STEPS; step++) {
      const inFlight = env.network.take({ from: new Set(), to: new Set(), types: new Set(), notTypes: new Set() });
      if (inFlight.length === 0 || rng.chance(0.1)) {
        for (const m of inFlight) env.network.inject(m);
        const p = rng.pick(proposers);
        env.adapter.campaign!(p.live());
        env.processReady(p);
        continue;
      }
      const [m] = inFlight.splice(rng.int(0, inFlight.length - 1), 1);
      for (const rest of inFlight) env.network.inject(rest);
      if (m === undefined || rng.chance(0.2)) continue; // lost
      env.deliver(m, 'drops');
      env.processReady(env.node(m.to));
    }
    env.out.take();
    assert.deepEqual(env.safety.all(), [], `seed ${seed}`);
    if (adapter.chosen() !== undefined) decided++;
  }
  assert.ok(decided > 20, `some runs decide (${decided} of ${SEEDS}), so the check above is not vacuous`);
});
