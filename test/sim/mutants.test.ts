/**
 * Every mutant — each protocol's, the shared driver's and the storage's — is caught by the
 * simulator on its own faults and adversaries (not by a test aimed at it).
 *
 * Each mutant's first catching seed (searched from 1 with `quorate sim --mutant M --seeds 1..N`)
 * is pinned below, and the test runs only that seed twice: with the mutant it must fail, without
 * it the very same seed must pass. A "catch" that is the simulator tripping over itself, or a
 * seed that fails on the shipped code too, is thereby not a catch. When the simulator changes,
 * seeds move: search again (QUORATE_MUTANT_SEARCH=1 runs the search, printing the new table).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byzantineBehaviours, mutantsOf } from '../../src/cli/commands/sim.js';
import { protocolByName } from '../../src/protocols/registry.js';
import type { SimOptions } from '../../src/sim/options.js';
import { failed, runSeed } from '../../src/sim/run.js';

/** A pinned catch must lie within these seeds: a mutant the lab finds only after more is a hole in the lab. */
const MAX_SEED = 600;

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
    'tick-by-timer': 'it serves no read from a lease: every read takes a round of the acceptors, so a clock behind costs only time',
  },
  pbft: {
    'tick-by-timer': 'it serves no read from a lease (read-only requests need a quorum of replies), so a clock behind costs only time',
  },
};

interface Catch {
  readonly seed: number;
  /** Configuration the mutant needs (the simulator's own faults and adversaries still do the catching). */
  readonly options?: Partial<SimOptions>;
}

/** Lease reads are one of Raft's configurations; the mutants of the lease are caught in it. */
const LEASE: Partial<SimOptions> = { protocolOptions: { readOnly: 'lease-based', checkQuorum: true } };

const CATCHES: Record<string, Record<string, Catch>> = {
  raft: {
    'commit-old-term': { seed: 42 },
    'vote-before-persist': { seed: 178 },
    'snapshot-off-by-one': { seed: 2 },
    'reset-timer-wrongly': { seed: 1 },
    'apply-twice': { seed: 1 },
    'accept-any-vote': { seed: 1 },
    'stale-read': { seed: 3 },
    'no-noop': { seed: 1 },
    'stalled-window': { seed: 5 },
    'limit-internal-entries': { seed: 1 },
    'lease-outlives-quorum': { seed: 12, options: LEASE },
    'resend-snapshot-chunks': { seed: 3 },
    'keep-tail-after-snapshot': { seed: 201 },
    'ack-before-fsync': { seed: 1 },
    'apply-before-snapshot-persist': { seed: 4 },
    'tick-by-timer': { seed: 228 },
    'skip-dir-fsync': { seed: 6 },
    'ignore-checksum': { seed: 20 },
  },
  multipaxos: {
    'ignore-prior-accepted': { seed: 1 },
    'accept-before-persist': { seed: 1 },
    'count-listed-acks-only': { seed: 407 },
    'ack-before-fsync': { seed: 1 },
    'skip-dir-fsync': { seed: 1 },
    'ignore-checksum': { seed: 14 },
  },
  pbft: {
    'skip-authentication': { seed: 11 },
    'no-prepare-phase': { seed: 2 },
    'execute-when-prepared': { seed: 10 },
    'forget-on-restart': { seed: 1 },
    'trust-new-view-batches': { seed: 3 },
    'execute-duplicates': { seed: 1 },
    // A read quorum of 2f + 1 is the replicas' quorum at N = 3f + 1, and smaller only when N is not (6: 3 against 4).
    'small-read-quorum': { seed: 239, options: { nodes: 6 } },
    'ack-before-fsync': { seed: 44 },
    'apply-before-snapshot-persist': { seed: 44 },
    'checkpoint-after-records': { seed: 18 },
    'skip-dir-fsync': { seed: 1 },
    'ignore-checksum': { seed: 0 },
  },
};

const NODES: Record<string, number> = { raft: 5, multipaxos: 5, pbft: 4 };

/** Byzantine protocols run with every behaviour of their adversary, as `quorate sim` does by default. */
function byzantine(protocol: string): { byzantine?: Set<string> } {
  const p = protocolByName(protocol);
  return p.faultModel === 'byzantine' ? { byzantine: new Set(byzantineBehaviours(p).map((b) => b.name)) } : {};
}

/** A failure of the simulator's own code (no member named) is no catch. */
function simulatorTripped(r: ReturnType<typeof runSeed>): boolean {
  return r.outcome.kind === 'safety' && r.outcome.invariant === 'assertion' && !/^(assertion: )?n\d+:/.test(r.outcome.message);
}

function describeOutcome(r: ReturnType<typeof runSeed>): string {
  return r.outcome.kind === 'ok' ? `ok, ${r.linearizability}` : `${r.outcome.kind}: ${r.outcome.message}`;
}

describe('the simulator catches every mutant', () => {
  for (const protocol of Object.keys(NODES)) {
    const base = { protocol, nodes: NODES[protocol]!, ...byzantine(protocol) };
    it(`${protocol}: every mutant is pinned or explained`, () => {
      for (const m of mutantsOf(protocolByName(protocol))) {
        const pinned = CATCHES[protocol]?.[m.name] !== undefined;
        const explained = WITHOUT_EFFECT[protocol]?.[m.name] !== undefined;
        assert.ok(pinned !== explained, `${protocol} mutant ${m.name}: ${pinned ? 'both pinned and said to be without effect' : 'neither pinned nor explained'}`);
      }
    });
    for (const m of mutantsOf(protocolByName(protocol))) {
      const c = CATCHES[protocol]?.[m.name];
      if (c === undefined) continue;
      if (process.env['QUORATE_MUTANT_SEARCH'] === '1') {
        it(`${protocol} ${m.name}: search seeds 1..${MAX_SEED}`, () => {
          for (let seed = 1; seed <= MAX_SEED; seed++) {
            const r = runSeed({ ...base, ...c.options, seed, mutant: m.name });
            if (!failed(r) || simulatorTripped(r) || failed(runSeed({ ...base, ...c.options, seed }))) continue;
            console.log(`    '${m.name}': { seed: ${seed} },`);
            return;
          }
          assert.fail(`mutant ${m.name} survived seeds 1..${MAX_SEED} of ${protocol}`);
        });
        continue;
      }
      it(`${protocol} ${m.name}: caught at seed ${c.seed}, which the shipped code passes`, () => {
        assert.ok(c.seed >= 1 && c.seed <= MAX_SEED, `pinned seed ${c.seed} lies within 1..${MAX_SEED}`);
        const caught = runSeed({ ...base, ...c.options, seed: c.seed, mutant: m.name });
        assert.ok(failed(caught), `mutant ${m.name} survived seed ${c.seed}`);
        assert.ok(!simulatorTripped(caught), `seed ${c.seed} failed in the simulator, not in the mutant: ${describeOutcome(caught)}`);
        const clean = runSeed({ ...base, ...c.options, seed: c.seed });
        assert.ok(!failed(clean), `seed ${c.seed} fails without the mutant too: ${describeOutcome(clean)}`);
      });
    }
  }
});
