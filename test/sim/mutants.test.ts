/**
 * Every mutant — each protocol's, the shared driver's and the storage's — is caught by the
 * simulator on its own faults and adversaries (not by a test aimed at it), within the seeds
 * named here: a bug put back into the shipped code is a bug the lab finds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byzantineBehaviours, mutantsOf } from '../../src/cli/commands/sim.js';
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
/**
 * Mutants that only matter at other cluster sizes: a read quorum of 2f + 1 is the replicas'
 * quorum at N = 3f + 1, and smaller than it only when N is not (6: 3 against 4).
 */
const NODES_FOR: Record<string, Record<string, number>> = { pbft: { 'small-read-quorum': 6 } };

/** Byzantine protocols run with every behaviour of their adversary, as `quorate sim` does by default. */
function byzantine(protocol: string): { byzantine?: Set<string> } {
  const p = protocolByName(protocol);
  return p.faultModel === 'byzantine' ? { byzantine: new Set(byzantineBehaviours(p).map((b) => b.name)) } : {};
}

describe('the simulator catches every mutant', () => {
  for (const protocol of Object.keys(NODES)) {
    for (const m of mutantsOf(protocolByName(protocol))) {
      const why = WITHOUT_EFFECT[protocol]?.[m.name];
      if (why !== undefined) continue;
      const nodes = NODES_FOR[protocol]?.[m.name] ?? NODES[protocol]!;
      it(`${protocol} ${m.name}: caught within seeds 1..${SEEDS}, all faults, ${nodes} members`, () => {
        for (let seed = 1; seed <= SEEDS; seed++) {
          const r = runSeed({ protocol, nodes, seed, mutant: m.name, ...byzantine(protocol) });
          if (failed(r)) return;
        }
        assert.fail(`mutant ${m.name} survived seeds 1..${SEEDS} of ${protocol}`);
      });
    }
  }
});
