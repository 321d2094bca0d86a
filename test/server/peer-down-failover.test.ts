/**
 * The failover fast path with real processes (issue 21): SIGKILL the leader of three `quorate
 * serve` members whose election timeout is 3 s; a follower whose connections with the leader
 * closed campaigns at once. The evidence is causal, never the wall clock: the new leader logs that
 * it campaigned because the leader's connections closed, with the ticks its election timer had
 * run then (below the timeout: the timer had not fired), its metric counts that election, and
 * its term is the one after the killed leader's (that election, the first after the kill, won).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memberStatus } from '../../src/server/proto.js';
import { ProcessCluster } from './process-cluster.js';

const ELECTION_TIMEOUT_MS = 3_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SIGKILL the leader: a follower that saw its connections close is elected before its election timer fires (raft)', { timeout: 120_000 }, async (t) => {
  const cluster = await ProcessCluster.start(3, ['--election-timeout', String(ELECTION_TIMEOUT_MS)]);
  try {
    const oldLeader = await cluster.waitForLeader(30_000);
    // Members still starting up (a slow machine) see each other's connections come and go: start clean.
    await sleep(500);
    const oldTerm = (await memberStatus(cluster.endpoint(oldLeader), 5_000, null)).raftTerm;
    await cluster.kill(oldLeader, 'SIGKILL');
    const newLeader = await cluster.waitForLeader(30_000);
    assert.notEqual(newLeader, oldLeader);
    const newTerm = (await memberStatus(cluster.endpoint(newLeader), 5_000, null)).raftTerm;
    // (Before the kill no member campaigns early: a leader's connections closed for the first time.)
    const lines = [...cluster.output];
    const campaigned = lines.filter((l) => l.startsWith(`[${newLeader}]`) && l.includes('campaigned at once: the connections of leader'));
    t.diagnostic(`killed ${oldLeader} (term ${oldTerm}); ${newLeader} leads term ${newTerm}: ${campaigned.join(' | ')}`);
    assert.equal(campaigned.length, 1, `the new leader logged one early campaign; its output:\n${lines.filter((l) => l.startsWith(`[${newLeader}]`)).join('\n')}`);
    const line = campaigned[0]!;
    const elapsedTicks = Number(/elapsedTicks=(\d+)/.exec(line)?.[1]);
    const timeoutTicks = Number(/electionTimeoutTicks=(\d+)/.exec(line)?.[1]);
    assert.ok(Number.isInteger(elapsedTicks) && Number.isInteger(timeoutTicks), line);
    assert.ok(elapsedTicks < timeoutTicks, `its election timer had run ${elapsedTicks} of ${timeoutTicks} ticks: it had not fired`);
    // The election it started is the one it won: the first term after the killed leader's.
    assert.equal(newTerm, oldTerm + 1, 'no election between the kill and the early campaign');
    const metrics = await (await fetch(`http://${cluster.endpoint(newLeader)}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    assert.match(metrics, /^quorate_peer_down_campaigns_total 1$/m);
  } catch (err) {
    console.error(cluster.output.slice(-60).join('\n'));
    throw err;
  } finally {
    await cluster.stop();
  }
});
