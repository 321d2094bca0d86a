/**
 * The simulator's stale-leader scenario (src/sim/stale-leader.ts): a leader cut off while it holds
 * entries nobody else has comes back to a cluster that compacted past where their logs part, and
 * catches up by a snapshot laid over its stale tail. Raft, seeds 1..20, partition and crash faults,
 * short runs.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseFaults } from '../../src/sim/options.js';
import { failed, runSeed, type SeedReport } from '../../src/sim/run.js';

const OPTIONS = { protocol: 'raft', faults: parseFaults('partition,crash'), faultWindowMs: 4_000, livenessBoundMs: 3_000 } as const;
const SEEDS = 20;

const describeRun = (r: SeedReport): string => `${JSON.stringify(r.outcome)} ${r.linearizability} ${r.checkMessage}`;

/**
 * The scenario played whole in a trace: a cut, the new leader's snapshot, the heal after it, then
 * a member of the cut side sent that leader's snapshot. The line of that delivery, or null.
 */
function returnBySnapshot(trace: readonly string[]): string | null {
  for (let i = 0; i < trace.length; i++) {
    const cut = /stale-leader: cut ([\w,]+) \|/.exec(trace[i]!);
    if (cut === null) continue;
    const side = cut[1]!.split(',');
    const end = trace.findIndex((l, k) => k > i && /stale-leader: (heal|cut)/.test(l));
    if (end < 0 || !trace[end]!.includes('heal (after the snapshot)')) continue;
    const defrag = trace.slice(i, end).map((l) => /stale-leader: defragment (\w+)/.exec(l)).find((m) => m !== null);
    if (defrag === undefined || defrag === null) continue;
    const install = trace.slice(end).find((l) => side.some((m) => l.includes(`deliver snapshot ${defrag[1]!}>${m}`)));
    if (install !== undefined) return install.trim();
  }
  return null;
}

it(`raft, seeds 1..${SEEDS}, partition and crash faults: some run plays the stale-leader scenario whole (cut while ahead, the new leader snapshots after its first commit, heal, the cut side catches up by that snapshot), and every run passes`, () => {
  const played: string[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = runSeed({ ...OPTIONS, seed, trace: true });
    assert.ok(!failed(r), `seed ${seed}: ${describeRun(r)}`);
    const install = returnBySnapshot(r.trace);
    if (install !== null) played.push(`seed ${seed}: ${install}`);
  }
  assert.ok(played.length > 0, 'no run played the scenario to its end');
});

it(`raft, seeds 1..${SEEDS}: the keep-tail-after-snapshot mutant (a snapshot installed over a longer stale log leaves the tail on disk) fails a run: a member restarted right after the install finds its stale tail after the snapshot`, () => {
  const caught: number[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = runSeed({ ...OPTIONS, seed, mutant: 'keep-tail-after-snapshot' });
    if (failed(r)) {
      assert.match(describeRun(r), /restored log's term falls/, `seed ${seed}`);
      caught.push(seed);
    }
  }
  assert.ok(caught.length > 0, `the mutant survived seeds 1..${SEEDS}`);
});

it('raft, 2 members, partition faults, seeds 4 and 10: the scenario is not played where the leader alone is no minority (it tripped its own minority assertion, reported as a safety violation)', () => {
  for (const seed of [4, 10]) {
    const r = runSeed({ protocol: 'raft', nodes: 2, faults: parseFaults('partition'), seed });
    assert.ok(!failed(r), `seed ${seed}: ${describeRun(r)}`);
  }
});
