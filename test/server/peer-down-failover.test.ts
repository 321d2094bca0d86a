/**
 * The failover fast path with real processes (issue 21): SIGKILL the leader of three `quorate
 * serve` members whose election timeout is 3 s; a follower whose connections with the leader
 * closed campaigns at once. The evidence is causal, never the wall clock: the new leader logs that
 * it campaigned because the leader's connections closed, with the ticks its election timer had
 * run then (below the timeout: the timer had not fired), its metric counts that election, and
 * its term is the one after the killed leader's (that election, the first after the kill, won).
 *
 * Both followers see the close at once; should both campaign within a message's trip of each
 * other, both win the pre-vote and split the real one (a chance outcome of any two simultaneous
 * campaigns, made rare by the jitter): the next election then waits for a timer. Such a round is
 * reported and the test kills the next leader, up to ROUNDS times; one round must show the fast path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memberStatus } from '../../src/server/proto.js';
import { ProcessCluster } from './process-cluster.js';

const ELECTION_TIMEOUT_MS = 3_000;
const ROUNDS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const term = async (cluster: ProcessCluster, name: string) => (await memberStatus(cluster.endpoint(name), 5_000, null)).raftTerm;

test('SIGKILL the leader: a follower that saw its connections close is elected before its election timer fires (raft)', { timeout: 240_000 }, async (t) => {
  const cluster = await ProcessCluster.start(3, ['--election-timeout', String(ELECTION_TIMEOUT_MS)]);
  try {
    let shown = false;
    for (let round = 1; round <= ROUNDS && !shown; round++) {
      const oldLeader = await cluster.waitForLeader(30_000);
      await sleep(500);
      const oldTerm = await term(cluster, oldLeader);
      const killedAt = new Date().toISOString();
      await cluster.kill(oldLeader, 'SIGKILL');
      const newLeader = await cluster.waitForLeader(30_000);
      assert.notEqual(newLeader, oldLeader);
      const newTerm = await term(cluster, newLeader);
      // The log lines of the new leader since the kill (each line: `[name] ISO-time level message fields`).
      const since = cluster.output.filter((l) => l.startsWith(`[${newLeader}] `) && (l.split(' ')[1] ?? '') >= killedAt);
      const campaigned = since.filter((l) => l.includes('campaigned at once: the connections of leader'));
      t.diagnostic(`round ${round}: killed ${oldLeader} (term ${oldTerm}); ${newLeader} leads term ${newTerm}: ${campaigned.join(' | ')}`);
      if (newTerm !== oldTerm + 1) {
        t.diagnostic(`round ${round}: an election between the kill and the winning one (a split vote): next round`);
        cluster.launch(oldLeader);
        continue;
      }
      assert.equal(campaigned.length, 1, `the new leader logged one early campaign; its lines since the kill:\n${since.join('\n')}`);
      const line = campaigned[0]!;
      const elapsedTicks = Number(/elapsedTicks=(\d+)/.exec(line)?.[1]);
      const timeoutTicks = Number(/electionTimeoutTicks=(\d+)/.exec(line)?.[1]);
      assert.ok(Number.isInteger(elapsedTicks) && Number.isInteger(timeoutTicks), line);
      assert.ok(elapsedTicks < timeoutTicks, `its election timer had run ${elapsedTicks} of ${timeoutTicks} ticks: it had not fired`);
      const metrics = await (await fetch(`http://${cluster.endpoint(newLeader)}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      const counted = Number(/^quorate_peer_down_campaigns_total (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(counted >= 1, `the metric counts the early election (${counted})`);
      shown = true;
    }
    assert.ok(shown, `no round of ${ROUNDS} elected the early campaigner in the first term after the kill`);
  } catch (err) {
    console.error(cluster.output.slice(-60).join('\n'));
    throw err;
  } finally {
    await cluster.stop();
  }
});
