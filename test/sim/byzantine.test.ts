/**
 * The Byzantine lab (on PBFT, the registry's Byzantine protocol). Seeds, faults and behaviours are
 * named in each test. Runs are short (2 s of faults, then 4 s to show liveness) so that the suite
 * stays quick; the 2,000-seed figures in the README come from `quorate sim --protocol pbft`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byzantineBehaviours } from '../../src/cli/commands/sim.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { parseByzantine, parseFaults } from '../../src/sim/options.js';
import { failed, runSeed, type SeedReport } from '../../src/sim/run.js';

const SHORT = { faultWindowMs: 2_000, livenessBoundMs: 4_000 };
const pbft = protocolByName('pbft');
const BEHAVIOURS = byzantineBehaviours(pbft).map((b) => b.name);

function run(nodes: number, seed: number, byzantine: string, extra: { byzantineCount?: number; mutant?: string; byzantineIds?: string[]; faults?: string } = {}): SeedReport {
  const { faults = 'all', ...rest } = extra;
  return runSeed({ protocol: 'pbft', nodes, seed, faults: parseFaults(faults), byzantine: parseByzantine(byzantine, BEHAVIOURS), ...SHORT, ...rest });
}

const outcome = (r: SeedReport): string => `${r.outcome.kind} ${'message' in r.outcome ? r.outcome.message : ''} ${r.linearizability}`;

describe('PBFT with f Byzantine replicas is safe, live and linearizable', () => {
  it('N = 7, f = 2, every behaviour, seeds 1..3, all faults', () => {
    for (let seed = 1; seed <= 3; seed++) {
      const r = run(7, seed, 'all');
      assert.ok(!failed(r), `seed ${seed}: ${outcome(r)}`);
    }
  });

  it('N = 5, f = 1 (quorums of 4, not 2f + 1 = 3): an equivocating primary, seeds 1..4', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const r = run(5, seed, 'equivocate', { byzantineIds: ['n1'] });
      assert.ok(!failed(r), `seed ${seed}: ${outcome(r)}`);
    }
  });

  for (const kind of BEHAVIOURS) {
    it(`N = 4, a Byzantine first primary that does only '${kind}', seeds 1..2`, () => {
      for (let seed = 1; seed <= 2; seed++) {
        const r = run(4, seed, kind, { byzantineIds: ['n1'] });
        assert.ok(!failed(r), `seed ${seed}: ${outcome(r)}`);
      }
    });
  }

  it('forgeries are refused and counted', () => {
    const r = run(4, 1, 'forge', { byzantineIds: ['n2'] });
    assert.equal(r.outcome.kind, 'ok', outcome(r));
    assert.ok((r.stats.counters['invalidAuthenticators'] ?? 0) > 0, 'honest replicas refused forged authenticators');
  });

  it('twins: two copies of the liar with its keys, on both sides of partitions, break nothing (seeds 1..6)', () => {
    let twinned = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const r = run(4, seed, 'twins', { faults: 'partition,drop' });
      assert.ok(!failed(r), `seed ${seed}: ${outcome(r)}`);
      twinned += r.stats.twins;
    }
    assert.ok(twinned > 0, 'some runs twinned their liar');
  });
});

describe('PBFT with f + 1 Byzantine replicas: the simulator shows the violation', () => {
  it('N = 4, two colluding equivocators (the primary n1 and n2): honest replicas execute different requests at one sequence number (seeds 1..3)', () => {
    const outcomes = [1, 2, 3].map((seed) => run(4, seed, 'equivocate', { byzantineCount: 2, byzantineIds: ['n1', 'n2'], faults: 'none' }));
    assert.ok(outcomes.some((r) => r.outcome.kind === 'safety'), outcomes.map(outcome).join('; '));
  });

  it('N = 4, two replicas agreeing on a wrong reply: a client accepts a result no honest replica produced (seeds 1..3)', () => {
    const outcomes = [1, 2, 3].map((seed) => run(4, seed, 'wrong-reply', { byzantineCount: 2, byzantineIds: ['n3', 'n4'], faults: 'none' }));
    const forged = outcomes.find((r) => r.outcome.kind === 'safety');
    assert.ok(forged !== undefined, outcomes.map(outcome).join('; '));
    assert.match(outcome(forged), /no honest replica produced/);
  });

  it('N = 7, three liars (f + 1) with every behaviour: seeds 1..5 contain a violation; the same seeds with two (f) are clean', () => {
    let violations = 0;
    for (let seed = 1; seed <= 5; seed++) {
      if (failed(run(7, seed, 'all', { byzantineCount: 3 }))) violations++;
      const withF = run(7, seed, 'all', { byzantineCount: 2 });
      assert.ok(!failed(withF), `seed ${seed} with f liars: ${outcome(withF)}`);
    }
    assert.ok(violations > 0, 'f + 1 liars broke at least one run');
  });
});
