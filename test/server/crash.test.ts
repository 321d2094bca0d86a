/**
 * Real processes, real crashes: SIGKILL members of a cluster of processes under write load and
 * check that no acknowledged write is lost and that what clients saw is linearizable.
 * Durations here are generous bounds on waiting, never assertions on speed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory } from '../../src/check/index.js';
import { ELECTION_TIMEOUT_MS, ProcessCluster } from './process-cluster.js';
import { missingAcks, runWorkload, type WorkloadResult } from './workload.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const protocol of ['raft', 'multipaxos', 'vr']) {
test(`SIGKILL the leader under load: a new leader serves, the killed member rejoins, every acknowledged write is on all three, the history is linearizable (${protocol})`, { timeout: 120_000 }, async (t) => {
  const cluster = await ProcessCluster.start(3, ['--protocol', protocol]);
  await withCluster(cluster, async () => {
    let done = false;
    const load = runWorkload(cluster, { clients: 6, keys: 4, stop: () => done });
    let oldLeader: string;
    let newLeader: string;
    let before: unknown;
    try {
      await sleep(1_500);
      oldLeader = await cluster.waitForLeader();
      await cluster.kill(oldLeader, 'SIGKILL');
      newLeader = await cluster.waitForLeader();
      assert.notEqual(newLeader, oldLeader);
      // Keep writing until the new leader has served writes, then bring the old one back.
      before = (await cluster.client(newLeader).put('probe').value('x')).header.revision;
      await sleep(1_500);
      cluster.launch(oldLeader);
      await cluster.waitForLeader();
      await sleep(1_500);
    } finally {
      done = true; // on every way out: a failing test stops its workload
    }
    const result = await load;
    assert.ok(Number(before) > 1);
    assert.ok(result.okWrites > 20, `the workload made progress (${result.okWrites} acknowledged writes)`);
    const missing = await missingAcks(cluster, result.acked);
    assert.deepEqual([...missing.values()], [0, 0, 0], `acknowledged writes missing per member: ${JSON.stringify([...missing])}`);
    const verdict = checkHistory(result.history, 'kv', { timeoutMs: 30_000 });
    t.diagnostic(`killed leader ${oldLeader}, new leader ${newLeader}; ${result.okWrites} acknowledged writes, ${result.okReads} reads, ${result.failed} failed or unknown; checker: ${verdict.verdict}`);
    assert.equal(verdict.verdict, 'linearizable', `history of ${result.history.length} operations`);
  });
});
}

/**
 * How long a cycle waits for an agreed leader while nothing in the cluster moves, from the
 * members' own timeouts. PBFT, the slowest to recover: a backup gives up on a request after two
 * request timeouts (it forwards the request after the first), 4 election timeouts in all; a view
 * change whose NEW-VIEW does not come is given up after one election timeout, doubled each time
 * it fails again, and with one member down at a time at most two fail in a row (the view led by
 * the member down, the one led by the member just restarted): 4 + 1 + 2 + 4 = 11 election
 * timeouts with no view or execution moving. Four times that allows for a loaded machine; more
 * only while members report new views or executions (see waitForLeader).
 */
const QUIET_BOUND_MS = 4 * 11 * ELECTION_TIMEOUT_MS;
/**
 * How long a cycle waits in all for an agreed leader while the cluster keeps moving. On a machine
 * loaded 10 times over its cores, members get a few per cent of a core each, a restarted member
 * takes 5-10 s to come up, and a view change takes seconds: recovery moves, slowly. A cluster that
 * keeps changing view without ever agreeing this long still fails.
 */
const MOVING_BOUND_MS = 60_000;

/**
 * SIGKILL and restart members under write load, `count` times: the leader (primary) every third
 * cycle, otherwise one picked by a seeded generator. Then: every acknowledged write is on every
 * member, and the history is not non-linearizable. The workload stops on every way out, so a
 * failing test cannot keep its file running.
 */
