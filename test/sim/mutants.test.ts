/**
 * Every mutant — each protocol's, the shared driver's and the storage's — is caught by the
 * simulator on its own faults and adversaries (not by a test aimed at it), within the seeds
 * named here: a bug put back into the shipped code is a bug the lab finds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mutantsOf } from '../../src/cli/commands/sim.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { failed, runSeed } from '../../src/sim/run.js';

/** Seeds within which the simulator must catch each mutant (`quorate sim --mutant M --seeds 1..300` exits 1). */
const SEEDS = 300;

/**
 * Shared mutants that cannot harm a protocol, and why: the simulator runs them too, but a clean
 * run is then the right answer.
 */
const WITHOUT_EFFECT: Record<string, Record<string, string>> = {
  raft: {
    'checkpoint-after-records': 'the driver takes its own snapshots after the Ready: no Ready asks it to keep one',
  },
  multipaxos: {
    'apply-before-snapshot-persist': 'its commit point is volatile: a snapshot written apart from the slots cannot leave a commit index beyond the log',
    'checkpoint-after-records': 'the driver takes its own snapshots after the Ready: no Ready asks it to keep one',
  },
  pbft: {
    'apply-before-snapshot-persist': 'it has no durable commit index: a transferred checkpoint written apart from the slots is fetched again',
  },
};

const NODES: Record<string, number> = { raft: 5, multipaxos: 5, pbft: 4 };

describe('the simulator catches every mutant', () => {
  for (const protocol of Object.keys(NODES)) {
    for (const m of mutantsOf(protocolByName(protocol))) {
      const why = WITHOUT_EFFECT[protocol]?.[m.name];
      if (why !== undefined) continue;
      it(`${protocol} ${m.name}: caught within seeds 1..${SEEDS}, all faults`, () => {
        for (let seed = 1; seed <= SEEDS; seed++) {
          const r = runSeed({ protocol, nodes: NODES[protocol]!, seed, mutant: m.name });
          if (failed(r)) return;
        }
        assert.fail(`mutant ${m.name} survived seeds 1..${SEEDS} of ${protocol}`);
      });
    }
  }
});
