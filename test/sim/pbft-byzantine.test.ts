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
import type { BftRunStats } from '../../src/sim/bft-simulation.js';

const crashesIn = (r: SeedReport): number => (r as SeedReport & { bft: BftRunStats }).bft.crashes;

const SHORT = { faultWindowMs: 2_000, livenessBoundMs: 4_000 };

function run(nodes: number, seed: number, byzantine: string, extra: { byzantineCount?: number; mutant?: string; byzantineIds?: string[]; faults?: string } = {}): SeedReport {
  const { faults = 'all', ...rest } = extra;
  return runSeed({ protocol: 'pbft', nodes, seed, faults: parseFaults(faults), byzantine: parseByzantine(byzantine), ...SHORT, ...rest } as Parameters<typeof runSeed>[0]);
}

/** The network's faults without crashes: what the view-change mutants are aimed at (and the seeds below were found with). */
const NETWORK_FAULTS = 'partition,drop,skew,pause';

describe('PBFT with f Byzantine replicas is safe, live and linearizable', () => {
  it('N = 4, f = 1, every behaviour, seeds 1..12, all faults (crashes and torn writes included)', () => {
    let crashes = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const r = run(4, seed, 'all');
      assert.ok(!failed(r), `seed ${seed}: ${r.outcome.kind} ${'message' in r.outcome ? r.outcome.message : ''} ${r.linearizability}`);
      crashes += crashesIn(r);
    }
    assert.ok(crashes >= 12, `honest replicas crashed and restarted from their disks (${crashes} times)`);
  });

  it('N = 7, f = 2, every behaviour, seeds 1..4, all faults (crashes and torn writes included)', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const r = run(7, seed, 'all');
      assert.ok(!failed(r), `seed ${seed}: ${r.outcome.kind} ${'message' in r.outcome ? r.outcome.message : ''} ${r.linearizability}`);
    }
  });

  it('N = 5, f = 1 (quorums of 4, not 2f + 1 = 3): an equivocating primary, seeds 1..6', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = run(5, seed, 'equivocate', { byzantineIds: ['n1'] });
      assert.ok(!failed(r), `seed ${seed}: ${r.outcome.kind} ${'message' in r.outcome ? r.outcome.message : ''}`);
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
  /** Seeds in 1..last whose run ends in a safety violation, with what each one saw. */
  function caughtIn(last: number, byzantine: string, mutant: string, faults = NETWORK_FAULTS): { seeds: number[]; messages: string[] } {
    const seeds: number[] = [];
    const messages: string[] = [];
    for (let seed = 1; seed <= last; seed++) {
      const r = run(4, seed, byzantine, { mutant, faults });
      if (r.outcome.kind !== 'safety') continue;
      seeds.push(seed);
      messages.push(r.outcome.message);
    }
    return { seeds, messages };
  }

  /** Honest replicas (or one honest replica across views) put different requests at one sequence number. */
  const DIVERGED = /NEW-VIEW \d+ re-issues sequence \d+ with \w+, but \w+ committed there|sequence \d+ committed \w+ in view \d+, now \w+ in view \d+|executed .* at sequence \d+, another honest replica executed/;

  it('skip-authentication is caught by a forger within seeds 1..6 (a safety violation)', () => {
    const { seeds } = caughtIn(6, 'forge', 'skip-authentication');
    assert.ok(seeds.length > 0, 'no seed of 1..6 caught skip-authentication');
  });

  // An equivocating primary tells the next view's primary a different story, votes for both
  // with its commit, and falls quiet: the view change that follows must find what committed.
  it('no-prepare-phase is caught by an equivocating primary within seeds 1..10: a request committed in view 0 is re-issued differently by the NEW-VIEW', () => {
    const { seeds, messages } = caughtIn(10, 'equivocate', 'no-prepare-phase');
    assert.ok(seeds.length > 0, 'no seed of 1..10 caught no-prepare-phase');
    for (const m of messages) assert.match(m, DIVERGED);
  });

  // Crashes aimed just after a replica sent its COMMIT: coming back without its disk, it is a
  // second liar beside the equivocating primary.
  it('forget-on-restart is caught with crashes within seeds 1..10: a replica back from a crash with nothing contradicts itself', () => {
    const { seeds, messages } = caughtIn(10, 'equivocate', 'forget-on-restart', 'all');
    assert.ok(seeds.length > 0, 'no seed of 1..10 caught forget-on-restart');
    for (const m of messages) assert.match(m, DIVERGED);
  });

  it('execute-when-prepared is caught by an equivocating primary within seeds 1..20: a request executed once prepared at some replicas is lost in the view change', () => {
    const { seeds, messages } = caughtIn(20, 'equivocate', 'execute-when-prepared');
    assert.ok(seeds.length > 0, 'no seed of 1..20 caught execute-when-prepared');
    for (const m of messages) assert.match(m, DIVERGED);
  });
});