async function killCycles(cluster: ProcessCluster, o: { count: number; seed: number; beforeKillMs: number; downMs: (r: number) => number }): Promise<{ result: WorkloadResult; verdict: string; checked: string[] }> {
  let done = false;
  const load = runWorkload(cluster, { clients: 6, keys: 8, stop: () => done });
  try {
    let seed = o.seed;
    for (let cycle = 0; cycle < o.count; cycle++) {
      seed = (seed * 48271) % 2147483647;
      const victim = cycle % 3 === 0 ? await cluster.waitForLeader(QUIET_BOUND_MS, { whileProgressingMs: MOVING_BOUND_MS }) : cluster.names[seed % cluster.names.length]!;
      await sleep(o.beforeKillMs);
      const executed = await cluster.highestIndex();
      await cluster.kill(victim, 'SIGKILL');
      await sleep(o.downMs(seed));
      cluster.launch(victim);
      // Recovered once a quorum that agrees on the leader has executed past what was executed
      // before the kill (the workload keeps writing): the next kill then meets a cluster that
      // orders, not one still changing view (a PBFT member in a view change names the new view's
      // primary before its NEW-VIEW exists, and a kill then is a second fault at once).
      await cluster.waitForLeader(QUIET_BOUND_MS, { whileProgressingMs: MOVING_BOUND_MS, executedBeyond: executed });
    }
    await sleep(1_000);
  } finally {
    done = true;
  }
  const result = await load;
  assert.ok(result.okWrites > 50, `the workload made progress (${result.okWrites} acknowledged writes)`);
  // Every member: under PBFT too, one left alone in a view change learns what the others commit.
  await cluster.waitForLeader(QUIET_BOUND_MS, { whileProgressingMs: MOVING_BOUND_MS });
  const checked = [...cluster.names];
  const missing = await missingAcks(cluster, result.acked, 20_000, checked);
  assert.deepEqual([...missing.values()], checked.map(() => 0), `acknowledged writes missing per member: ${JSON.stringify([...missing])}`);
  const verdict = checkHistory(result.history, 'kv', { timeoutMs: 30_000 });
  assert.notEqual(verdict.verdict, 'not-linearizable');
  return { result, verdict: verdict.verdict, checked };
}

/** Run `body`; on failure print the members' last output lines; always stop the cluster. */
async function withCluster(cluster: ProcessCluster, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    console.error(cluster.output.slice(-60).join('\n'));
    throw err;
  } finally {
    await cluster.stop();
  }
}

/** Raft in `npm test`; QUORATE_CRASH_PROTOCOLS=raft,multipaxos runs the cycles over Multi-Paxos too. */
const CYCLE_PROTOCOLS = (process.env['QUORATE_CRASH_PROTOCOLS'] ?? 'raft').split(',').filter((p) => p !== '');

for (const protocol of CYCLE_PROTOCOLS) {
test(`20 SIGKILL/restart cycles of random members under write load lose no acknowledged write (with frequent snapshots, so restarts restore from them and laggards catch up by InstallSnapshot)${protocol === 'raft' ? '' : ` (${protocol})`}`, { timeout: 240_000 }, async (t) => {
  const cluster = await ProcessCluster.start(3, ['--snapshot-count', '150', '--protocol', protocol]);
  await withCluster(cluster, async () => {
    const { result, verdict } = await killCycles(cluster, { count: 20, seed: 7, beforeKillMs: 0, downMs: (r) => 200 + (r % 400) });
    t.diagnostic(`20 cycles: ${result.okWrites} acknowledged writes, ${result.okReads} reads, ${result.failed} failed or unknown; 0 lost; checker: ${verdict}; ${JSON.stringify([...cluster.seen])}`);
    assert.ok((cluster.seen.get('snapshot taken') ?? 0) > 0, 'snapshots were taken');
  });
});
}

test('PBFT: 8 SIGKILL/restart cycles of single members (the primary every third) under write load lose no acknowledged write; restarted members come back from their logs', {
  // 22-26 s alone; each cycle may wait MOVING_BOUND_MS for a slow cluster on a loaded machine.
  timeout: 600_000,
}, async (t) => {
  // A member that alone gave up on a view waits in a view change until the others change view
  // too (PBFT needs f + 1 to start one), so the leader is the one 2f + 1 members name; every
  // member is checked all the same (it learns what the others commit).
  const cluster = await ProcessCluster.start(4, ['--protocol', 'pbft'], { memberKeys: true, leaderQuorum: 3 });
  await withCluster(cluster, async () => {
    const { result, verdict, checked } = await killCycles(cluster, { count: 8, seed: 11, beforeKillMs: 500, downMs: (r) => 300 + (r % 500) });
    const restarts = cluster.seen.get('restarting from its log') ?? 0;
    t.diagnostic(`8 cycles: ${result.okWrites} acknowledged writes, ${result.okReads} reads, ${result.failed} failed or unknown; 0 lost on ${checked.join(',')}; ${restarts} restarts from the log; checker: ${verdict}`);
    assert.ok(restarts >= 8, `every restarted member came back from its log (${restarts})`);
  });
});
