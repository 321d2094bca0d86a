/**
 * The simulator replaces members (issue 13): in some runs with admin faults, spares join from a
 * join answer (a member's configuration, with `since` the index it holds at), are promoted,
 * and old voters are removed, stay up for a while as removed members, and stop for good; in some of
 * those every member then loses power at once, before the next snapshot. Which runs replace is
 * drawn from a stream of its own: the trace-hash pins (trace-hashes.test.ts) hold the other runs
 * to what they were.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failed, runSeed, type SeedReport } from '../../src/sim/run.js';

const describeRun = (r: SeedReport): string => `${JSON.stringify(r.outcome)} ${r.linearizability} ${r.checkMessage}`;
/** A client's attempt at a member that is then removed ends (answered or given up) within this. */
const SERVED_AFTER_REMOVAL_MS = 1_000;
const lines = (r: SeedReport, re: RegExp): string[] => r.trace.filter((l) => re.test(l));

describe('runs that replace members (raft and multipaxos, all faults)', () => {
  // Seeds whose runs replace three members of five, each of them then stopped for good (multipaxos
  // 11), or replace them hurried, one step right after the other (multipaxos 176; forget-config-point
  // is caught at 86). Multipaxos 25 powers every member off at once after a
  // replacement (seed 11 did until leaders refused forwarded commands that are no command).
  for (const seed of [11, 176]) {
    it(`multipaxos seed ${seed}: three spares join with since, three old voters are removed and stop for good, and the run passes`, () => {
      const r = runSeed({ protocol: 'multipaxos', nodes: 5, seed, trace: true });
      assert.ok(!failed(r), describeRun(r));
      const joins = lines(r, / joins: voters=/);
      assert.equal(joins.length, 3, joins.join('\n'));
      for (const j of joins) assert.match(j, /since=[1-9]\d*/, 'a joiner is told the answering member\'s applied index');
      assert.equal(lines(r, /stopped for good \(removed\)/).length, 3);
      // Clients move on from a removed member: once what was in flight there is over (a client
      // gives up on an attempt within a second), none is served by it.
      const removals = lines(r, / removed \(stays up for now\)/);
      assert.equal(removals.length, 3);
      for (const line of removals) {
        const key = / (n\d+) removed/.exec(line)![1]!;
        const at = Number(line.trim().split(/\s+/)[0]);
        const later = lines(r, new RegExp(`client \\d+ .* @${key} → ok`)).filter((l) => Number(l.trim().split(/\s+/)[0]) > at + SERVED_AFTER_REMOVAL_MS);
        assert.deepEqual(later, [], `${key} served clients after its removal`);
      }
    });
  }

  it('raft etcd seed 1641: a voter added while its add was given up on joins from a member that applied the add, with no leader to ask, and the run passes', () => {
    // The add-voter n6 commits as its leader loses its quorum (n6 counts towards it and is not up,
    // and two members' disks failed): asking only a leader for the join answer, n6 never started
    // and no leader was elected after the heal. (Seed 175 until a leader's messages left during its
    // saves, 1058 until the storage fsynced the directories above its own and followers answered
    // heartbeats during their saves, which each moved every run; 96 was the first with the story since,
    // until the runs that replace members began to remove first in half their replacements: 1641 has it.)
    const r = runSeed({ protocol: 'raft', nodes: 5, seed: 1641, stateMachine: 'etcd', trace: true });
    assert.equal(lines(r, /gave up on add-voter n6/).length, 1, 'the run gives up on the add');
    assert.equal(lines(r, /n6 joins: voters=\(.*n6/).length, 1, 'n6 joins as a voter');
    assert.ok(!failed(r), describeRun(r));
  });

  it('raft seed 339: a removal the nemesis gave up on commits after all, and the removed member stops as a server would, so the run passes', () => {
    // The removal of an old voter was proposed, its answer lost (the leader stopped), and the
    // retries found a change still being applied: the nemesis gave up while the entry went on to
    // commit. The removed member is no longer sent anything; a server stops itself once it learns
    // it was removed (membership-runtime.ts), and the simulated member does too (in seed 1253 the
    // removed n1, never told, kept campaigning with rising terms and no leader lasted after the heal).
    // (Seed 1253, then 537, until the runs moved: 690 was the first with the story since the simulator crashed members in their first open and cut power in large writes,
    // until the runs that replace members began to remove first in half their replacements; 1304 until appends of an older term were always answered, 339 since. Raft seed 800 has a harder
    // story: a removed member that never learnt of it deposed every leader after the heal, its transports' memory of the removal lost with restarts, until
    // members ignored vote requests from candidates their configuration gives no vote: removed-member-campaigns.txt, mutant votes-from-non-members.)
    const r = runSeed({ protocol: 'raft', nodes: 5, seed: 339, trace: true });
    assert.equal(lines(r, /gave up on remove an old voter/).length, 1, 'the run gives up on the removal');
    assert.equal(lines(r, / was removed after all/).length, 1, 'the removal is seen once it committed');
    assert.equal(lines(r, / stopped for good \(removed\)/).length, 1, 'the removed member stops');
    assert.ok(!failed(r), describeRun(r));
  });

  it('raft seed 139: spares sent the log from slot 1 take snapshots below their since and restart from them, and the run passes', () => {
    // The first members snapshot every 300 entries, the spares every 2: each joiner's snapshots
    // below its since carry the configuration with the index it holds at (snapshot-forgets-since
    // and status-hides-since stop a joiner here on "a learner and a voter").
    // (Seed 86 until the runs moved on the build of 2026-12-07, then 11 until the runs that replace
    // members began to remove first in half their replacements; 139 is the first with the story since.)
    const r = runSeed({ protocol: 'raft', nodes: 5, seed: 139, trace: true });
    assert.equal(lines(r, /spares every 2/).length, 1);
    assert.ok(lines(r, /restarts after its snapshot at \d+, below its since/).length >= 2, 'joiners restarted from snapshots below their since');
    assert.ok(!failed(r), describeRun(r));
  });

  // TODO: seed 804 no longer reaches this story since a leader's messages leave during its saves
  // (takeEarly), and no seed in 1..2,000 does (the mutant ack-beyond-proposed is searched for with
  // this story's assertion). Until a scenario test of that leader replaces it, this test is a todo
  // and the mutant is caught by nothing (mutants.test.ts says so).
  it('multipaxos seed 804: a new leader behind two acceptors\' commit points counts no acknowledgement past what it proposed, and the run passes', { todo: 'the story moved with takeEarly; none in 1..2,000 reaches it' }, () => {
    // n1 restarts at commit point 27, wins with values recovered up to 47, proposes only up to the
    // first configuration entry (40, then 42); n3's Accepted reports match 46 (from its own commit
    // point): counted, n1 committed 46 past its last slot 42 and stopped on an assertion.
    const r = runSeed({ protocol: 'multipaxos', nodes: 5, seed: 804, trace: true });
    assert.ok(!failed(r), describeRun(r));
    // And the seed still reaches that scenario: with the guard switched off (the mutant) the run
    // stops on that assertion. Without this the test would go on passing, and the mutant's note
    // in mutants.test.ts go on naming it, after a simulator change took the seed elsewhere.
    const mutated = runSeed({ protocol: 'multipaxos', nodes: 5, seed: 804, mutant: 'ack-beyond-proposed' });
    assert.ok(mutated.outcome.kind === 'safety' && /beyond the last slot/.test(mutated.outcome.message), describeRun(mutated));
  });

  it('multipaxos seed 1521: a voter proposed before its process starts counts as down in the fault budget, so the disks damaged leave it a quorum, and the run passes', () => {
    // Found at seed 930: n4's disk fails, then add-voter n6 is proposed at n5, which loses power
    // before the answer: the add may be chosen, and n6 cannot start before a member applied it. Not
    // counted, n6 left room for one more damaged disk (n3's): n1, n2 and n5 are three of six voters,
    // no phase 1 of the configuration with n6 could win, so no member applied the add, n6 never
    // started and no leader was elected after the heal. Counted, the next disk fault strikes the
    // damaged member again. (Seed 930 until a leader's messages left during its saves, which moved
    // every run; 3340, then 2765, until the runs moved again; 1521 is the first in 1..4,000 with the story
    // since the simulator crashed members in their first open and cut power in large writes.)
    const r = runSeed({ protocol: 'multipaxos', nodes: 5, seed: 1521, trace: true });
    const join = r.trace.findIndex((l) => / n6 joins: voters=\(.*n6/.test(l));
    assert.ok(join > 0, 'n6 joins as a voter');
    const addedAt = r.trace.findIndex((l) => /nemesis admin n\d: add-voter n6/.test(l));
    assert.ok(addedAt > 0 && addedAt < join, 'n6 is proposed as a voter before it starts');
    const damaged = r.trace.slice(0, join).filter((l) => /nemesis disk n\d: (bit|sector|older)/.test(l)).map((l) => /nemesis disk (n\d)/.exec(l)![1]);
    assert.ok(damaged.length >= 2 && new Set(damaged).size === 1, `the damages before n6 starts strike one member again: ${damaged.join(', ')}`);
    assert.ok(!failed(r), describeRun(r));
  });

  // TODO: seed 282 no longer reaches this story since a leader's messages leave during its saves
  // (takeEarly), and no seed in 1..3,000 does; a todo until one is found or a scenario replaces it.
  it('multipaxos seed 282: with two disks damaged (the budget of five voters), the spare drawn to be added as a voter joins as a learner first, and the run passes', { todo: 'the story moved with takeEarly; none in 1..3,000 reaches it' }, () => {
    // Added as a voter before it starts, n6 would be a third voter down of six.
    const r = runSeed({ protocol: 'multipaxos', nodes: 5, seed: 282, trace: true });
    assert.equal(lines(r, /n6 joins as a learner \(no fault budget left/).length, 1);
    assert.equal(lines(r, /nemesis admin n\d: add-voter n6/).length, 0, 'n6 is never proposed as a voter before it starts');
    assert.equal(lines(r, / n6 joins: voters=\([^)]*\) learners=\(n6\)/).length, 1, 'n6 joins as a learner');
    assert.ok(!failed(r), describeRun(r));
  });

  it('multipaxos seed 25: every member loses power after the last removed one stopped, and a leader is elected again', () => {
    // (Seed 86 until the runs moved on the build of 2026-12-07, then 11 until the runs that replace
    // members began to remove first in half their replacements, then 38 until Multi-Paxos took
    // peerDown (its runs' connection resets moved); 25 is the first with the story since.)
    const r = runSeed({ protocol: 'multipaxos', nodes: 5, seed: 25, trace: true });
    assert.ok(lines(r, /power-loss .* after replacement/).length >= 3, 'the whole cluster lost power');
    assert.ok(!failed(r), describeRun(r));
  });

  // The story moved when the simulator began to crash members in their first open and to cut power
  // in large writes, and no seed in 1..6,000 reaches it since (a voter stopped for good as removed,
  // three power losses after a replacement, a liveness failure with the mutant). A todo until one
  // does; the mutant is caught by config-commit-durable.forget-config-point.txt meanwhile.
  it('raft seed 653: a voter removed and stopped for good, then every member loses power: the commit index made durable past the removal brings them back without it, and a leader is elected', { todo: 'the story moved with the first-open crash and the large-write power loss; none in 1..6,000 reaches it' }, () => {
    // Found as the sweep's liveness failure: the commit index was written only along with something
    // else, so the members came back below the removal, in six voters whose quorum of four needed
    // n3 (removed, stopped) while n2's and n4's disks were damaged: no one could lead. The mutant
    // forget-config-point puts that back; the seed must still reach the story with it.
    const r = runSeed({ protocol: 'raft', nodes: 5, seed: 653, trace: true });
    assert.equal(lines(r, /n3 stopped for good \(removed\)/).length, 1, 'the removed voter stops for good');
    assert.ok(lines(r, /power-loss .* after replacement/).length >= 3, 'the whole cluster lost power');
    assert.ok(!failed(r), describeRun(r));
    const mutated = runSeed({ protocol: 'raft', nodes: 5, seed: 653, mutant: 'forget-config-point' });
    assert.ok(mutated.outcome.kind === 'liveness', describeRun(mutated));
  });

  it('raft and multipaxos: seeds 1..20 pass, and some of them replace members', () => {
    let replacing = 0;
    for (const protocol of ['raft', 'multipaxos']) {
      for (let seed = 1; seed <= 20; seed++) {
        const r = runSeed({ protocol, nodes: 5, seed, trace: true, faultWindowMs: 4_000, livenessBoundMs: 4_000 });
        assert.ok(!failed(r), `${protocol} seed ${seed}: ${describeRun(r)}`);
        if (lines(r, /this run replaces/).length > 0) replacing++;
      }
    }
    assert.ok(replacing >= 3, `runs that replaced members: ${replacing}`);
  });

  it('runs without admin faults never replace (the feature rides on the admin faults)', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const r = runSeed({ protocol: 'multipaxos', nodes: 5, seed, trace: true, faults: new Set(['partition', 'crash', 'power-loss']), faultWindowMs: 1_500, livenessBoundMs: 2_000 });
      assert.equal(lines(r, /this run replaces|joins: voters=/).length, 0, `seed ${seed}`);
    }
  });
});

