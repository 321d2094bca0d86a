/**
 * Election safety (Figure 3: at most one leader per term) under random message loss, delay and
 * ticks: not a scenario but a property over seeds, driven through the same interaction
 * environment (whose checks record any violation) instead of a script.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../../src/core/prng.js';
import { commandDirective } from '../interaction/datadriven.js';
import { environment } from '../interaction/run-testdata.js';
import { RaftAdapter } from './interaction.js';

const SEEDS = 30;
const STEPS_PER_SEED = 400;

test(`election safety: never two leaders in one term, under random loss, delay and ticks (seeds 1-${SEEDS})`, () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    const env = environment(new RaftAdapter());
    env.run(commandDirective(`cluster n1 n2 n3 n4 n5 seed=${seed}`, 1));
    const nodes = [...env.nodes.values()];
    const r = new Prng(seed * 7919);
    for (let step = 0; step < STEPS_PER_SEED; step++) {
      env.out.level = 'none';
      const n = r.pick(nodes);
      n.live().tick();
      env.observe(n);
      for (const x of nodes) env.processReady(x);
      // Deliver a random part of what is in flight, lose some, and keep the rest for later.
      for (const m of env.network.take({ from: new Set(), to: new Set(), types: new Set(), notTypes: new Set() })) {
        const roll = r.float();
        if (roll < 0.15) continue;
        if (roll < 0.35) env.network.inject(m);
        else env.deliver(m, 'drops');
      }
      for (const x of nodes) env.processReady(x);
      env.out.take();
    }
    assert.deepEqual(env.safety.all(), [], `seed ${seed}: no violation`);
    assert.ok(env.safety.leaderTerms() > 0, `seed ${seed}: some leader was elected, so the check is not vacuous`);
  }
});
