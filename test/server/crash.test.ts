/**
 * Real processes, real crashes: SIGKILL members of a 3-process cluster under write load and
 * check that no acknowledged write is lost and that what clients saw is linearizable.
 * Durations here are generous bounds on waiting, never assertions on speed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory } from '../../src/check/index.js';
import { ProcessCluster } from './process-cluster.js';
import { missingAcks, runWorkload } from './workload.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const protocol of ['raft', 'multipaxos']) {
test(`SIGKILL the leader under load: a new leader serves, the killed member rejoins, every acknowledged write is on all three, the history is linearizable (${protocol})`, { timeout: 120_000 }, async (t) => {
  const cluster = await ProcessCluster.start(3, ['--protocol', protocol]);
  // Set on every way out, so a failing test stops its workload (else the file never exits).
  let done = false;
  try {
    const load = runWorkload(cluster, { clients: 6, keys: 4, stop: () => done });
    await sleep(1_500);
    const oldLeader = await cluster.waitForLeader();
    await cluster.kill(oldLeader, 'SIGKILL');
    const newLeader = await cluster.waitForLeader();
    assert.notEqual(newLeader, oldLeader);
    // Keep writing until the new leader has served writes, then bring the old one back.
    const before = (await cluster.client(newLeader).put('probe').value('x')).header.revision;
    await sleep(1_500);
    cluster.launch(oldLeader);
    await cluster.waitForLeader();
    await sleep(1_500);
    done = true;
    const result = await load;
    assert.ok(Number(before) > 1);
    assert.ok(result.okWrites > 20, `the workload made progress (${result.okWrites} acknowledged writes)`);
    const missing = await missingAcks(cluster, result.acked);
    assert.deepEqual([...missing.values()], [0, 0, 0], `acknowledged writes missing per member: ${JSON.stringify([...missing])}`);
    const verdict = checkHistory(result.history, 'kv', { timeoutMs: 30_000 });
    t.diagnostic(`killed leader ${oldLeader}, new leader ${newLeader}; ${result.okWrites} acknowledged writes, ${result.okReads} reads, ${result.failed} failed or unknown; checker: ${verdict.verdict}`);
    assert.equal(verdict.verdict, 'linearizable', `history of ${result.history.length} operations`);
  } catch (err) {
    console.error(cluster.output.slice(-60).join('\n'));
    throw err;
  } finally {
    done = true;
    await cluster.stop();
  }
});
}

/** Raft in `npm test`; QUORATE_CRASH_PROTOCOLS=raft,multipaxos runs the cycles over Multi-Paxos too. */
const CYCLE_PROTOCOLS = (process.env['QUORATE_CRASH_PROTOCOLS'] ?? 'raft').split(',').filter((p) => p !== '');

for (const protocol of CYCLE_PROTOCOLS) {
test(`20 SIGKILL/restart cycles of random members under write load lose no acknowledged write (with frequent snapshots, so restarts restore from them and laggards catch up by InstallSnapshot)${protocol === 'raft' ? '' : ` (${protocol})`}`, { timeout: 240_000 }, async (t) => {
  const cluster = await ProcessCluster.start(3, ['--snapshot-count', '150', '--protocol', protocol]);
  // Set on every way out, so a failing test stops its workload (else the file never exits).
  let done = false;
  try {
    const load = runWorkload(cluster, { clients: 6, keys: 8, stop: () => done });
    let seed = 7;
    for (let cycle = 0; cycle < 20; cycle++) {
      seed = (seed * 48271) % 2147483647;
      // Every third cycle kills the leader on purpose; the others pick any member.
      const victim = cycle % 3 === 0 ? await cluster.waitForLeader() : cluster.names[seed % cluster.names.length]!;
      await cluster.kill(victim, 'SIGKILL');
      await sleep(200 + (seed % 400));
      cluster.launch(victim);
      await cluster.waitForLeader();
    }
    await sleep(1_000);
    done = true;
    const result = await load;
    assert.ok(result.okWrites > 50, `the workload made progress (${result.okWrites} acknowledged writes)`);
    const missing = await missingAcks(cluster, result.acked);
    assert.deepEqual([...missing.values()], [0, 0, 0], `acknowledged writes missing per member: ${JSON.stringify([...missing])}`);
    const verdict = checkHistory(result.history, 'kv', { timeoutMs: 30_000 });
    t.diagnostic(`20 cycles: ${result.okWrites} acknowledged writes, ${result.okReads} reads, ${result.failed} failed or unknown; 0 lost; checker: ${verdict.verdict}; ${JSON.stringify([...cluster.seen])}`);
    assert.ok((cluster.seen.get('snapshot taken') ?? 0) > 0, 'snapshots were taken');
    assert.notEqual(verdict.verdict, 'not-linearizable');
  } catch (err) {
    console.error(cluster.output.slice(-60).join('\n'));
    throw err;
  } finally {
    done = true;
    await cluster.stop();
  }
});
}

test('PBFT: 8 SIGKILL/restart cycles of single members (the primary every third) under write load lose no acknowledged write; restarted members come back from their logs', { timeout: 240_000 }, async (t) => {
  const cluster = await ProcessCluster.start(4, ['--protocol', 'pbft'], { pbftKeys: true });
  // Set on every way out, so a failing test stops its workload (else the file never exits).
  let done = false;
  try {
    const load = runWorkload(cluster, { clients: 6, keys: 8, stop: () => done });
    let seed = 11;
    for (let cycle = 0; cycle < 8; cycle++) {
      seed = (seed * 48271) % 2147483647;
      const victim = cycle % 3 === 0 ? await cluster.waitForLeader() : cluster.names[seed % cluster.names.length]!;
      await sleep(500);
      await cluster.kill(victim, 'SIGKILL');
      await sleep(300 + (seed % 500));
      cluster.launch(victim);
      await cluster.waitForLeader();
    }
    await sleep(1_000);
    done = true;
    const result = await load;
    assert.ok(result.okWrites > 50, `the workload made progress (${result.okWrites} acknowledged writes)`);
    const missing = await missingAcks(cluster, result.acked);
    assert.deepEqual([...missing.values()], [0, 0, 0, 0], `acknowledged writes missing per member: ${JSON.stringify([...missing])}`);
    const verdict = checkHistory(result.history, 'kv', { timeoutMs: 30_000 });
    const restarts = cluster.seen.get('restarting pbft replica from its log') ?? 0;
    t.diagnostic(`8 cycles: ${result.okWrites} acknowledged writes, ${result.okReads} reads, ${result.failed} failed or unknown; 0 lost; ${restarts} restarts from the log; checker: ${verdict.verdict}`);
    assert.ok(restarts >= 8, `every restarted member came back from its log (${restarts})`);
    assert.notEqual(verdict.verdict, 'not-linearizable');
  } catch (err) {
    console.error(cluster.output.slice(-60).join('\n'));
    throw err;
  } finally {
    done = true;
    await cluster.stop();
  }
});