describe('a removed member stopped for good', () => {
  it('stays down when a restart its own crash scheduled comes due after it was retired', async () => {
    const { SimNode } = await import('../../src/sim/sim-node.js');
    const { nodeId } = await import('../../src/core/ids.js');
    // A stub world and disk: what the member schedules, what it notes, and whether it opens its disk.
    const scheduled: (() => void)[] = [];
    const notes: string[] = [];
    let opened = 0;
    const world = { now: 0, note: (s: string) => notes.push(s), after: (_ms: number, f: () => void) => scheduled.push(f), at: (_t: number, f: () => void) => scheduled.push(f) };
    const env = { world, release: () => {}, fork: () => { throw new Error('not started'); } } as unknown as ConstructorParameters<typeof SimNode<unknown>>[4];
    const disk = { open: () => { opened++; }, crash: () => {}, powerLoss: () => '' } as unknown as ConstructorParameters<typeof SimNode<unknown>>[5];
    const n = new SimNode<unknown>('n3', nodeId('n3'), 3, false, env, disk);
    // A crash decided in a turn (an aimed crash after a sync) restarts the process a little later;
    // the member is retired (removed, stopped for good) before that restart comes due.
    n.crashAtEndOfTurn({ kind: 'power-loss', loseMessages: false, restartAfterMs: 300 });
    n.endTurn();
    n.retired = true;
    for (const f of scheduled.splice(0)) f();
    assert.equal(opened, 0, `a retired member restarted: ${notes.join(' | ')}`);
    assert.ok(notes.some((l) => /n3 stays stopped \(removed\)/.test(l)), notes.join(' | '));
  });
});

describe('a removal the nemesis gave up on', () => {
  it('is watched for, and its member stopped, at the pace of the server\'s membership runtime', async () => {
    // The simulator does not import the server, so its copies of the two delays are pinned here:
    // changed on one side only, the simulated removed member would stop at another pace than a
    // server does, and the seeds that show it (raft 1253) would test something else.
    const { REMOVAL_WATCH_MS, REMOVED_STOP_MS } = await import('../../src/sim/nemesis.js');
    const { REMOVED_CHECK_INTERVAL_MS, REMOVED_STOP_DELAY_MS } = await import('../../src/server/membership-runtime.js');
    assert.deepEqual([REMOVAL_WATCH_MS, REMOVED_STOP_MS], [REMOVED_CHECK_INTERVAL_MS, REMOVED_STOP_DELAY_MS]);
  });
});
