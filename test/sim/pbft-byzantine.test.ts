/**
 * The Byzantine lab on PBFT. Seeds, faults and behaviours are named in each test. Runs are short
 * (2 s of faults, then 4 s to show liveness) so that the suite stays quick; the 2,000-seed
 * figures in the README come from `quorate sim --protocol pbft`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BYZANTINE_KINDS, parseByzantine } from '../../src/sim/byzantine.js';
import { parseFaults } from '../../src/sim/options.js';
import { failed, runSeed, type SeedReport } from '../../src/sim/run.js';

const SHORT = { faultWindowMs: 2_000, livenessBoundMs: 4_000 };

function run(nodes: number, seed: number, byzantine: string, extra: { byzantineCount?: number; mutant?: string; byzantineIds?: string[] } = {}): SeedReport {
  return runSeed({ protocol: 'pbft', nodes, seed, faults: parseFaults('all'), byzantine: parseByzantine(byzantine), ...SHORT, ...extra } as Parameters<typeof runSeed>[0]);
}

describe('PBFT with f Byzantine replicas is safe, live and linearizable', () => {
  it('N = 4, f = 1, every behaviour, seeds 1..12, all network faults', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = run(4, seed, 'all');
      assert.ok(!failed(r), `seed ${seed}: ${r.outcome.kind} ${'message' in r.outcome ? r.outcome.message : ''} ${r.linearizability}`);
    }
  });

  it('N = 7, f = 2, every behaviour, seeds 1..4, all network faults', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const r = run(7, seed, 'all');
      assert.ok(!failed(r), `seed ${seed}: ${r.outcome.kind} ${'message' in r.outcome ? r.outcome.message : ''} ${r.linearizability}`);
    }
  });

  for (const kind of BYZANTINE_KINDS) {
    it(`N = 4, a Byzantine primary that does only '${kind}', seeds 1..2`, () => {
      for (let seed = 1; seed <= 2; seed++) {
        const r = run(4, seed, kind, { byzantineIds: ['n1'] });
        assert.ok(!failed(r), `seed ${seed}: ${r.outcome.kind} ${'message' in r.outcome ? r.outcome.message : ''}`);
      }
    });
  }

  it('forgeries are refused and counted', () => {
    const r = run(4, 1, 'forge', { byzantineIds: ['n2'] });
    assert.equal(r.outcome.kind, 'ok');
    assert.ok((r as SeedReport & { bft: { invalidAuthenticators: number } }).bft.invalidAuthenticators > 0);
  });
});

describe('PBFT with f + 1 Byzantine replicas: the simulator shows the violation', () => {
  it('N = 4, two colluding equivocators (the primary n1 and n2): honest replicas execute different requests at one sequence number (seed 1)', () => {
    const r = run(4, 1, 'equivocate', { byzantineCount: 2, byzantineIds: ['n1', 'n2'] });
    assert.equal(r.outcome.kind, 'safety');
    assert.match(r.outcome.kind === 'safety' ? r.outcome.message : '', /executed .* at sequence \d+, another honest replica executed/);
  });

  it('N = 4, two replicas agreeing on a wrong reply: a client accepts a result no honest replica produced (seed 1)', () => {
    const r = run(4, 1, 'wrong-reply', { byzantineCount: 2, byzantineIds: ['n3', 'n4'] });
    assert.equal(r.outcome.kind, 'safety');
    assert.match(r.outcome.kind === 'safety' ? r.outcome.message : '', /no honest replica produced/);
  });

  it('N = 7, three liars (f + 1) with every behaviour: seeds 1..5 contain a violation; the same seeds with two (f) are clean', () => {
    let violations = 0;
    for (let seed = 1; seed <= 5; seed++) {
      if (run(7, seed, 'all', { byzantineCount: 3 }).outcome.kind !== 'ok') violations++;
      const withF = run(7, seed, 'all', { byzantineCount: 2 });
      assert.ok(!failed(withF), `seed ${seed} with f liars: ${withF.outcome.kind}`);
    }
    assert.ok(violations > 0, 'f + 1 liars broke at least one run');
  });
});

describe('PBFT mutants in the simulator', () => {
  it('skip-authentication is caught by a forger: seeds 1, 3, 5 and 6 of 1..6 end in a safety violation', () => {
    const caught = [1, 2, 3, 4, 5, 6].filter((seed) => run(4, seed, 'forge', { mutant: 'skip-authentication' }).outcome.kind === 'safety');
    assert.deepEqual(caught, [1, 3, 5, 6]);
  });
});
