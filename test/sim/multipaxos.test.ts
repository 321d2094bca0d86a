/**
 * The simulator over Multi-Paxos: the same runs, faults and checks as Raft's, plus Paxos's own
 * invariants (PaxosMonitor: no two values chosen for a slot, a chosen value never replaced,
 * acceptors never below their promise, acceptances durable). Every failure names its seed:
 * `quorate sim --protocol multipaxos --seeds N --trace` replays it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAXOS_MUTANTS } from '../../src/protocols/paxos/index.js';
import { failed, runSeed } from '../../src/sim/run.js';

/** Correct Multi-Paxos passes this range with every fault; each mutant fails within it. */
export const MULTIPAXOS_SEEDS = { from: 1, to: 60 };

test(`multipaxos survives seeds ${MULTIPAXOS_SEEDS.from}..${MULTIPAXOS_SEEDS.to} with all faults (partition, crash, drop, skew, disk, pause): safe, live, linearizable`, () => {
  for (let seed = MULTIPAXOS_SEEDS.from; seed <= MULTIPAXOS_SEEDS.to; seed++) {
    const r = runSeed({ protocol: 'multipaxos', seed });
    assert.ok(!failed(r), `seed ${seed}: ${JSON.stringify(r.outcome)} ${r.linearizability} ${r.checkMessage}`);
    assert.ok(r.stats.faultsInjected > 3, `seed ${seed} injected faults`);
    assert.ok(r.history.length > 100, `seed ${seed} ran a workload`);
  }
});

test('multipaxos: the same seed gives the same run', () => {
  const a = runSeed({ protocol: 'multipaxos', seed: 7, faultWindowMs: 2000, livenessBoundMs: 2000 });
  const b = runSeed({ protocol: 'multipaxos', seed: 7, faultWindowMs: 2000, livenessBoundMs: 2000 });
  assert.equal(a.traceHash, b.traceHash);
});

/** What each mutant must be caught by (the first failing seed's invariant). */
const CAUGHT_BY: Record<string, RegExp> = {
  'ignore-prior-accepted': /chosen value is never replaced|no two values chosen|protocol assertion|state machine safety/,
  'accept-before-persist': /acceptances are durable|chosen value is never replaced|no two values chosen/,
};

for (const m of PAXOS_MUTANTS) {
  test(`mutant ${m.name} is caught by the simulator within seeds ${MULTIPAXOS_SEEDS.from}..${MULTIPAXOS_SEEDS.to}`, () => {
    for (let seed = MULTIPAXOS_SEEDS.from; seed <= MULTIPAXOS_SEEDS.to; seed++) {
      const r = runSeed({ protocol: 'multipaxos', seed, mutant: m.name });
      if (!failed(r)) continue;
      assert.equal(r.outcome.kind, 'safety', `seed ${seed}: caught as ${JSON.stringify(r.outcome)}`);
      if (r.outcome.kind === 'safety') assert.match(`${r.outcome.invariant}: ${r.outcome.message}`, CAUGHT_BY[m.name]!);
      return;
    }
    assert.fail(`mutant ${m.name} survived seeds ${MULTIPAXOS_SEEDS.from}..${MULTIPAXOS_SEEDS.to}`);
  });
}

for (const [q1, q2] of [[4, 2], [2, 4]] as const) {
  test(`multipaxos with flexible quorums |Q1| = ${q1}, |Q2| = ${q2} of 5 survives seeds 1..30 with all faults (the monitor judges "chosen" by |Q2|)`, () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = runSeed({ protocol: 'multipaxos', seed, protocolOptions: { phase1QuorumSize: q1, phase2QuorumSize: q2 } });
      assert.ok(!failed(r), `seed ${seed}: ${JSON.stringify(r.outcome)} ${r.linearizability} ${r.checkMessage}`);
    }
  });
}
